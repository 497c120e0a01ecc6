package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/tlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary stand in for the command: the signal test
// runs it as a child process with this variable set.
func TestMain(m *testing.M) {
	if os.Getenv("BULWARK_SERVICE_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestScenarioShort runs the -short bad day in process and afterwards
// requires every goroutine the service, its servers, clients and load
// generator started to have ended.
//
// Without the race detector every phase must meet all its expectations
// (exit status 0), as `go run ./examples/service -short` must. Under it,
// each request costs several times the CPU, and on a shared 2-core machine
// the rates, ratios and time limits measure the machine rather than the
// service; there the front runs at half its slots and the test requires the
// invariants that no machine excuses: no acknowledged write lost, no field
// dropped between app versions, no preview in another gray lane, no debug
// line of an undyed user, the dye admin and the fixed release's deploy
// working, and the clean shutdown. The service levels are still printed.
func TestScenarioShort(t *testing.T) {
	before := goroutines()
	var out bytes.Buffer
	opt := scenarioOptions{addr: "127.0.0.1:0", seed: 1, short: true}
	if raceEnabled {
		opt.slots = 3
	}
	code, failed := runScenario(t.Context(), opt, &out)
	t.Log("\n" + out.String())
	assert.Contains(t, out.String(), "W=2 R=2, each write in ≥ 2 zones, linearizable reads", "the banner prints the quorum config in use")
	if raceEnabled {
		require.NotEqual(t, 2, code, "the scenario did not start")
		for _, f := range failed {
			assert.NotEqual(t, kindInvariant, f.kind, "invariant broken: %s", f)
		}
	} else {
		require.Equal(t, 0, code, "scenario exit status; failed: %v", failed)
		assert.Contains(t, out.String(), "OK: every phase met its expectations")
	}
	requireNoLeak(t, before)
}

// TestShutdownFinishesInFlight cancels the service while a request holds
// its slot: the request completes normally, Run returns nil, and no
// goroutine is left.
func TestShutdownFinishesInFlight(t *testing.T) {
	before := goroutines()
	svc, err := New(Config{Work: 400 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- svc.Run(ctx) }()

	transport := &http.Transport{}
	api := &apiClient{base: svc.URL(), http: &http.Client{Transport: transport}}
	got := make(chan reply, 1)
	go func() {
		r, err := api.do(context.Background(), http.MethodPost, "/api/typing?room=r1", "u1", nil)
		if err != nil {
			r.code = -1
		}
		got <- r
	}()
	require.Eventually(t, func() bool { return svc.ctrl.InUse() == 1 }, 5*time.Second, 5*time.Millisecond, "the request never took its slot")
	cancel()
	r := <-got
	require.Equal(t, http.StatusNoContent, r.code, "the in-flight request was cut off by the shutdown")
	require.NoError(t, <-runDone)
	_, err = api.do(context.Background(), http.MethodPost, "/api/typing?room=r1", "u1", nil)
	require.Error(t, err, "the service still answers after Run returned")
	transport.CloseIdleConnections()
	requireNoLeak(t, before)
}

// TestSignalExitsZero runs the command as a child process serving with
// background load, interrupts it, and expects exit status 0 after its own
// check that every goroutine ended.
func TestSignalExitsZero(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-load", "100")
	cmd.Env = append(os.Environ(), "BULWARK_SERVICE_MAIN=1")
	app, rest, stderr := startChild(t, cmd)
	resp, err := http.Get(app)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	time.Sleep(300 * time.Millisecond) // let the background load put requests in flight
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	out := <-rest
	err = cmd.Wait()
	require.NoError(t, err, "exit status; stdout:\n%s\nstderr:\n%s", out, stderr.String())
	assert.Contains(t, out, "stopped cleanly")
}

// startChild starts cmd (the command serving), waits for its banner and
// returns the app URL, the rest of its stdout (once it closes) and its
// stderr.
func startChild(t *testing.T, cmd *exec.Cmd) (string, <-chan string, *bytes.Buffer) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	var app string
	var seen []string
	for lines.Scan() {
		seen = append(seen, lines.Text())
		if f := strings.Fields(lines.Text()); len(f) == 2 && f[0] == "app:" {
			app = f[1]
		}
		if strings.HasPrefix(lines.Text(), "serving with") {
			break
		}
	}
	if app == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("no app URL printed:\n%s\nstderr:\n%s", strings.Join(seen, "\n"), stderr.String())
	}
	rest := make(chan string, 1)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		_, _ = io.Copy(io.Discard, stdout)
		rest <- b.String()
	}()
	return app, rest, &stderr
}

