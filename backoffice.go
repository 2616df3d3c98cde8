package onboarding

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/taxid"
	"github.com/onboardkit/onboarding/webhook"
)

// The back office (package backoffice) works for the lender, not for one partner: its
// queue, counts and operations pages read across partners, and every operator action is
// written to an audit log. These are the Store queries and Service calls it needs; every
// other call it makes is the partner-scoped one the partner API uses.

// BackofficeQueries are the cross-partner reads of an operator console and its audit log.
// Every Store implements them (storetest checks them).
type BackofficeQueries interface {
	// SearchCustomers returns customers of every partner (or only f.PartnerID) matching f,
	// in queue order: under_review, pending_kyc, active, denied; within a status the
	// least recently changed (UpdatedAt) first, then by ID.
	SearchCustomers(ctx context.Context, f SearchCustomersParams) ([]*Customer, error)
	// CountCustomers returns how many customers each status has, for one partner or, with
	// an empty partnerID, all of them. Statuses without customers are absent.
	CountCustomers(ctx context.Context, partnerID string) (map[Status]int, error)
	// ListAllDeliveries returns up to f.Limit deliveries of every partner (or only
	// f.PartnerID) after f.StartingAfter, newest first, with f.Status if set.
	ListAllDeliveries(ctx context.Context, f ListAllDeliveriesParams) ([]*Delivery, error)
	// ListAllEndpoints returns up to f.Limit webhook endpoints of every partner (or only
	// f.PartnerID) after f.StartingAfter, oldest first, with f.Status if set.
	ListAllEndpoints(ctx context.Context, f ListAllEndpointsParams) ([]*WebhookEndpoint, error)
	// InsertAuditEntry appends to the audit log.
	InsertAuditEntry(ctx context.Context, e *AuditEntry) error
	// ListAuditEntries returns up to f.Limit audit entries before f.Before (an ID),
	// newest first, filtered by f's non-empty fields.
	ListAuditEntries(ctx context.Context, f ListAuditParams) ([]*AuditEntry, error)
}

// SearchCustomersParams filters SearchCustomers. Every set field must match.
type SearchCustomersParams struct {
	// PartnerID keeps one partner's customers; empty: every partner's.
	PartnerID string
	// Statuses keeps customers in any of them; empty: any status.
	Statuses []Status
	// UpdatedBefore keeps customers unchanged since before it (waiting at least that
	// long); zero: any.
	UpdatedBefore time.Time
	// Match keeps customers matching any of its non-empty keys (exactly); zero: all.
	Match CustomerMatch
	// Limit is 1..101 (the Service asks one more than a page); Offset skips that many.
	Limit  int
	Offset int
}

// CustomerMatch holds the keys a search looks for, exactly and normalized: a customer
// matches when any non-empty key equals its own.
type CustomerMatch struct {
	ID         string
	ExternalID string
	CPF        taxid.CPF
	CNPJ       taxid.CNPJ
}

// IsZero reports whether m holds no key.
func (m CustomerMatch) IsZero() bool { return m == CustomerMatch{} }

// ParseCustomerQuery turns what an operator typed in a search box into the keys to look
// for: the text itself as a customer ID and as an external ID, and, when it is a valid CPF
// or CNPJ in any common formatting, that number normalized. The text is never logged.
func ParseCustomerQuery(q string) CustomerMatch {
	q = strings.TrimSpace(q)
	if q == "" {
		return CustomerMatch{}
	}
	m := CustomerMatch{ID: truncate(q, maxExternalIDLen), ExternalID: truncate(q, maxExternalIDLen)}
	if cpf, err := taxid.ParseCPF(q); err == nil {
		m.CPF = cpf
	}
	if cnpj, err := taxid.ParseCNPJ(q); err == nil {
		m.CNPJ = cnpj
	}
	return m
}

// QueueParams filters and pages Service.SearchCustomers.
type QueueParams struct {
	// PartnerID keeps one partner's customers; empty: every partner's.
	PartnerID string
	// Statuses keeps customers in any of them; empty: under_review and pending_kyc (the
	// customers a human may have to look at).
	Statuses []Status
	// WaitingAtLeast keeps customers unchanged for at least this long; zero: any.
	WaitingAtLeast time.Duration
	// Query is a search box's text (see ParseCustomerQuery).
	Query string
	// Limit is 1..100; 0 means 25. Offset skips that many customers.
	Limit  int
	Offset int
}

