//go:build unix

package redisreplica

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// countedReplica counts the Gets of a Replica that succeeded, to tell
// which server the quorum client prefers and when it reads one again.
type countedReplica struct {
	*Replica // keeps Version and Zone
	gets     atomic.Int64
}

func (r *countedReplica) Get(ctx context.Context, key string) (quorum.Record, error) {
	rec, err := r.Replica.Get(ctx, key)
	if err == nil {
		r.gets.Add(1)
	}
	return rec, err
}

// readSample is one Get: when it started, how long it took, how it ended.
type readSample struct {
	at  time.Time
	d   time.Duration
	err error
}

// window is the reads started in [from, to).
func window(ss []readSample, from, to time.Time) []readSample {
	lo, _ := slices.BinarySearchFunc(ss, from, func(s readSample, t time.Time) int { return s.at.Compare(t) })
	hi, _ := slices.BinarySearchFunc(ss, to, func(s readSample, t time.Time) int { return s.at.Compare(t) })
	return ss[lo:hi]
}

type readStats struct {
	reads, errs int
	rate        float64 // reads per second of the window
	p50, p99    time.Duration
}

func statsOf(ss []readSample, span time.Duration) readStats {
	st := readStats{reads: len(ss), rate: float64(len(ss)) / span.Seconds()}
	ds := make([]time.Duration, 0, len(ss))
	for _, s := range ss {
		if s.err != nil {
			st.errs++
		}
		ds = append(ds, s.d)
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		st.p50 = ds[len(ds)/2]
		st.p99 = ds[min(len(ds)-1, len(ds)*99/100)]
	}
	return st
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

// TestRealRedisReadFailover: one reader does sequential Gets through a
// quorum client (N=3, W=R=2, the zero Config) over three redis-server
// processes reached with ClientOptions. After 2 s the server the client
// reads most is killed (SIGKILL: connections refused) or stopped
// (SIGSTOP: calls hang); 3 s later it is restarted empty on the same port
// or continued (SIGCONT), and reading goes on for at least 3 s more.
//
// The reader alternates every Get with one through a control client over
// three other servers that nothing happens to, so both see the same load
// at the same moments: on a shared 2-core machine the load moves medians
// by several times within seconds, but not between two adjacent reads.
// The control's p50 is the healthy p50 of a read that waits for two
// servers, which is what a read does with one of three servers gone.
//
// It requires that no read fails; that the reads started from 1 s after
// the failure have a p50 within 1.5× of the control's over the same
// window; that the server is read again (20 Gets, more than the probes
// make) within 3 s of coming back; that reads from 1 s after that are
// within 1.5× of the control again; and that go-redis logs at most 2 ×
// PoolSize "failed to dial" lines for the whole outage. It logs the
// before/during/after table of benchmarks/quorum/RESULTS.md.
func TestRealRedisReadFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("long test (2 × 8 s of reads); runs without -short")
	}
	if os.Getenv(envRealRedis) != "1" {
		t.Skipf("set %s=1 to run the failover test against three real redis-server processes (CI does; %s)", envRealRedis, installHint)
	}
	var table []string
	for _, fault := range []string{"kill", "stop"} {
		t.Run(fault, func(t *testing.T) {
			table = append(table, readFailover(t, fault)...)
		})
	}
	t.Logf("before/during/after table (copy into benchmarks/quorum/RESULTS.md):\n%s\n%s\n%s",
		"| fault | phase | reads | reads/s | p50 (ms) | p99 (ms) | failed | control p50 (ms) | control p99 (ms) |",
		"|---|---|---:|---:|---:|---:|---:|---:|---:|",
		strings.Join(table, "\n"))
}

// cluster is a quorum client (zero Config) over three fresh redis-server
// processes, with the Gets each server answered.
type cluster struct {
	servers []*redisServer
	reps    []*countedReplica
	qc      *quorum.Client
}

func newCluster(t *testing.T, prefix string, keys int) *cluster {
	cl := &cluster{servers: make([]*redisServer, 3), reps: make([]*countedReplica, 3)}
	qreps := make([]quorum.Replica, 3)
	for i := range cl.servers {
		cl.servers[i] = startRedis(t, true)
		rdb := redis.NewClient(ClientOptions(cl.servers[i].addr))
		t.Cleanup(func() { _ = rdb.Close() })
		cl.reps[i] = &countedReplica{Replica: New(rdb, Options{Prefix: prefix})}
		qreps[i] = cl.reps[i]
	}
	qc, err := quorum.New(qreps, quorum.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = qc.Close() })
	cl.qc = qc
	for k := range keys {
		require.NoError(t, qc.Put(context.Background(), "k"+strconv.Itoa(k), []byte("value "+strconv.Itoa(k))))
	}
	return cl
}

