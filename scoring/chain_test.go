package scoring_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/scoring"
)

// stub is a scorer that counts its calls and returns a fixed answer.
type stub struct {
	d     scoring.Decision
	err   error
	calls atomic.Int32
}

func (s *stub) Score(context.Context, scoring.Request) (scoring.Decision, error) {
	s.calls.Add(1)
	return s.d, s.err
}

func okStub(model string) *stub {
	d := validApproval()
	d.Model = model
	return &stub{d: d}
}

func errStub(err error) *stub { return &stub{err: err} }

func TestChainFirstDecisionWins(t *testing.T) {
	t.Parallel()
	a, b := okStub("a"), okStub("b")
	d, err := scoring.Chain(a, b).Score(t.Context(), scoring.Request{})
	require.NoError(t, err)
	assert.Equal(t, "a", d.Model)
	assert.EqualValues(t, 1, a.calls.Load())
	assert.EqualValues(t, 0, b.calls.Load())
}

func TestChainDeclineDoesNotFallThrough(t *testing.T) {
	t.Parallel()
	a := &stub{d: scoring.Decision{Outcome: scoring.Decline, Model: "a"}}
	b := okStub("b")
	d, err := scoring.Chain(a, b).Score(t.Context(), scoring.Request{})
	require.NoError(t, err)
	assert.Equal(t, scoring.Decline, d.Outcome)
	assert.EqualValues(t, 0, b.calls.Load())
}

func TestChainFallsThroughOnErrors(t *testing.T) {
	t.Parallel()
	for name, first := range map[string]error{
		"retryable": errors.New("bureau timeout"),
		"permanent": scoring.Permanent(errors.New("bureau: unknown company")),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, b, c := errStub(first), okStub("b"), okStub("c")
			d, err := scoring.Chain(a, b, c).Score(t.Context(), scoring.Request{})
			require.NoError(t, err)
			assert.Equal(t, "b", d.Model)
			assert.EqualValues(t, 1, a.calls.Load())
			assert.EqualValues(t, 0, c.calls.Load())
		})
	}
}

func TestChainAllFail(t *testing.T) {
	t.Parallel()
	transient := errors.New("timeout")
	unknown := scoring.Permanent(errors.New("unknown company"))
	config := scoring.Permanent(errors.New("bad config"))

	t.Run("mixed is retryable", func(t *testing.T) {
		t.Parallel()
		_, err := scoring.Chain(errStub(unknown), errStub(transient), errStub(config)).Score(t.Context(), scoring.Request{})
		require.Error(t, err)
		assert.False(t, scoring.IsPermanent(err), "one transient failure makes the chain worth retrying")
		assert.ErrorIs(t, err, transient)
		assert.ErrorIs(t, err, unknown)
		assert.ErrorIs(t, err, config)
		assert.Equal(t, "scoring: chain failed: scorer 0: unknown company; scorer 1: timeout; scorer 2: bad config", err.Error())
		var ce *scoring.ChainError
		require.ErrorAs(t, err, &ce)
		assert.Len(t, ce.Errors, 3)
	})

	t.Run("all permanent is permanent", func(t *testing.T) {
		t.Parallel()
		_, err := scoring.Chain(errStub(unknown), errStub(config)).Score(t.Context(), scoring.Request{})
		require.Error(t, err)
		assert.True(t, scoring.IsPermanent(err))
		assert.ErrorIs(t, err, unknown)
	})

	t.Run("all retryable is retryable", func(t *testing.T) {
		t.Parallel()
		_, err := scoring.Chain(errStub(transient), errStub(transient)).Score(t.Context(), scoring.Request{})
		require.Error(t, err)
		assert.False(t, scoring.IsPermanent(err))
		assert.NotErrorIs(t, err, context.Canceled)
	})

	t.Run("errors.As reaches the scorers' errors", func(t *testing.T) {
		t.Parallel()
		typed := &net{}
		_, err := scoring.Chain(errStub(transient), errStub(typed)).Score(t.Context(), scoring.Request{})
		var target *net
		require.ErrorAs(t, err, &target)
		assert.Same(t, typed, target)
	})

	t.Run("single scorer", func(t *testing.T) {
		t.Parallel()
		_, err := scoring.Chain(errStub(unknown)).Score(t.Context(), scoring.Request{})
		assert.True(t, scoring.IsPermanent(err))
	})
}

func TestChainStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	a := scoring.Func(func(context.Context, scoring.Request) (scoring.Decision, error) {
		cancel()
		return scoring.Decision{}, scoring.Permanent(errors.New("gone"))
	})
	b := okStub("b")
	_, err := scoring.Chain(a, b).Score(ctx, scoring.Request{})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, scoring.IsPermanent(err), "a cancelled chain is retried, even after a permanent error")
	assert.EqualValues(t, 0, b.calls.Load())
}

func TestChainEmptyAndNil(t *testing.T) {
	t.Parallel()
	_, err := scoring.Chain().Score(t.Context(), scoring.Request{})
	require.Error(t, err)
	assert.True(t, scoring.IsPermanent(err))

	assert.PanicsWithValue(t, "scoring: Chain: scorer 1 is nil", func() { scoring.Chain(okStub("a"), nil) })
}

func TestChainCopiesItsArguments(t *testing.T) {
	t.Parallel()
	scorers := []scoring.Scorer{okStub("a")}
	c := scoring.Chain(scorers...)
	scorers[0] = okStub("changed")
	d, err := c.Score(t.Context(), scoring.Request{})
	require.NoError(t, err)
	assert.Equal(t, "a", d.Model)
}