// SearchCustomers returns one page of customers across partners in queue order (see
// BackofficeQueries.SearchCustomers): the back office's queue and search.
func (s *Service) SearchCustomers(ctx context.Context, p QueueParams) (*CustomerPage, error) {
	ve := &ValidationError{}
	limit := checkLimit(ve, p.Limit)
	if p.PartnerID != "" {
		if err := checkPartner(p.PartnerID); err != nil {
			return nil, err
		}
	}
	statuses := p.Statuses
	if len(statuses) == 0 {
		statuses = []Status{StatusUnderReview, StatusPendingKYC}
	}
	for _, st := range statuses {
		if !st.Valid() {
			ve.add("status", CodeInvalidValue, "must be pending_kyc, under_review, active or denied")
			break
		}
	}
	if p.Offset < 0 {
		ve.add("offset", CodeInvalidValue, "must not be negative")
	}
	if p.WaitingAtLeast < 0 {
		ve.add("waiting_at_least", CodeInvalidValue, "must not be negative")
	}
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	f := SearchCustomersParams{PartnerID: p.PartnerID, Statuses: statuses, Match: ParseCustomerQuery(p.Query),
		Limit: limit + 1, Offset: p.Offset}
	if p.WaitingAtLeast > 0 {
		f.UpdatedBefore = s.clock().Add(-p.WaitingAtLeast)
	}
	list, err := s.store.SearchCustomers(ctx, f)
	if err != nil {
		return nil, err
	}
	page := &CustomerPage{Data: list, HasMore: len(list) > limit}
	if page.HasMore {
		page.Data = list[:limit]
	}
	if page.Data == nil {
		page.Data = []*Customer{}
	}
	return page, nil
}

// LocateCustomer returns the customer with the ID, whatever its partner: the back office
// links to a customer by ID alone.
func (s *Service) LocateCustomer(ctx context.Context, id string) (*Customer, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	list, err := s.store.SearchCustomers(ctx, SearchCustomersParams{Match: CustomerMatch{ID: id}, Limit: 2})
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if c.ID == id {
			return c, nil
		}
	}
	return nil, ErrNotFound
}

// CountCustomers returns how many customers each status has, for one partner or all ("").
func (s *Service) CountCustomers(ctx context.Context, partnerID string) (map[Status]int, error) {
	if partnerID != "" {
		if err := checkPartner(partnerID); err != nil {
			return nil, err
		}
	}
	return s.store.CountCustomers(ctx, partnerID)
}

// CountJobs returns the depth of the job queue per kind and state (available, running,
// dead), ordered by kind then state.
func (s *Service) CountJobs(ctx context.Context) ([]JobCount, error) {
	counts, err := s.store.CountJobs(ctx, s.clock())
	slices.SortFunc(counts, func(a, b JobCount) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.State, b.State))
	})
	return counts, err
}

// ListAllDeliveriesParams filters ListAllDeliveries.
type ListAllDeliveriesParams struct {
	// PartnerID keeps one partner's deliveries; empty: every partner's.
	PartnerID     string
	Status        DeliveryStatus
	Limit         int
	StartingAfter string
}

// ListAllDeliveries returns deliveries across partners, newest first: the back office
// lists the dead ones.
func (s *Service) ListAllDeliveries(ctx context.Context, p ListAllDeliveriesParams) (*Page[*Delivery], error) {
	return crossPartnerPage(p.PartnerID, p.Limit, func(limit int) ([]*Delivery, error) {
		p.Limit = limit
		return s.store.ListAllDeliveries(ctx, p)
	})
}

// ListAllEndpointsParams filters ListAllEndpoints.
type ListAllEndpointsParams struct {
	// PartnerID keeps one partner's endpoints; empty: every partner's.
	PartnerID     string
	Status        webhook.EndpointStatus
	Limit         int
	StartingAfter string
}

// ListAllEndpoints returns webhook endpoints across partners, oldest first: the back
// office lists the disabled ones.
func (s *Service) ListAllEndpoints(ctx context.Context, p ListAllEndpointsParams) (*EndpointPage, error) {
	return crossPartnerPage(p.PartnerID, p.Limit, func(limit int) ([]*WebhookEndpoint, error) {
		p.Limit = limit
		return s.store.ListAllEndpoints(ctx, p)
	})
}

// crossPartnerPage is listPage for the lists whose partner is optional.
func crossPartnerPage[T any](partnerID string, limit int, fetch func(limit int) ([]T, error)) (*Page[T], error) {
	if partnerID == "" {
		partnerID = DefaultPartnerID // any valid ID: listPage checks only its form
	}
	return listPage(partnerID, limit, nil, fetch)
}

// ReviewDocumentAs is ReviewDocument with the history's actor given whole ("operator:ana"
// for a back-office operator) instead of "reviewer:" + p.Reviewer.
func (s *Service) ReviewDocumentAs(ctx context.Context, partnerID, documentID string, p ReviewParams, actor string) (*Document, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	return s.reviewAs(ctx, partnerID, documentID, p, actor)
}

func checkActor(actor string) error {
	ve := &ValidationError{}
	checkText(ve, "actor", actor, true, maxNameLen)
	return ve.orNil()
}

