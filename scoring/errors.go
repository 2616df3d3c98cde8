package scoring

import (
	"errors"
	"strings"
)

var (
	// ErrPermanent is matched (with errors.Is) by every error made by [Permanent]: a failure
	// that retrying cannot fix. The caller ends the analysis as failed, visible to the
	// operator, instead of retrying.
	ErrPermanent = errors.New("scoring: permanent failure")

	// ErrInvalidDecision is wrapped by the errors of [Decision.Validate], and so by those
	// of [Rules.Validate] and [Rules.Score] about a rule's decision.
	ErrInvalidDecision = errors.New("scoring: invalid decision")
)

// Permanent marks err as permanent: retrying the analysis cannot succeed (the bureau does
// not know the company, the configuration is wrong). The result matches both err and
// [ErrPermanent] with errors.Is, and its message is err's. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err is permanent, that is errors.Is(err, ErrPermanent).
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// ChainError is the error of a [Chain] whose scorers all failed. It is permanent (matches
// [ErrPermanent]) only when every scorer's error was; otherwise the caller retries the whole
// chain. errors.Is and errors.As look into the scorers' errors for any other target.
type ChainError struct {
	// Errors holds each scorer's error in chain order, and the context's error last when
	// the context ended the chain early.
	Errors []error
}

// Error lists the scorers' errors.
func (e *ChainError) Error() string {
	var b strings.Builder
	b.WriteString("scoring: chain failed: ")
	for i, err := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Is matches ErrPermanent when every error is permanent, and any other target when one of
// the errors matches it. ChainError deliberately has no Unwrap method: unwrapping would let
// a single permanent error make the whole chain look permanent.
func (e *ChainError) Is(target error) bool {
	if target == ErrPermanent {
		if len(e.Errors) == 0 {
			return false
		}
		for _, err := range e.Errors {
			if !errors.Is(err, ErrPermanent) {
				return false
			}
		}
		return true
	}
	for _, err := range e.Errors {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// As finds the first error in the chain that matches target, as errors.As does.
func (e *ChainError) As(target any) bool {
	for _, err := range e.Errors {
		if errors.As(err, target) {
			return true
		}
	}
	return false
}
