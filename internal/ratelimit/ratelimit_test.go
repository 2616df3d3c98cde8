package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/onboardkit/onboarding/internal/ratelimit"
)

func TestBuckets(t *testing.T) {
	t.Parallel()
	b := ratelimit.New(2, 3)
	now := time.Unix(1_800_000_000, 0)
	for range 3 {
		ok, _ := b.Take("a", now)
		require.True(t, ok)
	}
	ok, tokens := b.Take("a", now)
	require.False(t, ok)
	require.Equal(t, 500*time.Millisecond, b.Wait(tokens))
	ok, _ = b.Take("b", now)
	require.True(t, ok, "each key has its own bucket")
	ok, _ = b.Take("a", now.Add(500*time.Millisecond))
	require.True(t, ok, "refilled at 2 per second")

	inf := ratelimit.New(rate.Inf, 0)
	for range 100 {
		ok, _ := inf.Take("a", now)
		require.True(t, ok)
	}
	require.Zero(t, inf.Len())
}

func TestBucketsBounded(t *testing.T) {
	t.Parallel()
	b := ratelimit.New(1, 1)
	now := time.Unix(1_800_000_000, 0)
	for i := range ratelimit.MaxBuckets + 50 {
		b.Take("ip:"+strconv.Itoa(i), now)
	}
	require.LessOrEqual(t, b.Len(), ratelimit.MaxBuckets+1, "new keys share an overflow bucket once the table is full")
	// Idle buckets are swept once they would be full again.
	b.Take("late", now.Add(2*time.Minute))
	require.Less(t, b.Len(), 10)
}

func TestAddressBlock(t *testing.T) {
	t.Parallel()
	require.Equal(t, "203.0.113.7", ratelimit.AddressBlock("203.0.113.7"))
	require.Equal(t, "2001:db8:1:2::/64", ratelimit.AddressBlock("2001:db8:1:2:aaaa:bbbb:cccc:dddd"))
	require.Equal(t, ratelimit.AddressBlock("2001:db8:1:2::1"), ratelimit.AddressBlock("2001:db8:1:2::ffff"))
	require.Equal(t, "not-an-ip", ratelimit.AddressBlock("not-an-ip"))
}