// AuditEntry is one operator action in the audit log: a login, a failed login, an item
// decision, a denial, a replay, a recovery. Decisions and denials are in the customer's
// history too; the log also holds what concerns no customer.
type AuditEntry struct {
	ID string `json:"id"`
	// Actor is who acted: "operator:<name>" (for a failed login, the name tried).
	Actor string `json:"actor"`
	// Action names what was done: see the Audit* constants.
	Action string `json:"action"`
	// PartnerID and CustomerID are the partner and customer concerned, if any.
	PartnerID  string `json:"partner_id,omitempty"`
	CustomerID string `json:"customer_id,omitempty"`
	// Target is the ID of the object acted on (a document, job, delivery, endpoint).
	Target string `json:"target,omitempty"`
	// Detail is the reason given, or what went wrong.
	Detail    string    `json:"detail,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// The audit actions the back office records.
const (
	AuditLogin           = "login"
	AuditLoginFailed     = "login_failed"
	AuditLogout          = "logout"
	AuditApprove         = "approve"
	AuditReject          = "reject"
	AuditDeny            = "deny"
	AuditReplayJob       = "replay_job"
	AuditReplayDelivery  = "replay_delivery"
	AuditRecoverEndpoint = "recover_endpoint"
	AuditUnlockOperator  = "unlock_operator"
	AuditExport          = "export"
	AuditErase           = "erase"
	AuditRefused         = "refused"
)

// ListAuditParams filters ListAuditEntries. Every set field must match.
type ListAuditParams struct {
	Actor      string
	Action     string
	CustomerID string
	Limit      int
	// Before is the ID of the last entry of the previous page.
	Before string
}

// MaxAuditText bounds, in bytes, the free text of an audit entry (Target, Detail):
// RecordAudit cuts longer text.
const MaxAuditText = 1000

// RecordAudit appends e to the audit log, with a new ID and the current time, and returns
// the entry written. Free text is kept printable and bounded.
func (s *Service) RecordAudit(ctx context.Context, e AuditEntry) (*AuditEntry, error) {
	if err := s.prepareAudit(&e); err != nil {
		return nil, err
	}
	if err := s.store.InsertAuditEntry(ctx, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// RecordCustomerAudit is RecordAudit for an entry whose Detail may quote the personal data
// of its customer (e.CustomerID, of e.PartnerID), such as an operator's reason for a
// decision. redacted is the Detail to write instead once that customer is gone: it must
// hold no personal data. The entry is written in a unit of work that first takes the
// customer's row, as an erasure does: an erasure under way ends first, and if it erased
// the customer the entry gets redacted; an erasure that comes later empties the entry's
// Detail with the customer's other entries. Either way the erasure leaves no reason of
// the entry behind.
//
// So the call waits for any unit of work that holds the customer's row (on PostgreSQL a
// row lock, bounded only by ctx: give ctx a deadline, and do not call it while a
// transaction of your own holds that row). A customer that does not exist for
// e.PartnerID, erased or never there, gets redacted. Without a CustomerID, or when Detail
// is redacted already, it is RecordAudit.
func (s *Service) RecordCustomerAudit(ctx context.Context, e AuditEntry, redacted string) (*AuditEntry, error) {
	if err := s.prepareAudit(&e); err != nil {
		return nil, err
	}
	redacted = cleanText(redacted, MaxAuditText)
	if e.CustomerID == "" || e.Detail == redacted {
		if err := s.store.InsertAuditEntry(ctx, &e); err != nil { // nothing to take back
			return nil, err
		}
		return &e, nil
	}
	var written AuditEntry
	err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		written = e
		switch err := q.LockCustomer(ctx, e.PartnerID, e.CustomerID); {
		case errors.Is(err, ErrNotFound):
			written.Detail = redacted // erased: its data must not come back
		case err != nil:
			return err
		}
		return q.InsertAuditEntry(ctx, &written)
	})
	if err != nil {
		return nil, err
	}
	return &written, nil
}

// prepareAudit checks e and gives it its ID, time and bounded text.
func (s *Service) prepareAudit(e *AuditEntry) error {
	ve := &ValidationError{}
	checkText(ve, "actor", e.Actor, true, maxNameLen)
	checkText(ve, "action", e.Action, true, 64)
	if err := ve.orNil(); err != nil {
		return err
	}
	e.ID, e.CreatedAt = NewID("aud"), s.clock()
	e.PartnerID, e.CustomerID = truncate(e.PartnerID, 64), truncate(e.CustomerID, maxExternalIDLen)
	e.Target, e.Detail = cleanText(e.Target, maxExternalIDLen), cleanText(e.Detail, MaxAuditText)
	return nil
}

// ListAudit returns the audit log, newest first.
func (s *Service) ListAudit(ctx context.Context, p ListAuditParams) (*Page[*AuditEntry], error) {
	return crossPartnerPage("", p.Limit, func(limit int) ([]*AuditEntry, error) {
		p.Limit = limit
		return s.store.ListAuditEntries(ctx, p)
	})
}
