package quorumtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
)

// conformanceTimeout bounds each conformance check.
const conformanceTimeout = 30 * time.Second

// A replicaCheck is one rule of the Replica contract.
type replicaCheck struct {
	name string
	run  func(ctx context.Context, r quorum.Replica) error
}

func replicaChecks() []replicaCheck {
	return []replicaCheck{
		{"MissingKeyIsZeroRecord", checkMissingKey},
		{"PutThenGet", checkPutThenGet},
		{"OnlyNewerVersionsStore", checkOnlyNewer},
		{"ZeroVersionNeverStores", checkZeroVersion},
		{"VersionOrderIsCounterThenWriter", checkVersionOrder},
		{"Exact64BitVersions", checkExact64},
		{"Tombstones", checkTombstones},
		{"KeysAreDistinct", checkDistinctKeys},
		{"ValuesAreBinarySafe", checkBinaryValues},
		{"PutCopiesValue", checkPutCopies},
		{"GetReturnsCopy", checkGetCopies},
		{"ConcurrentSetIfNewerIsAtomic", checkConcurrentPuts},
	}
}

// TestReplica checks that the replicas newReplica returns keep the
// quorum.Replica contract, one subtest per rule: a missing key is a zero
// Record; Put stores only strictly newer versions (Counter, then Writer,
// compared exactly over all 64 bits) and says so; tombstones are versioned
// records like any other; values are copied in and out; and set-if-newer is
// atomic under concurrent writers. Each subtest calls newReplica once and
// expects an empty replica. Use it from a test of a Replica implementation,
// as testing/slogtest is used for slog handlers.
func TestReplica(t *testing.T, newReplica func() quorum.Replica) {
	t.Helper()
	if newReplica == nil {
		t.Fatal("quorumtest: TestReplica needs a newReplica func")
	}
	for _, c := range replicaChecks() {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), conformanceTimeout)
			defer cancel()
			if err := runCheck(ctx, c, newReplica); err != nil {
				t.Error(err)
			}
		})
	}
}

func runCheck(ctx context.Context, c replicaCheck, newReplica func() quorum.Replica) error {
	r := newReplica()
	if r == nil {
		return errors.New("quorumtest: newReplica returned nil")
	}
	return c.run(ctx, r)
}

