package quorum_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

func threeReplicas() []quorum.Replica {
	return []quorum.Replica{
		memreplica.New(memreplica.Options{Zone: "a"}),
		memreplica.New(memreplica.Options{Zone: "a"}),
		memreplica.New(memreplica.Options{Zone: "b"}),
	}
}

func Example() {
	ctx := context.Background()
	c, err := quorum.New(threeReplicas(), quorum.Config{ClientID: 7}) // N=3, W=R=2, Linearizable
	if err != nil {
		panic(err)
	}
	defer c.Close()

	v, err := c.PutVersion(ctx, "user:42", []byte("hello"))
	fmt.Println(v, err)
	val, err := c.Get(ctx, "user:42")
	fmt.Println(string(val), err)

	if err := c.Delete(ctx, "user:42"); err != nil {
		panic(err)
	}
	_, err = c.Get(ctx, "user:42")
	fmt.Println(errors.Is(err, quorum.ErrNotFound))
	// Output:
	// {1 7} <nil>
	// hello <nil>
	// true
}

// The package doc's quick start.
func Example_quickStart() {
	ctx := context.Background()
	reps := []quorum.Replica{ // one replica per zone (IDC); Redis: see quorum/redisreplica
		memreplica.New(memreplica.Options{Zone: "idc-a"}),
		memreplica.New(memreplica.Options{Zone: "idc-b"}),
		memreplica.New(memreplica.Options{Zone: "idc-c"}),
	}
	c, err := quorum.New(reps, quorum.Config{MinWriteZones: 2}) // N=3, W=R=2, Linearizable
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.Put(ctx, "user:42", []byte("hello")); err != nil {
		panic(err) // errors.Is tells ErrNotApplied (safe to retry) from ErrIndeterminate
	}
	v, err := c.Get(ctx, "user:42")
	fmt.Println(string(v), err)
	fast := c.With(quorum.Call{Consistency: quorum.Quorum}) // one call at the Quorum level
	v, err = fast.Get(ctx, "user:42")
	fmt.Println(string(v), err)
	// Output:
	// hello <nil>
	// hello <nil>
}

func ExampleClient_With() {
	ctx := context.Background()
	c, err := quorum.New(threeReplicas(), quorum.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	_ = c.Put(ctx, "k", []byte("v1"))
	// One call at the Quorum level with blocking read repair.
	fast := c.With(quorum.Call{Consistency: quorum.Quorum, Repair: quorum.RepairBlocking})
	val, err := fast.Get(ctx, "k")
	fmt.Println(string(val), err)
	// Output: v1 <nil>
}

func ExampleNew_zones() {
	// Two zones; every write needs acknowledgements from both, so losing a
	// whole zone loses no acknowledged write.
	c, err := quorum.New(threeReplicas(), quorum.Config{MinWriteZones: 2, LocalZone: "a"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Put(context.Background(), "k", []byte("v")))

	_, err = quorum.New(threeReplicas(), quorum.Config{MinWriteZones: 3})
	fmt.Println(errors.Is(err, quorum.ErrConfig))
	// Output:
	// <nil>
	// true
}

// unhealthy is a replica whose health checker says it is down.
type unhealthy struct{ quorum.Replica }

func (unhealthy) Healthy() bool { return false }

// Every failed write says whether it may have been applied.
func ExampleClient_Put_outcomes() {
	reps := threeReplicas()
	reps[1] = unhealthy{reps[1]}
	reps[2] = unhealthy{reps[2]}
	c, err := quorum.New(reps, quorum.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	err = c.Put(context.Background(), "k", []byte("v"))
	switch {
	case err == nil:
		fmt.Println("stored on a write quorum")
	case errors.Is(err, quorum.ErrNotApplied):
		fmt.Println("certainly not stored: safe to retry")
	case errors.Is(err, quorum.ErrIndeterminate):
		fmt.Println("may have been stored: read before retrying")
	}
	fmt.Println(errors.Is(err, quorum.ErrNoQuorum))
	// Output:
	// certainly not stored: safe to retry
	// true
}

// The master-slave tier for data that tolerates minor loss: the master
// (replicas[0]) is written synchronously, the slave (replicas[1]) after it.
func ExampleTier() {
	reps := threeReplicas()
	c, err := quorum.New(reps, quorum.Config{Tier: quorum.MasterSlave})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	fmt.Println(c.Put(ctx, "session:1", []byte("token")))
	c.Close() // waits for the slave copy
	rec, _ := reps[1].Get(ctx, "session:1")
	fmt.Println(string(rec.Value))
	// Output:
	// <nil>
	// token
}
