package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/onboardkit/onboarding"
)

// partnerAPIState holds the rows of onboarding.PartnerAPIQueries.
type partnerAPIState struct {
	bankAccounts map[string][]*onboarding.BankAccount // by customer ID, oldest first
	credentials  map[string]*onboarding.Credential
	simulations  map[string]*onboarding.Simulation
	codes        map[string]*onboarding.BiometricsCode // by hash
}

func newPartnerAPIState() partnerAPIState {
	return partnerAPIState{bankAccounts: map[string][]*onboarding.BankAccount{},
		credentials: map[string]*onboarding.Credential{}, simulations: map[string]*onboarding.Simulation{},
		codes: map[string]*onboarding.BiometricsCode{}}
}

var _ onboarding.PartnerAPIQueries = (*txn)(nil)

func (t *txn) InsertBankAccount(_ context.Context, a *onboarding.BankAccount) error {
	st := &t.st.partnerAPI
	if _, err := t.customer(a.PartnerID, a.CustomerID); err != nil {
		return err
	}
	old := st.bankAccounts[a.CustomerID]
	for _, x := range old {
		if x.ID == a.ID {
			return &onboarding.ConflictError{Field: "id"}
		}
	}
	st.bankAccounts[a.CustomerID] = append(slices.Clip(old), a.Clone())
	t.onUndo(func() { st.bankAccounts[a.CustomerID] = old })
	return nil
}

func (t *txn) GetBankAccount(_ context.Context, partnerID, customerID string) (*onboarding.BankAccount, error) {
	list := t.st.partnerAPI.bankAccounts[customerID]
	if len(list) == 0 || list[0].PartnerID != partnerID {
		return nil, notFound("bank account of customer", customerID)
	}
	return list[len(list)-1].Clone(), nil
}

func (t *txn) ListBankAccounts(_ context.Context, partnerID, customerID string) ([]*onboarding.BankAccount, error) {
	out := []*onboarding.BankAccount{}
	for _, a := range t.st.partnerAPI.bankAccounts[customerID] {
		if a.PartnerID == partnerID {
			out = append(out, a.Clone())
		}
	}
	return out, nil
}

