package bunstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/taxid"
)

const customerCols = `id, partner_id, external_id, cpf, cnpj, name, email, phone, trading_name, legal_nature, status, kyc, version, created_at, updated_at`

func scanCustomer(r rowScanner) (*onboarding.Customer, error) {
	c := &onboarding.Customer{}
	var cpf, cnpj, ln, status string
	var kyc []byte
	if err := r.Scan(&c.ID, &c.PartnerID, &c.ExternalID, &cpf, &cnpj, &c.Name, &c.Email, &c.Phone,
		&c.TradingName, &ln, &status, bytesCol{&kyc}, &c.Version, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}); err != nil {
		return nil, err
	}
	c.CPF, c.CNPJ, c.LegalNature, c.Status = taxid.CPF(cpf), taxid.CNPJ(cnpj), onboarding.LegalNature(ln), onboarding.Status(status)
	if c.ExternalID == c.ID {
		c.ExternalID = "" // see storedExternalID
	}
	if len(kyc) > 0 {
		if err := json.Unmarshal(kyc, &c.KYC); err != nil {
			return nil, fmt.Errorf("bunstore: customer %s: decode kyc: %w", c.ID, err)
		}
	}
	return c, nil
}

func encodeKYC(c *onboarding.Customer) (string, error) {
	b, err := json.Marshal(c.KYC)
	if err != nil {
		return "", fmt.Errorf("bunstore: customer %s: encode kyc: %w", c.ID, err)
	}
	return string(b), nil
}

// storedExternalID is the external_id column of c. A customer registered without an
// external_id stores its own ID there: the column stays NOT NULL and unique per partner
// (no partner can know a customer's ID before it exists), and scanCustomer reads it
// back as "".
func storedExternalID(c *onboarding.Customer) string {
	if c.ExternalID == "" {
		return c.ID
	}
	return c.ExternalID
}

const insertCustomerSQL = `INSERT INTO customers (id, partner_id, external_id, cpf, cnpj, tax_key, name, email, phone, trading_name, legal_nature, status, kyc, version, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`

// insertCustomerPGSQL does not raise a unique violation, which on PostgreSQL would abort
// the whole transaction: a conflicting row is simply not inserted.
const insertCustomerPGSQL = insertCustomerSQL + ` ON CONFLICT DO NOTHING`

// InsertCustomer implements onboarding.Queries. On a uniqueness conflict the holder of the
// identifier is looked up to name the field and the existing ID. On PostgreSQL the insert
// is ON CONFLICT DO NOTHING, so the conflict does not abort the caller's transaction; on
// SQLite a failed statement never does.
func (q *queries) InsertCustomer(ctx context.Context, c *onboarding.Customer) error {
	kyc, err := encodeKYC(c)
	if err != nil {
		return err
	}
	taxKey := c.TaxKey()
	query := insertCustomerSQL
	if q.pg {
		query = insertCustomerPGSQL
	}
	res, err := q.db.ExecContext(ctx, query, c.ID, c.PartnerID, storedExternalID(c), string(c.CPF),
		string(c.CNPJ), taxKey, c.Name, c.Email, c.Phone, c.TradingName, string(c.LegalNature), string(c.Status),
		kyc, q.ts(c.CreatedAt), q.ts(c.UpdatedAt))
	if err != nil {
		err = translate(err)
		if errors.Is(err, onboarding.ErrConflict) {
			return q.customerConflict(ctx, c, taxKey)
		}
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err)
	} else if n == 1 {
		c.Version = 1
		return nil
	}
	return q.customerConflict(ctx, c, taxKey)
}

// customerConflict explains why a customer was not inserted, in the order of the
// in-memory store: its ID, then its external ID, then its tax key.
func (q *queries) customerConflict(ctx context.Context, c *onboarding.Customer, taxKey string) error {
	rows, err := q.db.QueryContext(ctx, `SELECT id, partner_id, external_id, tax_key FROM customers
WHERE id = ? OR (partner_id = ? AND external_id = ?) OR (partner_id = ? AND tax_key = ?)`,
		c.ID, c.PartnerID, storedExternalID(c), c.PartnerID, taxKey)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	var byID, byExt, byTax *onboarding.ConflictError
	for rows.Next() {
		var id, partner, ext, tk string
		if err := rows.Scan(&id, &partner, &ext, &tk); err != nil {
			return translate(err)
		}
		switch {
		case id == c.ID:
			byID = &onboarding.ConflictError{Field: "id"}
		case partner == c.PartnerID && ext == storedExternalID(c):
			byExt = &onboarding.ConflictError{Field: "external_id", ExistingID: id}
		case partner == c.PartnerID && tk == taxKey:
			byTax = &onboarding.ConflictError{Field: taxKeyField(taxKey), ExistingID: id}
		}
	}
	if err := rows.Err(); err != nil {
		return translate(err)
	}
	switch {
	case byID != nil:
		return byID
	case byExt != nil:
		return byExt
	case byTax != nil:
		return byTax
	}
	// The holder is not visible to this transaction's snapshot (REPEATABLE READ or
	// SERIALIZABLE caller): still a conflict, field unknown beyond the tax key.
	return &onboarding.ConflictError{Field: taxKeyField(taxKey)}
}

