package backoffice

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// queueFilter is the queue's form, read from the query (links) or a POST body (the
// search box posts, so that a CPF never lands in a URL, a browser history or an access
// log).
type queueFilter struct {
	Partner string
	Status  string
	Waiting string
	Query   string
	Offset  int
}

// statusChoices are the queue's status filter values.
var statusChoices = map[string][]onboarding.Status{
	"":             nil, // waiting: under_review and pending_kyc
	"under_review": {onboarding.StatusUnderReview},
	"pending_kyc":  {onboarding.StatusPendingKYC},
	"active":       {onboarding.StatusActive},
	"denied":       {onboarding.StatusDenied},
	"all":          {onboarding.StatusUnderReview, onboarding.StatusPendingKYC, onboarding.StatusActive, onboarding.StatusDenied},
}

func readQueueFilter(r *http.Request) (queueFilter, onboarding.QueueParams, error) {
	f := queueFilter{Partner: strings.TrimSpace(r.FormValue("partner")), Status: r.FormValue("status"),
		Waiting: r.FormValue("waiting"), Query: r.PostFormValue("q")}
	p := onboarding.QueueParams{PartnerID: f.Partner, Query: f.Query}
	st, ok := statusChoices[f.Status]
	if !ok {
		return f, p, &onboarding.ValidationError{Fields: []onboarding.FieldError{{Param: "status", Code: onboarding.CodeInvalidValue,
			Detail: "unknown status filter"}}}
	}
	p.Statuses = st
	if f.Waiting != "" {
		d, err := time.ParseDuration(f.Waiting)
		if err != nil || d < 0 {
			return f, p, &onboarding.ValidationError{Fields: []onboarding.FieldError{{Param: "waiting", Code: onboarding.CodeInvalidValue,
				Detail: "must be a duration such as 24h"}}}
		}
		p.WaitingAtLeast = d
	}
	if v := r.FormValue("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			n = 0
		}
		f.Offset, p.Offset = n, n
	}
	return f, p, nil
}

func (h *Handler) queuePage(w http.ResponseWriter, r *http.Request, op *Operator) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.fail(w, r, http.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	f, p, err := readQueueFilter(r)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	page, err := h.svc.SearchCustomers(r.Context(), p)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	g, err := h.glance(r.Context())
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	next := -1
	if page.HasMore {
		next = f.Offset + len(page.Data)
	}
	notice := ""
	if r.URL.Query().Get("done") == "erase" {
		notice = "Customer erased."
	}
	h.render(w, r, http.StatusOK, "queue", &view{Title: "Queue", Notice: notice, Data: map[string]any{
		"Filter": f, "Customers": page.Data, "Glance": g, "Next": next, "Now": h.now(),
	}})
}

func (h *Handler) customerPage(w http.ResponseWriter, r *http.Request, op *Operator) {
	f, err := h.customerFile(r.Context(), r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "approve":
		notice = "Item approved."
	case "reject":
		notice = "Item rejected; the customer was told why."
	case "deny":
		notice = "Customer denied."
	case "replay":
		notice = "Delivery scheduled again."
	}
	h.render(w, r, http.StatusOK, "customer", &view{Title: f.Customer.Name, Notice: notice, Data: f})
}

// document serves a document's bytes to an operator: never from the bucket directly,
// never sniffed, a PDF in a sandbox (its scripts and forms inert).
func (h *Handler) document(w http.ResponseWriter, r *http.Request, op *Operator) {
	rc, d, err := h.svc.OpenDocument(r.Context(), r.URL.Query().Get("partner"), r.PathValue("id"))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	defer rc.Close()
	hd := w.Header()
	hd.Set("Content-Type", string(d.ContentType))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "private, no-store")
	hd.Set("Content-Disposition", `inline; filename="`+fileName(d)+`"`)
	if d.ContentType == onboarding.FormatPDF {
		// Framed by the customer page of this origin only.
		hd.Set("Content-Security-Policy", "sandbox; frame-ancestors 'self'")
		hd.Set("X-Frame-Options", "SAMEORIGIN")
	} else {
		hd.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'self'")
	}
	hd.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	// The digest is checked as the bytes stream: a corrupted file ends the response
	// early (the browser sees a truncated download), never silently.
	if _, err := io.Copy(w, rc); err != nil {
		h.log.ErrorContext(r.Context(), "backoffice: document", "document_id", d.ID, "error", err)
	}
}

func customerURL(id string, done string) string {
	u := Prefix + "/customers/" + url.PathEscape(id)
	if done != "" {
		u += "?done=" + done
	}
	return u
}

func (h *Handler) decideForm(decision onboarding.ReviewDecision) func(w http.ResponseWriter, r *http.Request, op *Operator) {
	return func(w http.ResponseWriter, r *http.Request, op *Operator) {
		id := r.PathValue("id")
		if _, err := h.decide(r, op, id, r.PathValue("doc"), decision, r.PostFormValue("reason")); err != nil {
			h.failErr(w, r, err)
			return
		}
		http.Redirect(w, r, customerURL(id, string(decision)), http.StatusSeeOther)
	}
}

