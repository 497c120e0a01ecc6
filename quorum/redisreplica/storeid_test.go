package redisreplica

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

// TestNewRefusesTwoReplicasOverOneDatabase: two replicas over one Redis
// database were accepted by quorum.New, and a W=2 write was then
// acknowledged by one server.
func TestNewRefusesTwoReplicasOverOneDatabase(t *testing.T) {
	mr, rdb := newMini(t)
	other := memreplica.New(memreplica.Options{})
	same := func(a, b quorum.Replica) {
		t.Helper()
		_, err := quorum.New([]quorum.Replica{a, other, b}, quorum.Config{})
		require.ErrorIs(t, err, quorum.ErrConfig)
		assert.Contains(t, err.Error(), "replicas 0 and 2")
	}
	distinct := func(a, b quorum.Replica) {
		t.Helper()
		c, err := quorum.New([]quorum.Replica{a, other, b}, quorum.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
	// One client twice.
	same(New(rdb, Options{}), New(rdb, Options{}))
	// Two clients of one address and database, also behind a wrapper.
	rdb2 := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb2.Close() })
	same(New(rdb, Options{Prefix: "p:"}),
		quorumtest.Wrap(New(rdb2, Options{Prefix: "p:"}), quorumtest.Options{}))
	// Another prefix or database is another store.
	distinct(New(rdb, Options{Prefix: "a:"}), New(rdb2, Options{Prefix: "b:"}))
	rdb3 := redis.NewClient(&redis.Options{Addr: mr.Addr(), DB: 3})
	t.Cleanup(func() { _ = rdb3.Close() })
	distinct(New(rdb, Options{}), New(rdb3, Options{}))
}
