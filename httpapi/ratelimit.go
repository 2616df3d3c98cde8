package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds one token bucket per partner (and per client address for requests
// without a valid token).
type limiters struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	m         map[string]*limiterEntry
	lastSweep time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// sweepAbove is the number of buckets above which idle ones are dropped; maxBuckets is
// the most kept at once.
const (
	sweepAbove = 4096
	maxBuckets = 100_000
)

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, m: map[string]*limiterEntry{}}
}

// allow takes a token from key's bucket and sets the X-RateLimit-* headers; when none is
// left it sets Retry-After and returns false.
//
// X-RateLimit-Limit is the bucket size (the burst), X-RateLimit-Remaining the whole
// tokens left, X-RateLimit-Reset the Unix time at which the bucket is full again.
func (l *limiters) allow(h http.Header, key string, now time.Time) bool {
	if l.limit == rate.Inf {
		return true
	}
	l.mu.Lock()
	e := l.m[key]
	if e == nil {
		l.sweep(now)
		if len(l.m) >= maxBuckets {
			// Too many clients at once to track each: they share one bucket until idle
			// ones are swept, so memory stays bounded and the limit still holds.
			key = "overflow"
			e = l.m[key]
		}
		if e == nil {
			e = &limiterEntry{lim: rate.NewLimiter(l.limit, l.burst)}
			l.m[key] = e
		}
	}
	e.seen = now
	ok := e.lim.AllowN(now, 1)
	tokens := e.lim.TokensAt(now)
	l.mu.Unlock()

	remaining := max(0, int(math.Floor(tokens)))
	refill := time.Duration((float64(l.burst) - tokens) / float64(l.limit) * float64(time.Second))
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.burst))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(refill+time.Second-1).Unix(), 10))
	if !ok {
		wait := math.Ceil((1 - tokens) / float64(l.limit))
		h.Set("Retry-After", strconv.Itoa(max(1, int(wait))))
	}
	return ok
}

// sweep drops buckets idle long enough to be full again; l.mu is held.
func (l *limiters) sweep(now time.Time) {
	gate := time.Minute
	if len(l.m) >= maxBuckets {
		gate = time.Second // full: sweep sooner, but not on every new client
	}
	if len(l.m) <= sweepAbove || now.Sub(l.lastSweep) < gate {
		return
	}
	l.lastSweep = now
	idle := time.Duration(float64(l.burst)/float64(l.limit)*float64(time.Second)) + time.Minute
	for k, e := range l.m {
		if now.Sub(e.seen) > idle {
			delete(l.m, k)
		}
	}
}