func (h *Handler) denyForm(w http.ResponseWriter, r *http.Request, op *Operator) {
	id := r.PathValue("id")
	if _, err := h.denyCustomer(r, op, id, r.PostFormValue("reason")); err != nil {
		h.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, customerURL(id, "deny"), http.StatusSeeOther)
}

// exportForm downloads the archive of everything held about a customer: customer.json
// and the documents' bytes, as one zip file.
func (h *Handler) exportForm(w http.ResponseWriter, r *http.Request, op *Operator) {
	err := h.exportCustomer(r, op, r.PathValue("id"), w, func(c *onboarding.Customer) {
		hd := w.Header()
		hd.Set("Content-Type", "application/zip")
		hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": "customer-" + c.ID + ".zip"}))
		hd.Set("Cache-Control", "private, no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
	})
	if err != nil {
		h.failErr(w, r, err)
	}
}

// eraseForm erases a customer's personal data, after the operator confirmed it; the
// customer's page is gone afterwards, so it lands on the queue.
func (h *Handler) eraseForm(w http.ResponseWriter, r *http.Request, op *Operator) {
	if r.PostFormValue("confirm") != "yes" {
		h.fail(w, r, http.StatusUnprocessableEntity, "Tick the box that confirms the erasure: it cannot be undone.")
		return
	}
	if _, err := h.eraseCustomer(r, op, r.PathValue("id"), r.PostFormValue("reason"), r.PostFormValue("override") == "yes"); err != nil {
		h.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/?done=erase", http.StatusSeeOther)
}

// back returns where a form posted from wants to go next: a path of the back office.
func back(r *http.Request, def string) string {
	if v := r.PostFormValue("back"); v != "" {
		return safeNext(v)
	}
	return def
}

func (h *Handler) operationsPage(w http.ResponseWriter, r *http.Request, op *Operator) {
	o, err := h.operations(r.Context())
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	notice := ""
	switch r.URL.Query().Get("done") {
	case "job":
		notice = "Job scheduled again."
	case "delivery":
		notice = "Delivery scheduled again."
	case "recover":
		notice = "Endpoint enabled; " + r.URL.Query().Get("n") + " deliveries scheduled."
	case "unlock":
		notice = "Account unlocked."
	}
	h.render(w, r, http.StatusOK, "operations", &view{Title: "Operations", Notice: notice, Data: o})
}

func (h *Handler) replayJobForm(w http.ResponseWriter, r *http.Request, op *Operator) {
	if _, err := h.replayJob(r, op, r.PathValue("id")); err != nil {
		h.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, back(r, Prefix+"/operations?done=job"), http.StatusSeeOther)
}

func (h *Handler) replayDeliveryForm(w http.ResponseWriter, r *http.Request, op *Operator) {
	if _, err := h.replayDelivery(r, op, r.PostFormValue("partner"), r.PathValue("id")); err != nil {
		h.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, back(r, Prefix+"/operations?done=delivery"), http.StatusSeeOther)
}

func (h *Handler) recoverForm(w http.ResponseWriter, r *http.Request, op *Operator) {
	hours, err := strconv.Atoi(r.PostFormValue("since_hours"))
	if err != nil || hours < 1 || hours > 720 {
		h.fail(w, r, http.StatusUnprocessableEntity, "since_hours must be a whole number of hours from 1 to 720.")
		return
	}
	n, err := h.recoverEndpoint(r, op, r.PostFormValue("partner"), r.PathValue("id"), h.now().Add(-time.Duration(hours)*time.Hour))
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/operations?done=recover&n="+strconv.Itoa(n), http.StatusSeeOther)
}

func (h *Handler) unlockForm(w http.ResponseWriter, r *http.Request, op *Operator) {
	if err := h.unlock(r, op, r.PathValue("name")); err != nil {
		h.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/operations?done=unlock", http.StatusSeeOther)
}

func (h *Handler) auditPage(w http.ResponseWriter, r *http.Request, op *Operator) {
	q := r.URL.Query()
	p := onboarding.ListAuditParams{Actor: q.Get("actor"), Action: q.Get("action"), CustomerID: q.Get("customer"),
		Before: q.Get("before"), Limit: onboarding.MaxPageLimit}
	page, err := h.svc.ListAudit(r.Context(), p)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	older := ""
	if page.HasMore {
		v := url.Values{"before": {page.Data[len(page.Data)-1].ID}}
		for k, val := range map[string]string{"actor": p.Actor, "action": p.Action, "customer": p.CustomerID} {
			if val != "" {
				v.Set(k, val)
			}
		}
		older = Prefix + "/audit?" + v.Encode()
	}
	h.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Data: map[string]any{
		"Entries": page.Data, "Filter": p, "Older": older}})
}
