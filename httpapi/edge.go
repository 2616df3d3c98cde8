package httpapi

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// The edge: what a request may carry before any of it reaches the Service or the
// database, and how a refused or slow request lets go of its connection.

// Defaults of the body rate.
const (
	// DefaultMinBodyRate is the slowest a request body may arrive, in bytes a second
	// averaged over DefaultBodyRateWindow: a slow mobile upload is far above it, a client
	// dripping bytes to hold a connection far below.
	DefaultMinBodyRate int64 = 8 << 10
	// DefaultBodyRateWindow is the grace a body gets before the rate counts.
	DefaultBodyRateWindow = 20 * time.Second
)

// maxIDLen bounds an identifier in a path or a query.
const maxIDLen = 128

// checkRequestValues refuses path values and query parameters that no stored record can
// match: identifiers out of their alphabet (a NUL byte, a quote, a space) are 404 for a
// path and 422 for a query; any other parameter must be valid UTF-8 without control
// characters (422).
func checkRequestValues(r *http.Request, path string) error {
	for _, name := range pathNames(path) {
		if !isID(r.PathValue(name)) {
			return &problem{status: http.StatusNotFound, code: "not_found", detail: "No such resource."}
		}
	}
	for name, values := range r.URL.Query() {
		for _, v := range values {
			switch {
			case !utf8.ValidString(name) || hasControl(name):
				return fieldProblem("query", "invalid_value", "query parameter names must be printable UTF-8")
			case idParams[name] && v != "" && !isID(v):
				return fieldProblem(name, "invalid_value", "is not an identifier")
			case !utf8.ValidString(v) || hasControl(v):
				return fieldProblem(name, "invalid_value", "must be printable UTF-8 text")
			}
		}
	}
	return nil
}

// idParams are the query parameters that name a stored record.
var idParams = map[string]bool{"starting_after": true, "customer_id": true}

// pathNames lists the {wildcards} of a route pattern.
func pathNames(path string) []string {
	var names []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(seg[1:], "}"))
		}
	}
	return names
}

// isID reports whether s has the shape of an identifier: 1..128 ASCII letters, digits,
// '_', '-' or '.' (generated IDs are a prefix, '_' and hex; client IDs are configured).
func isID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// hasControl reports a control character other than tab and newline.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return true
		}
	}
	return false
}

// checkJSONText refuses a JSON body that is not valid UTF-8 or escapes half of a UTF-16
// surrogate pair (\ud800 alone): the decoder would replace either with U+FFFD and store
// text the client never sent.
func checkJSONText(b []byte) error {
	if !utf8.Valid(b) {
		return malformed("The request body is not valid UTF-8.")
	}
	if loneSurrogate(b) {
		return malformed("The request body escapes half of a UTF-16 surrogate pair (\\uD800–\\uDFFF) without the other half.")
	}
	return nil
}

// loneSurrogate reports a \u escape of a surrogate that is not half of a high-low pair,
// inside a JSON string.
func loneSurrogate(b []byte) bool {
	inString := false
	pendingHigh := false // the last escape was a high surrogate
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			if pendingHigh {
				return true
			}
			inString = false
		case '\\':
			if i+1 >= len(b) {
				return false // the decoder reports the truncation
			}
			if b[i+1] != 'u' {
				if pendingHigh {
					return true
				}
				i++ // \" \\ \n ...
				continue
			}
			if i+6 > len(b) {
				return false
			}
			v, ok := hex4(b[i+2 : i+6])
			i += 5
			if !ok {
				return false // the decoder reports the bad escape
			}
			switch {
			case v >= 0xD800 && v <= 0xDBFF:
				if pendingHigh {
					return true
				}
				pendingHigh = true
			case v >= 0xDC00 && v <= 0xDFFF:
				if !pendingHigh {
					return true
				}
				pendingHigh = false
			default:
				if pendingHigh {
					return true
				}
			}
		default:
			if pendingHigh {
				return true
			}
		}
	}
	return false
}

func hex4(b []byte) (rune, bool) {
	var v rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// hasBody reports whether the request declares a body.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || r.ContentLength < 0 || len(r.TransferEncoding) > 0
}

// letGo is for a request answered without reading its body: the connection closes right
// after the answer instead of draining what the client still sends (a client dripping a
// body would otherwise hold it until the server's read timeout).
func letGo(w http.ResponseWriter, r *http.Request, raw http.ResponseWriter) {
	if !hasBody(r) {
		return
	}
	w.Header().Set("Connection", "close")
	// The server reads what is left of the body before closing unless the read fails:
	// make it fail at once. (A writer without deadlines, in tests, just drains.)
	_ = http.NewResponseController(raw).SetReadDeadline(time.Now())
}

// paceBody makes r's body fail with errBodyTooSlow when it arrives slower than rate
// bytes a second after the first window: each read must complete by start + window +
// received/rate.
func (a *api) paceBody(r *http.Request, raw http.ResponseWriter) {
	if !hasBody(r) || a.minBodyRate <= 0 {
		return
	}
	rc := http.NewResponseController(raw)
	start := time.Now()
	deadline := func(n int64) time.Time {
		return start.Add(a.bodyRateWindow + time.Duration(float64(n)/float64(a.minBodyRate)*float64(time.Second)))
	}
	if err := rc.SetReadDeadline(deadline(0)); err != nil {
		return // no deadlines on this writer (tests with a recorder)
	}
	r.Body = &pacedBody{ReadCloser: r.Body, rc: rc, deadline: deadline}
}

// errBodyTooSlow is a body read that missed its pace.
var errBodyTooSlow = errors.New("httpapi: the request body arrives too slowly")

type pacedBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	n        int64
	deadline func(n int64) time.Time
}

func (p *pacedBody) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	p.n += int64(n)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, errBodyTooSlow
		}
		return n, err
	}
	_ = p.rc.SetReadDeadline(p.deadline(p.n))
	return n, nil
}

// tooSlow is the answer to a body that missed its pace: 408, and the connection closes.
func tooSlow() *problem {
	return &problem{status: http.StatusRequestTimeout, code: "request_timeout",
		detail: "The request body arrived too slowly.", header: http.Header{"Connection": {"close"}}}
}
