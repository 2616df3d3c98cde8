package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/simulation"
)

// The simulations capability: a partner prices a loan within an offer's terms (package
// simulation does the math) and the result is stored, so that it can be read again and a
// loan can later refer to it.

// Simulation is a stored loan simulation of a credit offer. Its amounts are those of
// simulation.Simulation.
type Simulation struct {
	ID            string
	PartnerID     string
	CustomerID    string
	CreditOfferID string
	// Terms are the computed amounts and rates (its ID and CreatedAt are this
	// Simulation's; its schedule and unrounded CET are not stored).
	Terms     simulation.Simulation
	CreatedAt time.Time
}

// Clone returns a copy of s.
func (sim *Simulation) Clone() *Simulation {
	if sim == nil {
		return nil
	}
	c := *sim
	c.Terms.Installments = nil
	return &c
}

// MarshalJSON encodes the simulation as the guide's API object: amounts as decimal
// strings, created_at in RFC 3339.
func (sim *Simulation) MarshalJSON() ([]byte, error) {
	t := sim.Terms
	t.ID, t.CreditOfferID = sim.ID, sim.CreditOfferID
	return json.Marshal(struct {
		simulation.Simulation
		CustomerID string    `json:"customer_id"`
		CreatedAt  time.Time `json:"created_at"`
	}{t, sim.CustomerID, sim.CreatedAt})
}

// SimulationQueries are the Store's reads and writes of simulations.
type SimulationQueries interface {
	// InsertSimulation stores a simulation.
	InsertSimulation(ctx context.Context, sim *Simulation) error
	// GetSimulation returns one of the partner's simulations.
	GetSimulation(ctx context.Context, partnerID, id string) (*Simulation, error)
}

// SimulationParams is what a partner asks to simulate.
type SimulationParams struct {
	// RequestedAmount is what the borrower receives, within the offer's min_amount and
	// approved_amount.
	RequestedAmount money.Money
	// InstallmentCount is within the offer's installment range (or its fixed count).
	InstallmentCount int
}

// prefixSimulation prefixes simulation IDs.
const prefixSimulation = "sim"

// SimulateOffer prices a loan on an available offer with the Service's simulation
// config (Options.Simulation), stores it and returns it. An amount or installment count
// outside the offer's terms is a *ValidationError naming requested_amount or
// installment_count; an offer that is no longer available is ErrInvalidTransition.
func (s *Service) SimulateOffer(ctx context.Context, partnerID, offerID string, p SimulationParams) (*Simulation, error) {
	o, err := s.GetCreditOffer(ctx, partnerID, offerID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if o.Status != OfferAvailable || !now.Before(o.ValidUntil) {
		return nil, fmt.Errorf("%w: the credit offer is %s", ErrInvalidTransition, o.Status)
	}
	rule, err := simulation.ParseDueDateRule(o.DueDateRule)
	if err != nil {
		return nil, fmt.Errorf("onboarding: credit offer %s: %w", o.ID, err)
	}
	minN, maxN := o.MinInstallments, o.MaxInstallments
	if o.Installments > 0 {
		minN, maxN = o.Installments, o.Installments
	}
	terms, err := simulation.Simulate(simulation.Offer{ID: o.ID, MonthlyInterestRate: o.MonthlyInterestRate,
		MinAmount: o.MinAmount, MaxAmount: o.ApprovedAmount, MinInstallments: minN, MaxInstallments: maxN, DueDateRule: rule},
		simulation.Request{RequestedAmount: p.RequestedAmount, InstallmentCount: p.InstallmentCount, Date: now}, s.simulation)
	var sve *simulation.ValidationError
	if errors.As(err, &sve) && errors.Is(err, simulation.ErrOutOfRange) {
		return nil, invalid(sve.Field, CodeInvalidValue, sve.Reason)
	}
	if err != nil {
		return nil, fmt.Errorf("onboarding: simulate credit offer %s: %w", o.ID, err)
	}
	sim := &Simulation{ID: NewID(prefixSimulation), PartnerID: partnerID, CustomerID: o.CustomerID, CreditOfferID: o.ID,
		CreatedAt: now}
	terms.Installments, terms.MonthlyCET = nil, 0
	terms.ID, terms.CreatedAt = sim.ID, now.Unix()
	sim.Terms = terms
	if err := s.store.InsertSimulation(ctx, sim); err != nil {
		return nil, err
	}
	return sim, nil
}

// GetSimulation returns one of the partner's stored simulations.
func (s *Service) GetSimulation(ctx context.Context, partnerID, id string) (*Simulation, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.store.GetSimulation(ctx, partnerID, id)
}

// simulationConfig returns the configured simulation config, or the default.
func simulationConfig(c *simulation.Config) simulation.Config {
	if c == nil {
		return simulation.DefaultConfig()
	}
	return *c
}

// validateSimulationConfig runs a sample simulation to learn whether c is usable.
func validateSimulationConfig(c *simulation.Config) error {
	if c == nil {
		return nil
	}
	_, err := simulation.Simulate(simulation.Offer{ID: "co_check", MonthlyInterestRate: money.Percent,
		MinAmount: money.Reais(1000), MaxAmount: money.Reais(1000), MinInstallments: 1, MaxInstallments: 1},
		simulation.Request{RequestedAmount: money.Reais(1000), InstallmentCount: 1, Date: time.Now()}, *c)
	if errors.Is(err, simulation.ErrInvalidConfig) {
		return err
	}
	return nil
}
