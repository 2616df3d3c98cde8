package bunstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/banks"
)

// The queries of onboarding.PartnerAPIQueries (schema version 5).

var (
	_ onboarding.PartnerAPIQueries = (*queries)(nil)
	_ onboarding.PartnerAPIQueries = (*Store)(nil)
)

// ---- bank accounts ----

const bankAccountCols = `id, partner_id, customer_id, bank_id, bank_name, branch, number, digit, kind, created_at`

func scanBankAccount(r rowScanner) (*onboarding.BankAccount, error) {
	a := &onboarding.BankAccount{}
	var kind string
	if err := r.Scan(&a.ID, &a.PartnerID, &a.CustomerID, &a.BankID, &a.BankName, &a.Branch, &a.Number, &a.Digit,
		&kind, timeCol{&a.CreatedAt}); err != nil {
		return nil, err
	}
	a.Kind = banks.AccountKind(kind)
	return a, nil
}

// InsertBankAccount implements onboarding.BankAccountQueries. The customer must exist
// (foreign key): ErrNotFound otherwise.
func (q *queries) InsertBankAccount(ctx context.Context, a *onboarding.BankAccount) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO bank_accounts (`+bankAccountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.PartnerID, a.CustomerID, a.BankID, a.BankName, a.Branch, a.Number, a.Digit, string(a.Kind), q.ts(a.CreatedAt))
	return translate(err)
}

// GetBankAccount implements onboarding.BankAccountQueries: the newest account.
func (q *queries) GetBankAccount(ctx context.Context, partnerID, customerID string) (*onboarding.BankAccount, error) {
	a, err := scanBankAccount(q.db.QueryRowContext(ctx, `SELECT `+bankAccountCols+` FROM bank_accounts
WHERE customer_id = ? AND partner_id = ? ORDER BY id DESC LIMIT 1`, customerID, partnerID))
	return found(a, err, "bank account of customer", customerID)
}

// ListBankAccounts implements onboarding.BankAccountQueries: oldest first.
func (q *queries) ListBankAccounts(ctx context.Context, partnerID, customerID string) ([]*onboarding.BankAccount, error) {
	s := selectFrom(bankAccountCols, `bank_accounts`).
		where(true, `customer_id = ?`, customerID).
		where(true, `partner_id = ?`, partnerID)
	list, err := all(ctx, q, s, `id`, 0, scanBankAccount)
	if list == nil && err == nil {
		list = []*onboarding.BankAccount{}
	}
	return list, err
}

// ---- credentials ----

const credentialCols = `id, partner_id, name, secret_hash, scopes, status, expires_at, last_used_at, revoked_at, created_at, updated_at`

func scanCredential(r rowScanner) (*onboarding.Credential, error) {
	c := &onboarding.Credential{}
	var status string
	var scopes []byte
	if err := r.Scan(&c.ID, &c.PartnerID, &c.Name, &c.SecretHash, bytesCol{&scopes}, &status, timeCol{&c.ExpiresAt},
		timeCol{&c.LastUsedAt}, timeCol{&c.RevokedAt}, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}); err != nil {
		return nil, err
	}
	c.Status = onboarding.CredentialStatus(status)
	if len(scopes) > 0 {
		if err := json.Unmarshal(scopes, &c.Scopes); err != nil {
			return nil, fmt.Errorf("bunstore: credential %s: decode scopes: %w", c.ID, err)
		}
	}
	return c, nil
}

// InsertCredential implements onboarding.CredentialQueries.
func (q *queries) InsertCredential(ctx context.Context, c *onboarding.Credential) error {
	scopes, err := json.Marshal(c.Scopes)
	if err != nil {
		return fmt.Errorf("bunstore: credential %s: encode scopes: %w", c.ID, err)
	}
	if c.Scopes == nil {
		scopes = []byte("[]")
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO credentials (`+credentialCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.PartnerID, freeText(c.Name), c.SecretHash, string(scopes), string(c.Status), q.tsNull(c.ExpiresAt),
		q.tsNull(c.LastUsedAt), q.tsNull(c.RevokedAt), q.ts(c.CreatedAt), q.ts(c.UpdatedAt))
	return translate(err)
}