// CheckReplica runs the checks of TestReplica outside of a test and returns
// every violation found, joined; nil means the replicas conform.
func CheckReplica(ctx context.Context, newReplica func() quorum.Replica) error {
	if newReplica == nil {
		return errors.New("quorumtest: CheckReplica needs a newReplica func")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var errs []error
	for _, c := range replicaChecks() {
		cctx, cancel := context.WithTimeout(ctx, conformanceTimeout)
		if err := runCheck(cctx, c, newReplica); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// errContract is wrapped by every conformance violation.
var errContract = errors.New("quorumtest: replica breaks the contract")

func violation(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errContract, fmt.Sprintf(format, args...))
}

func v(c, w uint64) quorum.Version { return quorum.Version{Counter: c, Writer: w} }

func rec(value string, ver quorum.Version) quorum.Record {
	return quorum.Record{Value: []byte(value), Version: ver}
}

// expect reads key and compares it with want (nil and empty values are
// equal).
func expect(ctx context.Context, r quorum.Replica, key string, want quorum.Record) error {
	got, err := r.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %q: %w", key, err)
	}
	if got.Version != want.Version || got.Deleted != want.Deleted || !bytes.Equal(got.Value, want.Value) {
		return violation("get %q = %s, want %s", key, describeRecord(got), describeRecord(want))
	}
	return nil
}

func describeRecord(r quorum.Record) string {
	v := string(r.Value)
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return fmt.Sprintf("{value %q, version (%d, %d), deleted %t}", v, r.Version.Counter, r.Version.Writer, r.Deleted)
}

// put stores rec and compares the reported outcome with want.
func put(ctx context.Context, r quorum.Replica, key string, rc quorum.Record, want bool) error {
	stored, err := r.Put(ctx, key, rc)
	if err != nil {
		return fmt.Errorf("put %q %s: %w", key, describeRecord(rc), err)
	}
	if stored != want {
		return violation("put %q %s stored = %t, want %t", key, describeRecord(rc), stored, want)
	}
	return nil
}

func checkMissingKey(ctx context.Context, r quorum.Replica) error {
	for _, key := range []string{"missing", "", "with space", "\x00"} {
		got, err := r.Get(ctx, key)
		if err != nil {
			return violation("get of missing key %q returned error %v, want a zero Record and nil", key, err)
		}
		if got.Version != (quorum.Version{}) || got.Deleted || len(got.Value) != 0 {
			return violation("get of missing key %q = %s, want the zero Record", key, describeRecord(got))
		}
	}
	return nil
}

func checkPutThenGet(ctx context.Context, r quorum.Replica) error {
	want := rec("hello", v(1, 7))
	if err := put(ctx, r, "k", want, true); err != nil {
		return err
	}
	if err := expect(ctx, r, "k", want); err != nil {
		return err
	}
	empty := quorum.Record{Value: []byte{}, Version: v(2, 7)}
	if err := put(ctx, r, "k", empty, true); err != nil {
		return err
	}
	return expect(ctx, r, "k", empty)
}

func checkOnlyNewer(ctx context.Context, r quorum.Replica) error {
	steps := []struct {
		rec    quorum.Record
		stored bool
	}{
		{rec("a", v(5, 1)), true},
		{rec("same version", v(5, 1)), false},
		{rec("older counter", v(4, 9)), false},
		{rec("older writer", v(5, 0)), false},
		{rec("b", v(6, 0)), true},
	}
	want := quorum.Record{}
	for _, s := range steps {
		if err := put(ctx, r, "k", s.rec, s.stored); err != nil {
			return err
		}
		if s.stored {
			want = s.rec
		}
		if err := expect(ctx, r, "k", want); err != nil {
			return err
		}
	}
	return nil
}

func checkZeroVersion(ctx context.Context, r quorum.Replica) error {
	// The zero Version is the version of a missing key, so it is not newer.
	if err := put(ctx, r, "k", rec("zero", quorum.Version{}), false); err != nil {
		return err
	}
	return expect(ctx, r, "k", quorum.Record{})
}

func checkVersionOrder(ctx context.Context, r quorum.Replica) error {
	// A higher writer id wins at an equal counter; a higher counter wins
	// whatever the writers.
	steps := []struct {
		rec    quorum.Record
		stored bool
	}{
		{rec("c1w5", v(1, 5)), true},
		{rec("c1w6", v(1, 6)), true},
		{rec("c1w4", v(1, 4)), false},
		{rec("c2w0", v(2, 0)), true},
		{rec("c1wmax", v(1, math.MaxUint64)), false},
		{rec("c10w0", v(10, 0)), true}, // 10 > 9 although "10" < "9" as text
		{rec("c9wmax", v(9, math.MaxUint64)), false},
	}
	want := quorum.Record{}
	for _, s := range steps {
		if err := put(ctx, r, "k", s.rec, s.stored); err != nil {
			return err
		}
		if s.stored {
			want = s.rec
		}
	}
	return expect(ctx, r, "k", want)
}

func checkExact64(ctx context.Context, r quorum.Replica) error {
	// Versions that a float64 cannot tell apart (2^53 and 2^53+1 round to the
	// same double), around the sign bit, and the maximum.
	type step struct {
		ver    quorum.Version
		stored bool
	}
	seqs := map[string][]step{
		"counter 2^53": {{v(1<<53+1, 0), true}, {v(1<<53, 0), false}, {v(1<<53+2, 0), true}},
		"writer 2^53":  {{v(3, 1<<53+1), true}, {v(3, 1<<53), false}},
		"sign bit":     {{v(1<<63-1, 0), true}, {v(1<<63, 0), true}, {v(1<<63-1, math.MaxUint64), false}},
		"maximum":      {{v(math.MaxUint64-1, math.MaxUint64), true}, {v(math.MaxUint64, 0), true}, {v(math.MaxUint64, math.MaxUint64), true}, {v(math.MaxUint64, math.MaxUint64-1), false}},
	}
	for key, seq := range seqs {
		var want quorum.Record
		for i, s := range seq {
			rc := rec(key+strconv.Itoa(i), s.ver)
			if err := put(ctx, r, key, rc, s.stored); err != nil {
				return err
			}
			if s.stored {
				want = rc
			}
			if err := expect(ctx, r, key, want); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkTombstones(ctx context.Context, r quorum.Replica) error {
	if err := put(ctx, r, "k", rec("alive", v(1, 1)), true); err != nil {
		return err
	}
	tomb := quorum.Record{Version: v(2, 1), Deleted: true}
	if err := put(ctx, r, "k", tomb, true); err != nil {
		return err
	}
	if err := expect(ctx, r, "k", tomb); err != nil {
		return err
	}
	// A delayed older write must not bring the value back.
	if err := put(ctx, r, "k", rec("zombie", v(1, 9)), false); err != nil {
		return err
	}
	if err := expect(ctx, r, "k", tomb); err != nil {
		return err
	}
	// A newer write does.
	again := rec("again", v(3, 0))
	if err := put(ctx, r, "k", again, true); err != nil {
		return err
	}
	if err := expect(ctx, r, "k", again); err != nil {
		return err
	}
	// A tombstone for a key never written is stored too.
	fresh := quorum.Record{Version: v(4, 2), Deleted: true}
	if err := put(ctx, r, "never-written", fresh, true); err != nil {
		return err
	}
	return expect(ctx, r, "never-written", fresh)
}

func checkDistinctKeys(ctx context.Context, r quorum.Replica) error {
	keys := []string{"a", "a\x00", "A", "a ", "", ":", "a:b", "ключ", "\xff\xfe", strings.Repeat("x", 4096)}
	for i, k := range keys {
		if err := put(ctx, r, k, rec("value of "+strconv.Itoa(i), v(uint64(i)+1, 0)), true); err != nil {
			return err
		}
	}
	for i, k := range keys {
		if err := expect(ctx, r, k, rec("value of "+strconv.Itoa(i), v(uint64(i)+1, 0))); err != nil {
			return err
		}
	}
	return nil
}

func checkBinaryValues(ctx context.Context, r quorum.Replica) error {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	large := bytes.Repeat([]byte("0123456789abcdef\x00"), 1<<16) // ~1 MiB
	for i, val := range [][]byte{all, large, []byte("\x00"), []byte(`"quoted" \ 'lua' [[x]]`)} {
		rc := quorum.Record{Value: val, Version: v(uint64(i)+1, 1)}
		if err := put(ctx, r, "bin", rc, true); err != nil {
			return err
		}
		if err := expect(ctx, r, "bin", rc); err != nil {
			return err
		}
	}
	return nil
}

func checkPutCopies(ctx context.Context, r quorum.Replica) error {
	buf := []byte("original")
	if err := put(ctx, r, "k", quorum.Record{Value: buf, Version: v(1, 0)}, true); err != nil {
		return err
	}
	copy(buf, "CHANGED!")
	return expect(ctx, r, "k", rec("original", v(1, 0)))
}

func checkGetCopies(ctx context.Context, r quorum.Replica) error {
	if err := put(ctx, r, "k", rec("original", v(1, 0)), true); err != nil {
		return err
	}
	got, err := r.Get(ctx, "k")
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	for i := range got.Value {
		got.Value[i] = 'X'
	}
	return expect(ctx, r, "k", rec("original", v(1, 0)))
}

// contendedKey is the key checkContendedPuts writes; the kit's own tests
// name it to arm a replica that is racy on purpose.
const contendedKey = "contended"

// checkConcurrentPuts first releases writers together on one version, round
// after round, then races writers that put every version twice, in a
// shuffled order, against readers. A non-atomic compare-then-set shows up as
// one version stored twice, a final record that is not the newest, a torn
// record (value of one version, version of another), or a reader seeing the
// version go backwards.
func checkConcurrentPuts(ctx context.Context, r quorum.Replica) error {
	if err := checkContendedPuts(ctx, r); err != nil {
		return err
	}
	return checkShuffledPuts(ctx, r)
}

// checkContendedPuts starts all writers at once on the same version, for a
// number of rounds: in each round exactly one of them may report it stored,
// and the replica must then hold that version.
func checkContendedPuts(ctx context.Context, r quorum.Replica) error {
	const (
		writers = 8
		rounds  = 25
	)
	for c := uint64(1); c <= rounds; c++ {
		want := rec("round"+strconv.FormatUint(c, 10), v(c, 0))
		start := make(chan struct{})
		var (
			wg     sync.WaitGroup
			stored atomic.Int32
			errMu  sync.Mutex
			errs   []error
		)
		for range writers {
			wg.Go(func() {
				<-start
				ok, err := r.Put(ctx, contendedKey, want)
				if err != nil {
					errMu.Lock()
					errs = append(errs, fmt.Errorf("contended put: %w", err))
					errMu.Unlock()
					return
				}
				if ok {
					stored.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if n := stored.Load(); n != 1 {
			return violation("%d writers put version %d at once and %d reported it stored, want exactly 1: set-if-newer is not atomic", writers, c, n)
		}
		if err := expect(ctx, r, contendedKey, want); err != nil {
			return err
		}
	}
	return nil
}

// checkShuffledPuts races writers that put every version twice, in a
// shuffled order, against readers.
func checkShuffledPuts(ctx context.Context, r quorum.Replica) error {
	const (
		writers  = 8
		versions = 400
		readers  = 2
	)
	valueOf := func(c uint64) []byte { return []byte("v" + strconv.FormatUint(c, 10)) }
	var (
		mu        sync.Mutex
		storedCnt = make(map[uint64]int)
		errs      []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	// Each version is put by two writers, so a racy replica stores it twice.
	work := make([][]uint64, writers)
	for c := uint64(1); c <= versions; c++ {
		a := int(c) % writers
		work[a] = append(work[a], c)
		work[(a+1)%writers] = append(work[(a+1)%writers], c)
	}
	rctx, stopReaders := context.WithCancel(ctx)
	var readersWG, writersWG sync.WaitGroup
	for range readers {
		readersWG.Go(func() {
			var last quorum.Version
			for rctx.Err() == nil {
				got, err := r.Get(rctx, "race")
				if err != nil {
					if rctx.Err() == nil {
						fail(fmt.Errorf("concurrent get: %w", err))
					}
					return
				}
				if got.Version.Compare(last) < 0 {
					fail(violation("a reader saw version (%d, %d) after (%d, %d)", got.Version.Counter, got.Version.Writer, last.Counter, last.Writer))
					return
				}
				last = got.Version
				if !got.Version.IsZero() && !bytes.Equal(got.Value, valueOf(got.Version.Counter)) {
					fail(violation("torn record: value %q with version counter %d", got.Value, got.Version.Counter))
					return
				}
			}
		})
	}
	for w := range writers {
		rng := rand.New(rand.NewPCG(uint64(w), 42))
		mine := work[w]
		rng.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
		writersWG.Go(func() {
			for _, c := range mine {
				ok, err := r.Put(ctx, "race", quorum.Record{Value: valueOf(c), Version: v(c, 0)})
				if err != nil {
					fail(fmt.Errorf("concurrent put: %w", err))
					return
				}
				if ok {
					mu.Lock()
					storedCnt[c]++
					mu.Unlock()
				}
			}
		})
	}
	writersWG.Wait()
	stopReaders()
	readersWG.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for c, n := range storedCnt {
		if n > 1 {
			return violation("version %d was put twice and stored twice: set-if-newer is not atomic", c)
		}
	}
	if storedCnt[versions] != 1 {
		return violation("the newest version %d was never reported stored", versions)
	}
	return expect(ctx, r, "race", quorum.Record{Value: valueOf(versions), Version: v(versions, 0)})
}
