package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/taxid"
)

// accessLog writes one record per request. It logs the path, a sanitized query, the
// partner and client, never a header value, a body, a token or a secret; a CPF in the
// query is masked.
func (a *api) accessLog(r *http.Request, sw *statusWriter, rc *reqCtx, d time.Duration) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	ctx := context.WithoutCancel(r.Context())
	if !a.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 14)
	attrs = append(attrs,
		slog.String("request_id", rc.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	)
	if r.Pattern != "" {
		attrs = append(attrs, slog.String("route", r.Pattern))
	}
	if r.URL.RawQuery != "" {
		attrs = append(attrs, slog.String("query", sanitizeQuery(r.URL.RawQuery)))
	}
	attrs = append(attrs,
		slog.Int("status", status),
		slog.Int64("bytes", sw.bytes),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("remote", a.clientIP(r)),
	)
	if rc.partner != "" {
		attrs = append(attrs, slog.String("partner", rc.partner), slog.String("client", rc.client))
	}
	if rc.idempotency != "" {
		attrs = append(attrs, slog.String("idempotency", rc.idempotency))
	}
	if rc.err != nil {
		attrs = append(attrs, slog.String("error", redact(rc.err.Error())))
	}
	a.log.LogAttrs(ctx, level, "http request", attrs...)
}

// sanitizeQuery re-encodes a query with personal and secret values masked.
func sanitizeQuery(raw string) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "(unparsable)"
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			lk := strings.ToLower(k)
			switch {
			case lk == "cpf":
				if cpf, err := taxid.ParseCPF(v); err == nil {
					v = cpf.Masked()
				} else {
					v = "***"
				}
			case strings.Contains(lk, "secret"), strings.Contains(lk, "token"), strings.Contains(lk, "password"),
				strings.Contains(lk, "key"), lk == "email", lk == "phone", lk == "name":
				v = "***"
			case lk == "starting_after", lk == "customer_id", lk == "limit", lk == "status", lk == "sort", lk == "order":
			default:
				v = redact(v)
			}
			if len(v) > 128 {
				v = v[:128] + "…"
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(v) // not escaped, for reading; the log handler quotes the whole
		}
	}
	return b.String()
}

var (
	// cpfLike matches anything that may be a CPF: 11 digits, bare or formatted.
	cpfLike    = regexp.MustCompile(`\d{3}\.?\d{3}\.?\d{3}-?\d{2}`)
	secretLike = regexp.MustCompile(`(whsec_|cs_|v1\.)[A-Za-z0-9+/=_.-]+`)
)

// redact masks what may be a CPF, a secret or a token in a string headed for the logs
// (errors from drivers can quote values).
func redact(s string) string {
	s = cpfLike.ReplaceAllString(s, "***.***.***-**")
	return secretLike.ReplaceAllString(s, "${1}***")
}
