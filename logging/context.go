package logging

import (
	"context"
	"log/slog"
)

type stateKey struct{}

// reqState is the per-request state a context carries. It is immutable
// once stored: each With* call stores a copy.
type reqState struct {
	key    string
	hasKey bool
	flight *flight
	attrs  []slog.Attr
}

func stateFrom(ctx context.Context) *reqState {
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

func derive(ctx context.Context) *reqState {
	if ctx == nil {
		ctx = context.Background()
	}
	if st := stateFrom(ctx); st != nil {
		cp := *st
		return &cp
	}
	return &reqState{}
}

// WithKey tags ctx with the key (a user id, request id or command) that
// dyes are matched against. Tag a request once, at its entry.
func WithKey(ctx context.Context, key string) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	st := derive(ctx)
	st.key, st.hasKey = key, true
	return context.WithValue(ctx, stateKey{}, st)
}

// With returns a context whose records carry attrs (before the record's own
// attributes, inside the handler's open groups). Nested calls accumulate.
// The attributes are redacted like any other.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	st := derive(ctx)
	merged := make([]slog.Attr, 0, len(st.attrs)+len(attrs))
	merged = append(merged, st.attrs...)
	st.attrs = append(merged, attrs...)
	return context.WithValue(ctx, stateKey{}, st)
}

// WithFlight gives the request a flight-recorder buffer: its records below
// the handler's level are kept (up to Options.FlightBytes) and written out
// just before the first Error record logged with the context, and dropped
// otherwise. Handlers with FlightBytes = 0 ignore it.
func WithFlight(ctx context.Context) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	st := derive(ctx)
	st.flight = &flight{}
	return context.WithValue(ctx, stateKey{}, st)
}
