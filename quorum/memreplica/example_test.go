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
