package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"
)

// Admin limits.
const (
	// MaxDyes is the most live dyes DyeAdmin lets the set hold (Add itself
	// has no limit). Expired dyes do not count.
	MaxDyes = 10000
	// MaxDyeKey is the longest key DyeAdmin accepts, in bytes.
	MaxDyeKey = 256
	// MaxDyeTTL is the longest ttl DyeAdmin accepts.
	MaxDyeTTL = 24 * time.Hour
	// DefaultDyeTTL is used when POST gives no ttl.
	DefaultDyeTTL = 15 * time.Minute
)

// maxAdminBody bounds a POST's form body.
const maxAdminBody = 64 << 10

// DyeAdmin serves the dye set. Parameters come from the query string or,
// for POST, a form body (application/x-www-form-urlencoded, as curl -d
// sends):
//
//	GET                  200, the live dyes as JSON: [{"key":…,"expires":…}]
//	POST key=K [ttl=D]   204, K dyed for D (a Go duration, default 15m, at most 24h);
//	                     dyeing a live key again sets its new expiry
//	DELETE key=K         204, K undyed; 404 if K was not dyed
//
// Bad input (no key, a key over 256 bytes or not UTF-8, a bad ttl) gets
// 400 with the reason, POST of a new key while MaxDyes dyes are live 409,
// another method 405. Every change is logged through h as an Info audit
// line that no level or sampling filters. Protect it as any admin
// endpoint: it has no authentication of its own.
func (h *Handler) DyeAdmin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := h.c.dyes
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(d.List())
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "logging: bad form: "+err.Error(), http.StatusBadRequest)
				return
			}
			key, ok := adminKey(w, r)
			if !ok {
				return
			}
			ttl := DefaultDyeTTL
			if s := r.Form.Get("ttl"); s != "" {
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
			if !d.addCapped(key, ttl, MaxDyes) {
				http.Error(w, fmt.Sprintf("logging: dye set full (%d live dyes)", MaxDyes), http.StatusConflict)
				return
			}
			h.audit(r, "dye added", slog.String("dye", key), slog.String("ttl", ttl.String()))
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

// adminKey reads the key parameter (query, or the POST form parsed
// before).
func adminKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.URL.Query().Get("key")
	if r.Form != nil {
		key = r.Form.Get("key")
	}
	switch {
	case key == "":
		http.Error(w, "logging: missing key (a key parameter in the query string or form body)", http.StatusBadRequest)
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
