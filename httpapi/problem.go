package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/onboardkit/onboarding"
)

// Problem is the body of every error response: an RFC 9457 problem detail
// (Content-Type application/problem+json) with the API's extension members.
type Problem struct {
	// Type is a URI naming the problem: Options.ProblemTypeBase followed by Code.
	Type string `json:"type"`
	// Title is the HTTP status text.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence. It never echoes personal data or internals.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path.
	Instance string `json:"instance"`
	// Code is the machine-readable code ("invalid_cpf", "not_found", …).
	Code string `json:"code"`
	// Param names the input at fault, when one is: a body field, a query parameter, a
	// multipart field or a header.
	Param string `json:"param,omitempty"`
	// Errors lists every field at fault (422), and is empty otherwise.
	Errors []onboarding.FieldError `json:"errors"`
	// RequestID is the request's ID, also in the X-Request-Id header.
	RequestID string `json:"request_id"`
	// ExistingCustomerID is, on 409 customer_already_exists, the partner's own customer
	// that holds the identifier.
	ExistingCustomerID string `json:"existing_customer_id,omitempty"`
	// Error is, on the token endpoint only, the OAuth 2.0 error code (RFC 6749 §5.2), so
	// OAuth clients understand the answer too.
	Error string `json:"error,omitempty"`
	// Missing is, on 422 kyc_incomplete, the requirement IDs of the mandatory items
	// still pending or rejected, as the request's format names them.
	Missing []string `json:"missing,omitempty"`
}

// problem is an error that already knows its response.
type problem struct {
	status     int
	code       string
	param      string
	detail     string
	fields     []onboarding.FieldError
	existingID string
	oauth      string
	missing    []string
	header     http.Header
	// transient marks a failure the client may simply retry (its body did not arrive
	// whole): its idempotency key is forgotten rather than bound to this answer.
	transient bool
}

func (p *problem) Error() string { return "httpapi: " + p.code + ": " + p.detail }

// Common problems.
func malformed(detail string) *problem {
	return &problem{status: http.StatusBadRequest, code: "malformed_body", detail: detail}
}

func badContentType(want string) *problem {
	return &problem{status: http.StatusBadRequest, code: "invalid_content_type",
		detail: "The request body must be " + want + "."}
}

func fieldProblem(param, code, detail string) *problem {
	return &problem{status: http.StatusUnprocessableEntity, code: code, param: param, detail: param + " " + detail,
		fields: []onboarding.FieldError{{Param: param, Code: code, Detail: detail}}}
}

func missingFile() *problem {
	return &problem{status: http.StatusBadRequest, code: "missing_file", param: "file",
		detail: "The request has no file part (named file or blob), or the file is empty."}
}

func tooLarge(code string, limit int64) *problem {
	return &problem{status: http.StatusRequestEntityTooLarge, code: code,
		detail: "The request body exceeds the limit of " + strconv.FormatInt(limit, 10) + " bytes."}
}

