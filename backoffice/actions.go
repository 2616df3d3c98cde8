package backoffice

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

// The operator actions, shared by the pages and the JSON API: each checks what it acts
// on, calls the Service with the operator as the actor, and writes the audit log whether
// it succeeded or not.

func (h *Handler) decide(r *http.Request, op *Operator, customerID, documentID string, decision onboarding.ReviewDecision, reason string) (*onboarding.Customer, error) {
	ctx := r.Context()
	c, err := h.svc.LocateCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	action := onboarding.AuditApprove
	if decision == onboarding.ReviewReject {
		action = onboarding.AuditReject
	}
	reason = strings.TrimSpace(reason)
	d, err := h.svc.GetDocument(ctx, c.PartnerID, documentID)
	if err == nil && d.CustomerID != c.ID {
		err = onboarding.ErrNotFound
	}
	if err == nil {
		_, err = h.svc.ReviewDocumentAs(ctx, c.PartnerID, documentID, onboarding.ReviewParams{Decision: decision, Reason: reason}, op.Actor())
	}
	h.auditCustomer(r, op, onboarding.AuditEntry{Action: action, PartnerID: c.PartnerID, CustomerID: c.ID, Target: documentID,
		Detail: reasonOutcome(reason, err)}, outcome("", err))
	return c, err
}

func (h *Handler) denyCustomer(r *http.Request, op *Operator, customerID, reason string) (*onboarding.Customer, error) {
	ctx := r.Context()
	c, err := h.svc.LocateCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	c2, err := h.svc.DenyCustomer(ctx, c.PartnerID, c.ID, reason, op.Actor())
	h.auditCustomer(r, op, onboarding.AuditEntry{Action: onboarding.AuditDeny, PartnerID: c.PartnerID, CustomerID: c.ID,
		Detail: reasonOutcome(strings.TrimSpace(reason), err)}, outcome("", err))
	if err != nil {
		return c, err
	}
	return c2, nil
}

// eraseCustomer erases a customer's personal data for good (onboarding.EraseCustomer), as
// op. reason must not hold personal data: it stays in the history and the audit trail.
func (h *Handler) eraseCustomer(r *http.Request, op *Operator, customerID, reason string, override bool) (*onboarding.Erasure, error) {
	ctx := r.Context()
	c, err := h.svc.LocateCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	e, err := h.svc.EraseCustomer(ctx, c.PartnerID, c.ID, onboarding.EraseParams{Actor: op.Actor(), Reason: reason,
		Override: override})
	detail := strings.TrimSpace(reason)
	if e != nil && e.Override { // a hold there was, and it was set aside
		detail = withNote(detail, "retention hold until "+e.HeldUntil.UTC().Format(time.DateOnly)+" set aside")
	}
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditErase, PartnerID: c.PartnerID, CustomerID: c.ID,
		Detail: outcome(detail, err)})
	return e, err
}

// exportCustomer writes the archive of everything held about a customer
// (onboarding.WriteCustomerArchive) to w once it is known to exist, as op; start is
// called right before the first byte.
func (h *Handler) exportCustomer(r *http.Request, op *Operator, customerID string, w io.Writer, start func(*onboarding.Customer)) error {
	ctx := r.Context()
	c, err := h.svc.LocateCustomer(ctx, customerID)
	if err != nil {
		return err
	}
	lw := &lazyWriter{w: w, start: func() { start(c) }}
	_, err = h.svc.WriteCustomerArchive(ctx, c.PartnerID, c.ID, lw)
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditExport, PartnerID: c.PartnerID, CustomerID: c.ID,
		Detail: outcome("", err)})
	if err != nil && lw.started {
		// Too late for an error page: the connection is cut (the browser marks the
		// download failed rather than keep a truncated zip), and the log says why.
		h.log.ErrorContext(ctx, "backoffice: export", "customer_id", c.ID, "error", err)
		panic(http.ErrAbortHandler)
	}
	return err
}

// lazyWriter calls start before its first write.
type lazyWriter struct {
	w       io.Writer
	start   func()
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.start()
	}
	return l.w.Write(p)
}

func (h *Handler) replayJob(r *http.Request, op *Operator, id string) (*onboarding.Job, error) {
	ctx := r.Context()
	j, err := h.svc.Store().GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	err = h.svc.ReplayJob(ctx, id)
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditReplayJob, PartnerID: j.PartnerID, CustomerID: j.CustomerID,
		Target: id, Detail: outcome(string(j.Kind), err)})
	return j, err
}

