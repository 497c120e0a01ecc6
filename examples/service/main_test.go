package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelpExitsZero(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"-h"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "Exit status")
	assert.Equal(t, exitCannotStart, run([]string{"-no-such-flag"}, &out, &errOut))
	assert.Equal(t, exitCannotStart, run([]string{"stray"}, &out, &errOut))
}

// TestClientFlagsNeedACall: a client flag without -send or -read, or a
// negative -load, is refused with exit status 2 and says why, instead of
// starting a server that ignores it.
func TestClientFlagsNeedACall(t *testing.T) {
	for _, args := range [][]string{{"-as", "alice"}, {"-id", "x"}, {"-from", "bob"}, {"-v1"}, {"-lang", "fr"}, {"-as", "a", "-v1", "-scenario"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitCannotStart, run(append([]string{"-addr", "127.0.0.1:0"}, args...), &out, &errOut), "%v", args)
		assert.Contains(t, errOut.String(), "only apply to a client call", "%v", args)
		assert.Contains(t, errOut.String(), args[0], "%v", args)
	}
	for _, l := range []string{"-5", "-0.1", "NaN", "+Inf"} {
		var out, errOut bytes.Buffer
		assert.Equal(t, exitCannotStart, run([]string{"-addr", "127.0.0.1:0", "-load", l}, &out, &errOut), l)
		assert.Contains(t, errOut.String(), "-load", l)
	}
}

// TestServeCatchesALeak serves with signal.NotifyContext's context, as the
// command does (its goroutine exists at the start and ends at stop), and
// with one goroutine leaked after the start: serve must report it and exit
// 1. (Counting goroutines, the ended NotifyContext goroutine hid the leak.)
// Without the leak it exits 0.
func TestServeCatchesALeak(t *testing.T) {
	for _, leak := range []bool{true, false} {
		t.Run(fmt.Sprint("leak=", leak), func(t *testing.T) {
			parent, interrupt := context.WithCancel(context.Background())
			ctx, stop := signal.NotifyContext(parent, syscall.SIGUSR1)
			defer stop()
			release := make(chan struct{})
			defer close(release)
			opt := serveOptions{addr: "127.0.0.1:0", settle: 300 * time.Millisecond, afterStart: func() {
				if leak {
					go func() { <-release }()
				}
				interrupt()
			}}
			var out, errOut bytes.Buffer
			code := serve(ctx, stop, opt, &out, &errOut)
			if leak {
				assert.Equal(t, exitFailed, code, "stdout:\n%s", out.String())
				assert.Contains(t, errOut.String(), "1 goroutines started while serving are still running")
				assert.Contains(t, errOut.String(), "TestServeCatchesALeak")
			} else {
				assert.Equal(t, exitOK, code, "stderr:\n%s", errOut.String())
				assert.Contains(t, out.String(), "stopped cleanly")
			}
		})
	}
}

// TestClientSendRead uses the -send and -read flags against a running
// service: a v2 app's message read by a v1 app of another user keeps the
// fields v1 does not know; a user's send cannot replace another's.
func TestClientSendRead(t *testing.T) {
	svc, _ := startService(t, Config{Work: time.Millisecond})
	addr := svc.frontLn.Addr().String()
	cmd := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"-addr", addr}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	code, out := cmd("-send", "bonjour", "-as", "alice", "-lang", "fr")
	require.Equal(t, exitOK, code, out)
	id := regexp.MustCompile(`message id (\S+),`).FindStringSubmatch(out)
	require.Len(t, id, 2, out)
	assert.Contains(t, out, "-read "+id[1]+" -as alice -from alice")

	code, out = cmd("-read", id[1], "-as", "bob", "-from", "alice", "-v1")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, `text="bonjour"`)
	assert.Regexp(t, `[1-9][0-9]* bytes of fields a v1 app does not know, kept`, out)

	code, out = cmd("-read", id[1], "-as", "alice")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, `lang="fr"`)

	code, out = cmd("-send", "mine now", "-as", "mallory", "-id", id[1], "-v1")
	require.Equal(t, exitOK, code, out)
	code, out = cmd("-read", id[1], "-as", "bob", "-from", "alice")
	require.Equal(t, exitOK, code, out)
	assert.Contains(t, out, `text="bonjour"`)

	code, out = cmd("-read", "nope", "-as", "alice")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "HTTP 404")
	code, out = cmd("-send", "x")
	assert.Equal(t, exitCannotStart, code)
	assert.Contains(t, out, "-as USER is required")
}

// TestSignalWithSlowClientExitsZero: SIGINT while one client trickles a
// body and another its headers still ends in exit status 0, within the
// shutdown grace. (Before, the stuck request made Shutdown wait 10 s and
// the command exit 1.)
func TestSignalWithSlowClientExitsZero(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-load", "20")
	cmd.Env = append(os.Environ(), "BULWARK_SERVICE_MAIN=1")
	app, rest, stderr := startChild(t, cmd)
	host := strings.TrimSuffix(strings.TrimPrefix(app, "http://"), "/")
	for _, req := range []string{
		"POST /api/send HTTP/1.1\r\nHost: x\r\nX-User: slow\r\nContent-Length: 100\r\n\r\nA",
		"POST /api/send HTTP/1.1\r\nHost: x\r\nX-User: slo",
	} {
		c, err := net.Dial("tcp", host)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte(req))
		require.NoError(t, err)
	}
	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	out := <-rest
	err := cmd.Wait()
	require.NoError(t, err, "exit status; stdout:\n%s\nstderr:\n%s", out, stderr.String())
	assert.Contains(t, out, "stopped cleanly")
	assert.Less(t, time.Since(start), 8*time.Second)
}
