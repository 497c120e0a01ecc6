// Command quorum shows a quorum client surviving the loss of a whole zone
// (IDC, data centre): reads and writes keep working and no acknowledged
// write is lost — when the replicas span three zones.
//
// Part 1: three in-memory replicas in three zones (idc-a, idc-b, idc-c),
// N=3, W=R=2, MinWriteZones=2, so every acknowledged write is on replicas
// in two zones. Writers and readers run throughout. Mid-run idc-b is
// destroyed: its replica stops answering (calls hang, as behind a cut link;
// the client learns it from its own calls, no health checker) and its data
// is gone. Writes and reads carry on with idc-a and idc-c. The program then
// checks, for each zone in turn, that the other two zones alone hold every
// acknowledged write: whichever zone had burned, nothing acknowledged would
// be lost. Finally idc-b is rebuilt empty and every key is read back.
//
// Part 2: the same three replicas in two zones (two in idc-a, one in
// idc-b). The zone rule still keeps every acknowledged write in both zones,
// but losing either zone stops the writes: without idc-b only one zone is
// left, without idc-a only one replica. That is why three zones are needed.
//
// It exits with status 1 if an acknowledged write is missing, a read
// returns something older than a write acknowledged before it started, or
// the run did not show what it claims.
//
//	go run ./examples/quorum          # about 8 s
//	go run ./examples/quorum -short   # about 3 s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
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
	readers       = 2
	keys          = writers * keysPerWriter
)

func main() {
	short := flag.Bool("short", false, "shorter phases (about 3 s in all)")
	flag.Parse()
	phase := time.Second
	if *short {
		phase = 300 * time.Millisecond
	}
	if err := threeZones(phase); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	fmt.Println()
	if err := twoZones(phase); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

// site is a set of replicas behind fault wrappers and a client over them.
type site struct {
	zones   []string
	faulty  []*quorumtest.Faulty
	client  *quorum.Client
	acked   [keys]atomic.Int64 // per key: last acknowledged value (a sequence number)
	tried   [keys]atomic.Int64 // per key: highest value sent
	repairs atomic.Int64       // records written back to stale replicas
}

func newSite(zones ...string) (*site, error) {
	s := &site{zones: zones}
	reps := make([]quorum.Replica, len(zones))
	for i, z := range zones {
		f := quorumtest.Wrap(memreplica.New(memreplica.Options{Zone: z}), quorumtest.Options{
			Name: fmt.Sprintf("%s/%d", z, i), Seed: uint64(i + 1),
		})
		lat := 200 * time.Microsecond // the client runs in idc-a
		if z != "idc-a" {
			lat += 2 * time.Millisecond
		}
		if err := f.SetFaults(quorumtest.Faults{Latency: lat, Jitter: 300 * time.Microsecond}); err != nil {
			return nil, err
		}
		s.faulty = append(s.faulty, f)
		reps[i] = f
	}
	c, err := quorum.New(reps, quorum.Config{
		MinWriteZones:  2,
		LocalZone:      "idc-a",
		ReplicaTimeout: 200 * time.Millisecond,
		Hooks: quorum.Hooks{Repair: func(_ int, err error) {
			if err == nil {
				s.repairs.Add(1)
			}
		}},
	})
	if err != nil {
		return nil, err
	}
	s.client = c
	return s, nil
}

func keyName(k int) string { return "user:" + strconv.Itoa(k) }

// tally counts what one phase's load did.
type tally struct {
	writes, writeFails, reads, readFails atomic.Int64
	stale                                atomic.Int64 // reads older than a write acknowledged before them
	indeterminate                        atomic.Int64 // failed writes that may have landed
}

func (t *tally) String() string {
	return fmt.Sprintf("writes %5d ok %4d failed | reads %5d ok %4d failed",
		t.writes.Load(), t.writeFails.Load(), t.reads.Load(), t.readFails.Load())
}

// load runs writers (each owning its keys, writing increasing sequence
// numbers) and readers (checking every read against what was acknowledged
// before it started) for d.
func (s *site) load(d time.Duration) *tally {
	t := &tally{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for {
				for k := w * keysPerWriter; k < (w+1)*keysPerWriter; k++ {
					select {
					case <-stop:
						return
					default:
					}
					seq := s.tried[k].Add(1)
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					err := s.client.Put(ctx, keyName(k), []byte(strconv.FormatInt(seq, 10)))
					cancel()
					if err != nil {
						t.writeFails.Add(1)
						if !errors.Is(err, quorum.ErrNotApplied) {
							t.indeterminate.Add(1)
						}
						time.Sleep(5 * time.Millisecond) // no spinning on a refused write
						continue
					}
					s.acked[k].Store(seq)
					t.writes.Add(1)
				}
			}
		})
	}
	for r := range readers {
		rng := rand.New(rand.NewPCG(uint64(r), 1))
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := rng.IntN(keys)
				floor := s.acked[k].Load()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				v, err := s.client.Get(ctx, keyName(k))
				cancel()
				switch {
				case errors.Is(err, quorum.ErrNotFound):
					t.reads.Add(1)
					if floor > 0 {
						t.stale.Add(1)
					}
				case err != nil:
					t.readFails.Add(1)
					time.Sleep(5 * time.Millisecond)
				default:
					t.reads.Add(1)
					if n, err := strconv.ParseInt(string(v), 10, 64); err != nil || n < floor {
						t.stale.Add(1)
					}
				}
			}
		})
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	return t
}

