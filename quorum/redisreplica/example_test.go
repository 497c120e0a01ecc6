package redisreplica_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/redisreplica"
)

func Example() {
	mr, err := miniredis.Run() // stands in for a real redis-server
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	ctx := context.Background()
	r := redisreplica.New(rdb, redisreplica.Options{Prefix: "users:", Zone: "idc-a"})

	stored, _ := r.Put(ctx, "alice", quorum.Record{Value: []byte("v2"), Version: quorum.Version{Counter: 2, Writer: 1}})
	fmt.Println("v2 stored:", stored)
	// A delayed, older write is refused, not an error.
	stored, _ = r.Put(ctx, "alice", quorum.Record{Value: []byte("v1"), Version: quorum.Version{Counter: 1, Writer: 9}})
	fmt.Println("v1 stored:", stored)

	rec, _ := r.Get(ctx, "alice")
	fmt.Printf("%s at (%d, %d) in zone %s\n", rec.Value, rec.Version.Counter, rec.Version.Writer, r.Zone())
	// Output:
	// v2 stored: true
	// v1 stored: false
	// v2 at (2, 1) in zone idc-a
}

// A quorum client over three Redis servers in three zones (the package
// doc's example). It compiles, but does not run: the servers are not there.
func ExampleClientOptions() {
	replica := func(addr, zone string) *redisreplica.Replica {
		return redisreplica.New(redis.NewClient(redisreplica.ClientOptions(addr)), redisreplica.Options{Prefix: "users:", Zone: zone})
	}
	r2, r3 := replica("10.0.2.5:6379", "idc-b"), replica("10.0.3.5:6379", "idc-c")
	rdb := redis.NewClient(redisreplica.ClientOptions("10.0.1.5:6379"))
	r := redisreplica.New(rdb, redisreplica.Options{Prefix: "users:", Zone: "idc-a"})
	client, err := quorum.New([]quorum.Replica{r, r2, r3}, quorum.Config{MinWriteZones: 2})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	_ = client.Put(context.Background(), "alice", []byte("v1"))
}
