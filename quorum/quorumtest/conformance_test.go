package quorumtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

func TestTestReplicaPassesCorrectReplica(t *testing.T) {
	TestReplica(t, func() quorum.Replica { return newRef() })
}

func TestTestReplicaPassesFaultyWithoutFaults(t *testing.T) {
	TestReplica(t, func() quorum.Replica { return Wrap(newRef(), Options{Seed: 1}) })
}

func TestTestReplicaPassesWipedFaulty(t *testing.T) {
	// After a Wipe the wrapper serves every key itself: that store must keep
	// the contract too.
	TestReplica(t, func() quorum.Replica {
		f := Wrap(newRef(), Options{Seed: 1})
		f.Wipe()
		return f
	})
}

func TestCheckReplicaCatchesBrokenReplicas(t *testing.T) {
	cases := []struct {
		name      string
		bug       func(r *refReplica)
		wantCheck string
	}{
		{"racy compare-and-set", func(r *refReplica) { r.racy = true }, "ConcurrentSetIfNewerIsAtomic"},
		{"no copy on put", func(r *refReplica) { r.noCopyIn = true }, "PutCopiesValue"},
		{"no copy on get", func(r *refReplica) { r.noCopyOut = true }, "GetReturnsCopy"},
		{"versions as float64", func(r *refReplica) { r.floatVer = true }, "Exact64BitVersions"},
		{"equal versions stored", func(r *refReplica) { r.orEqual = true }, "OnlyNewerVersionsStore"},
		{"missing key is an error", func(r *refReplica) { r.errMiss = true }, "MissingKeyIsZeroRecord"},
		{"tombstone deletes", func(r *refReplica) { r.dropTomb = true }, "Tombstones"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckReplica(context.Background(), func() quorum.Replica {
				r := newRef()
				tc.bug(r)
				return r
			})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantCheck)
		})
	}
}

func TestCheckReplicaNilForCorrectReplica(t *testing.T) {
	require.NoError(t, CheckReplica(context.Background(), func() quorum.Replica { return newRef() }))
}

func TestCheckReplicaNilInputs(t *testing.T) {
	require.Error(t, CheckReplica(context.Background(), nil))
	var nilCtx context.Context // nil on purpose: a nil ctx must not panic
	err := CheckReplica(nilCtx, func() quorum.Replica { return nil })
	require.ErrorContains(t, err, "returned nil")
}
