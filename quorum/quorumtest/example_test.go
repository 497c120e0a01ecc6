package quorumtest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/quorum/quorumtest"
)

// exampleReplica is a small in-memory Replica for the examples.
type exampleReplica struct{ m map[string]quorum.Record }

func (r *exampleReplica) Get(_ context.Context, key string) (quorum.Record, error) {
	return r.m[key], nil
}

func (r *exampleReplica) Put(_ context.Context, key string, rec quorum.Record) (bool, error) {
	if !rec.Version.Newer(r.m[key].Version) {
		return false, nil
	}
	r.m[key] = rec
	return true, nil
}

func ExampleWrap() {
	ctx := context.Background()
	f := quorumtest.Wrap(&exampleReplica{m: map[string]quorum.Record{}}, quorumtest.Options{Name: "r1", Seed: 1, ReportHealth: true})

	rec := quorum.Record{Value: []byte("v1"), Version: quorum.Version{Counter: 1, Writer: 1}}
	f.SetDown(true)
	_, err := f.Put(ctx, "k", rec)
	fmt.Println(errors.Is(err, quorumtest.ErrDown), f.Healthy())

	f.SetDown(false)
	stored, err := f.Put(ctx, "k", rec)
	fmt.Println(stored, err)

	f.Wipe() // lose everything, as a restart without durable storage
	got, _ := f.Get(ctx, "k")
	fmt.Printf("after wipe: %q\n", got.Value)
	// Output:
	// true false
	// true <nil>
	// after wipe: ""
}

func ExampleHistory() {
	h := quorumtest.NewHistory(quorumtest.HistoryOptions{})

	// Client 0 writes v1 and is acknowledged.
	h.Call(0, quorumtest.Input{Kind: quorumtest.KindPut, Key: "k", Value: "v1"}).Ok(quorumtest.Output{})
	// Client 0's write of v2 times out: it may or may not have landed.
	h.Call(0, quorumtest.Input{Kind: quorumtest.KindPut, Key: "k", Value: "v2"}).Unknown()
	// Client 1 then reads v2, then v1: the second read went back in time.
	h.Call(1, quorumtest.Input{Kind: quorumtest.KindGet, Key: "k"}).Ok(quorumtest.Output{Value: "v2", Found: true})
	h.Call(1, quorumtest.Input{Kind: quorumtest.KindGet, Key: "k"}).Ok(quorumtest.Output{Value: "v1", Found: true})

	fmt.Println(quorumtest.Check(h.Operations(), time.Second))
	// Output:
	// Illegal
}
