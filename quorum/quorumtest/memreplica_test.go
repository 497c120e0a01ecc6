package quorumtest_test

import (
	"testing"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

// The in-memory replica the linearizability tests run on keeps the contract,
// bare and behind a fault wrapper.
func TestMemreplicaConforms(t *testing.T) {
	t.Run("bare", func(t *testing.T) {
		quorumtest.TestReplica(t, func() quorum.Replica { return memreplica.New(memreplica.Options{}) })
	})
	t.Run("wrapped", func(t *testing.T) {
		quorumtest.TestReplica(t, func() quorum.Replica {
			return quorumtest.Wrap(memreplica.New(memreplica.Options{}), quorumtest.Options{Seed: 9})
		})
	})
}
