package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// classify checks that a failed write matches exactly one of ErrNotApplied
// and ErrIndeterminate, and says which.
func classify(t *testing.T, err error) (notApplied bool) {
	t.Helper()
	na, ind := errors.Is(err, quorum.ErrNotApplied), errors.Is(err, quorum.ErrIndeterminate)
	require.True(t, na != ind, "a failed write must match exactly one of ErrNotApplied and ErrIndeterminate: %v", err)
	return na
}

// TestWriteRefusedBeforeAnyCall: the writes that fail before contacting a
// replica — on a nil *Client, a nil Caller's client, after Close, with an
// invalid per-call Call — match ErrNotApplied, and their cause.
func TestWriteRefusedBeforeAnyCall(t *testing.T) {
	ctx := context.Background()
	var nilClient *quorum.Client
	_, reps := nFakes(3)
	closed, err := quorum.New(reps, quorum.Config{})
	require.NoError(t, err)
	require.NoError(t, closed.Close())
	_, reps = nFakes(3)
	open := newClient(t, reps, quorum.Config{})
	cases := map[string]struct {
		put   func() error
		cause error
	}{
		"nil Client Put":         {func() error { return nilClient.Put(ctx, "k", nil) }, nil},
		"nil Client Delete":      {func() error { return nilClient.Delete(ctx, "k") }, nil},
		"nil Caller Put":         {func() error { return nilClient.With(quorum.Call{}).Put(ctx, "k", nil) }, nil},
		"Put after Close":        {func() error { return closed.Put(ctx, "k", nil) }, quorum.ErrClosed},
		"Delete after Close":     {func() error { return closed.Delete(ctx, "k") }, quorum.ErrClosed},
		"unknown tier":           {func() error { return open.With(quorum.Call{Tier: 9}).Put(ctx, "k", nil) }, quorum.ErrConfig},
		"unknown consistency":    {func() error { return open.With(quorum.Call{Consistency: 9}).Put(ctx, "k", nil) }, quorum.ErrConfig},
		"unknown repair":         {func() error { return open.With(quorum.Call{Repair: 9}).Delete(ctx, "k") }, quorum.ErrConfig},
		"PutVersion after Close": {func() error { _, err := closed.PutVersion(ctx, "k", nil); return err }, quorum.ErrClosed},
	}
	for name, tc := range cases {
		err := tc.put()
		require.Error(t, err, name)
		assert.True(t, classify(t, err), "%s: %v", name, err)
		if tc.cause != nil {
			assert.ErrorIs(t, err, tc.cause, name)
		}
	}
}

// TestWriteErrorsClassified: random configurations (tier, dual-write policy,
// zones and MinWriteZones, MaxInFlight 1, timeouts) over replicas that fail
// in every way the fakes know — down ("not stored"), failing opaquely,
// storing and then failing, hanging, slow and ignoring their context,
// unhealthy — with random caller deadlines (some already over) and a
// client sometimes closed in the middle. Every failed write matches exactly
// one of ErrNotApplied and ErrIndeterminate, and a write reported
// ErrNotApplied is on no replica once the client has closed (every
// straggler landed). Every write uses a key of its own.
func TestWriteErrorsClassified(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 12
	}
	for s := range seeds {
		seed := uint64(s + 1)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { writeErrRun(t, seed) })
		})
	}
}

func writeErrRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	n := 2 + rng.IntN(4)
	zones := make([]string, n)
	for i := range zones {
		zones[i] = []string{"a", "b", "c"}[rng.IntN(3)]
	}
	fs, reps := fakes(zones...)
	cfg := quorum.Config{
		Tier:           []quorum.Tier{quorum.QuorumTier, quorum.QuorumTier, quorum.MasterSlave, quorum.DualWrite}[rng.IntN(4)],
		DualWrite:      quorum.DualPolicy(1 + rng.IntN(3)),
		ReplicaTimeout: []time.Duration{10 * time.Millisecond, 100 * time.Millisecond}[rng.IntN(2)],
		Hedge:          quorum.Hedge{Disabled: rng.IntN(2) == 0},
	}
	if rng.IntN(3) == 0 {
		cfg.MaxInFlight = 1
	}
	if rng.IntN(2) == 0 {
		cfg.MinWriteZones = 2
	}
	c, err := quorum.New(reps, cfg)
	if err != nil {
		// MinWriteZones over one zone: drop the zone rule.
		require.ErrorIs(t, err, quorum.ErrConfig)
		cfg.MinWriteZones = 0
		c, err = quorum.New(reps, cfg)
		require.NoError(t, err)
	}
	defer func() {
		for _, f := range fs {
			f.open()
		}
	}()
	closeAt := -1
	if rng.IntN(4) == 0 {
		closeAt = rng.IntN(60)
	}
	type written struct {
		key   string
		value string
	}
	var notApplied []written
	counts := map[string]int{}
	for op := range 60 {
		if op%10 == 0 {
			for _, f := range fs {
				f.open()
				f.down.Store(false)
				f.opaque.Store(false)
				f.landFail.Store(false)
				f.unhealthy.Store(false)
				f.setDelay(0)
				switch rng.IntN(8) {
				case 0:
					f.down.Store(true)
				case 1:
					f.opaque.Store(true)
				case 2:
					f.landFail.Store(true)
				case 3:
					f.block()
				case 4:
					f.setDelay(time.Duration(rng.IntN(200)) * time.Millisecond)
				case 5:
					f.unhealthy.Store(true)
				}
			}
		}
		if op == closeAt {
			go c.Close() // operations race the Close
		}
		ctx := context.Background()
		cancel := context.CancelFunc(func() {})
		switch rng.IntN(4) {
		case 0:
			ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(150))*time.Millisecond)
		case 1:
			ctx, cancel = context.WithCancel(ctx)
			cancel() // over before the write starts
		}
		w := written{key: fmt.Sprintf("k%d", op), value: fmt.Sprintf("v%d", op)}
		var err error
		if rng.IntN(5) == 0 {
			err = c.Delete(ctx, w.key)
		} else {
			err = c.Put(ctx, w.key, []byte(w.value))
		}
		cancel()
		if err == nil {
			counts["ok"]++
			continue
		}
		if classify(t, err) {
			counts["not applied"]++
			notApplied = append(notApplied, w)
		} else {
			counts["indeterminate"]++
		}
	}
	for _, f := range fs {
		f.open() // let hanging stragglers end
	}
	require.NoError(t, c.Close())
	for _, w := range notApplied {
		for i, f := range fs {
			rec := f.stored(t, w.key)
			assert.True(t, rec.Version.IsZero(), "write of %s reported not applied, but replica %d holds %+v", w.key, i, rec)
		}
	}
	t.Logf("n=%d %+v: %v", n, cfg.Tier, counts)
}