// toProblem maps an error of the Service (or of this package) to its response.
func (a *api) toProblem(err error, rc *reqCtx) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	var ve *onboarding.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 {
		f := ve.Fields[0]
		parts := make([]string, len(ve.Fields))
		for i, fe := range ve.Fields {
			parts[i] = fe.Param + " " + fe.Detail
		}
		return &problem{status: http.StatusUnprocessableEntity, code: f.Code, param: f.Param,
			detail: strings.Join(parts, "; ") + ".", fields: ve.Fields}
	}
	var ki *onboarding.KYCIncompleteError
	if errors.As(err, &ki) {
		f := onboarding.WireFormatGuide
		if rc != nil {
			f = rc.format
		}
		p := &problem{status: http.StatusUnprocessableEntity, code: "kyc_incomplete", param: "kyc"}
		for i := range ki.Missing {
			id := f.RequirementID(&ki.Missing[i])
			p.missing = append(p.missing, id)
			p.fields = append(p.fields, onboarding.FieldError{Param: id, Code: "kyc_incomplete",
				Detail: "is " + string(ki.Missing[i].Status)})
		}
		p.detail = "The customer still owes mandatory KYC items: " + strings.Join(p.missing, ", ") + "."
		return p
	}
	var ce *onboarding.ConflictError
	if errors.As(err, &ce) && ce.Field != "idempotency_key" {
		return &problem{status: http.StatusConflict, code: "customer_already_exists", param: ce.Field,
			detail: clean(err), existingID: ce.ExistingID}
	}
	switch {
	case errors.Is(err, onboarding.ErrNotFound):
		return &problem{status: http.StatusNotFound, code: "not_found", detail: "The resource does not exist."}
	case errors.Is(err, onboarding.ErrDocumentNotRequired):
		return &problem{status: http.StatusUnprocessableEntity, code: "document_type_not_required", param: "type",
			detail: clean(err) + ".", fields: []onboarding.FieldError{{Param: "type", Code: "document_type_not_required", Detail: clean(err)}}}
	case errors.Is(err, onboarding.ErrFileTooLarge):
		return &problem{status: http.StatusRequestEntityTooLarge, code: "file_too_large", param: "file", detail: clean(err) + "."}
	case errors.Is(err, errBodyTooSlow):
		return tooSlow()
	case errors.Is(err, onboarding.ErrImageTooLarge):
		return &problem{status: http.StatusUnsupportedMediaType, code: "image_too_large", param: "file",
			detail: clean(err) + ". Send a smaller image."}
	case errors.Is(err, onboarding.ErrUnsupportedFormat), errors.Is(err, onboarding.ErrTruncatedFile):
		return &problem{status: http.StatusUnsupportedMediaType, code: "unsupported_format", param: "file",
			detail: clean(err) + ". Send a complete PDF, JPEG or PNG accepted for the document type."}
	case errors.Is(err, onboarding.ErrEmptyFile):
		return missingFile()
	case errors.Is(err, onboarding.ErrSessionActive):
		return &problem{status: http.StatusConflict, code: "session_already_active",
			detail: "A biometrics session is already open for this customer; use it or wait for it to expire."}
	case errors.Is(err, onboarding.ErrInvalidTransition):
		return &problem{status: http.StatusConflict, code: "invalid_transition", detail: clean(err) + "."}
	case errors.Is(err, onboarding.ErrInvalidCredentials):
		return unauthorized("invalid_token", "The credential behind this token was revoked or expired.")
	case errors.Is(err, onboarding.ErrInvalidCode):
		return &problem{status: http.StatusBadRequest, code: "invalid_code", param: "code", oauth: "invalid_grant",
			detail: "The biometrics code is unknown, used or expired; start a new session."}
	case errors.Is(err, onboarding.ErrNotConfigured):
		return &problem{status: http.StatusNotImplemented, code: "not_implemented",
			detail: "This operation is not enabled on this server."}
	case errors.Is(err, onboarding.ErrConcurrentUpdate):
		return &problem{status: http.StatusServiceUnavailable, code: "busy", detail: "The resource is busy; retry.",
			header: http.Header{"Retry-After": {"1"}}}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		rc.err = err
		return &problem{status: http.StatusServiceUnavailable, code: "unavailable", detail: "The request did not complete; retry.",
			header: http.Header{"Retry-After": {"1"}}}
	}
	rc.err = err
	return &problem{status: http.StatusInternalServerError, code: "internal",
		detail: "An internal error occurred; it was logged with the request id."}
}

// clean turns an error of the Service into a detail: without the package prefix.
func clean(err error) string {
	s := err.Error()
	for _, p := range []string{"onboarding: ", "httpapi: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// writeError answers with err as a problem.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	a.writeProblem(w, r, a.toProblem(err, reqFrom(r.Context())))
}

// writeProblem writes p as application/problem+json.
func (a *api) writeProblem(w http.ResponseWriter, r *http.Request, p *problem) {
	rc := reqFrom(r.Context())
	if p.transient && rc != nil {
		rc.transient = true
	}
	f := onboarding.WireFormatGuide
	if rc != nil {
		f = rc.format
	}
	body := Problem{Type: a.problemType(f, p), Title: http.StatusText(p.status), Status: p.status,
		Detail: p.detail, Instance: r.URL.Path, Code: p.code, Param: p.param, Errors: p.fields,
		ExistingCustomerID: p.existingID, Error: p.oauth, Missing: p.missing}
	if body.Errors == nil {
		body.Errors = []onboarding.FieldError{}
	}
	if rc != nil {
		body.RequestID = rc.id
	}
	h := w.Header()
	for k, v := range p.header {
		h[k] = v
	}
	b, _ := json.Marshal(body)
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Del("Location")
	w.WriteHeader(p.status)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSON answers with v as JSON, in the request's wire format.
func (a *api) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	if rc := reqFrom(r.Context()); rc != nil {
		v = encode(rc.format, v)
	}
	var b []byte
	var err error
	if raw, ok := v.(json.RawMessage); ok {
		b = raw
	} else if m, ok := v.(json.Marshaler); ok {
		b, err = m.MarshalJSON() // the API objects encode themselves: skip re-compacting
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
