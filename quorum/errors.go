package quorum

import (
	"errors"
	"fmt"
	"strconv"
)

var (
	// ErrNotFound is returned by reads of a key that was never written or
	// whose newest record is a tombstone.
	ErrNotFound = errors.New("quorum: not found")
	// ErrNoQuorum matches every error of an operation that could not gather
	// its quorum (too few healthy replicas, answers, acknowledgements or zones).
	ErrNoQuorum = errors.New("quorum: no quorum")
	// ErrNotApplied matches a failed write that certainly stored nothing: no
	// replica was sent the record, or every replica that was sent it answered
	// "not stored" or an error matching ErrNotStored. Retrying it is safe.
	ErrNotApplied = errors.New("quorum: write not applied")
	// ErrIndeterminate matches a failed write that some replica may have
	// stored: it may show up in later reads (and, once read by a Linearizable
	// read, it stays).
	ErrIndeterminate = errors.New("quorum: write may have been applied")
	// ErrClosed is returned by operations on a closed Client.
	ErrClosed = errors.New("quorum: client closed")
	// ErrConfig matches the errors of New for an invalid Config.
	ErrConfig = errors.New("quorum: invalid config")
	// ErrNotStored may be wrapped by a Replica's Put error to say that it
	// certainly did not store the record (for example, the connection was
	// never made). Any other Put error leaves the write indeterminate.
	ErrNotStored = errors.New("quorum: replica did not store")
	// ErrReplicaBusy is a replica's error when it already has
	// Config.MaxInFlight calls in flight; the call was not sent. It matches
	// ErrNotStored.
	ErrReplicaBusy error = &notStored{"quorum: replica busy"}
	// ErrReplicaTimeout is a replica's error when it did not answer within
	// Config.ReplicaTimeout.
	ErrReplicaTimeout = errors.New("quorum: replica timeout")
	// ErrSuperseded is a replica's refusal of a MasterSlave or DualWrite
	// record because it already holds a newer version of the key (written
	// through another tier or client, or left from before the other
	// replica restarted empty). The tier write then fails (or, for the
	// MasterSlave slave copy, Hooks.AsyncWrite reports it) instead of
	// counting the refusal as an acknowledgement: that replica does not
	// hold the record. It matches ErrNotStored.
	ErrSuperseded error = &notStored{"quorum: replica holds a newer version"}
	// ErrVersionOverflow is returned by writes when a replica holds the
	// largest possible version counter.
	ErrVersionOverflow = errors.New("quorum: version counter overflow")
)

// Error is the error of an operation that did not reach its quorum. It
// matches ErrNoQuorum, and for writes exactly one of ErrNotApplied and
// ErrIndeterminate. Unwrap gives the per-replica errors (joined with
// errors.Join, each wrapped in a *ReplicaError) and the context's error, if
// any.
type Error struct {
	Op      Op
	Key     string
	Need    int  // acknowledgements or answers needed
	Got     int  // acknowledgements or answers received
	Healthy int  // replicas healthy (see HealthReporter) when the operation started
	Applied bool // a write that some replica may have stored (ErrIndeterminate)
	Fast    bool // failed before contacting any replica (health known, or a replica known to hang)
	// Hanging, in the fast failure of a MasterSlave or DualWrite write
	// (see the package doc, Hanging replicas of the pair), is the replicas
	// of the pair known to hang that the write cannot do without, in
	// increasing order: the master (MasterSlave) or the primary
	// (DualPrimary), replica 0; under DualBoth the one hanging, or both;
	// under DualEither both. Healthy still counts them (they reported
	// healthy). Nil otherwise.
	Hanging []int
	// Unhealthy, in the fast failure of a MasterSlave or DualWrite write,
	// is the replicas of the pair reporting unhealthy (HealthReporter) that
	// the write cannot do without, chosen as for Hanging. Nil otherwise.
	Unhealthy []int
	Err       error
	tier      Tier // MasterSlave or DualWrite with Hanging or Unhealthy: names the replicas' roles
}

func (e *Error) Error() string {
	what := "failed"
	switch {
	case len(e.Hanging) > 0:
		what = pairText(e.tier, e.Hanging, "hangs", "hang")
	case len(e.Unhealthy) > 0:
		what = pairText(e.tier, e.Unhealthy, "reports unhealthy", "report unhealthy")
	case e.Fast:
		what = fmt.Sprintf("only %d healthy replicas, need %d", e.Healthy, e.Need)
	default:
		what = fmt.Sprintf("%d of %d needed", e.Got, e.Need)
	}
	s := fmt.Sprintf("quorum: %v %q: no quorum: %s", e.Op, e.Key, what)
	if e.Op != OpGet {
		if e.Applied {
			s += " (may have been applied)"
		} else {
			s += " (not applied)"
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is reports whether the error matches ErrNoQuorum, ErrNotApplied or
// ErrIndeterminate.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNoQuorum:
		return true
	case ErrNotApplied:
		return (e.Op != OpGet || e.Fast) && !e.Applied
	case ErrIndeterminate:
		return e.Op != OpGet && e.Applied
	}
	return false
}

func (e *Error) Unwrap() error { return e.Err }

// pairText says which replicas of tier's pair the write needs and what
// they do, with their roles: "replica 0 (master) hangs and the write needs
// it", "replicas 0 (primary) and 1 (secondary) hang and the write needs
// them".
func pairText(tier Tier, replicas []int, one, many string) string {
	var b []byte
	if len(replicas) == 1 {
		b = append(b, "replica "...)
	} else {
		b = append(b, "replicas "...)
	}
	for k, i := range replicas {
		switch {
		case k == 0:
		case k == len(replicas)-1:
			b = append(b, " and "...)
		default:
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(i), 10)
		if role := pairRole(tier, i); role != "" {
			b = append(b, " ("+role+")"...)
		}
	}
	if len(replicas) == 1 {
		b = append(b, " "+one+" and the write needs it"...)
	} else {
		b = append(b, " "+many+" and the write needs them"...)
	}
	return string(b)
}

// pairRole names replica i of the pair of tier.
func pairRole(tier Tier, i int) string {
	switch {
	case tier == MasterSlave && i == 0:
		return "master"
	case tier == MasterSlave && i == 1:
		return "slave"
	case tier == DualWrite && i == 0:
		return "primary"
	case tier == DualWrite && i == 1:
		return "secondary"
	}
	return ""
}

// ReplicaError is one replica's failure inside an Error.
type ReplicaError struct {
	Replica int // index in the slice given to New
	Op      Op
	Err     error
}

func (e *ReplicaError) Error() string {
	return fmt.Sprintf("quorum: replica %d %v: %v", e.Replica, e.Op, e.Err)
}

func (e *ReplicaError) Unwrap() error { return e.Err }

// notApplied is a write refused before it contacted any replica (a nil or
// closed Client, an invalid Call): it matches ErrNotApplied as well as its
// cause, so that every failed write matches exactly one of ErrNotApplied
// and ErrIndeterminate.
type notApplied struct{ err error }

func (e notApplied) Error() string        { return e.err.Error() }
func (e notApplied) Unwrap() error        { return e.err }
func (e notApplied) Is(target error) bool { return target == ErrNotApplied }

// notStored is a sentinel that also matches ErrNotStored.
type notStored struct{ msg string }

func (e *notStored) Error() string        { return e.msg }
func (e *notStored) Is(target error) bool { return target == ErrNotStored }
