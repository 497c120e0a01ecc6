package redisreplica

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/quorum"
)

// TestClientOptionsFailFast: with ClientOptions, calls to an address where
// nothing listens (a killed server) fail at once — no dial retries 100 ms
// apart — and Puts say they stored nothing.
func TestClientOptionsFailFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	rdb := redis.NewClient(ClientOptions(addr))
	defer rdb.Close()
	r := New(rdb, Options{})
	for i := range 20 {
		start := time.Now()
		_, err := r.Get(context.Background(), "k")
		require.Error(t, err)
		assert.Less(t, time.Since(start), 100*time.Millisecond, "call %d", i)
		start = time.Now()
		_, err = r.Put(context.Background(), "k", quorum.Record{Version: quorum.Version{Counter: 1, Writer: 1}})
		require.Error(t, err)
		assert.True(t, errors.Is(err, quorum.ErrNotStored), "put %d: %v", i, err)
		assert.Less(t, time.Since(start), 100*time.Millisecond, "put %d", i)
	}
}