func (t *txn) InsertCredential(_ context.Context, c *onboarding.Credential) error {
	st := &t.st.partnerAPI
	if _, ok := st.credentials[c.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	st.credentials[c.ID] = c.Clone()
	t.onUndo(func() { delete(st.credentials, c.ID) })
	return nil
}

func (t *txn) GetCredential(_ context.Context, partnerID, id string) (*onboarding.Credential, error) {
	c, ok := t.st.partnerAPI.credentials[id]
	if !ok || c.PartnerID != partnerID {
		return nil, notFound("credential", id)
	}
	return c.Clone(), nil
}

func (t *txn) FindCredential(_ context.Context, id string) (*onboarding.Credential, error) {
	c, ok := t.st.partnerAPI.credentials[id]
	if !ok {
		return nil, notFound("credential", id)
	}
	return c.Clone(), nil
}

func (t *txn) ListCredentials(_ context.Context, partnerID string, f onboarding.ListCredentialsParams) ([]*onboarding.Credential, error) {
	var list []*onboarding.Credential
	for _, c := range t.st.partnerAPI.credentials {
		if c.PartnerID == partnerID && c.ID > f.StartingAfter {
			list = append(list, c.Clone())
		}
	}
	slices.SortFunc(list, byID(func(c *onboarding.Credential) string { return c.ID }))
	return limit(list, f.Limit), nil
}

func (t *txn) RevokeCredential(_ context.Context, partnerID, id string, at time.Time) error {
	st := &t.st.partnerAPI
	old, ok := st.credentials[id]
	if !ok || old.PartnerID != partnerID {
		return notFound("credential", id)
	}
	if old.Status == onboarding.CredentialRevoked {
		return nil
	}
	c := old.Clone()
	c.Status, c.RevokedAt, c.UpdatedAt = onboarding.CredentialRevoked, at, at
	st.credentials[id] = c
	t.onUndo(func() { st.credentials[id] = old })
	return nil
}

func (t *txn) TouchCredential(_ context.Context, id string, at time.Time) error {
	st := &t.st.partnerAPI
	old, ok := st.credentials[id]
	if !ok {
		return notFound("credential", id)
	}
	if !at.After(old.LastUsedAt) {
		return nil
	}
	c := old.Clone()
	c.LastUsedAt = at
	st.credentials[id] = c
	t.onUndo(func() { st.credentials[id] = old })
	return nil
}

func (t *txn) InsertSimulation(_ context.Context, sim *onboarding.Simulation) error {
	st := &t.st.partnerAPI
	if _, ok := st.simulations[sim.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	if o, ok := t.st.offers[sim.CreditOfferID]; !ok || o.PartnerID != sim.PartnerID {
		return notFound("credit offer", sim.CreditOfferID)
	}
	st.simulations[sim.ID] = sim.Clone()
	t.onUndo(func() { delete(st.simulations, sim.ID) })
	return nil
}

func (t *txn) GetSimulation(_ context.Context, partnerID, id string) (*onboarding.Simulation, error) {
	sim, ok := t.st.partnerAPI.simulations[id]
	if !ok || sim.PartnerID != partnerID {
		return nil, notFound("simulation", id)
	}
	return sim.Clone(), nil
}

func (t *txn) InsertBiometricsCode(_ context.Context, c *onboarding.BiometricsCode) error {
	st := &t.st.partnerAPI
	if _, ok := st.codes[c.Hash]; ok {
		return &onboarding.ConflictError{Field: "code"}
	}
	st.codes[c.Hash] = c.Clone()
	t.onUndo(func() { delete(st.codes, c.Hash) })
	return nil
}

func (t *txn) ConsumeBiometricsCode(_ context.Context, partnerID, hash string, now time.Time) (*onboarding.BiometricsCode, error) {
	st := &t.st.partnerAPI
	old, ok := st.codes[hash]
	if !ok || !old.UsedAt.IsZero() || !now.Before(old.ExpiresAt) || (partnerID != "" && old.PartnerID != partnerID) {
		return nil, fmt.Errorf("%w: biometrics code", onboarding.ErrNotFound)
	}
	c := old.Clone()
	c.UsedAt = now
	st.codes[hash] = c
	t.onUndo(func() { st.codes[hash] = old })
	return c.Clone(), nil
}

// PruneBiometricsCodes implements onboarding.BiometricsCodeQueries.
func (t *txn) PruneBiometricsCodes(_ context.Context, before time.Time, n int) (int, error) {
	return prune(t, t.st.partnerAPI.codes, before, n, func(c *onboarding.BiometricsCode) (time.Time, bool) {
		return c.ExpiresAt, true
	}), nil
}

// DeleteCustomerBankAccounts implements onboarding.PrivacyQueries.
func (t *txn) DeleteCustomerBankAccounts(_ context.Context, partnerID, customerID string) (int, error) {
	st := &t.st.partnerAPI
	old := st.bankAccounts[customerID]
	if len(old) == 0 || old[0].PartnerID != partnerID {
		return 0, nil
	}
	delete(st.bankAccounts, customerID)
	t.onUndo(func() { st.bankAccounts[customerID] = old })
	return len(old), nil
}

// DeleteCustomerSimulations implements onboarding.PrivacyQueries.
func (t *txn) DeleteCustomerSimulations(_ context.Context, partnerID, customerID string) (int, error) {
	return deleteFrom(t, t.st.partnerAPI.simulations, func(s *onboarding.Simulation) bool {
		return s.PartnerID == partnerID && s.CustomerID == customerID
	}), nil
}

// DeleteCustomerBiometricsCodes implements onboarding.PrivacyQueries.
func (t *txn) DeleteCustomerBiometricsCodes(_ context.Context, partnerID, customerID string) (int, error) {
	return deleteFrom(t, t.st.partnerAPI.codes, func(c *onboarding.BiometricsCode) bool {
		return c.PartnerID == partnerID && c.CustomerID == customerID
	}), nil
}
