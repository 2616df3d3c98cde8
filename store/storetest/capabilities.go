package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// The optional capabilities a Store may offer (onboarding.JobListener and
// onboarding.SingleWriter) are tested when the store has them; otherwise the test is
// skipped, saying so, so the suite's output shows what it did not check.

// listenWait bounds how long a committed job may take to be announced, and the listener's
// channel to close once its context ends.
const listenWait = 10 * time.Second

// settleWait is how long the listener is watched after a rolled-back unit of work.
const settleWait = 300 * time.Millisecond

// testJobListener checks ListenJobs: a job committed through the Store or through InTx is
// announced within listenWait and is then claimable; a rolled-back unit of work leaves
// nothing to claim, whatever the channel says; the channel closes once ctx ends.
func testJobListener(t *testing.T, s onboarding.Store) {
	l, ok := s.(onboarding.JobListener)
	if !ok {
		t.Skip("the store does not implement onboarding.JobListener: job announcements not tested")
	}
	ctx := context.Background()
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	ch, err := l.ListenJobs(lctx)
	require.NoError(t, err)
	if ch == nil {
		t.Skip("ListenJobs returned a nil channel (the store announces no jobs, e.g. SQLite): job announcements not tested")
	}
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)

	announced := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			require.True(t, ok, "%s: the channel closed while ctx lasts", what)
		case <-time.After(listenWait):
			require.FailNow(t, "no announcement", "%s: nothing received within %v", what, listenWait)
		}
	}
	claim := func() []*onboarding.Job {
		t.Helper()
		jobs, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "listener", Limit: 10, Now: base.Add(time.Hour), Lease: time.Hour})
		require.NoError(t, err)
		return jobs
	}

	drain(ch)
	direct := newJob(c, base)
	require.NoError(t, s.InsertJob(ctx, direct))
	announced("InsertJob on the Store")
	jobs := claim()
	require.Len(t, jobs, 1, "the announced job is claimable")
	assert.Equal(t, direct.ID, jobs[0].ID)

	drain(ch)
	inTx := newJob(c, base)
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error { return q.InsertJob(ctx, inTx) }))
	announced("InsertJob in InTx")
	jobs = claim()
	require.Len(t, jobs, 1, "the announced job is claimable")
	assert.Equal(t, inTx.ID, jobs[0].ID)

	// A rolled-back unit of work may wake a listener for nothing, but leaves no job.
	drain(ch)
	rolledBack := newJob(c, base)
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := q.InsertJob(ctx, rolledBack); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	select {
	case <-ch:
		t.Log("a rolled-back unit of work woke the listener (allowed: signals may be spurious)")
	case <-time.After(settleWait):
	}
	assert.Empty(t, claim(), "nothing to claim after a rollback")
	_, err = s.GetJob(ctx, rolledBack.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	// The channel closes once ctx ends.
	stop()
	deadline := time.After(listenWait)
	for closed := false; !closed; {
		select {
		case _, ok := <-ch:
			closed = !ok
		case <-deadline:
			require.FailNow(t, "channel not closed", "still open %v after ctx ended", listenWait)
		}
	}
}

// drain empties ch of the signals already received.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// testSingleWriter checks a store that says it runs one write transaction at a time:
// concurrent units of work reading a customer and updating it by compare-and-set never
// overlap once they have written, every increment lands after retries, and none is lost.
func testSingleWriter(t *testing.T, s onboarding.Store) {
	sw, ok := s.(onboarding.SingleWriter)
	if !ok {
		t.Skip("the store does not implement onboarding.SingleWriter: write serialization not tested")
	}
	if !sw.SingleWriter() {
		t.Skip("SingleWriter() is false (the store runs concurrent writers): write serialization not tested")
	}
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)

	const writers, increments, maxAttempts = 8, 10, 100
	var (
		holding, maxHolding atomic.Int32 // units of work past their write, not yet returned
		retries             atomic.Int32
		mu                  sync.Mutex
		written             = map[int64]int{} // version written -> how many times
		wg                  sync.WaitGroup
	)
	increment := func(ctx context.Context, q onboarding.Queries) error {
		got, err := q.GetCustomer(ctx, "p1", c.ID)
		if err != nil {
			return err
		}
		if err := q.UpdateCustomer(ctx, got); err != nil {
			return err
		}
		// From its first write to its commit a unit of work holds the single writer's slot.
		n := holding.Add(1)
		defer holding.Add(-1)
		for m := maxHolding.Load(); n > m && !maxHolding.CompareAndSwap(m, n); m = maxHolding.Load() {
		}
		time.Sleep(time.Millisecond) // give an overlapping writer the time to show
		mu.Lock()
		written[got.Version]++
		mu.Unlock()
		return nil
	}
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
				var err error
				for range maxAttempts {
					if err = s.InTx(ctx, increment); !errors.Is(err, onboarding.ErrConcurrentUpdate) {
						break
					}
					retries.Add(1)
				}
				if !assert.NoError(t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()

	assert.EqualValues(t, 1, maxHolding.Load(), "write transactions overlapped")
	got, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	const total = writers * increments
	assert.EqualValues(t, 1+total, got.Version, "every increment lands once")
	for v := int64(2); v <= 1+total; v++ {
		assert.Equal(t, 1, written[v], "version %d written by %d committed units of work", v, written[v])
	}
	t.Logf("%d increments, %d retries on ErrConcurrentUpdate", total, retries.Load())
}
