package bunstore

import (
	"context"

	"github.com/onboardkit/onboarding"
)

var (
	_ onboarding.BackofficeQueries = (*queries)(nil)
	_ onboarding.BackofficeQueries = (*Store)(nil)
)

// queueOrder is the back office's queue order (customers_queue_idx serves each status).
const queueOrder = `CASE status WHEN 'under_review' THEN 0 WHEN 'pending_kyc' THEN 1 WHEN 'active' THEN 2 ELSE 3 END, updated_at, id`

// SearchCustomers implements onboarding.BackofficeQueries: across partners unless
// f.PartnerID, in queue order, paged by offset.
func (q *queries) SearchCustomers(ctx context.Context, f onboarding.SearchCustomersParams) ([]*onboarding.Customer, error) {
	s := selectFrom(customerCols, `customers`).
		where(f.PartnerID != "", `partner_id = ?`, f.PartnerID).
		where(!f.UpdatedBefore.IsZero(), `updated_at < ?`, q.ts(f.UpdatedBefore))
	if len(f.Statuses) > 0 {
		args := make([]any, len(f.Statuses))
		for i, st := range f.Statuses {
			args[i] = string(st)
		}
		s.where(true, `status IN (`+placeholders(len(args))+`)`, args...)
	}
	if m := f.Match; !m.IsZero() {
		// Each key is compared only when given: an empty CNPJ must not match every
		// customer without a company.
		var conds []string
		var args []any
		add := func(on bool, cond string, v string) {
			if on {
				conds = append(conds, cond)
				args = append(args, v)
			}
		}
		add(m.ID != "", `id = ?`, m.ID)
		add(m.ExternalID != "", `external_id = ?`, m.ExternalID)
		add(m.CPF != "", `cpf = ?`, string(m.CPF))
		add(m.CNPJ != "", `cnpj = ?`, string(m.CNPJ))
		cond := "("
		for i, c := range conds {
			if i > 0 {
				cond += " OR "
			}
			cond += c
		}
		s.where(true, cond+")", args...)
	}
	order := queueOrder
	switch {
	case f.Limit > 0:
		order += ` LIMIT ?`
		s.args = append(s.args, f.Limit)
	case f.Offset > 0 && !q.pg:
		order += ` LIMIT -1` // SQLite wants a LIMIT before an OFFSET
	}
	if f.Offset > 0 {
		order += ` OFFSET ?`
		s.args = append(s.args, f.Offset)
	}
	return all(ctx, q, s, order, 0, scanCustomer)
}

// CountCustomers implements onboarding.BackofficeQueries.
func (q *queries) CountCustomers(ctx context.Context, partnerID string) (map[onboarding.Status]int, error) {
	query, args := `SELECT status, COUNT(*) FROM customers GROUP BY status`, []any(nil)
	if partnerID != "" {
		query, args = `SELECT status, COUNT(*) FROM customers WHERE partner_id = ? GROUP BY status`, []any{partnerID}
	}
	rows, err := q.db.QueryContext(ctx, query, args...)
	type row struct {
		status string
		n      int
	}
	list, err := collect(rows, err, func(r rowScanner) (*row, error) {
		v := &row{}
		return v, r.Scan(&v.status, &v.n)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[onboarding.Status]int, len(list))
	for _, v := range list {
		out[onboarding.Status(v.status)] = v.n
	}
	return out, nil
}

// ListAllDeliveries implements onboarding.BackofficeQueries: newest (highest ID) first.
func (q *queries) ListAllDeliveries(ctx context.Context, f onboarding.ListAllDeliveriesParams) ([]*onboarding.Delivery, error) {
	s := selectFrom(deliveryCols, `webhook_deliveries`).
		where(f.PartnerID != "", `partner_id = ?`, f.PartnerID).
		where(f.Status != "", `status = ?`, string(f.Status)).
		where(f.StartingAfter != "", `id < ?`, f.StartingAfter)
	return all(ctx, q, s, `id DESC`, f.Limit, scanDelivery)
}

// ListAllEndpoints implements onboarding.BackofficeQueries: oldest (lowest ID) first.
func (q *queries) ListAllEndpoints(ctx context.Context, f onboarding.ListAllEndpointsParams) ([]*onboarding.WebhookEndpoint, error) {
	s := selectFrom(endpointCols, `webhook_endpoints`).
		where(f.PartnerID != "", `partner_id = ?`, f.PartnerID).
		where(f.Status != "", `status = ?`, string(f.Status)).
		where(f.StartingAfter != "", `id > ?`, f.StartingAfter)
	return all(ctx, q, s, `id`, f.Limit, scanEndpoint)
}

const auditCols = `id, actor, action, partner_id, customer_id, target, detail, created_at`

// InsertAuditEntry implements onboarding.BackofficeQueries.
func (q *queries) InsertAuditEntry(ctx context.Context, e *onboarding.AuditEntry) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, freeText(e.Actor), freeText(e.Action), e.PartnerID, e.CustomerID, freeText(e.Target), freeText(e.Detail),
		q.ts(e.CreatedAt))
	return translate(err)
}

// ListAuditEntries implements onboarding.BackofficeQueries: newest (highest ID) first.
func (q *queries) ListAuditEntries(ctx context.Context, f onboarding.ListAuditParams) ([]*onboarding.AuditEntry, error) {
	s := selectFrom(auditCols, `audit_log`).
		where(f.Actor != "", `actor = ?`, f.Actor).
		where(f.Action != "", `action = ?`, f.Action).
		where(f.CustomerID != "", `customer_id = ?`, f.CustomerID).
		where(f.Before != "", `id < ?`, f.Before)
	return all(ctx, q, s, `id DESC`, f.Limit, func(r rowScanner) (*onboarding.AuditEntry, error) {
		e := &onboarding.AuditEntry{}
		return e, r.Scan(&e.ID, &e.Actor, &e.Action, &e.PartnerID, &e.CustomerID, &e.Target, &e.Detail, timeCol{&e.CreatedAt})
	})
}
