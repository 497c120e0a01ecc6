package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func Example() {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, _ := breaker.New[string](breaker.Config{Name: "orders", Clock: clk})
	fail := func(context.Context) (string, error) { return "", errors.New("503") }
	for range 5 {
		_, _ = b.Execute(context.Background(), fail)
	}
	_, err := b.Execute(context.Background(), func(context.Context) (string, error) { return "order 7", nil })
	fmt.Println(b.State(), errors.Is(err, breaker.ErrOpen))

	clk.t = clk.t.Add(6 * time.Second) // past the open period (5 s ± 10 %)
	v, err := b.Execute(context.Background(), func(context.Context) (string, error) { return "order 7", nil })
	fmt.Println(v, err, b.State())
	// Output:
	// open true
	// order 7 <nil> closed
}

func ExampleBreaker_ExecuteFallback() {
	b, _ := breaker.New[string](breaker.Config{Trip: breaker.ConsecutiveFailures(1)})
	cached := func(_ context.Context, err error) (string, error) { return "cached price", nil }
	v, _ := b.ExecuteFallback(context.Background(), func(context.Context) (string, error) {
		return "", errors.New("timeout")
	}, cached)
	fmt.Println(v, b.State())
	// Output: cached price open
}

func ExampleBreaker_Allow() {
	b, _ := breaker.New[struct{}](breaker.Config{})
	done, err := b.Allow(context.Background())
	if err != nil {
		return // refused
	}
	err = nil // ... make the call ...
	done(err)
	fmt.Println(b.Counts().Successes)
	// Output: 1
}

func ExampleNewGroup() {
	g, _ := breaker.NewGroup[int](breaker.GroupConfig{MaxKeys: 1000, MaxOpenFraction: 0.5,
		Breaker: breaker.Config{Trip: breaker.ConsecutiveFailures(2)}})
	for range 2 {
		_, _ = g.Execute(context.Background(), "db-3:5432", func(context.Context) (int, error) { return 0, errors.New("refused") })
	}
	fmt.Println(g.State("db-3:5432"), g.State("db-4:5432"), g.Len())
	// Output: open closed 1
}

func ExampleRoundTripper() {
	g, _ := breaker.NewGroup[*http.Response](breaker.GroupConfig{})
	client := &http.Client{Transport: breaker.RoundTripper(g, http.DefaultTransport), Timeout: 2 * time.Second}
	_ = client // requests to a host whose breaker is open fail with ErrOpen without dialling
	fmt.Println(g.Len())
	// Output: 0
}

func ExampleThrottle() {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	th, _ := breaker.NewThrottle(breaker.ThrottleConfig{Clock: clk})
	for range 100 { // the backend accepts 100 requests, then refuses all
		if th.Allow() {
			th.Record(true)
		}
	}
	for range 300 {
		if th.Allow() {
			th.Record(false)
		}
	}
	// (requests − 2·accepts)/(requests + 1) with 400 requests, 100 accepts
	fmt.Printf("%.2f\n", th.RejectProbability())
	// Output: 0.50
}

func ExampleSlowCallRate() {
	b, _ := breaker.New[int](breaker.Config{
		SlowCall: 2 * time.Second,
		Trip:     breaker.Any(breaker.ConsecutiveFailures(5), breaker.SlowCallRate(0.8, 10)),
	})
	fmt.Println(b.State())
	// Output: closed
}

func ExampleTransition() {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, _ := breaker.New[int](breaker.Config{Name: "payments", Clock: clk, Hooks: breaker.Hooks{
		OnTransition: func(name string, t breaker.Transition) {
			// t.Counts are those that made it trip, not the new state's zeros.
			fmt.Printf("%s: %v → %v (%v) after %d failures of %d calls\n",
				name, t.From, t.To, t.Reason, t.Counts.Failures, t.Counts.Requests)
		},
	}})
	for range 5 {
		_, _ = b.Execute(context.Background(), func(context.Context) (int, error) { return 0, errors.New("503") })
	}
	fmt.Println(b.Counts().Failures)
	// Output:
	// payments: closed → open (trip rule) after 5 failures of 5 calls
	// 0
}

func ExampleGroup_Allow() {
	g, _ := breaker.NewGroup[struct{}](breaker.GroupConfig{})
	done, err := g.Allow(context.Background(), "search-7:9200")
	if err != nil {
		return // refused: the host's breaker is open
	}
	err = nil // ... make the call to search-7 ...
	done(err)
	fmt.Println(g.Counts("search-7:9200").Successes, g.Len())
	// Output: 1 1
}

func ExampleGroup_Trip() {
	g, _ := breaker.NewGroup[int](breaker.GroupConfig{})
	g.Trip("db-3:5432") // an operator drains db-3 by hand
	_, err := g.Execute(context.Background(), "db-3:5432", func(context.Context) (int, error) { return 1, nil })
	fmt.Println(g.State("db-3:5432"), errors.Is(err, breaker.ErrOpen))
	g.Reset("db-3:5432") // and puts it back
	v, err := g.Execute(context.Background(), "db-3:5432", func(context.Context) (int, error) { return 1, nil })
	fmt.Println(g.State("db-3:5432"), v, err)
	// Output:
	// open true
	// closed 1 <nil>
}
