package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/grayroute"
	"github.com/bulwark-go/bulwark/quorum"
	"github.com/bulwark-go/bulwark/tlv"
)

// The chat API speaks tlv. Version 1 clients and servers know MessageV1;
// version 2 added a language tag and reactions. Each side keeps the fields
// it does not know in a tlv.Unknown and writes them back byte for byte, so
// an old client (or an old server) can edit a message a new client wrote
// without dropping what it cannot read.

// MessageV1 is a chat message as version 1 knows it.
type MessageV1 struct {
	ID      string    `tlv:"1"`
	Room    string    `tlv:"2,omitempty"`
	From    string    `tlv:"3"`
	Text    string    `tlv:"4"`
	SentAt  time.Time `tlv:"5,omitempty"` // set by the server
	Unknown tlv.Unknown
}

// MessageV2 is a chat message as version 2 knows it.
type MessageV2 struct {
	ID        string           `tlv:"1"`
	Room      string           `tlv:"2,omitempty"`
	From      string           `tlv:"3"`
	Text      string           `tlv:"4"`
	SentAt    time.Time        `tlv:"5,omitempty"`
	Lang      string           `tlv:"6,omitempty"`
	Reactions map[string]int64 `tlv:"7"`
	Unknown   tlv.Unknown
}

// SendAck answers a send: the message id and the quorum version it got.
type SendAck struct {
	ID      string `tlv:"1"`
	Version uint64 `tlv:"2"`
}

// Preview is a link preview made by the downstream preview service.
type Preview struct {
	URL      string `tlv:"1"`
	Title    string `tlv:"2,omitempty"`
	Lane     string `tlv:"3,omitempty"` // the gray variant the downstream served it in
	Fallback bool   `tlv:"4,omitempty"` // made by the fallback: the downstream was not asked or failed
	Unknown  tlv.Unknown
}

const (
	release     = "chat-v2" // the gray release choosing the handlers
	maxBody     = 16 << 10
	maxTextLen  = 4 << 10
	maxUserLen  = 64
	contentType = "application/x-tlv"
	// VariantHeader names the handler version that served a response; a 503
	// without it was refused by the overload middleware before any handler.
	VariantHeader = "X-Variant"
	// UserHeader stands in for authentication: the user id.
	UserHeader = "X-User"
)

var decodeOpts = tlv.DecodeOptions{MaxSize: maxBody, MaxDepth: 8}

// Business classes, most important first (DAGOR's business priority): the
// entry tier derives them from the API, so clients cannot pick their own.
var routeClass = map[string]uint8{
	"/api/send":    0, // sending a message
	"/api/message": 1, // reading one
	"/api/preview": 2, // a link preview from the downstream
	"/api/typing":  3, // typing indicators: nice to have
}

// routeName bounds the route label of the metrics.
func routeName(path string) string {
	if _, ok := routeClass[path]; ok {
		return path
	}
	return "other"
}

// chat serves the API in one variant (v1 or v2) of the gray release.
type chat struct {
	variant string
	store   *quorum.Client
	preview *previewClient
	log     *slog.Logger
	work    time.Duration  // mean simulated work per request
	bug     *atomic.Uint64 // permille of v2 requests failing: the bad release
}

func (c *chat) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/send", c.send)
	mux.HandleFunc("GET /api/message", c.message)
	mux.HandleFunc("GET /api/preview", c.linkPreview)
	mux.HandleFunc("POST /api/typing", c.typing)
	return mux
}

// begin does what every handler does first: the simulated work (the CPU a
// real handler would spend, as a sleep so the 2-core demo machine is not
// what saturates) and, in the bad v2 release, its bug.
func (c *chat) begin(w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	w.Header().Set(VariantHeader, c.variant)
	c.log.DebugContext(ctx, "handling", "route", r.URL.Path, "variant", c.variant)
	if !sleep(ctx, jitter(c.work)) {
		http.Error(w, "request budget spent", http.StatusServiceUnavailable)
		return false
	}
	if p := c.bug.Load(); p > 0 && rand.Uint64N(1000) < p {
		c.log.ErrorContext(ctx, "v2: render failed", "route", r.URL.Path, "err", errV2Bug)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return false
	}
	return true
}

var errV2Bug = errors.New("v2: nil reaction map in renderer")

