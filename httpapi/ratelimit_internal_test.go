package httpapi

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/time/rate"
)

func TestAddressBlock(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "203.0.113.7", addressBlock("203.0.113.7"))
	assert.Equal(t, "2001:db8:1:2::/64", addressBlock("2001:db8:1:2:aaaa:bbbb:cccc:dddd"))
	assert.Equal(t, addressBlock("2001:db8:1:2::1"), addressBlock("2001:db8:1:2::ffff"), "one /64, one bucket")
	assert.Equal(t, "not-an-ip", addressBlock("not-an-ip"))
}

func TestLimiterTableIsBounded(t *testing.T) {
	t.Parallel()
	l := newLimiters(rate.Limit(1), 1)
	now := time.Unix(1_800_000_000, 0)
	for i := range maxBuckets + 50 {
		l.allow(http.Header{}, "ip:"+strconv.Itoa(i), now)
	}
	assert.LessOrEqual(t, len(l.m), maxBuckets+1, "new clients share an overflow bucket once the table is full")
}
