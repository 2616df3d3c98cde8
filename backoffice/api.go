package backoffice

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

// The JSON twin of the pages under /backoffice/api/: the same roles, the same actions,
// the same audit, for lenders who build their own screens. It authenticates like the
// pages (the session cookie, or the trusted proxy's header); its POSTs take JSON bodies.

// maxBody bounds a JSON request body.
const maxBody = 64 << 10

func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true // no body: every field is optional or checked downstream
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid_json", "the body is not the JSON object expected")
		return false
	}
	return true
}

func (h *Handler) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := h.classify(r, err)
	writeError(w, status, code, msg)
}

func (h *Handler) apiMe(w http.ResponseWriter, r *http.Request, op *Operator) {
	writeJSON(w, http.StatusOK, op)
}

// queueItem is a customer in the queue.
type queueItem struct {
	ID         string            `json:"id"`
	PartnerID  string            `json:"partner_id"`
	ExternalID string            `json:"external_id"`
	Status     onboarding.Status `json:"status"`
	Name       string            `json:"name"`
	CPF        string            `json:"cpf"`
	CNPJ       string            `json:"cnpj,omitempty"`
	Submitted  int               `json:"items_submitted"`
	Items      int               `json:"items"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

func queueItems(list []*onboarding.Customer) []queueItem {
	out := make([]queueItem, 0, len(list))
	for _, c := range list {
		it := queueItem{ID: c.ID, PartnerID: c.PartnerID, ExternalID: c.ExternalID, Status: c.Status, Name: c.Name,
			CPF: c.CPF.String(), Items: len(c.KYC), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
		if c.CNPJ != "" {
			it.CNPJ = c.CNPJ.String()
		}
		for _, r := range c.KYC {
			if r.Status == onboarding.RequirementSubmitted {
				it.Submitted++
			}
		}
		out = append(out, it)
	}
	return out
}

// queueRequest is the body of POST /backoffice/api/search (and the query of GET
// /backoffice/api/queue, less the text searched).
type queueRequest struct {
	PartnerID string   `json:"partner_id"`
	Statuses  []string `json:"statuses"`
	// WaitingAtLeast is in seconds.
	WaitingAtLeast int64  `json:"waiting_at_least"`
	Query          string `json:"query"`
	Limit          int    `json:"limit"`
	Offset         int    `json:"offset"`
}

func (h *Handler) queue(w http.ResponseWriter, r *http.Request, q queueRequest) {
	p := onboarding.QueueParams{PartnerID: q.PartnerID, WaitingAtLeast: time.Duration(q.WaitingAtLeast) * time.Second,
		Query: q.Query, Limit: q.Limit, Offset: q.Offset}
	for _, s := range q.Statuses {
		if s = strings.TrimSpace(s); s != "" {
			p.Statuses = append(p.Statuses, onboarding.Status(s))
		}
	}
	page, err := h.svc.SearchCustomers(r.Context(), p)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": queueItems(page.Data), "has_more": page.HasMore})
}

// apiQueue is GET /backoffice/api/queue?partner_id=&status=a,b&waiting_at_least=&limit=&offset=.
// The text search is POST /backoffice/api/search: a CPF stays out of URLs.
func (h *Handler) apiQueue(w http.ResponseWriter, r *http.Request, op *Operator) {
	v := r.URL.Query()
	q := queueRequest{PartnerID: v.Get("partner_id")}
	if s := v.Get("status"); s != "" {
		q.Statuses = strings.Split(s, ",")
	}
	for name, dst := range map[string]*int{"limit": &q.Limit, "offset": &q.Offset} {
		if s := v.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, http.StatusUnprocessableEntity, "invalid_input", name+" must be a whole number")
				return
			}
			*dst = n
		}
	}
	if s := v.Get("waiting_at_least"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid_input", "waiting_at_least must be a whole number of seconds")
			return
		}
		q.WaitingAtLeast = n
	}
	h.queue(w, r, q)
}

func (h *Handler) apiSearch(w http.ResponseWriter, r *http.Request, op *Operator) {
	var q queueRequest
	if readBody(w, r, &q) {
		h.queue(w, r, q)
	}
}

// JSON forms of what the customer file holds.
type (
	documentJSON struct {
		ID              string                    `json:"id"`
		RequirementID   string                    `json:"requirement_id"`
		Type            onboarding.DocumentType   `json:"type"`
		Status          onboarding.DocumentStatus `json:"status"`
		ContentType     onboarding.Format         `json:"content_type"`
		Size            int64                     `json:"size"`
		RejectionReason string                    `json:"rejection_reason,omitempty"`
		URL             string                    `json:"url"`
		CreatedAt       time.Time                 `json:"created_at"`
	}
	transitionJSON struct {
		Event     onboarding.LifecycleEvent `json:"event"`
		From      onboarding.Status         `json:"from"`
		To        onboarding.Status         `json:"to"`
		Actor     string                    `json:"actor"`
		Reason    string                    `json:"reason"`
		CreatedAt time.Time                 `json:"created_at"`
	}
	deliveryJSON struct {
		ID             string                    `json:"id"`
		PartnerID      string                    `json:"partner_id"`
		EndpointID     string                    `json:"endpoint_id"`
		EventID        string                    `json:"event_id"`
		EventType      onboarding.EventType      `json:"event_type"`
		Status         onboarding.DeliveryStatus `json:"status"`
		Attempts       int                       `json:"attempts"`
		LastStatusCode int                       `json:"last_status_code"`
		LastError      string                    `json:"last_error,omitempty"`
		CreatedAt      time.Time                 `json:"created_at"`
		UpdatedAt      time.Time                 `json:"updated_at"`
	}
	jobJSON struct {
		ID          string              `json:"id"`
		Kind        onboarding.JobKind  `json:"kind"`
		PartnerID   string              `json:"partner_id"`
		CustomerID  string              `json:"customer_id"`
		State       onboarding.JobState `json:"state"`
		Attempt     int                 `json:"attempt"`
		MaxAttempts int                 `json:"max_attempts"`
		LastError   string              `json:"last_error"`
		UpdatedAt   time.Time           `json:"updated_at"`
	}
	// endpointJSON leaves the signing secrets out.
	endpointJSON struct {
		ID          string                 `json:"id"`
		PartnerID   string                 `json:"partner_id"`
		URL         string                 `json:"url"`
		Status      webhook.EndpointStatus `json:"status"`
		Description string                 `json:"description"`
		UpdatedAt   time.Time              `json:"updated_at"`
	}
)

func docsJSON(list []*onboarding.Document) []documentJSON {
	out := make([]documentJSON, 0, len(list))
	for _, d := range list {
		out = append(out, documentJSON{ID: d.ID, RequirementID: d.RequirementID, Type: d.Type, Status: d.Status,
			ContentType: d.ContentType, Size: d.Size, RejectionReason: d.RejectionReason, URL: documentURL(d), CreatedAt: d.CreatedAt})
	}
	return out
}

func deliveriesJSON(list []*onboarding.Delivery) []deliveryJSON {
	out := make([]deliveryJSON, 0, len(list))
	for _, d := range list {
		out = append(out, deliveryJSON{ID: d.ID, PartnerID: d.PartnerID, EndpointID: d.EndpointID, EventID: d.EventID,
			EventType: d.EventType, Status: d.Status, Attempts: d.Attempts, LastStatusCode: d.LastStatusCode,
			LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt})
	}
	return out
}

func (h *Handler) apiCustomer(w http.ResponseWriter, r *http.Request, op *Operator) {
	f, err := h.customerFile(r.Context(), r.PathValue("id"))
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	hist := make([]transitionJSON, 0, len(f.History))
	for _, t := range f.History {
		hist = append(hist, transitionJSON{Event: t.Event, From: t.From, To: t.To, Actor: t.Actor, Reason: t.Reason, CreatedAt: t.CreatedAt})
	}
	offers := f.Offers
	if offers == nil {
		offers = []*onboarding.CreditOffer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"partner_id": f.Customer.PartnerID, "customer": f.Customer, "documents": docsJSON(f.Documents),
		"history": hist, "offers": offers, "deliveries": deliveriesJSON(f.Deliveries),
	})
}

// reasonRequest is the body of a rejection or a denial.
type reasonRequest struct {
	Reason string `json:"reason"`
}

func (h *Handler) apiDecide(decision onboarding.ReviewDecision) func(w http.ResponseWriter, r *http.Request, op *Operator) {
	return func(w http.ResponseWriter, r *http.Request, op *Operator) {
		var body reasonRequest
		if !readBody(w, r, &body) {
			return
		}
		if _, err := h.decide(r, op, r.PathValue("id"), r.PathValue("doc"), decision, body.Reason); err != nil {
			h.apiFail(w, r, err)
			return
		}
		h.apiCustomer(w, r, op)
	}
}

func (h *Handler) apiDeny(w http.ResponseWriter, r *http.Request, op *Operator) {
	var body reasonRequest
	if !readBody(w, r, &body) {
		return
	}
	if _, err := h.denyCustomer(r, op, r.PathValue("id"), body.Reason); err != nil {
		h.apiFail(w, r, err)
		return
	}
	h.apiCustomer(w, r, op)
}

// eraseRequest is the body of an erasure: why, and whether to set a retention hold aside.
type eraseRequest struct {
	Reason   string `json:"reason"`
	Override bool   `json:"override"`
}

func (h *Handler) apiErase(w http.ResponseWriter, r *http.Request, op *Operator) {
	var body eraseRequest
	if !readBody(w, r, &body) {
		return
	}
	e, err := h.eraseCustomer(r, op, r.PathValue("id"), body.Reason, body.Override)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// apiExport returns everything held about a customer as JSON (the archive's
// customer.json; the documents' bytes are in the page's zip download). It is a POST: it
// writes the audit log, so it goes through the cross-origin check, and a refusal is
// audited like any action's.
func (h *Handler) apiExport(w http.ResponseWriter, r *http.Request, op *Operator) {
	ctx := r.Context()
	c, err := h.svc.LocateCustomer(ctx, r.PathValue("id"))
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	x, err := h.svc.ExportCustomer(ctx, c.PartnerID, c.ID)
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditExport, PartnerID: c.PartnerID, CustomerID: c.ID,
		Detail: outcome("", err)})
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, no-store")
	writeJSON(w, http.StatusOK, x)
}

func jobsJSON(list []*onboarding.Job) []jobJSON {
	out := make([]jobJSON, 0, len(list))
	for _, j := range list {
		out = append(out, jobJSON{ID: j.ID, Kind: j.Kind, PartnerID: j.PartnerID, CustomerID: j.CustomerID, State: j.State,
			Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, LastError: j.LastError, UpdatedAt: j.UpdatedAt})
	}
	return out
}

func (h *Handler) apiOperations(w http.ResponseWriter, r *http.Request, op *Operator) {
	o, err := h.operations(r.Context())
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	counts, err := h.svc.CountJobs(r.Context())
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	eps := make([]endpointJSON, 0, len(o.Endpoints))
	for _, e := range o.Endpoints {
		eps = append(eps, endpointJSON{ID: e.ID, PartnerID: e.PartnerID, URL: e.URL, Status: e.Status,
			Description: e.Description, UpdatedAt: e.UpdatedAt})
	}
	locked := o.Locked
	if locked == nil {
		locked = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"job_counts": counts, "dead_jobs": jobsJSON(o.DeadJobs),
		"dead_deliveries": deliveriesJSON(o.Deliveries), "disabled_endpoints": eps, "locked_operators": locked})
}

func (h *Handler) apiReplayJob(w http.ResponseWriter, r *http.Request, op *Operator) {
	if _, err := h.replayJob(r, op, r.PathValue("id")); err != nil {
		h.apiFail(w, r, err)
		return
	}
	j, err := h.svc.Store().GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobsJSON([]*onboarding.Job{j})[0])
}

// partnerRequest names the partner of a delivery or an endpoint.
type partnerRequest struct {
	PartnerID string `json:"partner_id"`
	// Since is the start of a recovery; default 24 hours ago.
	Since *time.Time `json:"since,omitempty"`
}

func (h *Handler) apiReplayDelivery(w http.ResponseWriter, r *http.Request, op *Operator) {
	var body partnerRequest
	if !readBody(w, r, &body) {
		return
	}
	if _, err := h.replayDelivery(r, op, body.PartnerID, r.PathValue("id")); err != nil {
		h.apiFail(w, r, err)
		return
	}
	d, err := h.svc.Store().GetDelivery(r.Context(), body.PartnerID, r.PathValue("id"))
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deliveriesJSON([]*onboarding.Delivery{d})[0])
}

func (h *Handler) apiRecover(w http.ResponseWriter, r *http.Request, op *Operator) {
	var body partnerRequest
	if !readBody(w, r, &body) {
		return
	}
	since := h.now().Add(-24 * time.Hour)
	if body.Since != nil {
		since = *body.Since
	}
	n, err := h.recoverEndpoint(r, op, body.PartnerID, r.PathValue("id"), since)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"scheduled": n})
}

func (h *Handler) apiAudit(w http.ResponseWriter, r *http.Request, op *Operator) {
	q := r.URL.Query()
	p := onboarding.ListAuditParams{Actor: q.Get("actor"), Action: q.Get("action"), CustomerID: q.Get("customer_id"),
		Before: q.Get("before")}
	if s := q.Get("limit"); s != "" {
		p.Limit, _ = strconv.Atoi(s)
		if p.Limit == 0 {
			p.Limit = -1 // not a number: let the Service refuse it
		}
	}
	page, err := h.svc.ListAudit(r.Context(), p)
	if err != nil {
		h.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}