const getCustomerSQL = `SELECT ` + customerCols + ` FROM customers WHERE id = ? AND partner_id = ?`

// GetCustomer implements onboarding.Queries.
func (q *queries) GetCustomer(ctx context.Context, partnerID, id string) (*onboarding.Customer, error) {
	c, err := scanCustomer(q.db.QueryRowContext(ctx, getCustomerSQL, id, partnerID))
	return found(c, err, "customer", id)
}

const (
	// findCustomerIDSQL probes both keys in one statement: each side of the OR is a search
	// of its unique index (SQLite: MULTI-INDEX OR; PostgreSQL: BitmapOr), at most two rows.
	// It reads only the keys, so a miss (every new registration) stays cheap; a hit then
	// reads the row by ID.
	findCustomerIDSQL           = `SELECT id, external_id FROM customers WHERE (partner_id = ? AND external_id = ?) OR (partner_id = ? AND tax_key = ?)`
	findCustomerByExternalIDSQL = `SELECT ` + customerCols + ` FROM customers WHERE partner_id = ? AND external_id = ?`
	findCustomerByTaxKeySQL     = `SELECT ` + customerCols + ` FROM customers WHERE partner_id = ? AND tax_key = ?`
)

// FindCustomer implements onboarding.Queries: the holder of the external ID, else the
// holder of the tax key.
func (q *queries) FindCustomer(ctx context.Context, partnerID, externalID, taxKey string) (*onboarding.Customer, error) {
	var c *onboarding.Customer
	var err error
	switch {
	case externalID != "" && taxKey != "":
		var id string
		id, err = q.findCustomerID(ctx, partnerID, externalID, taxKey)
		if err == nil {
			c, err = scanCustomer(q.db.QueryRowContext(ctx, getCustomerSQL, id, partnerID))
		}
	case externalID != "":
		c, err = scanCustomer(q.db.QueryRowContext(ctx, findCustomerByExternalIDSQL, partnerID, externalID))
	case taxKey != "":
		c, err = scanCustomer(q.db.QueryRowContext(ctx, findCustomerByTaxKeySQL, partnerID, taxKey))
	default:
		return nil, fmt.Errorf("%w: customer", onboarding.ErrNotFound)
	}
	if err != nil {
		if errors.Is(err, errNoRows) {
			return nil, fmt.Errorf("%w: customer", onboarding.ErrNotFound)
		}
		return nil, translate(err)
	}
	return c, nil
}