// GetCredential implements onboarding.CredentialQueries.
func (q *queries) GetCredential(ctx context.Context, partnerID, id string) (*onboarding.Credential, error) {
	c, err := scanCredential(q.db.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ? AND partner_id = ?`, id, partnerID))
	return found(c, err, "credential", id)
}

// FindCredential implements onboarding.CredentialQueries.
func (q *queries) FindCredential(ctx context.Context, id string) (*onboarding.Credential, error) {
	c, err := scanCredential(q.db.QueryRowContext(ctx, `SELECT `+credentialCols+` FROM credentials WHERE id = ?`, id))
	return found(c, err, "credential", id)
}

// ListCredentials implements onboarding.CredentialQueries: oldest first.
func (q *queries) ListCredentials(ctx context.Context, partnerID string, f onboarding.ListCredentialsParams) ([]*onboarding.Credential, error) {
	s := selectFrom(credentialCols, `credentials`).
		where(true, `partner_id = ?`, partnerID).
		where(f.StartingAfter != "", `id > ?`, f.StartingAfter)
	return all(ctx, q, s, `id`, f.Limit, scanCredential)
}

// RevokeCredential implements onboarding.CredentialQueries.
func (q *queries) RevokeCredential(ctx context.Context, partnerID, id string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE credentials SET status = 'revoked', revoked_at = ?, updated_at = ?
WHERE id = ? AND partner_id = ? AND status = 'active'`, q.ts(at), q.ts(at), id, partnerID)
	return affectedOne(res, err, func() error {
		_, err := q.GetCredential(ctx, partnerID, id) // already revoked is fine
		return err
	})
}

// TouchCredential implements onboarding.CredentialQueries.
func (q *queries) TouchCredential(ctx context.Context, id string, at time.Time) error {
	_, err := q.db.ExecContext(ctx, `UPDATE credentials SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		q.ts(at), id, q.ts(at))
	return translate(err)
}

// ---- simulations ----

const simulationCols = `id, partner_id, customer_id, credit_offer_id, terms, created_at`

func scanSimulation(r rowScanner) (*onboarding.Simulation, error) {
	sim := &onboarding.Simulation{}
	var terms []byte
	if err := r.Scan(&sim.ID, &sim.PartnerID, &sim.CustomerID, &sim.CreditOfferID, bytesCol{&terms}, timeCol{&sim.CreatedAt}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(terms, &sim.Terms); err != nil {
		return nil, fmt.Errorf("bunstore: simulation %s: decode terms: %w", sim.ID, err)
	}
	return sim, nil
}

// InsertSimulation implements onboarding.SimulationQueries. Its offer must be the
// partner's: ErrNotFound otherwise.
func (q *queries) InsertSimulation(ctx context.Context, sim *onboarding.Simulation) error {
	if _, err := q.GetOffer(ctx, sim.PartnerID, sim.CreditOfferID); err != nil {
		return err
	}
	terms, err := json.Marshal(sim.Terms)
	if err != nil {
		return fmt.Errorf("bunstore: simulation %s: encode terms: %w", sim.ID, err)
	}
	_, err = q.db.ExecContext(ctx, `INSERT INTO simulations (`+simulationCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		sim.ID, sim.PartnerID, sim.CustomerID, sim.CreditOfferID, string(terms), q.ts(sim.CreatedAt))
	return translate(err)
}

// GetSimulation implements onboarding.SimulationQueries.
func (q *queries) GetSimulation(ctx context.Context, partnerID, id string) (*onboarding.Simulation, error) {
	sim, err := scanSimulation(q.db.QueryRowContext(ctx, `SELECT `+simulationCols+` FROM simulations WHERE id = ? AND partner_id = ?`, id, partnerID))
	return found(sim, err, "simulation", id)
}

// ---- biometrics session codes ----

const biometricsCodeCols = `hash, partner_id, customer_id, expires_at, created_at, used_at`

// InsertBiometricsCode implements onboarding.BiometricsCodeQueries.
func (q *queries) InsertBiometricsCode(ctx context.Context, c *onboarding.BiometricsCode) error {
	_, err := q.db.ExecContext(ctx, `INSERT INTO biometrics_codes (`+biometricsCodeCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		c.Hash, c.PartnerID, c.CustomerID, q.ts(c.ExpiresAt), q.ts(c.CreatedAt), q.tsNull(c.UsedAt))
	return translate(err)
}

// PruneBiometricsCodes implements onboarding.BiometricsCodeQueries, along
// biometrics_codes_expires_at_idx.
func (q *queries) PruneBiometricsCodes(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM biometrics_codes WHERE hash IN
(SELECT hash FROM biometrics_codes WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`, q.ts(before), limit)
	return affected(res, err)
}

// ConsumeBiometricsCode implements onboarding.BiometricsCodeQueries: one conditional
// UPDATE, so that of concurrent exchanges of one code exactly one changes the row.
func (q *queries) ConsumeBiometricsCode(ctx context.Context, partnerID, hash string, now time.Time) (*onboarding.BiometricsCode, error) {
	c := &onboarding.BiometricsCode{}
	err := q.db.QueryRowContext(ctx, `UPDATE biometrics_codes SET used_at = ?
WHERE hash = ? AND used_at IS NULL AND expires_at > ? AND (? = '' OR partner_id = ?)
RETURNING `+biometricsCodeCols, q.ts(now), hash, q.ts(now), partnerID, partnerID).
		Scan(&c.Hash, &c.PartnerID, &c.CustomerID, timeCol{&c.ExpiresAt}, timeCol{&c.CreatedAt}, timeCol{&c.UsedAt})
	return found(c, err, "biometrics code", "")
}
