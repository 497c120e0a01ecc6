package logging

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"
)

// Admin limits.
const (
	// MaxDyes is the largest set DyeAdmin grows (Add itself has no limit).
	MaxDyes = 10000
	// MaxDyeKey is the longest key DyeAdmin accepts, in bytes.
	MaxDyeKey = 256
	// MaxDyeTTL is the longest ttl DyeAdmin accepts.
	MaxDyeTTL = 24 * time.Hour
	// DefaultDyeTTL is used when POST gives no ttl.
	DefaultDyeTTL = 15 * time.Minute
)

// DyeAdmin serves the dye set: GET lists it as JSON, POST ?key=K&ttl=D
// adds a dye (ttl a Go duration, default 15m, at most 24h), DELETE ?key=K
// removes one. Every change is logged through h as an Info audit line that
// no level or sampling filters. Bad input gets 400 with the reason.
// Protect it as any admin endpoint: it has no authentication of its own.
func (h *Handler) DyeAdmin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := h.c.dyes
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(d.List())
		case http.MethodPost:
			key, ok := adminKey(w, r)
			if !ok {
				return
			}
			ttl := DefaultDyeTTL
			if s := r.URL.Query().Get("ttl"); s != "" {
				v, err := time.ParseDuration(s)
				if err != nil {
					http.Error(w, "logging: bad ttl: "+err.Error(), http.StatusBadRequest)
					return
				}
				if v <= 0 || v > MaxDyeTTL {
					http.Error(w, "logging: ttl must be in (0, 24h]", http.StatusBadRequest)
					return
				}
				ttl = v
			}
			if d.Len() >= MaxDyes {
				http.Error(w, "logging: dye set full", http.StatusBadRequest)
				return
			}
			d.Add(key, ttl)
			h.audit(r, "dye added", slog.String("dye", key), slog.Duration("ttl", ttl))
			w.WriteHeader(http.StatusNoContent)
		case http.MethodDelete:
			key, ok := adminKey(w, r)
			if !ok {
				return
			}
			if !d.Remove(key) {
				http.Error(w, "logging: key not dyed", http.StatusNotFound)
				return
			}
			h.audit(r, "dye removed", slog.String("dye", key))
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			http.Error(w, "logging: method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

func adminKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.URL.Query().Get("key")
	switch {
	case key == "":
		http.Error(w, "logging: missing key", http.StatusBadRequest)
	case len(key) > MaxDyeKey:
		http.Error(w, "logging: key longer than 256 bytes", http.StatusBadRequest)
	case !utf8.ValidString(key):
		http.Error(w, "logging: key is not UTF-8", http.StatusBadRequest)
	default:
		return key, true
	}
	return "", false
}

func (h *Handler) audit(r *http.Request, msg string, attrs ...slog.Attr) {
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "logging: "+msg, 0)
	if h.c.clock != nil {
		rec.Time = h.c.clock.Now()
	}
	rec.AddAttrs(attrs...)
	rec.AddAttrs(slog.String("remote", r.RemoteAddr))
	h.prepare(&rec, nil)
	_ = h.write(context.Background(), &rec)
}
