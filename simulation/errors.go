package simulation

import (
	"errors"
	"fmt"
)

// Sentinel errors matched (errors.Is) by a [*ValidationError].
var (
	// ErrOutOfRange: the requested amount or the installment count is outside what the
	// offer allows, or the amount is too small to split into that many installments.
	ErrOutOfRange = errors.New("simulation: outside the offer's range")
	// ErrInvalidOffer: the offer's own terms are inconsistent or out of bounds.
	ErrInvalidOffer = errors.New("simulation: invalid offer")
	// ErrInvalidConfig: a tax or fee setting is out of bounds.
	ErrInvalidConfig = errors.New("simulation: invalid config")
)

// ValidationError reports which field of a simulation's input is wrong. Field is the wire
// name: "requested_amount" or "installment_count" for the request; the offer's or the
// config's field otherwise. It matches (errors.Is) its Err: [ErrOutOfRange],
// [ErrInvalidOffer] or [ErrInvalidConfig].
type ValidationError struct {
	// Field is the wire name of the offending field.
	Field string
	// Reason says what is allowed, in words.
	Reason string
	// Err is the sentinel the error matches.
	Err error
}

// Error formats the error with its field and reason.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Field, e.Reason)
}

// Unwrap returns the sentinel.
func (e *ValidationError) Unwrap() error { return e.Err }