// findCustomerID returns the ID of the customer holding externalID, else taxKey.
func (q *queries) findCustomerID(ctx context.Context, partnerID, externalID, taxKey string) (string, error) {
	rows, err := q.db.QueryContext(ctx, findCustomerIDSQL, partnerID, externalID, partnerID, taxKey)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	found := ""
	for rows.Next() {
		var id, ext string
		if err := rows.Scan(&id, &ext); err != nil {
			return "", err
		}
		if found == "" || ext == externalID {
			found = id
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if found == "" {
		return "", errNoRows
	}
	return found, nil
}

// ListCustomers implements onboarding.Queries. "created_at" order is ID order (IDs are
// time-ordered); "updated_at" order is (updated_at, id). The cursor is keyset: rows
// strictly after the StartingAfter customer in the requested order, and none when that
// customer does not exist for the partner.
func (q *queries) ListCustomers(ctx context.Context, partnerID string, f onboarding.ListCustomersParams) ([]*onboarding.Customer, error) {
	s := selectFrom(customerCols, `customers`).
		where(true, `partner_id = ?`, partnerID).
		where(f.ExternalID != "", `external_id = ?`, f.ExternalID).
		where(f.CPF != "", `cpf = ?`, f.CPF).
		where(f.Status != "", `status = ?`, string(f.Status))
	// Keyset pagination on (updated_at, id) or id, in either direction.
	byUpdated := f.Sort == "updated_at"
	cmp, dir := ` > `, ` ASC`
	if f.Order != "asc" {
		cmp, dir = ` < `, ` DESC`
	}
	s.where(f.StartingAfter != "" && byUpdated,
		`(updated_at, id)`+cmp+`(SELECT updated_at, id FROM customers WHERE id = ? AND partner_id = ?)`, f.StartingAfter, partnerID)
	s.where(f.StartingAfter != "" && !byUpdated,
		`id`+cmp+`(SELECT id FROM customers WHERE id = ? AND partner_id = ?)`, f.StartingAfter, partnerID)
	orderBy := `id` + dir
	if byUpdated {
		orderBy = `updated_at` + dir + `, id` + dir
	}
	return all(ctx, q, s, orderBy, f.Limit, scanCustomer)
}

const updateCustomerSQL = `UPDATE customers SET cpf = ?, cnpj = ?, tax_key = ?, name = ?, email = ?, phone = ?,
trading_name = ?, legal_nature = ?, status = ?, kyc = ?, version = version + 1, updated_at = ?
WHERE id = ? AND partner_id = ? AND version = ?
AND NOT EXISTS (SELECT 1 FROM customers other WHERE other.partner_id = ? AND other.tax_key = ? AND other.id <> ?)`

// UpdateCustomer implements onboarding.Queries: compare-and-set on the version column.
// The ID, partner, external ID and creation time never change. When nothing was updated,
// a second look says why: no such customer, a newer version, or the new tax key is taken.
func (q *queries) UpdateCustomer(ctx context.Context, c *onboarding.Customer) error {
	kyc, err := encodeKYC(c)
	if err != nil {
		return err
	}
	taxKey := c.TaxKey()
	res, err := q.db.ExecContext(ctx, updateCustomerSQL, string(c.CPF), string(c.CNPJ), taxKey, c.Name, c.Email,
		c.Phone, c.TradingName, string(c.LegalNature), string(c.Status), kyc, q.ts(c.UpdatedAt),
		c.ID, c.PartnerID, c.Version, c.PartnerID, taxKey, c.ID)
	if err != nil {
		return refineTaxKey(translate(err), taxKey)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err)
	}
	if n == 1 {
		c.Version++
		return nil
	}
	var version int64
	if err := q.db.QueryRowContext(ctx, `SELECT version FROM customers WHERE id = ? AND partner_id = ?`,
		c.ID, c.PartnerID).Scan(&version); err != nil {
		if errors.Is(err, errNoRows) {
			return notFound("customer", c.ID)
		}
		return translate(err)
	}
	if version != c.Version {
		return fmt.Errorf("%w: customer %s is at version %d, not %d", onboarding.ErrConcurrentUpdate, c.ID, version, c.Version)
	}
	var holder string
	err = q.db.QueryRowContext(ctx, `SELECT id FROM customers WHERE partner_id = ? AND tax_key = ? AND id <> ?`,
		c.PartnerID, taxKey, c.ID).Scan(&holder)
	if err == nil {
		return &onboarding.ConflictError{Field: taxKeyField(taxKey), ExistingID: holder}
	}
	if !errors.Is(err, errNoRows) {
		return translate(err)
	}
	// Changed and changed back between the two looks: a race all the same.
	return fmt.Errorf("%w: customer %s changed during the update", onboarding.ErrConcurrentUpdate, c.ID)
}

// ---- history ----

const insertTransitionSQL = `INSERT INTO transitions (id, partner_id, customer_id, event, from_status, to_status, actor, reason, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// InsertTransition implements onboarding.Queries.
func (q *queries) InsertTransition(ctx context.Context, t *onboarding.Transition) error {
	_, err := q.db.ExecContext(ctx, insertTransitionSQL, t.ID, t.PartnerID, t.CustomerID, string(t.Event),
		string(t.From), string(t.To), freeText(t.Actor), freeText(t.Reason), q.ts(t.CreatedAt))
	return translate(err)
}

const listTransitionsSQL = `SELECT id, partner_id, customer_id, event, from_status, to_status, actor, reason, created_at
FROM transitions WHERE customer_id = ? AND partner_id = ? ORDER BY seq`

// ListTransitions implements onboarding.Queries: oldest (first inserted) first.
func (q *queries) ListTransitions(ctx context.Context, partnerID, customerID string) ([]*onboarding.Transition, error) {
	rows, err := q.db.QueryContext(ctx, listTransitionsSQL, customerID, partnerID)
	return collect(rows, err, func(r rowScanner) (*onboarding.Transition, error) {
		t := &onboarding.Transition{}
		var ev, from, to string
		if err := r.Scan(&t.ID, &t.PartnerID, &t.CustomerID, &ev, &from, &to, &t.Actor, &t.Reason, timeCol{&t.CreatedAt}); err != nil {
			return nil, err
		}
		t.Event, t.From, t.To = onboarding.LifecycleEvent(ev), onboarding.Status(from), onboarding.Status(to)
		return t, nil
	})
}