func (h *Handler) replayDelivery(r *http.Request, op *Operator, partnerID, id string) (*onboarding.Delivery, error) {
	ctx := r.Context()
	d, err := h.svc.Store().GetDelivery(ctx, partnerID, id)
	if err != nil {
		return nil, err
	}
	customerID := ""
	if e, err := h.svc.Store().GetEvent(ctx, d.EventID); err == nil {
		customerID = e.CustomerID
	}
	err = h.svc.ReplayDelivery(ctx, partnerID, id)
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditReplayDelivery, PartnerID: partnerID, CustomerID: customerID,
		Target: id, Detail: outcome(string(d.EventType), err)})
	return d, err
}

func (h *Handler) recoverEndpoint(r *http.Request, op *Operator, partnerID, id string, since time.Time) (int, error) {
	n, err := h.svc.RecoverWebhookEndpoint(r.Context(), partnerID, id, since)
	detail := "since " + since.UTC().Format(time.RFC3339)
	if err == nil {
		detail += ", " + itoa(n) + " scheduled"
	}
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditRecoverEndpoint, PartnerID: partnerID, Target: id,
		Detail: outcome(detail, err)})
	return n, err
}

// Unlocker is an Authenticator whose accounts an admin may unlock (LocalAccounts).
type Unlocker interface {
	Locked() []string
	Unlock(name string) error
}

func (h *Handler) unlock(r *http.Request, op *Operator, name string) error {
	u, ok := h.auth.(Unlocker)
	if !ok {
		return errUnsupported
	}
	err := u.Unlock(name)
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditUnlockOperator, Target: name, Detail: outcome("", err)})
	if err != nil {
		return onboarding.ErrNotFound
	}
	return nil
}

// outcome is an audit entry's detail: what was given and, when refused, why.
func outcome(detail string, err error) string {
	if err == nil {
		return detail
	}
	return withNote(detail, "refused: "+strings.TrimPrefix(err.Error(), "onboarding: "))
}

// reasonOutcome is outcome for a decision with the operator's reason, which may quote
// the customer's personal data. A decision refused because the customer or the document
// is gone, as when an erasure won the race and has already emptied the customer's audit
// details, keeps no reason: the entry would otherwise bring it back after the erasure.
// The entry is written with outcome without the reason as its redacted detail
// (auditCustomer), for an erasure that comes between the decision and its entry.
func reasonOutcome(reason string, err error) string {
	if errors.Is(err, onboarding.ErrNotFound) {
		return outcome("", err)
	}
	return outcome(reason, err)
}

// withNote appends " (note)" to detail, or is note alone when detail is empty. A long
// detail (an operator's reason) is cut so that the note, which says how the action ended,
// survives the audit text's bound.
func withNote(detail, note string) string {
	if detail == "" {
		return note
	}
	const ellipsis = "…"
	if room := onboarding.MaxAuditText - len(note) - len(" ()"); len(detail) > room {
		detail = strings.ToValidUTF8(detail[:max(room-len(ellipsis), 0)], "") + ellipsis
	}
	return detail + " (" + note + ")"
}

func itoa(n int) string { return strconv.Itoa(n) }

// ---- what the pages and the API show ----

// customerFile is everything the customer page shows.
type customerFile struct {
	Customer   *onboarding.Customer
	Groups     []itemGroup
	Documents  []*onboarding.Document
	History    []*onboarding.Transition
	Offers     []*onboarding.CreditOffer
	Deliveries []*onboarding.Delivery
	// Open says whether items may still be decided and the customer denied.
	Open bool
}

// itemGroup is the KYC items of one subject (the company's have none).
type itemGroup struct {
	Title string
	Items []item
}

type item struct {
	Req  onboarding.Requirement
	Docs []*onboarding.Document
	// DocumentID is the document awaiting a decision, if any.
	DocumentID string
}

