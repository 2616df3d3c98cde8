package scoring

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Chain returns a scorer that tries scorers in order and returns the first decision, an
// approval or a decline alike (a decline does not fall through: write a [Func] for that).
//
// Any error, permanent or not, falls through to the next scorer: a bureau that times out or
// does not know the company is what a fallback is for. When every scorer failed, the error
// is a [*ChainError] holding all their errors; it is permanent only if every one of them
// was, so a transient failure anywhere makes the caller retry the whole chain later. A
// context that ends stops the chain at once, with a retryable error.
//
// Chain panics if a scorer is nil. An empty chain fails every request permanently.
func Chain(scorers ...Scorer) Scorer {
	for i, s := range scorers {
		if s == nil {
			panic(fmt.Sprintf("scoring: Chain: scorer %d is nil", i))
		}
	}
	return chain(slices.Clone(scorers))
}

type chain []Scorer

var errEmptyChain = Permanent(errors.New("scoring: chain has no scorers"))

func (c chain) Score(ctx context.Context, req Request) (Decision, error) {
	if len(c) == 0 {
		return Decision{}, errEmptyChain
	}
	errs := make([]error, 0, len(c))
	for i, s := range c {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		d, err := s.Score(ctx, req)
		if err == nil {
			return d, nil
		}
		errs = append(errs, fmt.Errorf("scorer %d: %w", i, err))
	}
	return Decision{}, &ChainError{Errors: errs}
}