// heldWithout reports how many keys the replicas outside zone hold at
// their last acknowledged value or newer, read directly (no client).
func (s *site) heldWithout(zone string) int {
	return s.held(func(i int) bool { return s.zones[i] != zone })
}

// held reports how many keys the replicas i with in(i) hold at their last
// acknowledged value or newer, read from each replica directly (no
// client; a destroyed replica reads as empty).
func (s *site) held(in func(i int) bool) int {
	held := 0
	for k := range keys {
		best := int64(0)
		for i, f := range s.faulty {
			if !in(i) {
				continue
			}
			rec, err := f.Get(context.Background(), keyName(k))
			if err != nil || rec.Deleted {
				continue
			}
			if n, err := strconv.ParseInt(string(rec.Value), 10, 64); err == nil && n > best {
				best = n
			}
		}
		if best >= s.acked[k].Load() {
			held++
		}
	}
	return held
}

// readBack reads every key through the client and counts those at their
// last acknowledged value or newer (and not newer than ever sent).
func (s *site) readBack() (int, error) {
	ok := 0
	for k := range keys {
		v, err := s.client.Get(context.Background(), keyName(k))
		if err != nil {
			return ok, fmt.Errorf("key %s: %w", keyName(k), err)
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err == nil && n >= s.acked[k].Load() && n <= s.tried[k].Load() {
			ok++
		}
	}
	return ok, nil
}

func row(name string, t *tally) {
	fmt.Printf("  %-28s %s\n", name, t)
}

func threeZones(phase time.Duration) error {
	s, err := newSite("idc-a", "idc-b", "idc-c")
	if err != nil {
		return err
	}
	defer s.client.Close()
	fmt.Println("Part 1: three replicas in three zones (idc-a, idc-b, idc-c); N=3, W=R=2, MinWriteZones=2")

	healthy := s.load(phase)
	row("all zones up", healthy)
	for _, z := range s.zones {
		if n := s.heldWithout(z); n != keys {
			return fmt.Errorf("without %s the other zones hold %d of %d keys at their last acknowledged write", z, n, keys)
		}
	}
	fmt.Printf("  check: every acknowledged write is in two zones: without idc-a, idc-b or idc-c,\n")
	fmt.Printf("         the other two zones hold all %d keys at their last acknowledged write\n", keys)

	// idc-b is destroyed: its replica hangs and its data is gone.
	b := s.faulty[1]
	b.Pause()
	b.Wipe()
	lost := s.load(2 * phase)
	row("idc-b destroyed", lost)
	if n := s.heldWithout("idc-b"); n != keys {
		return fmt.Errorf("with idc-b gone, idc-a and idc-c hold %d of %d keys at their last acknowledged write", n, keys)
	}
	fmt.Printf("  check: with idc-b gone, idc-a and idc-c hold all %d keys at their last acknowledged write\n", keys)

	// idc-b is rebuilt, empty: new writes reach it, and reads that meet
	// it write back what it lacks.
	b.Resume()
	rebuilt := s.load(phase)
	row("idc-b rebuilt empty", rebuilt)
	n, err := s.readBack()
	if err != nil {
		return err
	}
	if n != keys {
		return fmt.Errorf("%d of %d keys read back at their last acknowledged write", n, keys)
	}
	fmt.Printf("  check: all %d keys read back through the client at their last acknowledged write\n", keys)
	back := s.held(func(i int) bool { return i == 1 })
	fmt.Printf("  idc-b holds %d of %d keys again (new writes, and %d records written back by reads)\n",
		back, keys, s.repairs.Load())
	if back < keys {
		fmt.Println("         the client has no anti-entropy: the others arrive with their next write or read")
	}

	for _, t := range []*tally{healthy, lost, rebuilt} {
		if st := t.stale.Load(); st != 0 {
			return fmt.Errorf("%d reads returned a value older than a write acknowledged before them", st)
		}
	}
	if lost.writes.Load() == 0 || lost.reads.Load() == 0 {
		return errors.New("nothing was written or read while idc-b was gone: nothing was shown")
	}
	// A write or read in flight when idc-b went may fail on a busy
	// machine; more than 1 % failing is not "keeps working".
	if f, ok := lost.writeFails.Load()+lost.readFails.Load(), lost.writes.Load()+lost.reads.Load(); f*100 > ok {
		return fmt.Errorf("%d of %d operations failed while idc-b was gone", f, f+ok)
	}
	fmt.Println("  => losing a whole zone: reads and writes kept working, no acknowledged write lost")
	return nil
}

func twoZones(phase time.Duration) error {
	s, err := newSite("idc-a", "idc-a", "idc-b")
	if err != nil {
		return err
	}
	defer s.client.Close()
	fmt.Println("Part 2: the same three replicas in two zones (idc-a, idc-a, idc-b); N=3, W=R=2, MinWriteZones=2")

	healthy := s.load(phase)
	row("both zones up", healthy)

	// idc-b lost: two replicas answer, but they are one zone.
	b := s.faulty[2]
	b.Pause()
	withoutB := s.load(phase)
	row("idc-b lost", withoutB)
	fmt.Printf("  %-28s each write waited ReplicaTimeout for a second zone, then failed;\n", "")
	fmt.Printf("  %-28s %d of them ErrIndeterminate (stored in idc-a, not acknowledged)\n", "", withoutB.indeterminate.Load())
	b.Resume()
	s.load(phase / 2) // writes resume and catch idc-b up
	if n := s.heldWithout("idc-a"); n != keys {
		return fmt.Errorf("idc-b holds %d of %d keys at their last acknowledged write", n, keys)
	}

	// idc-a lost: one replica left, no quorum at all.
	s.faulty[0].Pause()
	s.faulty[1].Pause()
	withoutA := s.load(phase)
	row("idc-a lost", withoutA)
	held := s.heldWithout("idc-a")
	s.faulty[0].Resume()
	s.faulty[1].Resume()
	if held != keys {
		return fmt.Errorf("without idc-a, idc-b holds %d of %d keys at their last acknowledged write", held, keys)
	}
	fmt.Printf("  check: idc-b alone holds all %d keys at their last acknowledged write: safe, but not available\n", keys)

	if withoutB.writes.Load() != 0 || withoutA.writes.Load() != 0 || withoutA.reads.Load() != 0 {
		return errors.New("a write was acknowledged with one zone left, or a read answered with one replica")
	}
	if healthy.writes.Load() == 0 || withoutB.reads.Load() == 0 {
		return errors.New("nothing was written while healthy or read without idc-b: nothing was shown")
	}
	fmt.Println("  => with two zones, losing either one stops every write (one zone cannot satisfy")
	fmt.Println("     MinWriteZones=2; one replica cannot make W=2): a third zone keeps writes going")
	return nil
}
