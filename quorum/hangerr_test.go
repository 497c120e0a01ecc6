package quorum_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// pairWant is what a tier's fast failure for replicas of its pair it
// cannot do without must say.
type pairWant struct {
	need, healthy int
	named         func(down []int) []int // nil: writes succeed
}

var pairRoles = map[string][2]string{
	"MasterSlave": {"master", "slave"},
	"DualPrimary": {"primary", "secondary"},
	"DualEither":  {"primary", "secondary"},
	"DualBoth":    {"primary", "secondary"},
}

var pairWants = map[string]pairWant{
	"MasterSlave": {1, 1, func(h []int) []int { return only(slices.Contains(h, 0), []int{0}) }},
	"DualPrimary": {1, 2, func(h []int) []int { return only(slices.Contains(h, 0), []int{0}) }},
	"DualEither":  {1, 2, func(h []int) []int { return only(len(h) == 2, h) }},
	"DualBoth":    {2, 2, func(h []int) []int { return h }},
}

// checkPairError checks a tier's fast failure e for the replicas named
// (in e.Hanging or e.Unhealthy, as field says) doing what verb says.
func checkPairError(t *testing.T, tc tierCase, e *quorum.Error, field []int, named []int, need, healthy int, one, many string) {
	t.Helper()
	msg := e.Error()
	t.Log(msg)
	assert.True(t, e.Fast)
	assert.Equal(t, named, field, "the replicas named")
	assert.Equal(t, need, e.Need)
	assert.Equal(t, healthy, e.Healthy)
	assert.Zero(t, e.Got)
	assert.False(t, e.Applied)
	assert.ErrorIs(t, e, quorum.ErrNoQuorum)
	assert.ErrorIs(t, e, quorum.ErrNotApplied)
	assert.NotErrorIs(t, e, quorum.ErrIndeterminate)
	assert.NotContains(t, msg, "healthy replicas", "the count the rule does not use")
	for _, i := range field {
		assert.Contains(t, msg, fmt.Sprintf("%d (%s)", i, pairRoles[tc.name][i]))
	}
	if len(named) == 1 {
		assert.Contains(t, msg, one+" and the write needs it")
	} else {
		assert.Contains(t, msg, many+" and the write needs them")
	}
	assert.True(t, strings.HasPrefix(msg, "quorum: put \"k"), msg)
}

// TestTierHangErrorAgreesWithRule: for every tier and every set of
// hanging replicas of the pair (0, 1, both; whole or Puts only), writes
// keep going until the hang is known. A write that can do without the
// hanging replicas succeeds; one that cannot fails fast with an *Error
// that says what is true: Hanging names exactly the hanging replicas the
// tier cannot do without (the master, the primary; under DualBoth each
// that hangs; under DualEither both), the message names each with its
// role, Need is the tier's acknowledgement count, Healthy the replicas the
// write goes to (they all reported healthy), and it still matches
// ErrNoQuorum and ErrNotApplied. (It used to read "only 1 healthy
// replicas, need 1" for a DualPrimary whose primary hangs.) N, the
// ReplicaTimeout and Puts-only are drawn from the seed; fake time.
func TestTierHangErrorAgreesWithRule(t *testing.T) {
	seed := uint64(0)
	for _, tc := range tierCases {
		for _, hung := range [][]int{{0}, {1}, {0, 1}} {
			for range 2 {
				seed++
				rng := rand.New(rand.NewPCG(seed, 53))
				n := 2 + rng.IntN(2)
				timeout := time.Duration(20+rng.IntN(980)) * time.Millisecond
				putsOnly := rng.IntN(2) == 0
				w := pairWants[tc.name]
				named := w.named(hung)
				t.Run(fmt.Sprintf("%s/hung=%v/n=%d/timeout=%v/putsonly=%v", tc.name, hung, n, timeout, putsOnly), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						fs, reps := nFakes(n)
						cfg := tc.cfg
						cfg.ReplicaTimeout = timeout
						c := newClient(t, reps, cfg)
						ctx := context.Background()
						require.NoError(t, c.Put(ctx, "k", []byte("v")))
						for _, i := range hung {
							fs[i].gatePutsOnly.Store(putsOnly)
							fs[i].block()
						}
						defer func() {
							for _, i := range hung {
								fs[i].open()
							}
						}()
						var fast *quorum.Error
						for k := 0; k < 20 && fast == nil; k++ {
							err := c.Put(ctx, "k"+strconv.Itoa(k), []byte("v"))
							var qe *quorum.Error
							switch {
							case err == nil:
							case errors.As(err, &qe) && qe.Fast:
								fast = qe
							default:
								// A write that met the hang before it was known.
								require.ErrorIs(t, err, quorum.ErrNoQuorum)
							}
							if named == nil {
								require.NoError(t, err, "the tier can do without replicas %v", hung)
							}
							time.Sleep(time.Millisecond)
						}
						if named == nil {
							return
						}
						require.NotNil(t, fast, "writes fail fast once the hang is known")
						checkPairError(t, tc, fast, fast.Hanging, named, w.need, w.healthy, "hangs", "hang")
						assert.Nil(t, fast.Unhealthy)
						// Every named replica is in the chain as a ReplicaError.
						var got []int
						for _, e := range flatten(fast.Err) {
							var re *quorum.ReplicaError
							if errors.As(e, &re) {
								got = append(got, re.Replica)
							}
						}
						assert.Equal(t, named, got, "the ReplicaErrors")
					})
				})
			}
		}
	}
}

// TestTierUnhealthyErrorAgreesWithRule: as TestTierHangErrorAgreesWithRule,
// for replicas of the pair that report unhealthy: the fast failure names
// them in Unhealthy (it used to read "only 1 healthy replicas, need 1" for
// a DualPrimary whose primary reports unhealthy). Healthy counts the
// replicas reporting healthy the write would go to (under MasterSlave the
// master only).
func TestTierUnhealthyErrorAgreesWithRule(t *testing.T) {
	for _, tc := range tierCases {
		for _, down := range [][]int{{0}, {1}, {0, 1}} {
			w := pairWants[tc.name]
			named := w.named(down)
			t.Run(fmt.Sprintf("%s/unhealthy=%v", tc.name, down), func(t *testing.T) {
				fs, reps := nFakes(3)
				c := newClient(t, reps, tc.cfg)
				for _, i := range down {
					fs[i].unhealthy.Store(true)
				}
				err := c.Put(context.Background(), "k", []byte("v"))
				if named == nil {
					require.NoError(t, err, "the tier can do without replicas %v", down)
					return
				}
				var e *quorum.Error
				require.ErrorAs(t, err, &e)
				healthy := w.healthy - len(down)
				if tc.name == "MasterSlave" {
					healthy = 0 // its writes go to the master alone
				}
				checkPairError(t, tc, e, e.Unhealthy, named, w.need, max(healthy, 0), "reports unhealthy", "report unhealthy")
				assert.Nil(t, e.Hanging)
			})
		}
	}
}

func only(ok bool, s []int) []int {
	if !ok {
		return nil
	}
	return s
}

// flatten lists the errors an errors.Join holds, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
