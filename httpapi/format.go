package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// The API speaks two wire formats over one set of handlers: the guide's under /v3 and
// the official SDK's under /api/v3 (onboarding.WireFormat). A handler answers with domain
// values; writeJSON passes them through the request's format, the one place that knows how
// each format writes them. Problems differ only in their "type".

// SDKPrefix is the prefix served in the SDK's format.
const SDKPrefix = "/api/v3"

// DefaultSDKProblemTypeBase prefixes the slug of a problem's "type" in the SDK's format:
// the base the official SDK maps to its error classes.
const DefaultSDKProblemTypeBase = "https://docs.dinie.com/errors/"

// formatOf is the wire format of a request path.
func formatOf(path string) onboarding.WireFormat {
	if path == SDKPrefix || strings.HasPrefix(path, SDKPrefix+"/") {
		return onboarding.WireFormatSDK
	}
	return onboarding.WireFormatGuide
}

// encode returns v as the request's format writes it.
func encode(f onboarding.WireFormat, v any) any {
	switch x := v.(type) {
	case *onboarding.Document:
		if f == onboarding.WireFormatGuide {
			return toDocumentJSON(x)
		}
	case []*onboarding.Document:
		out := make([]any, len(x))
		for i, d := range x {
			out[i] = encode(f, d)
		}
		return map[string]any{"data": out, "has_more": false}
	case withSecret:
		return x.encode(f)
	}
	return f.Encode(v)
}

// withSecret is a created resource shown once with its secret: the resource's own fields
// plus one more (secret for an endpoint, client_secret for a credential).
type withSecret struct {
	v           any
	name, value string
}

func (w withSecret) encode(f onboarding.WireFormat) json.RawMessage {
	b, err := json.Marshal(f.Encode(w.v))
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil
	}
	m[w.name], _ = json.Marshal(w.value)
	out, _ := json.Marshal(m)
	return out
}

// sdkSlug is the SDK's problem slug of a status: one of the eight its error classes map.
func sdkSlug(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication-failed"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not-found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusUnprocessableEntity:
		return "validation-failed"
	case http.StatusTooManyRequests:
		return "rate-limit-exceeded"
	}
	if status >= 500 {
		return "internal"
	}
	return "invalid-request" // 400, 405, 413, 415
}

// problemType is a problem's "type" in the request's format.
func (a *api) problemType(f onboarding.WireFormat, p *problem) string {
	if f == onboarding.WireFormatSDK {
		return a.sdkTypeBase + sdkSlug(p.status)
	}
	return a.typeBase + p.code
}

// timeIn is a timestamp of a handler-built answer in the request's format.
func timeIn(rc *reqCtx, t time.Time) any { return rc.format.Time(t) }
