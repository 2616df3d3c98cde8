package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/onboardkit/onboarding/internal/ratelimit"
)

// limiters holds one token bucket per partner (and per client address for requests
// without a valid token), and answers with the X-RateLimit-* headers.
type limiters struct {
	limit   rate.Limit
	burst   int
	buckets *ratelimit.Buckets
}

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, buckets: ratelimit.New(limit, burst)}
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
	ok, tokens := l.buckets.Take(key, now)
	remaining := max(0, int(math.Floor(tokens)))
	refill := time.Duration((float64(l.burst) - tokens) / float64(l.limit) * float64(time.Second))
	h.Set("X-RateLimit-Limit", strconv.Itoa(l.burst))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(refill+time.Second-1).Unix(), 10))
	if !ok {
		h.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(l.buckets.Wait(tokens).Seconds())))))
	}
	return ok
}
