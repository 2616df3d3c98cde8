package backoffice

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// The pages are html/template files and one stylesheet, embedded: the back office needs
// no build step, serves nothing from elsewhere and runs no script.
//
//go:embed templates/*.html static/*
var assets embed.FS

func staticFiles() http.Handler {
	sub, _ := fs.Sub(assets, "static")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// pages are the parsed templates, one set per page (each defines "content" in the
// shared layout).
type pages struct{ t map[string]*template.Template }

var pageNames = []string{"login", "continue", "error", "queue", "customer", "operations", "audit"}

func loadPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("backoffice: template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// view is what every page renders.
type view struct {
	Title string
	// Op is the operator, nil on the login pages; Logout says they came with a session.
	Op     *Operator
	Logout bool
	// Notice is a success message; Error an error message.
	Notice string
	Error  string
	Data   any
}

type sessionKey struct{}

func contextWithOperator(ctx context.Context, op *Operator, fromSession bool) context.Context {
	return context.WithValue(context.WithValue(ctx, operatorKey{}, op), sessionKey{}, fromSession)
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	if v.Op == nil {
		v.Op = OperatorFrom(r.Context())
		v.Logout, _ = r.Context().Value(sessionKey{}).(bool)
	}
	var buf bytes.Buffer
	if err := h.pages.t[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.ErrorContext(r.Context(), "backoffice: render", "page", name, "error", err)
		http.Error(w, "backoffice: cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders an error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", &view{Title: http.StatusText(status), Error: msg})
}

// failErr renders the error page of a Service error.
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status, _, msg := h.classify(r, err)
	h.fail(w, r, status, msg)
}

// classify maps a Service error to a status, a code and a message fit for an operator.
func (h *Handler) classify(r *http.Request, err error) (int, string, string) {
	var ve *onboarding.ValidationError
	switch {
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, "invalid_input", ve.Error()
	case errors.Is(err, onboarding.ErrInvalidInput):
		return http.StatusUnprocessableEntity, "invalid_input", err.Error()
	case errors.Is(err, onboarding.ErrNotFound):
		return http.StatusNotFound, "not_found", "Not found."
	case errors.Is(err, onboarding.ErrInvalidTransition):
		return http.StatusConflict, "invalid_transition", strings.TrimPrefix(err.Error(), "onboarding: ")
	case errors.Is(err, onboarding.ErrRetentionHold):
		msg := "The personal data is under a retention hold"
		var he *onboarding.RetentionHoldError
		if errors.As(err, &he) {
			msg += " until " + he.Until.UTC().Format(time.DateOnly)
		}
		return http.StatusConflict, "retention_hold", msg + "; set the hold aside only where the law allows the erasure."
	case errors.Is(err, errUnsupported):
		return http.StatusNotFound, "not_supported", err.Error()
	}
	h.log.ErrorContext(r.Context(), "backoffice: request failed", "path", r.URL.Path, "error", err)
	return http.StatusInternalServerError, "internal", "Something went wrong; the error was logged."
}

var errUnsupported = errors.New("backoffice: not supported by this authenticator")

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// apiError is the body of every JSON error.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return age(time.Since(t))
	},
	"can":    func(op *Operator, role string) bool { return op != nil && op.Role.Can(Role(role)) },
	"docURL": documentURL,
	"isImage": func(d *onboarding.Document) bool {
		return d.ContentType == onboarding.FormatJPEG || d.ContentType == onboarding.FormatPNG
	},
	"isPDF": func(d *onboarding.Document) bool { return d.ContentType == onboarding.FormatPDF },
	"deref": func(s *string) string { return derefString(s) },
	"kib":   func(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) },
	"submitted": func(reqs []onboarding.Requirement) int {
		n := 0
		for _, r := range reqs {
			if r.Status == onboarding.RequirementSubmitted {
				n++
			}
		}
		return n
	},
	"status": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// age says how long ago, roughly.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// documentURL is where the back office serves a document's bytes. The partner rides in
// the query: documents are looked up within their partner like everywhere else.
func documentURL(d *onboarding.Document) string {
	return Prefix + "/documents/" + url.PathEscape(d.ID) + "/" + url.PathEscape(fileName(d)) + "?partner=" + url.QueryEscape(d.PartnerID)
}

// fileName is a safe name for a document's download: its type and extension, never the
// client's own file name (which may hold personal data or odd characters).
func fileName(d *onboarding.Document) string {
	ext := ".bin"
	switch d.ContentType {
	case onboarding.FormatPDF:
		ext = ".pdf"
	case onboarding.FormatJPEG:
		ext = ".jpg"
	case onboarding.FormatPNG:
		ext = ".png"
	}
	return string(d.Type) + ext
}