// TestMessageCheck crosses writer and reader app versions over generated
// messages: every pairing reads back what was written, v1 readers carry
// v2's fields through byte for byte, and a changed text or a dropped field
// is caught.
func TestMessageCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		o := outgoing{seq: rng.Uint64(), user: fmt.Sprint("u", rng.IntN(1000)), client: uint8(1 + rng.IntN(2))}
		b, err := o.encode()
		require.NoError(t, err)
		// what a server stores: its own schema's re-encoding, unknown fields kept
		var stored []byte
		if rng.IntN(2) == 0 {
			var m MessageV1
			require.NoError(t, decodeOpts.Unmarshal(b, &m))
			m.SentAt = time.Unix(rng.Int64N(1<<31), 0).UTC()
			stored, err = tlv.Marshal(&m)
		} else {
			var m MessageV2
			require.NoError(t, decodeOpts.Unmarshal(b, &m))
			m.SentAt = time.Unix(rng.Int64N(1<<31), 0).UTC()
			stored, err = tlv.Marshal(&m)
		}
		require.NoError(t, err)
		for _, reader := range []uint8{1, 2} {
			require.NoError(t, o.check(stored, reader), "writer v%d reader v%d", o.client, reader)
		}
		other := o
		other.seq++
		require.ErrorIs(t, other.check(stored, 1+uint8(rng.IntN(2))), errContent)
		if o.client == 2 {
			var m MessageV1 // an old server that dropped the unknown fields
			require.NoError(t, decodeOpts.Unmarshal(stored, &m))
			m.Unknown = nil
			dropped, err := tlv.Marshal(&m)
			require.NoError(t, err)
			for _, reader := range []uint8{1, 2} {
				require.ErrorIs(t, o.check(dropped, reader), errTLV, "reader v%d", reader)
			}
		}
	}
}

// TestLogCheck feeds random request logs through logCheck and compares its
// verdict with the rule computed directly: undyed users' debug lines count
// as stray unless their request logged an error.
func TestLogCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for trial := range 100 {
		l := newLogCheck()
		dyed := "u0"
		l.setPhase("p", dyed)
		wantStray, wantDyed := map[uint64]bool{}, 0
		var buf bytes.Buffer
		for req := uint64(1); req <= uint64(5+rng.IntN(50)); req++ {
			user := fmt.Sprint("u", rng.IntN(4))
			failed := rng.IntN(4) == 0
			debug := rng.IntN(4) // debug lines written (dyed, or a flight)
			for range debug {
				fmt.Fprintf(&buf, `{"level":"DEBUG","msg":"x","user":%q,"req":%d}`+"\n", user, req)
			}
			if failed {
				fmt.Fprintf(&buf, `{"level":"ERROR","msg":"boom","user":%q,"req":%d}`+"\n", user, req)
			}
			switch {
			case debug == 0:
			case user == dyed:
				wantDyed += debug
			case !failed:
				wantStray[req] = true
			}
		}
		// arbitrary write boundaries: lines may arrive in pieces
		data := buf.Bytes()
		for len(data) > 0 {
			n := min(len(data), 1+rng.IntN(80))
			_, _ = l.Write(data[:n])
			data = data[n:]
		}
		r := l.result("p")
		require.Equal(t, len(wantStray), r.stray, "trial %d", trial)
		require.Equal(t, wantDyed, r.dyedDebug, "trial %d", trial)
	}
}

func requireNoLeak(t *testing.T, before map[string]string) {
	t.Helper()
	if leaked, _ := settleGoroutines(before, 5*time.Second); len(leaked) > 0 {
		t.Fatalf("%d goroutines started by the test still run:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}
}
