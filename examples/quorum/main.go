// Command quorum shows a quorum client surviving the loss of a whole zone
// (IDC) without losing an acknowledged write.
//
// Three in-memory replicas live in two zones: two in idc-a, one in idc-b
// (5 ms farther away). The client writes with N=3, W=R=2 and MinWriteZones=2,
// so every acknowledged write is on a replica in each zone. Mid-run, idc-a —
// the zone with two of the three replicas — goes dark. Writes and reads then
// fail fast with ErrNoQuorum, and the program checks that idc-b alone holds
// every acknowledged write: had idc-a been destroyed, nothing acknowledged
// would be gone. Then idc-a comes back, writes resume, and a final check
// reads every key through the client. It exits with status 1 if any
// acknowledged write is missing or if the run did not exercise the loss.
//
//	go run ./examples/quorum          # 10 s
//	go run ./examples/quorum -short   # 3 s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

const (
	writers       = 4
	keysPerWriter = 8
)

// keyState is what one writer knows about one of its keys.
type keyState struct {
	acked    int            // last acknowledged sequence number
	ackedVer quorum.Version // and its version
	tried    int            // highest sequence number sent
}

func main() {
	short := flag.Bool("short", false, "run for 3 s instead of 10 s")
	flag.Parse()
	run := 10 * time.Second
	if *short {
		run = 3 * time.Second
	}
	if err := demo(run); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("OK: no acknowledged write lost")
}

// readVia adapts a GetVersion method to checkAll. A read that finds no
// quorum (a replica timing out on a busy machine) is retried a few times; a
// read that returns a value is never retried.
func readVia(get func(context.Context, string) ([]byte, quorum.Version, error)) func(string) (int, quorum.Version, error) {
	return func(k string) (int, quorum.Version, error) {
		v, ver, err := get(context.Background(), k)
		for try := 0; try < 5 && errors.Is(err, quorum.ErrNoQuorum); try++ {
			time.Sleep(50 * time.Millisecond)
			v, ver, err = get(context.Background(), k)
		}
		if err != nil {
			return 0, ver, err
		}
		n, err := strconv.Atoi(string(v))
		return n, ver, err
	}
}

// viaReplica reads one replica directly, behind its fault wrapper.
func viaReplica(f *quorumtest.Faulty) func(string) (int, quorum.Version, error) {
	return func(k string) (int, quorum.Version, error) {
		rec, err := f.Inner().Get(context.Background(), k)
		if err != nil {
			return 0, rec.Version, err
		}
		n, err := strconv.Atoi(string(rec.Value))
		return n, rec.Version, err
	}
}

