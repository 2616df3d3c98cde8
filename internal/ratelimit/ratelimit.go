// Package ratelimit keeps one token bucket per key (a partner, a browser session, a client
// address) in memory, with a bounded table: what the library's HTTP handlers limit with.
// Buckets live in one process: with several replicas a key's limit is the per-replica
// limit times the replicas it reaches.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Buckets holds the token buckets. The zero value is not usable: call New.
type Buckets struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	m         map[string]*entry
	lastSweep time.Time
}

type entry struct {
	lim  *rate.Limiter
	seen time.Time
}

// SweepAbove is the number of buckets above which idle ones are dropped; MaxBuckets is
// the most kept at once.
const (
	SweepAbove = 4096
	MaxBuckets = 100_000
)

// New returns buckets of limit tokens per second and burst tokens at most. rate.Inf
// lets everything through.
func New(limit rate.Limit, burst int) *Buckets {
	return &Buckets{limit: limit, burst: burst, m: map[string]*entry{}}
}

// Take takes a token from key's bucket at now. It reports whether there was one, and the
// tokens left after the attempt (below 1 when refused: the wait for the next token is
// (1-tokens)/limit seconds).
func (b *Buckets) Take(key string, now time.Time) (ok bool, tokens float64) {
	if b.limit == rate.Inf {
		return true, float64(b.burst)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.m[key]
	if e == nil {
		b.sweep(now)
		if len(b.m) >= MaxBuckets {
			// Too many keys at once to track each: they share one bucket until idle ones
			// are swept, so memory stays bounded and the limit still holds.
			key = "overflow"
			e = b.m[key]
		}
		if e == nil {
			e = &entry{lim: rate.NewLimiter(b.limit, b.burst)}
			b.m[key] = e
		}
	}
	e.seen = now
	ok = e.lim.AllowN(now, 1)
	return ok, e.lim.TokensAt(now)
}

// Wait is how long until a bucket with tokens left has one whole token again.
func (b *Buckets) Wait(tokens float64) time.Duration {
	if tokens >= 1 || b.limit <= 0 || b.limit == rate.Inf {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.limit) * float64(time.Second))
}

// Len is the number of buckets kept.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// sweep drops buckets idle long enough to be full again; b.mu is held.
func (b *Buckets) sweep(now time.Time) {
	gate := time.Minute
	if len(b.m) >= MaxBuckets {
		gate = time.Second // full: sweep sooner, but not on every new key
	}
	if len(b.m) <= SweepAbove || now.Sub(b.lastSweep) < gate {
		return
	}
	b.lastSweep = now
	idle := time.Duration(float64(b.burst)/float64(b.limit)*float64(time.Second)) + time.Minute
	for k, e := range b.m {
		if now.Sub(e.seen) > idle {
			delete(b.m, k)
		}
	}
}

// AddressBlock is the unit of per-address limiting: the address itself for IPv4, its /64
// for IPv6 (one host usually holds a whole /64, and would otherwise get a bucket per
// address).
func AddressBlock(host string) string {
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is6() || ip.Is4In6() {
		return host
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return host
	}
	return p.String()
}
