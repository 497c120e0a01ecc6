package overload_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-go/bulwark/overload"
)

func Example() {
	c, err := overload.New(overload.Config{MaxConcurrency: 8})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()

	p := overload.Priority{Business: 1, User: overload.UserPriority("alice", time.Now())}
	permit, err := c.Acquire(ctx, p)
	if errors.Is(err, overload.ErrShed) {
		fmt.Println("shed; try again later")
		return
	}
	if err != nil {
		fmt.Println("caller gone:", err)
		return
	}
	defer permit.Release()
	fmt.Println("admitted at level", c.Level())
	// Output: admitted at level 255.255
}

func ExampleLevel_MarshalBinary() {
	// A level travels back to callers in two bytes, e.g. in a tlv field.
	b, _ := overload.Level{Business: 2, User: 40}.MarshalBinary()
	var l overload.Level
	_ = l.UnmarshalBinary(b)
	fmt.Println(b, l, l.Admits(overload.Priority{Business: 2, User: 41}))
	// Output: [2 40] 2.40 false
}

func ExampleUserPriority() {
	t := time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)
	a := overload.UserPriority("user-42", t)
	b := overload.UserPriority("user-42", t.Add(20*time.Minute)) // same hour
	fmt.Println(a == b, a < overload.UserLevels)
	// Output: true true
}

func ExampleMiddleware() {
	c, _ := overload.New(overload.Config{})
	h := overload.Middleware(c, func(r *http.Request) overload.Priority {
		// An entry tier ranks by API and user; inner tiers use the header.
		return overload.Priority{Business: 0, User: overload.UserPriority(r.URL.Query().Get("user"), time.Now())}
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?user=bob", nil))
	fmt.Println(rec.Code, rec.Body.String(), rec.Header().Get(overload.LevelHeader))
	// Output: 200 hello 255.255
}

func ExampleGate() {
	g, _ := overload.NewGate(overload.GateConfig{})
	g.Observe("payments:443", overload.Level{Business: 1, User: 0}) // from a response
	_ = g.Allow("payments:443", overload.Priority{Business: 3})     // the probe goes through
	err := g.Allow("payments:443", overload.Priority{Business: 3})
	fmt.Println(errors.Is(err, overload.ErrShed))
	fmt.Println(g.Allow("payments:443", overload.Priority{Business: 0, User: 200}))
	// Output:
	// true
	// <nil>
}

// A Gate paired with a Controller without HTTP: before each request the Gate
// lets through, tell the Controller what the Gate holds back.
func ExampleController_ObserveGate() {
	c, _ := overload.New(overload.Config{MaxConcurrency: 8})
	g, _ := overload.NewGate(overload.GateConfig{})
	g.Observe("svc", overload.Level{Business: 1, User: 40}) // from a response
	_ = g.Allow("svc", overload.Priority{Business: 3})      // the probe goes through
	_ = g.Allow("svc", overload.Priority{Business: 2})      // held back

	p := overload.Priority{Business: 0, User: 7}
	if g.Allow("svc", p) == nil {
		if l, held, ok := g.Enforced("svc"); ok {
			fmt.Println("gate level", l, "held", held)
			c.ObserveGate(l, held)
		}
		if permit, err := c.Acquire(context.Background(), p); err == nil {
			permit.Release()
		}
	}
	// Output: gate level 1.40 held 1
}