func (c *chat) send(w http.ResponseWriter, r *http.Request) {
	if !c.begin(w, r) {
		return
	}
	ctx := r.Context()
	// readBody has read the whole body before admission.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	user := r.Header.Get(UserHeader)
	var id string
	var stored []byte
	// Each version decodes with its own schema and writes back what it
	// does not know untouched: a v1 server stores a v2 client's reactions.
	switch c.variant {
	case "v2":
		var m MessageV2
		if err = decodeOpts.Unmarshal(body, &m); err == nil {
			if err = validate(m.ID, m.From, m.Text, user); err == nil && len(m.Lang) > 16 {
				err = errors.New("lang longer than 16 bytes")
			}
		}
		if err == nil {
			m.SentAt = time.Now().UTC()
			id = m.ID
			stored, err = tlv.Marshal(&m)
		}
	default:
		var m MessageV1
		if err = decodeOpts.Unmarshal(body, &m); err == nil {
			err = validate(m.ID, m.From, m.Text, user)
		}
		if err == nil {
			m.SentAt = time.Now().UTC()
			id = m.ID
			stored, err = tlv.Marshal(&m)
		}
	}
	if err != nil {
		http.Error(w, "bad message: "+err.Error(), http.StatusBadRequest)
		return
	}
	ver, err := c.store.PutVersion(ctx, messageKey(user, id), stored)
	if err != nil {
		// ErrNotApplied: safe to retry; ErrIndeterminate: it may be stored.
		c.log.ErrorContext(ctx, "store message", "id", id, "err", err,
			"indeterminate", errors.Is(err, quorum.ErrIndeterminate))
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	c.log.DebugContext(ctx, "stored", "id", id, "version", ver.Counter, "bytes", len(stored))
	writeTLV(w, &SendAck{ID: id, Version: ver.Counter})
}

// messageKey is where a message lives: ids are the sender's own, so one
// user can never overwrite another's message. The user's length comes
// first, so no (user, id) pair can spell another's key.
func messageKey(user, id string) string {
	return "msg:" + strconv.Itoa(len(user)) + ":" + user + ":" + id
}

func validate(id, from, text, user string) error {
	switch {
	case id == "" || len(id) > 64:
		return errors.New("id must be 1 to 64 bytes")
	case from != user:
		return fmt.Errorf("from %q is not the caller %q", from, user)
	case text == "" || len(text) > maxTextLen:
		return errors.New("text must be 1 to 4096 bytes")
	}
	return nil
}

func (c *chat) message(w http.ResponseWriter, r *http.Request) {
	if !c.begin(w, r) {
		return
	}
	ctx := r.Context()
	id, from := r.URL.Query().Get("id"), r.URL.Query().Get("from")
	if from == "" {
		from = r.Header.Get(UserHeader) // one's own message
	}
	switch {
	case id == "" || len(id) > 64:
		http.Error(w, "id must be 1 to 64 bytes", http.StatusBadRequest)
		return
	case len(from) > maxUserLen:
		http.Error(w, fmt.Sprintf("from must be at most %d bytes", maxUserLen), http.StatusBadRequest)
		return
	}
	v, err := c.store.Get(ctx, messageKey(from, id))
	switch {
	case errors.Is(err, quorum.ErrNotFound):
		http.Error(w, "no such message", http.StatusNotFound)
		return
	case err != nil:
		c.log.ErrorContext(ctx, "read message", "id", id, "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	c.log.DebugContext(ctx, "read", "id", id, "bytes", len(v))
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(v)
}

func (c *chat) linkPreview(w http.ResponseWriter, r *http.Request) {
	if !c.begin(w, r) {
		return
	}
	link := r.URL.Query().Get("url")
	if link == "" || len(link) > 512 {
		http.Error(w, "url must be 1 to 512 bytes", http.StatusBadRequest)
		return
	}
	p := c.preview.get(r.Context(), r.Header.Get(UserHeader), link)
	if !p.Fallback && p.Lane != c.variant {
		c.log.WarnContext(r.Context(), "downstream answered in another lane", "ours", c.variant, "theirs", p.Lane)
	}
	c.log.DebugContext(r.Context(), "preview", "fallback", p.Fallback, "lane", p.Lane)
	writeTLV(w, &p)
}

func (c *chat) typing(w http.ResponseWriter, r *http.Request) {
	if !c.begin(w, r) {
		return
	}
	c.log.DebugContext(r.Context(), "typing", "room", r.URL.Query().Get("room"))
	w.WriteHeader(http.StatusNoContent)
}

// byVariant runs the v1 or v2 handlers as grayroute decided for the request.
func byVariant(v1, v2 http.Handler, tel *telemetry, hold *holdMeter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := grayroute.FromContext(r.Context(), release)
		h, variant := v1, "v1"
		if d.Variant == "v2" {
			h, variant = v2, "v2"
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		took := time.Since(start)
		hold.add(took)
		// A 503 says a dependency (the store, the request's budget) was
		// unavailable, not that the version's code failed: both arms meet
		// it alike, so it is kept out of the plan's gate and the canary
		// alert, where at small samples it would only be noise (a zone
		// lost for a moment must not roll back a healthy release).
		outcome := "ok"
		switch {
		case rec.code == http.StatusServiceUnavailable:
			outcome = "unavailable"
		case rec.code >= 500:
			outcome = "error"
		}
		tel.handled.With(variant, outcome).Inc()
		tel.handlerLat.With(variant).Observe(took.Seconds())
		if variant == "v2" && outcome != "unavailable" {
			tel.canaryReqs.Inc()
			if outcome == "error" {
				tel.canaryErrs.Inc()
			}
		}
	})
}

// holdMeter sums the time requests hold an overload slot, so the scenario
// can tell the capacity the slots really had (slots ÷ mean hold time).
type holdMeter struct{ nanos, count atomic.Int64 }

func (h *holdMeter) add(d time.Duration) { h.nanos.Add(int64(d)); h.count.Add(1) }

func writeTLV(w http.ResponseWriter, v any) {
	b, err := tlv.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// jitter draws a work time around mean (lognormal, σ = 0.25).
func jitter(mean time.Duration) time.Duration {
	const sigma = 0.25
	return time.Duration(float64(mean) * math.Exp(sigma*rand.NormFloat64()-sigma*sigma/2))
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
