package memreplica_test

import (
	"context"
	"fmt"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/memreplica"
)

func Example() {
	r := memreplica.New(memreplica.Options{Zone: "a", MaxKeys: 1000})
	ctx := context.Background()
	stored, _ := r.Put(ctx, "k", quorum.Record{Value: []byte("v2"), Version: quorum.Version{Counter: 2, Writer: 1}})
	fmt.Println(stored)
	// An older version is ignored, not an error.
	stored, err := r.Put(ctx, "k", quorum.Record{Value: []byte("v1"), Version: quorum.Version{Counter: 1, Writer: 1}})
	fmt.Println(stored, err)
	rec, _ := r.Get(ctx, "k")
	fmt.Println(string(rec.Value), rec.Version)
	// Output:
	// true
	// false <nil>
	// v2 {2 1}
}

// Three in-memory replicas under a quorum client (the package doc's
// example).
func Example_quorum() {
	reps := []quorum.Replica{
		memreplica.New(memreplica.Options{Zone: "a"}),
		memreplica.New(memreplica.Options{Zone: "b"}),
		memreplica.New(memreplica.Options{Zone: "c"}),
	}
	c, err := quorum.New(reps, quorum.Config{MinWriteZones: 2})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Put(context.Background(), "k", []byte("v")))
	// Output: <nil>
}
