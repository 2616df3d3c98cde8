package storeutil

import (
	"context"
	"time"

	"github.com/onboardkit/onboarding"
)

// The forwarders of onboarding.PartnerAPIQueries: bank accounts, credentials,
// simulations and biometrics session codes.

// InsertBankAccount implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertBankAccount(ctx context.Context, a *onboarding.BankAccount) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertBankAccount(ctx, a) })
}

// GetBankAccount implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetBankAccount(ctx context.Context, partnerID, customerID string) (*onboarding.BankAccount, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetBankAccount(ctx, partnerID, customerID)
}

// ListBankAccounts implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListBankAccounts(ctx context.Context, partnerID, customerID string) ([]*onboarding.BankAccount, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListBankAccounts(ctx, partnerID, customerID)
}

// InsertCredential implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertCredential(ctx context.Context, c *onboarding.Credential) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertCredential(ctx, c) })
}

// GetCredential implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetCredential(ctx context.Context, partnerID, id string) (*onboarding.Credential, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetCredential(ctx, partnerID, id)
}

// FindCredential implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) FindCredential(ctx context.Context, id string) (*onboarding.Credential, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.FindCredential(ctx, id)
}

// ListCredentials implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListCredentials(ctx context.Context, partnerID string, f onboarding.ListCredentialsParams) ([]*onboarding.Credential, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListCredentials(ctx, partnerID, f)
}

// RevokeCredential implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) RevokeCredential(ctx context.Context, partnerID, id string, at time.Time) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.RevokeCredential(ctx, partnerID, id, at) })
}

// TouchCredential implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) TouchCredential(ctx context.Context, id string, at time.Time) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.TouchCredential(ctx, id, at) })
}

// InsertSimulation implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertSimulation(ctx context.Context, sim *onboarding.Simulation) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertSimulation(ctx, sim) })
}

// GetSimulation implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetSimulation(ctx context.Context, partnerID, id string) (*onboarding.Simulation, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetSimulation(ctx, partnerID, id)
}

// PruneBiometricsCodes implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) PruneBiometricsCodes(ctx context.Context, before time.Time, limit int) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.PruneBiometricsCodes(ctx, before, limit) })
}

// InsertBiometricsCode implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertBiometricsCode(ctx context.Context, c *onboarding.BiometricsCode) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertBiometricsCode(ctx, c) })
}

// ConsumeBiometricsCode implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) ConsumeBiometricsCode(ctx context.Context, partnerID, hash string, now time.Time) (*onboarding.BiometricsCode, error) {
	var out *onboarding.BiometricsCode
	err := ac.Write(ctx, func(q onboarding.Queries) error {
		var err error
		out, err = q.ConsumeBiometricsCode(ctx, partnerID, hash, now)
		return err
	})
	return out, err
}