func readFailover(t *testing.T, fault string) []string {
	const (
		warmFor   = 500 * time.Millisecond
		beforeFor = 2 * time.Second
		downFor   = 3 * time.Second
		afterFor  = 3 * time.Second
		settle    = time.Second // the claim: back to healthy p50 within 1 s
		reuseMax  = 3 * time.Second
		reuseGets = 20
		keys      = 16
	)
	logs := dialLog()
	test := newCluster(t, "failover:", keys)
	control := newCluster(t, "control:", keys)
	ctx := context.Background()

	// One sequential reader alternating between the clients (which one
	// goes first alternates too); samples are kept in start order.
	var samples [2][]readSample
	for i := range samples {
		samples[i] = make([]readSample, 0, 1<<17)
	}
	var stop atomic.Bool
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for i := 0; !stop.Load(); i++ {
			key := "k" + strconv.Itoa(i%keys)
			for j := range 2 {
				which := (i + j) % 2 // 0: the client under test
				s := readSample{at: time.Now()}
				val, err := []*cluster{test, control}[which].qc.Get(ctx, key)
				s.d = time.Since(s.at)
				if err == nil && string(val) != "value "+strconv.Itoa(i%keys) {
					err = fmt.Errorf("key %s: read %q", key, val)
				}
				s.err = err
				samples[which] = append(samples[which], s)
			}
		}
	}()
	time.Sleep(warmFor)
	t0 := time.Now()
	time.Sleep(beforeFor)

	// The victim is the server read most: killing one the client already
	// avoids would prove nothing.
	v := 0
	for i := range test.reps {
		if test.reps[i].gets.Load() > test.reps[v].gets.Load() {
			v = i
		}
	}
	victim := test.reps[v]
	dialsBefore := logs.dials.Load()
	getsUp := victim.gets.Load()
	tf := time.Now()
	switch fault {
	case "kill":
		test.servers[v].kill()
	case "stop":
		require.NoError(t, test.servers[v].cmd.Process.Signal(syscall.SIGSTOP))
	}
	time.Sleep(downFor)
	getsDown := victim.gets.Load()
	tr := time.Now()
	switch fault {
	case "kill":
		addr := test.servers[v].addr
		port, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
		require.NoError(t, err)
		test.servers[v] = startRedisOn(t, true, port) // empty: no persistence
	case "stop":
		require.NoError(t, test.servers[v].cmd.Process.Signal(syscall.SIGCONT))
	}
	// Reading goes on until afterFor has passed and the victim was read
	// again, or reuseMax after that at most.
	var reusedAfter time.Duration
	for {
		el := time.Since(tr)
		if reusedAfter == 0 && victim.gets.Load()-getsDown >= reuseGets {
			reusedAfter = el
		}
		if el >= afterFor && (reusedAfter != 0 || el >= afterFor+reuseMax) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	end := time.Now()
	stop.Store(true)
	<-readerDone
	dials := logs.dials.Load() - dialsBefore

	down := map[string]string{"kill": "dead", "stop": "hanging"}[fault]
	back := map[string]string{"kill": "the restart", "stop": "SIGCONT"}[fault]
	phases := []struct {
		name     string
		from, to time.Time
	}{
		{"three servers up", t0, tf},
		{"first second after the " + fault, tf, tf.Add(settle)},
		{"one server " + down + ", from 1 s", tf.Add(settle), tr},
		{"first second after " + back, tr, tr.Add(settle)},
		{"back, from 1 s", tr.Add(settle), end},
	}
	var rows []string
	st := make([][2]readStats, len(phases))
	for i, p := range phases {
		for w := range 2 {
			st[i][w] = statsOf(window(samples[w], p.from, p.to), p.to.Sub(p.from))
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %d | %.0f | %s | %s | %d | %s | %s |",
			fault, p.name, st[i][0].reads, st[i][0].rate, ms(st[i][0].p50), ms(st[i][0].p99), st[i][0].errs,
			ms(st[i][1].p50), ms(st[i][1].p99)))
	}
	t.Logf("victim: replica %d; Gets it answered while down: %d; read again %v after coming back; go-redis \"failed to dial\" lines: %d",
		v, getsDown-getsUp, reusedAfter, dials)

	for w, ss := range samples {
		for _, s := range ss {
			if s.err != nil {
				t.Errorf("a read of the %s failed: %v", []string{"client under test", "control"}[w], s.err)
				break
			}
		}
	}
	for _, i := range []int{0, 2, 4} {
		got, ctl := st[i][0], st[i][1]
		require.Positive(t, got.reads, phases[i].name)
		assert.LessOrEqual(t, got.p50, ctl.p50*3/2,
			"%s: p50 against the control's p50 over the same window (%v)", phases[i].name, ctl.p50)
	}
	if assert.NotZero(t, reusedAfter, "the server was not read again within %v of coming back", afterFor+reuseMax) {
		assert.LessOrEqual(t, reusedAfter, reuseMax, "time until the server was read again")
	}
	poolSize := ClientOptions("").PoolSize
	assert.LessOrEqual(t, dials, int64(2*poolSize), "go-redis dial-failure log lines during the outage")
	return rows
}
