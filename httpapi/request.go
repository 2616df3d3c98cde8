package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// reqCtx is what the layers of one request share.
type reqCtx struct {
	id    string
	start time.Time
	rawW  http.ResponseWriter // the server's writer, for http.MaxBytesReader

	auth    authResult
	partner string
	client  string
	prefix  string                // "/v3" or "/api/v3"
	format  onboarding.WireFormat // the prefix's wire format

	body []byte     // a JSON route's body, read whole (bounded)
	form *formState // a multipart route's streaming state

	idempotency string // "", "new" or "replayed", for the log
	transient   bool   // the request failed in a way its client should simply retry
	err         error  // the internal error behind a 5xx, for the log
}

type reqCtxKey struct{}

func withReqCtx(ctx context.Context, rc *reqCtx) context.Context {
	return context.WithValue(ctx, reqCtxKey{}, rc)
}

func reqFrom(ctx context.Context) *reqCtx {
	rc, _ := ctx.Value(reqCtxKey{}).(*reqCtx)
	return rc
}

// requestID returns the client's X-Request-Id when it is sane, else a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		ok := true
		for i := 0; i < len(id) && ok; i++ {
			c := id[i]
			ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
		}
		if ok {
			return id
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// handlerFunc is a route: it writes a success response itself and returns errors for
// the caller to map to problems.
type handlerFunc func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error

// public wraps a route that needs no token.
func (a *api) public(prefix string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := reqFrom(r.Context())
		rc.prefix = prefix
		a.paceBody(r, rc.rawW)
		if err := h(w, r, rc); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// protected wraps a partner route: token, access, body, idempotency.
func (a *api) protected(prefix, path string, kind body, ac access, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := reqFrom(r.Context())
		rc.prefix = prefix
		// Everything that can refuse the request from its head goes before its body, and
		// a refusal lets the connection go without waiting for the body.
		refuse := func(err error) {
			letGo(w, r, rc.rawW)
			a.writeError(w, r, err)
		}
		if rc.auth.err != nil {
			refuse(rc.auth.err)
			return
		}
		rc.partner, rc.client = rc.auth.partner, rc.auth.client
		if err := ac.check(r, rc.auth); err != nil {
			refuse(err)
			return
		}
		if err := checkRequestValues(r, path); err != nil {
			refuse(err)
			return
		}
		a.paceBody(r, rc.rawW)
		switch kind {
		case jsonBody, optionalJSON:
			b, err := a.readJSON(r, rc, kind == optionalJSON)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			rc.body = b
		case multipartBody:
			f, err := a.openForm(r, rc)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			rc.form = f
		}
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			key, err := idempotencyKey(r)
			if err != nil {
				a.writeError(w, r, err)
				return
			}
			if key != "" {
				a.idempotent(w, r, rc, key, kind, h)
				return
			}
		}
		if err := h(w, r, rc); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// readJSON reads a JSON route's body whole, up to MaxJSONBody.
func (a *api) readJSON(r *http.Request, rc *reqCtx, optional bool) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(rc.rawW, r.Body, a.maxJSON))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge("body_too_large", a.maxJSON)
		}
		if errors.Is(err, errBodyTooSlow) {
			return nil, tooSlow()
		}
		p := malformed("The request body could not be read.")
		p.transient = true
		return nil, p
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return nil, nil
		}
		return nil, malformed("The request body is empty; send a JSON object.")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil, badContentType("application/json")
	}
	if err := checkJSONText(b); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeJSON decodes a JSON object into v. Unknown fields are ignored (see the package
// documentation); a syntax error is 400 malformed_body, a value of the wrong type 422 on
// its field.
func decodeJSON(b []byte, v any, codes map[string]string) error {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return malformed("The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			code := codes[te.Field]
			if code == "" {
				code = "invalid_value"
			}
			return fieldProblem(te.Field, code, "must be "+jsonKind(te.Type.Kind().String()))
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return malformed("The request body is not valid JSON: " + se.Error() + ".")
		}
		return malformed("The request body is not a valid JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("The request body has data after its JSON object.")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a string or null"
	}
	return "of another type"
}