func demo(run time.Duration) error {
	zones := []string{"idc-a", "idc-a", "idc-b"}
	faulty := make([]*quorumtest.Faulty, len(zones))
	replicas := make([]quorum.Replica, len(zones))
	for i, z := range zones {
		faulty[i] = quorumtest.Wrap(memreplica.New(memreplica.Options{Zone: z}), quorumtest.Options{
			Name: fmt.Sprintf("%s/%d", z, i), Seed: uint64(i + 1), ReportHealth: true,
		})
		lat := 200 * time.Microsecond
		if z == "idc-b" {
			lat += 5 * time.Millisecond // the other IDC is farther away
		}
		if err := faulty[i].SetFaults(quorumtest.Faults{Latency: lat, Jitter: 300 * time.Microsecond}); err != nil {
			return err
		}
		replicas[i] = faulty[i]
	}
	var lost atomic.Int64
	client, err := quorum.New(replicas, quorum.Config{
		MinWriteZones:  2,
		LocalZone:      "idc-a",
		ReplicaTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer client.Close()

	state := make([][]keyState, writers)
	for w := range state {
		state[w] = make([]keyState, keysPerWriter)
	}
	key := func(w, k int) string { return fmt.Sprintf("user-%d-%d", w, k) }

	// Writers run until stop; each owns its keys, so "last acknowledged"
	// is well defined per key.
	var phase atomic.Int32 // 0 healthy, 1 zone lost, 2 zone replaced
	var acks [3]atomic.Int64
	var fails [3]atomic.Int64
	var unexpected atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	stopWriters := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopWriters() // before client.Close, on every return
	for w := range writers {
		wg.Go(func() {
			for seq := 1; ; seq++ {
				for k := range keysPerWriter {
					select {
					case <-stop:
						return
					default:
					}
					st := &state[w][k]
					st.tried = seq
					p := phase.Load()
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					ver, err := client.PutVersion(ctx, key(w, k), []byte(strconv.Itoa(seq)))
					cancel()
					if err != nil {
						fails[p].Add(1)
						if !errors.Is(err, quorum.ErrNoQuorum) && !errors.Is(err, context.DeadlineExceeded) {
							unexpected.Add(1)
						}
						// Back off instead of spinning on a refused write.
						select {
						case <-stop:
							return
						case <-time.After(5 * time.Millisecond):
						}
						continue
					}
					st.acked, st.ackedVer = seq, ver
					acks[p].Add(1)
				}
			}
		})
	}

	// checkAll verifies every key against what was acknowledged, reading
	// through read (the client, or the surviving replicas directly).
	checkAll := func(what string, read func(k string) (int, quorum.Version, error)) error {
		for w := range writers {
			for k := range keysPerWriter {
				st := state[w][k]
				seq, ver, err := read(key(w, k))
				if err != nil {
					return fmt.Errorf("%s: key %s: %w", what, key(w, k), err)
				}
				if seq < st.acked || ver.Compare(st.ackedVer) < 0 || seq > st.tried {
					lost.Add(1)
					return fmt.Errorf("%s: key %s reads %d (version %v), acknowledged %d (version %v)",
						what, key(w, k), seq, ver, st.acked, st.ackedVer)
				}
			}
		}
		return nil
	}
	viaClient := readVia(client.GetVersion)

	time.Sleep(run * 4 / 10)
	fmt.Printf("phase 1 (healthy): %d writes acknowledged, %d failed\n", acks[0].Load(), fails[0].Load())

	// idc-a, the zone with two of the three replicas, goes dark. The
	// requests to idc-b still on the wire are cut too, as when the writers
	// themselves run in idc-a: only what idc-b has acknowledged is there.
	phase.Store(1)
	faulty[0].Crash()
	faulty[1].Crash()
	faulty[2].Crash()
	faulty[2].Restart()
	time.Sleep(run * 2 / 10)
	fmt.Printf("phase 2 (idc-a lost): %d writes acknowledged, %d refused\n", acks[1].Load(), fails[1].Load())
	// One replica cannot make a quorum, so nothing is acknowledged now and
	// the acknowledged state is stable while we check it.
	if acks[1].Load() != 0 {
		return fmt.Errorf("%d writes acknowledged with one replica up", acks[1].Load())
	}
	// Every acknowledged write reached both zones, so idc-b alone holds
	// them all: had idc-a burned down, nothing acknowledged would be gone.
	if err := checkAll("after losing idc-a, the idc-b replica", viaReplica(faulty[2])); err != nil {
		return err
	}
	start := time.Now()
	_, err = client.Get(context.Background(), key(0, 0))
	if !errors.Is(err, quorum.ErrNoQuorum) {
		return fmt.Errorf("read with one replica up: got %v, want ErrNoQuorum", err)
	}
	fmt.Printf("check: idc-b holds every acknowledged write; reads fail fast (%v) with ErrNoQuorum\n", time.Since(start).Round(time.Microsecond))

	// idc-a comes back with its disks; writes resume.
	phase.Store(2)
	faulty[0].Restart()
	faulty[1].Restart()
	time.Sleep(run * 4 / 10)
	stopWriters()
	fmt.Printf("phase 3 (idc-a back): %d writes acknowledged, %d failed\n", acks[2].Load(), fails[2].Load())
	if acks[0].Load() == 0 || acks[2].Load() == 0 {
		return errors.New("no writes acknowledged before the loss or after the return: nothing was shown")
	}
	if err := checkAll("final client reads", viaClient); err != nil {
		return err
	}
	if n := lost.Load(); n != 0 {
		return fmt.Errorf("%d acknowledged writes lost", n)
	}
	if n := unexpected.Load(); n != 0 {
		return fmt.Errorf("%d writes failed with an error other than no quorum or timeout", n)
	}
	return nil
}
