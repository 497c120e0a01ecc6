package overload

import (
	"fmt"
	"math"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds a KeyedLimiter's key set when KeyedConfig.MaxKeys is
// zero.
const DefaultMaxKeys = 10_000

// KeyedConfig configures a KeyedLimiter.
type KeyedConfig struct {
	// Rate and Burst are every key's token bucket (x/time/rate semantics).
	// Rate must be positive, or rate.Inf to disable limiting; Burst must be
	// at least 1 unless Rate is rate.Inf.
	Rate  rate.Limit
	Burst int
	// Quota, if set, gives a key its own rate and burst (per-tenant plans);
	// it is called once when the key's bucket is created.
	Quota func(key string) (rate.Limit, int)
	// MaxKeys bounds the buckets kept (default 10,000). The least recently
	// used key is forgotten first; a forgotten key starts again with a full
	// bucket, so MaxKeys should exceed the keys active within a few refill
	// periods.
	MaxKeys int
	// Clock is the time source of Allow; nil means time.Now.
	Clock Clock
}

// KeyedLimiter enforces per-key quotas (users, tenants) with one token bucket
// per key from golang.org/x/time/rate, keeping a bounded set of keys in an
// LRU. It starts no goroutine. It is safe for concurrent use.
type KeyedLimiter struct {
	cache *lru.Cache[string, *rate.Limiter]
	rate  rate.Limit
	burst int
	quota func(string) (rate.Limit, int)
	clk   clockSource
}

// NewKeyedLimiter returns a KeyedLimiter, or an error for impossible values.
func NewKeyedLimiter(cfg KeyedConfig) (*KeyedLimiter, error) {
	if err := checkRate(cfg.Rate, cfg.Burst); err != nil {
		return nil, err
	}
	if cfg.MaxKeys < 0 {
		return nil, fmt.Errorf("overload: negative MaxKeys %d", cfg.MaxKeys)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	cache, err := lru.New[string, *rate.Limiter](cfg.MaxKeys)
	if err != nil {
		return nil, fmt.Errorf("overload: key cache: %w", err)
	}
	return &KeyedLimiter{cache: cache, rate: cfg.Rate, burst: cfg.Burst, quota: cfg.Quota, clk: clockSource{clock: cfg.Clock}}, nil
}

func checkRate(r rate.Limit, burst int) error {
	if r == rate.Inf {
		return nil
	}
	if !(r > 0) || math.IsNaN(float64(r)) {
		return fmt.Errorf("overload: rate %v must be positive", r)
	}
	if burst < 1 {
		return fmt.Errorf("overload: burst %d must be at least 1", burst)
	}
	return nil
}

// Allow takes one token from key's bucket now.
func (l *KeyedLimiter) Allow(key string) error {
	if l == nil {
		return ErrNotInitialized
	}
	return l.AllowAt(key, l.clk.now())
}

// AllowAt takes one token from key's bucket at time t. It returns nil, or a
// *ShedError (ReasonRateLimit, matching ErrShed) whose RetryAfter is when
// the next token arrives.
func (l *KeyedLimiter) AllowAt(key string, t time.Time) error {
	if l == nil || l.cache == nil {
		return ErrNotInitialized
	}
	lim := l.bucket(key)
	if lim.AllowN(t, 1) {
		return nil
	}
	retry := time.Duration(math.MaxInt64)
	if r := lim.Limit(); r > 0 {
		missing := 1 - lim.TokensAt(t)
		if s := missing / float64(r); s < float64(math.MaxInt64)/1e9 {
			retry = time.Duration(math.Ceil(s * 1e9))
		}
	}
	return &ShedError{Reason: ReasonRateLimit, Level: LevelOpen, RetryAfter: retry}
}

// Len returns the number of keys with a bucket.
func (l *KeyedLimiter) Len() int {
	if l == nil || l.cache == nil {
		return 0
	}
	return l.cache.Len()
}

func (l *KeyedLimiter) bucket(key string) *rate.Limiter {
	if lim, ok := l.cache.Get(key); ok {
		return lim
	}
	r, b := l.rate, l.burst
	if l.quota != nil {
		if qr, qb := l.quota(key); checkRate(qr, qb) == nil {
			r, b = qr, qb
		}
	}
	lim := rate.NewLimiter(r, b)
	if prev, found, _ := l.cache.PeekOrAdd(key, lim); found {
		return prev
	}
	return lim
}