func (h *Handler) customerFile(ctx context.Context, id string) (*customerFile, error) {
	c, err := h.svc.LocateCustomer(ctx, id)
	if err != nil {
		return nil, err
	}
	p := c.PartnerID
	f := &customerFile{Customer: c, Open: c.Status == onboarding.StatusPendingKYC || c.Status == onboarding.StatusUnderReview}
	if f.Documents, err = h.svc.ListDocuments(ctx, p, c.ID); err != nil {
		return nil, err
	}
	if f.History, err = h.svc.History(ctx, p, c.ID); err != nil {
		return nil, err
	}
	// Held offers too: the lender sees what the partner does not yet.
	if f.Offers, err = h.svc.Store().ListOffers(ctx, p, onboarding.ListOffersParams{CustomerID: c.ID, IncludeHeld: true,
		Limit: onboarding.MaxPageLimit}); err != nil {
		return nil, err
	}
	events, err := h.svc.ListEvents(ctx, p, onboarding.ListEventsParams{CustomerID: c.ID, Limit: onboarding.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		ds, err := h.svc.ListDeliveries(ctx, p, onboarding.ListDeliveriesParams{EventID: e.ID, Limit: onboarding.MaxPageLimit})
		if err != nil {
			return nil, err
		}
		f.Deliveries = append(f.Deliveries, ds...)
	}
	slices.SortFunc(f.Deliveries, func(a, b *onboarding.Delivery) int { return cmp.Compare(b.ID, a.ID) })

	byKey := map[string]int{}
	for _, r := range c.KYC {
		key, title := "", "Company and account"
		if r.Subject != nil {
			key, title = r.Subject.ID, r.Subject.Name+" ("+strings.ReplaceAll(string(r.Subject.SubjectType), "_", "-")+")"
		}
		i, ok := byKey[key]
		if !ok {
			i = len(f.Groups)
			byKey[key] = i
			f.Groups = append(f.Groups, itemGroup{Title: title})
		}
		it := item{Req: r}
		for j := len(f.Documents) - 1; j >= 0; j-- { // newest first
			if d := f.Documents[j]; d.RequirementID == r.ID {
				it.Docs = append(it.Docs, d)
			}
		}
		if f.Open && r.Status == onboarding.RequirementSubmitted && r.Submitted != nil {
			it.DocumentID = r.Submitted.DocumentID
		}
		f.Groups[i].Items = append(f.Groups[i].Items, it)
	}
	return f, nil
}

// operations is what the operations page shows.
type operations struct {
	Kinds      []kindDepth
	DeadJobs   []*onboarding.Job
	Deliveries []*onboarding.Delivery
	Endpoints  []*onboarding.WebhookEndpoint
	Locked     []string
	CanUnlock  bool
}

// kindDepth is the queue depth of one job kind.
type kindDepth struct {
	Kind                     onboarding.JobKind
	Available, Running, Dead int
}

func (h *Handler) operations(ctx context.Context) (*operations, error) {
	o := &operations{}
	counts, err := h.svc.CountJobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		if len(o.Kinds) == 0 || o.Kinds[len(o.Kinds)-1].Kind != c.Kind {
			o.Kinds = append(o.Kinds, kindDepth{Kind: c.Kind})
		}
		k := &o.Kinds[len(o.Kinds)-1]
		switch c.State {
		case onboarding.JobAvailable:
			k.Available = c.Count
		case onboarding.JobRunning:
			k.Running = c.Count
		case onboarding.JobDead:
			k.Dead = c.Count
		}
	}
	if o.DeadJobs, err = h.svc.Store().ListJobs(ctx, onboarding.ListJobsParams{State: onboarding.JobDead, Limit: onboarding.MaxPageLimit}); err != nil {
		return nil, err
	}
	ds, err := h.svc.ListAllDeliveries(ctx, onboarding.ListAllDeliveriesParams{Status: onboarding.DeliveryDead})
	if err != nil {
		return nil, err
	}
	o.Deliveries = ds.Data
	eps, err := h.svc.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{Status: webhook.EndpointDisabled, Limit: onboarding.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	o.Endpoints = eps.Data
	if u, ok := h.auth.(Unlocker); ok {
		o.CanUnlock, o.Locked = true, u.Locked()
	}
	return o, nil
}

// glance is the counts at the top of the queue.
type glance struct {
	UnderReview, PendingKYC int
	DeadJobs                int
	DeadDeliveries          string
	FailingEndpoints        string
}

func (h *Handler) glance(ctx context.Context) (*glance, error) {
	counts, err := h.svc.CountCustomers(ctx, "")
	if err != nil {
		return nil, err
	}
	g := &glance{UnderReview: counts[onboarding.StatusUnderReview], PendingKYC: counts[onboarding.StatusPendingKYC]}
	jobs, err := h.svc.CountJobs(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range jobs {
		if c.State == onboarding.JobDead {
			g.DeadJobs += c.Count
		}
	}
	ds, err := h.svc.ListAllDeliveries(ctx, onboarding.ListAllDeliveriesParams{Status: onboarding.DeliveryDead, Limit: onboarding.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	g.DeadDeliveries = countText(len(ds.Data), ds.HasMore)
	eps, err := h.svc.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{Status: webhook.EndpointDisabled, Limit: onboarding.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	g.FailingEndpoints = countText(len(eps.Data), eps.HasMore)
	return g, nil
}

func countText(n int, more bool) string {
	if more {
		return itoa(n) + "+"
	}
	return itoa(n)
}
