package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/banks"
	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/simulation"
)

// testPartnerAPIQueries covers bank accounts, credentials, simulations and biometrics
// session codes: round trips, history, partner isolation, single use under concurrency.
func testPartnerAPIQueries(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)
	c := newCustomer(r, "p1")
	insertCustomer(t, s, c)
	other := newCustomer(r, "p2")
	insertCustomer(t, s, other)

	t.Run("BankAccounts", func(t *testing.T) {
		_, err := s.GetBankAccount(ctx, "p1", c.ID)
		require.ErrorIs(t, err, onboarding.ErrNotFound)
		hist, err := s.ListBankAccounts(ctx, "p1", c.ID)
		require.NoError(t, err)
		assert.Empty(t, hist)

		a1 := &onboarding.BankAccount{ID: onboarding.NewID("ba"), PartnerID: "p1", CustomerID: c.ID, BankID: "001",
			BankName: "Banco do Brasil S.A.", Branch: "0001", Number: "123456", Digit: "X", Kind: banks.Checking, CreatedAt: now}
		a2 := a1.Clone()
		a2.ID, a2.Number, a2.Kind, a2.CreatedAt = onboarding.NewID("ba"), "654321", banks.Payment, now.Add(time.Second)
		require.NoError(t, s.InsertBankAccount(ctx, a1))
		require.NoError(t, s.InsertBankAccount(ctx, a2))
		cur, err := s.GetBankAccount(ctx, "p1", c.ID)
		require.NoError(t, err)
		assert.Equal(t, a2, cur, "the newest account is current")
		hist, err = s.ListBankAccounts(ctx, "p1", c.ID)
		require.NoError(t, err)
		assert.Equal(t, []*onboarding.BankAccount{a1, a2}, hist, "history, oldest first")

		_, err = s.GetBankAccount(ctx, "p2", c.ID)
		assert.ErrorIs(t, err, onboarding.ErrNotFound, "another partner's account")
		hist, err = s.ListBankAccounts(ctx, "p2", c.ID)
		require.NoError(t, err)
		assert.Empty(t, hist)
		bad := a1.Clone()
		bad.ID, bad.PartnerID = onboarding.NewID("ba"), "p2"
		assert.ErrorIs(t, s.InsertBankAccount(ctx, bad), onboarding.ErrNotFound, "for a customer of another partner")
	})

	t.Run("Credentials", func(t *testing.T) {
		mk := func(partner string) *onboarding.Credential {
			return &onboarding.Credential{ID: onboarding.NewID("ci"), PartnerID: partner, Name: "ci server",
				SecretHash: onboarding.HashClientSecret("s"), Scopes: []onboarding.Scope{onboarding.ScopeCustomersRead},
				Status: onboarding.CredentialActive, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		}
		c1, c2, c3 := mk("p1"), mk("p1"), mk("p2")
		c2.ExpiresAt = time.Time{}
		for _, cr := range []*onboarding.Credential{c1, c2, c3} {
			require.NoError(t, s.InsertCredential(ctx, cr))
		}
		got, err := s.GetCredential(ctx, "p1", c1.ID)
		require.NoError(t, err)
		assert.Equal(t, c1, got)
		_, err = s.GetCredential(ctx, "p2", c1.ID)
		assert.ErrorIs(t, err, onboarding.ErrNotFound)
		found, err := s.FindCredential(ctx, c3.ID)
		require.NoError(t, err)
		assert.Equal(t, c3, found)
		_, err = s.FindCredential(ctx, "ci_nope")
		assert.ErrorIs(t, err, onboarding.ErrNotFound)

		list, err := s.ListCredentials(ctx, "p1", onboarding.ListCredentialsParams{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, []*onboarding.Credential{c1, c2}, list)
		list, err = s.ListCredentials(ctx, "p1", onboarding.ListCredentialsParams{Limit: 10, StartingAfter: c1.ID})
		require.NoError(t, err)
		assert.Equal(t, []*onboarding.Credential{c2}, list)

		assert.ErrorIs(t, s.RevokeCredential(ctx, "p2", c1.ID, now), onboarding.ErrNotFound, "another partner cannot revoke")
		at := now.Add(time.Minute)
		require.NoError(t, s.RevokeCredential(ctx, "p1", c1.ID, at))
		require.NoError(t, s.RevokeCredential(ctx, "p1", c1.ID, at.Add(time.Minute)), "revoking twice is no error")
		got, err = s.GetCredential(ctx, "p1", c1.ID)
		require.NoError(t, err)
		assert.Equal(t, onboarding.CredentialRevoked, got.Status)
		assert.Equal(t, at, got.RevokedAt, "the first revocation counts")
		assert.Equal(t, at, got.UpdatedAt)

		require.NoError(t, s.TouchCredential(ctx, c2.ID, at))
		require.NoError(t, s.TouchCredential(ctx, c2.ID, now), "an older use does not move it back")
		got, err = s.GetCredential(ctx, "p1", c2.ID)
		require.NoError(t, err)
		assert.Equal(t, at, got.LastUsedAt)
	})

	t.Run("Simulations", func(t *testing.T) {
		o := newOffer(c)
		require.NoError(t, s.InsertOffer(ctx, o))
		sim := &onboarding.Simulation{ID: onboarding.NewID("sim"), PartnerID: "p1", CustomerID: c.ID, CreditOfferID: o.ID,
			CreatedAt: now, Terms: simulation.Simulation{CreditOfferID: o.ID, RequestedAmount: money.Reais(10000),
				PrincipalAmount: 1_012_345, IOFAmount: 12_345, InstallmentCount: 12, InstallmentAmount: 98_765,
				MonthlyInterestRate: 299 * money.BasisPoint, FirstDueDate: "2026-12-26", CreatedAt: now.Unix()}}
		sim.Terms.ID = sim.ID
		require.NoError(t, s.InsertSimulation(ctx, sim))
		got, err := s.GetSimulation(ctx, "p1", sim.ID)
		require.NoError(t, err)
		assert.Equal(t, sim, got)
		_, err = s.GetSimulation(ctx, "p2", sim.ID)
		assert.ErrorIs(t, err, onboarding.ErrNotFound)
		bad := sim.Clone()
		bad.ID, bad.CreditOfferID = onboarding.NewID("sim"), "co_missing"
		assert.ErrorIs(t, s.InsertSimulation(ctx, bad), onboarding.ErrNotFound)
	})

	t.Run("BiometricsCodes", func(t *testing.T) {
		code := &onboarding.BiometricsCode{Hash: "h1", PartnerID: "p1", CustomerID: c.ID, ExpiresAt: now.Add(15 * time.Minute), CreatedAt: now}
		expired := &onboarding.BiometricsCode{Hash: "h2", PartnerID: "p1", CustomerID: c.ID, ExpiresAt: now, CreatedAt: now.Add(-time.Hour)}
		require.NoError(t, s.InsertBiometricsCode(ctx, code))
		require.NoError(t, s.InsertBiometricsCode(ctx, expired))
		require.ErrorIs(t, s.InsertBiometricsCode(ctx, code), onboarding.ErrConflict)

		_, err := s.ConsumeBiometricsCode(ctx, "p2", "h1", now)
		assert.ErrorIs(t, err, onboarding.ErrNotFound, "another partner's code")
		_, err = s.ConsumeBiometricsCode(ctx, "p1", "h2", now)
		assert.ErrorIs(t, err, onboarding.ErrNotFound, "expired")

		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := s.ConsumeBiometricsCode(ctx, "p1", "h1", now.Add(time.Second))
				if err == nil {
					wins.Add(1)
					assert.Equal(t, c.ID, got.CustomerID)
					assert.Equal(t, now.Add(time.Second), got.UsedAt)
					assert.Equal(t, code.ExpiresAt, got.ExpiresAt)
				} else {
					assert.ErrorIs(t, err, onboarding.ErrNotFound)
				}
			}()
		}
		wg.Wait()
		assert.EqualValues(t, 1, wins.Load(), "a code works once")
		_, err = s.ConsumeBiometricsCode(ctx, "", "h1", now.Add(2*time.Second))
		assert.ErrorIs(t, err, onboarding.ErrNotFound, "used")

		third := &onboarding.BiometricsCode{Hash: "h3", PartnerID: "p1", CustomerID: c.ID, ExpiresAt: now.Add(time.Minute), CreatedAt: now}
		require.NoError(t, s.InsertBiometricsCode(ctx, third))
		got, err := s.ConsumeBiometricsCode(ctx, "", "h3", now)
		require.NoError(t, err, "an empty partner takes any partner's code")
		assert.Equal(t, "p1", got.PartnerID)

		// Pruning: expired codes go, used or not, oldest first; live ones stay.
		n, err := s.PruneBiometricsCodes(ctx, now.Add(90*time.Second), 1)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "limited")
		_, err = s.ConsumeBiometricsCode(ctx, "", "h2", now.Add(-2*time.Hour))
		assert.ErrorIs(t, err, onboarding.ErrNotFound, "the oldest (h2, expired at now) went first")
		n, err = s.PruneBiometricsCodes(ctx, now.Add(90*time.Second), 10)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "h3, used, expired a minute after now")
		n, err = s.PruneBiometricsCodes(ctx, now.Add(90*time.Second), 10)
		require.NoError(t, err)
		assert.Zero(t, n)
		n, err = s.DeleteCustomerBiometricsCodes(ctx, "p1", c.ID)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "h1, live until 15 minutes after now, was kept")
	})
}
