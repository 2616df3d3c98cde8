package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/onboardkit/onboarding"
)

var _ onboarding.BackofficeQueries = (*txn)(nil)

// queueRank orders statuses as the back office's queue does.
func queueRank(s onboarding.Status) int {
	switch s {
	case onboarding.StatusUnderReview:
		return 0
	case onboarding.StatusPendingKYC:
		return 1
	case onboarding.StatusActive:
		return 2
	}
	return 3
}

func matches(c *onboarding.Customer, m onboarding.CustomerMatch) bool {
	if m.IsZero() {
		return true
	}
	return (m.ID != "" && c.ID == m.ID) || (m.ExternalID != "" && c.ExternalID == m.ExternalID) ||
		(m.CPF != "" && c.CPF == m.CPF) || (m.CNPJ != "" && c.CNPJ == m.CNPJ)
}

func (t *txn) SearchCustomers(_ context.Context, f onboarding.SearchCustomersParams) ([]*onboarding.Customer, error) {
	var list []*onboarding.Customer
	for _, c := range t.st.customers {
		if (f.PartnerID == "" || c.PartnerID == f.PartnerID) &&
			(len(f.Statuses) == 0 || slices.Contains(f.Statuses, c.Status)) &&
			(f.UpdatedBefore.IsZero() || c.UpdatedAt.Before(f.UpdatedBefore)) && matches(c, f.Match) {
			list = append(list, c)
		}
	}
	slices.SortFunc(list, func(a, b *onboarding.Customer) int {
		return cmp.Or(cmp.Compare(queueRank(a.Status), queueRank(b.Status)), a.UpdatedAt.Compare(b.UpdatedAt),
			cmp.Compare(a.ID, b.ID))
	})
	if f.Offset >= len(list) {
		return nil, nil
	}
	list = limit(list[f.Offset:], f.Limit)
	out := make([]*onboarding.Customer, len(list))
	for i, c := range list {
		out[i] = c.Clone()
	}
	return out, nil
}

func (t *txn) CountCustomers(_ context.Context, partnerID string) (map[onboarding.Status]int, error) {
	out := map[onboarding.Status]int{}
	for _, c := range t.st.customers {
		if partnerID == "" || c.PartnerID == partnerID {
			out[c.Status]++
		}
	}
	return out, nil
}

func (t *txn) ListAllDeliveries(_ context.Context, f onboarding.ListAllDeliveriesParams) ([]*onboarding.Delivery, error) {
	var list []*onboarding.Delivery
	for _, d := range t.st.deliveries {
		if (f.PartnerID == "" || d.PartnerID == f.PartnerID) && (f.Status == "" || d.Status == f.Status) &&
			(f.StartingAfter == "" || d.ID < f.StartingAfter) {
			c := *d
			list = append(list, &c)
		}
	}
	slices.SortFunc(list, func(a, b *onboarding.Delivery) int { return cmp.Compare(b.ID, a.ID) })
	return limit(list, f.Limit), nil
}

func (t *txn) ListAllEndpoints(_ context.Context, f onboarding.ListAllEndpointsParams) ([]*onboarding.WebhookEndpoint, error) {
	var list []*onboarding.WebhookEndpoint
	for _, e := range t.st.endpoints {
		if (f.PartnerID == "" || e.PartnerID == f.PartnerID) && (f.Status == "" || e.Status == f.Status) && e.ID > f.StartingAfter {
			list = append(list, e.Clone())
		}
	}
	slices.SortFunc(list, byID(func(e *onboarding.WebhookEndpoint) string { return e.ID }))
	return limit(list, f.Limit), nil
}

func (t *txn) InsertAuditEntry(_ context.Context, e *onboarding.AuditEntry) error {
	st := t.st
	for _, a := range st.audit {
		if a.ID == e.ID {
			return &onboarding.ConflictError{Field: "id"}
		}
	}
	c := *e
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	st.audit = append(st.audit, &c)
	n := len(st.audit) - 1
	t.onUndo(func() { st.audit = st.audit[:n] })
	return nil
}

func (t *txn) ListAuditEntries(_ context.Context, f onboarding.ListAuditParams) ([]*onboarding.AuditEntry, error) {
	var out []*onboarding.AuditEntry
	for i := len(t.st.audit) - 1; i >= 0; i-- {
		a := t.st.audit[i]
		if (f.Actor == "" || a.Actor == f.Actor) && (f.Action == "" || a.Action == f.Action) &&
			(f.CustomerID == "" || a.CustomerID == f.CustomerID) && (f.Before == "" || a.ID < f.Before) {
			c := *a
			out = append(out, &c)
		}
	}
	slices.SortStableFunc(out, func(a, b *onboarding.AuditEntry) int { return cmp.Compare(b.ID, a.ID) })
	return limit(out, f.Limit), nil
}
