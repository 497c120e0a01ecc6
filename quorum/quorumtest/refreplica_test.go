package quorumtest

import (
	"context"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
)

// refReplica is a minimal correct Replica for the package's own tests
// (quorum/memreplica is the real one).
type refReplica struct {
	mu sync.Mutex
	m  map[string]quorum.Record

	// Bugs, for proving that the conformance kit catches them.
	racy      bool          // compare and set in two critical sections
	waiting   chan struct{} // racy: closed when a second Put passed the check
	paired    bool          // racy: the forced interleaving has happened
	noCopyIn  bool
	noCopyOut bool
	floatVer  bool // compare versions as float64, as a naive Lua script would
	orEqual   bool // store equal versions too
	errMiss   bool // a missing key is an error
	dropTomb  bool // a tombstone deletes the record
}

func newRef() *refReplica { return &refReplica{m: make(map[string]quorum.Record)} }

func (r *refReplica) Get(_ context.Context, key string) (quorum.Record, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc, ok := r.m[key]
	if !ok && r.errMiss {
		return quorum.Record{}, context.DeadlineExceeded
	}
	if !r.noCopyOut {
		rc = cloneRecord(rc)
	}
	return rc, nil
}

func (r *refReplica) newer(a, b quorum.Version) bool {
	if r.floatVer {
		ac, bc := float64(a.Counter), float64(b.Counter)
		if ac != bc {
			return ac > bc
		}
		return float64(a.Writer) > float64(b.Writer)
	}
	if r.orEqual {
		return a.Compare(b) >= 0 && !a.IsZero()
	}
	return a.Newer(b)
}

func (r *refReplica) Put(ctx context.Context, key string, rc quorum.Record) (bool, error) {
	if !r.noCopyIn {
		rc = cloneRecord(rc)
	}
	r.mu.Lock()
	cur := r.m[key]
	if !r.newer(rc.Version, cur.Version) {
		r.mu.Unlock()
		return false, nil
	}
	if r.racy {
		// Force the interleaving the bug allows: the first two Puts on the
		// contended key that pass the check wait for each other before either
		// sets, so both store; later Puts just widen the window.
		var partner chan struct{}
		if key == contendedKey && !r.paired {
			if r.waiting == nil {
				r.waiting = make(chan struct{})
				partner = r.waiting
			} else {
				close(r.waiting)
				r.paired = true
			}
		}
		r.mu.Unlock()
		if partner != nil {
			select {
			case <-partner:
			case <-ctx.Done():
			}
		} else {
			time.Sleep(time.Microsecond)
		}
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	if r.dropTomb && rc.Deleted {
		delete(r.m, key)
		return true, nil
	}
	r.m[key] = rc
	return true, nil
}
