package onboarding

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the Service returns wraps at most one of these, so callers
// (and the HTTP layer) branch with errors.Is.
var (
	// ErrNotFound is returned when a resource does not exist or belongs to another partner.
	// The two cases are deliberately indistinguishable.
	ErrNotFound = errors.New("onboarding: not found")

	// ErrConflict is returned when a write would break a uniqueness rule: a customer with
	// the same CNPJ (or CPF) or external_id already exists under the partner with different
	// identifying data. The HTTP layer maps it to 409 customer_already_exists.
	ErrConflict = errors.New("onboarding: conflict")

	// ErrInvalidInput is matched by every *ValidationError.
	ErrInvalidInput = errors.New("onboarding: invalid input")

	// ErrInvalidTransition is returned when an operation is not allowed in the customer's
	// current status (uploading for a denied customer, denying an active one, ...).
	ErrInvalidTransition = errors.New("onboarding: operation not allowed in the current status")

	// ErrDocumentNotRequired is returned when an upload names a document type that the
	// customer's kyc does not list, or whose requirement is already approved.
	ErrDocumentNotRequired = errors.New("onboarding: document type not required")

	// ErrUnsupportedFormat is returned when a file's bytes are not PDF, JPEG or PNG, or
	// are a format the requirement does not accept (a selfie must be an image).
	ErrUnsupportedFormat = errors.New("onboarding: unsupported file format")

	// ErrFileTooLarge is returned when a file exceeds the size limit of its type.
	ErrFileTooLarge = errors.New("onboarding: file too large")

	// ErrEmptyFile is returned for an upload with no bytes or no file at all.
	ErrEmptyFile = errors.New("onboarding: empty file")

	// ErrImageTooLarge is returned when a JPEG or PNG declares more pixels than
	// UploadRules allow: a small file may decode into gigabytes (a decompression bomb).
	ErrImageTooLarge = errors.New("onboarding: image too large")

	// ErrTruncatedFile is returned when a file ends before its format's end marker
	// (a PDF without %%EOF, a JPEG without EOI, a PNG without IEND).
	ErrTruncatedFile = errors.New("onboarding: truncated file")

	// ErrConcurrentUpdate is returned by a Store when a compare-and-set write lost a race:
	// the row changed since it was read (customer version, offer version) or a job's lease
	// is no longer held by the caller. The Service retries from a fresh read.
	ErrConcurrentUpdate = errors.New("onboarding: concurrent update")

	// ErrInvalidOptions is matched by the error New and Options.Validate return for a
	// configuration that cannot work: a missing BlobStore, a negative limit, an upload
	// rule for an unknown document type. It is the lender's mistake, not a caller's.
	ErrInvalidOptions = errors.New("onboarding: invalid options")
)

// Field error codes of 422 responses (docs/http-api.md lists every code).
const (
	CodeMissingRequiredField = "missing_required_field"
	CodeInvalidCPF           = "invalid_cpf"
	CodeInvalidCNPJ          = "invalid_cnpj"
	CodeInvalidEmail         = "invalid_email"
	CodeInvalidPhone         = "invalid_phone"
	CodeInvalidValue         = "invalid_value"
)

// FieldError describes what is wrong with one input field.
type FieldError struct {
	// Param is the field's wire name (snake_case), e.g. "cpf".
	Param string `json:"param"`
	// Code is a machine-readable code such as "invalid_cpf".
	Code string `json:"code"`
	// Detail is a human-readable explanation that never echoes personal data.
	Detail string `json:"detail"`
}

// ValidationError lists every field that failed validation. It matches ErrInvalidInput.
type ValidationError struct {
	Fields []FieldError
}

// Error lists every field error.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("onboarding: invalid input: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Param)
		b.WriteString(": ")
		b.WriteString(f.Detail)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidInput }

// add records a field error.
func (e *ValidationError) add(param, code, detail string) {
	e.Fields = append(e.Fields, FieldError{Param: param, Code: code, Detail: detail})
}

// orNil returns e when it holds field errors, nil otherwise.
func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// invalid returns a ValidationError for a single field.
func invalid(param, code, detail string) error {
	return &ValidationError{Fields: []FieldError{{Param: param, Code: code, Detail: detail}}}
}

// ConflictError says which uniqueness rule a write broke. It matches ErrConflict.
type ConflictError struct {
	// Field is "external_id", "cnpj" or "cpf": the identifier already in use.
	Field string
	// ExistingID is the ID of the customer holding it, when known. It is only ever shown to
	// the partner that owns that customer.
	ExistingID string
}

// Error says which identifier is taken, without echoing it.
func (e *ConflictError) Error() string {
	switch e.Field {
	case "cnpj", "cpf":
		return "onboarding: customer already exists: its " + e.Field + " is registered under another external_id"
	case "external_id":
		return "onboarding: customer already exists: the external_id is registered with another CPF/CNPJ"
	}
	return "onboarding: conflict: " + e.Field + " already in use"
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ErrSessionActive is returned by StartBiometricsSession while the customer's previous
// session is still open (HTTP 409 session_already_active).
var ErrSessionActive = errors.New("onboarding: a biometrics session is already active")

// ErrRetentionHold is matched by the *RetentionHoldError EraseCustomer returns when the
// RetentionPolicy still holds the customer's data (an active customer's KYC evidence, kept
// for years after the relationship ends) and the call did not override it.
var ErrRetentionHold = errors.New("onboarding: personal data under a retention hold")

// ErrNotConfigured is returned by calls that need a plugin the Service was not given.
var ErrNotConfigured = errors.New("onboarding: not configured")

// errPermanent marks a job failure that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

func permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }
