package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/grayroute"
	"github.com/bulwark-go/bulwark/overload"
)

// previewService is the downstream: a second HTTP service (on its own
// loopback port) that makes link previews. It is an inner tier: it takes
// the caller's priority from the overload PriorityHeader and, trusting its
// caller, keeps each request in the gray lane the Bulwark-Gray header names.
type previewService struct {
	failPermille atomic.Uint64 // injected: share of calls answered 500
	degraded     atomic.Bool   // injected: one renderer left, each render degradedWork
	work         time.Duration
}

// A degraded preview service has one renderer left, and each render takes
// degradedWork: 10 previews a second, under what the front asks of it at
// normal load, so requests queue and its own overload Controller sheds.
const degradedWork = 100 * time.Millisecond

// handler serves previews behind the service's own overload Controller;
// while degraded, behind small's (one slot) instead.
func (p *previewService) handler(ctrl, small *overload.Controller, router *grayroute.Router) http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		work := p.work
		if p.degraded.Load() {
			work = degradedWork
		}
		if !sleep(r.Context(), jitter(work)) {
			return
		}
		if f := p.failPermille.Load(); f > 0 && rand.Uint64N(1000) < f {
			http.Error(w, "preview: renderer crashed", http.StatusInternalServerError)
			return
		}
		d, _ := grayroute.FromContext(r.Context(), release)
		link := r.URL.Query().Get("url")
		writeTLV(w, &Preview{URL: link, Title: "Preview of " + link, Lane: d.Variant})
	})
	trustCaller := func(*http.Request) bool { return true } // internal hop on loopback
	request := func(r *http.Request) grayroute.Request { return grayroute.Request{Key: r.Header.Get(UserHeader)} }
	inner := grayroute.Middleware(router, request, trustCaller)(h)
	normal, degraded := overload.Middleware(ctrl, nil)(inner), overload.Middleware(small, nil)(inner)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.degraded.Load() {
			degraded.ServeHTTP(w, r)
			return
		}
		normal.ServeHTTP(w, r)
	})
}

// previewClient calls the preview service through a breaker Group keyed by
// host, an overload Gate (the downstream's level, learnt from its
// responses) and grayroute's RoundTripper (the request's lane travels in
// the Bulwark-Gray header), and falls back to a plain link when the call is
// refused or fails.
type previewClient struct {
	base  string
	host  string
	http  *http.Client
	group *breaker.Group[Preview]
	tel   *telemetry
	log   *slog.Logger

	gated      atomic.Int64 // calls the Gate refused before sending
	remoteShed atomic.Int64 // calls the downstream shed
}

var errShedByDownstream = fmt.Errorf("preview service shed the call: %w", overload.ErrShed)

func (c *previewClient) get(ctx context.Context, user, link string) Preview {
	p, err := c.group.Execute(ctx, c.host, func(ctx context.Context) (Preview, error) {
		p, err := c.call(ctx, user, link)
		switch {
		case err == nil:
			c.tel.downCalls.With("ok").Inc()
		case errors.Is(err, errShedByDownstream):
			c.remoteShed.Add(1)
			c.tel.downCalls.With("shed").Inc()
		case errors.Is(err, overload.ErrShed): // refused by the Gate: never sent
			c.gated.Add(1)
			c.tel.downCalls.With("gated").Inc()
		case ctx.Err() != nil:
			// our caller gave up: not the downstream's failure
		default:
			c.tel.downCalls.With("error").Inc()
		}
		return p, err
	})
	if err == nil {
		return p
	}
	c.tel.fallbacks.Inc()
	c.log.DebugContext(ctx, "preview fallback", "err", err)
	return Preview{URL: link, Fallback: true}
}

func (c *previewClient) call(ctx context.Context, user, link string) (Preview, error) {
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/preview?url="+url.QueryEscape(link), nil)
	if err != nil {
		return Preview{}, err
	}
	req.Header.Set(UserHeader, user)
	resp, err := c.http.Do(req)
	if err != nil {
		return Preview{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	switch {
	case err != nil:
		return Preview{}, err
	case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(overload.LevelHeader) != "":
		return Preview{}, errShedByDownstream
	case resp.StatusCode != http.StatusOK:
		return Preview{}, fmt.Errorf("preview service: %s", resp.Status)
	}
	var p Preview
	if err := decodeOpts.Unmarshal(body, &p); err != nil {
		return Preview{}, err
	}
	return p, nil
}

// newPreviewBreakers builds the Group. Its trip rule has three parts: the
// breaker's own two (10 failures in a row, or half of 20 calls over 10 s)
// and the metrics alert on the downstream's error ratio: while the alert
// fires, the next failed call opens the breaker, so the service's own SLO
// (more than 20 % failing) cuts the dependency off before the breaker's
// generic rule would. Sheds are excluded: an overloaded downstream is the
// Gate's business, not the breaker's.
func newPreviewBreakers(tel *telemetry, log *slog.Logger, alert *atomic.Bool, opened, byAlert *atomic.Int64) (*breaker.Group[Preview], error) {
	return breaker.NewGroup[Preview](breaker.GroupConfig{
		MaxKeys: 64,
		Breaker: breaker.Config{
			Interval:     10 * time.Second,
			BucketPeriod: time.Second,
			Timeout:      500 * time.Millisecond,
			MaxTimeout:   2 * time.Second,
			Trip: breaker.Any(
				breaker.ConsecutiveFailures(10),
				breaker.FailureRate(0.5, 20),
				func(breaker.Counts) bool { return alert.Load() },
			),
			IsExcluded: func(err error) bool { return errors.Is(err, overload.ErrShed) },
			Hooks: breaker.Hooks{
				OnStateChange: func(name string, from, to breaker.State) {
					tel.breakerTrans.With(to.String()).Inc()
					if to == breaker.StateClosed {
						tel.breakerOpen.Set(0)
					} else {
						tel.breakerOpen.Set(1)
					}
					if to == breaker.StateOpen {
						opened.Add(1)
						if alert.Load() {
							byAlert.Add(1)
						}
					}
					log.Info("breaker", "downstream", name, "from", from.String(), "to", to.String(), "alert", alert.Load())
				},
				OnReject: func(string, error) { tel.breakerRejected.Inc() },
			},
		},
	})
}
