package taxid

import "errors"

// Sentinel errors identifying which kind of tax ID failed to parse. Errors
// returned by this package wrap one of them; test with [errors.Is].
var (
	// ErrInvalidCPF is the Kind of every error about a CPF.
	ErrInvalidCPF = errors.New("taxid: invalid CPF")
	// ErrInvalidCNPJ is the Kind of every error about a CNPJ.
	ErrInvalidCNPJ = errors.New("taxid: invalid CNPJ")
)

// Error describes why a tax ID is invalid. It deliberately does not hold the
// input, which may be personal data.
type Error struct {
	// Kind is ErrInvalidCPF or ErrInvalidCNPJ.
	Kind error
	// Reason is a short lower-case explanation, such as
	// "check digits do not match" or "invalid character 'x' at position 5".
	Reason string
}

// Error returns the Kind message followed by the Reason, for example
// "taxid: invalid CPF: must have 11 digits, got 10".
func (e *Error) Error() string {
	kind := "taxid: invalid tax ID"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	return kind + ": " + e.Reason
}

// Unwrap returns Kind, so that errors.Is(err, ErrInvalidCPF) works.
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, reason string) *Error {
	return &Error{Kind: kind, Reason: reason}
}
