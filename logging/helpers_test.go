package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

var timeZero time.Time

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a handler appending each message to *got.
func recorder(got *[]string) slog.Handler { return &recHandler{got: got, mu: &sync.Mutex{}} }

type recHandler struct {
	mu  *sync.Mutex
	got *[]string
}

func (r *recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (r *recHandler) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	*r.got = append(*r.got, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *recHandler) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recHandler) WithGroup(string) slog.Handler      { return r }

// idRecorder appends each record's "id" attribute.
func idRecorder(got *[]string) slog.Handler { return &idRec{got: got, mu: &sync.Mutex{}} }

type idRec struct {
	mu  *sync.Mutex
	got *[]string
}

func (r *idRec) Enabled(context.Context, slog.Level) bool { return true }
func (r *idRec) Handle(_ context.Context, rec slog.Record) error {
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "id" {
			r.mu.Lock()
			*r.got = append(*r.got, a.Value.String())
			r.mu.Unlock()
		}
		return true
	})
	return nil
}
func (r *idRec) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *idRec) WithGroup(string) slog.Handler      { return r }
