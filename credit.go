package onboarding

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/scoring"
)

// The credit capability: the analysis of a registered customer by the Scorer, the offer
// an approval creates, and the offer's life (held until active when configured, withdrawn
// on a denial or a change of company, expired at its valid_until).

// registerCredit registers the credit jobs and what the lifecycle must do for offers.
func (s *Service) registerCredit() {
	if s.scorer != nil {
		s.handle(JobCreditAnalysis, handle(s.analyse))
	}
	s.handle(JobExpireOffer, handle(s.expireOffer))
	if s.holdOffers {
		s.on(triggerActive, func(ctx context.Context, t *customerTx) error {
			return s.releaseHeldOffers(ctx, t.q, t.c, t.now)
		})
	}
	s.on(triggerDenied, func(ctx context.Context, t *customerTx) error {
		return s.withdrawOffers(ctx, t.q, t.c, t.now)
	})
	// Another company: the analysis of the old one no longer holds.
	s.on(triggerCompanyChanged, func(ctx context.Context, t *customerTx) error {
		if err := s.withdrawOffers(ctx, t.q, t.c, t.now); err != nil {
			return err
		}
		return enqueueAnalysis(ctx, t.q, t.c, t.now)
	})
}

// enqueueAnalysis enqueues the credit analysis of c in q's transaction.
func enqueueAnalysis(ctx context.Context, q Queries, c *Customer, now time.Time) error {
	return enqueue(ctx, q, creditAnalysisArgs{}, jobFor{PartnerID: c.PartnerID, CustomerID: c.ID}, now)
}

// GetCreditOffer returns one of the partner's offers.
func (s *Service) GetCreditOffer(ctx context.Context, partnerID, id string) (_ *CreditOffer, err error) {
	ctx, span := s.start(ctx, "GetCreditOffer", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	o, err := s.store.GetOffer(ctx, partnerID, id)
	if err == nil && o.ReleasedAt.IsZero() {
		return nil, fmt.Errorf("%w: credit offer %s", ErrNotFound, id)
	}
	return o, err
}

// ListCreditOffers pages through the partner's offers, newest first.
func (s *Service) ListCreditOffers(ctx context.Context, partnerID string, p ListOffersParams) (_ *OfferPage, err error) {
	ctx, span := s.start(ctx, "ListCreditOffers", partnerID)
	defer span.end(&err)
	check := func(ve *ValidationError) {
		switch p.Status {
		case "", OfferAvailable, OfferAccepted, OfferExpired:
		default:
			ve.add("status", CodeInvalidValue, "must be available, accepted or expired")
		}
	}
	return listPage(partnerID, p.Limit, check, func(limit int) ([]*CreditOffer, error) {
		if p.CustomerID != "" {
			if _, err := s.store.GetCustomer(ctx, partnerID, p.CustomerID); err != nil {
				return nil, err
			}
		}
		p.Limit, p.IncludeHeld = limit, false
		return s.store.ListOffers(ctx, partnerID, p)
	})
}

// analyse runs the scorer for a customer and, on approval, creates the offer, its
// credit_offer.available event and its expiry job in one transaction with the job's
// completion: a worker that lost its lease creates nothing.
func (s *Service) analyse(ctx context.Context, j *Job, _ creditAnalysisArgs) error {
	c, err := s.store.GetCustomer(ctx, j.PartnerID, j.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err != nil {
		return err
	}
	if c.Status == StatusDenied {
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	}
	now := s.clock()
	req := scoring.Request{
		CustomerID: c.ID, PartnerID: c.PartnerID, ExternalID: c.ExternalID, CPF: string(c.CPF), CNPJ: string(c.CNPJ),
		Name: c.Name, Email: c.Email, Phone: c.Phone, TradingName: c.TradingName, LegalNature: string(c.LegalNature),
		Attempt: j.Attempt, Now: now,
	}
	if s.registry != nil && c.CNPJ != "" {
		info, err := s.registry.LookupCompany(ctx, c.CNPJ)
		if err != nil {
			return fmt.Errorf("company registry: %w", err)
		}
		if info != nil {
			req.CompanyStatus, req.CompanyOpenedAt, req.CompanyPartners = info.Status, info.OpenedAt, len(info.Partners)
		}
	}
	d, err := s.scorer.Score(ctx, req)
	if err != nil {
		return fmt.Errorf("scorer: %w", err)
	}
	if err := d.Validate(); err != nil {
		return permanent(fmt.Errorf("scorer returned an invalid decision: %w", err))
	}
	for attempt := 0; ; attempt++ {
		err = s.recordDecision(ctx, j, c, d)
		if !errors.Is(err, ErrConcurrentUpdate) || attempt >= maxCASRetries {
			break
		}
	}
	if err == nil {
		s.notify()
		s.creditDecided(ctx, string(d.Outcome))
	}
	return err
}

// recordDecision writes a decision with the analysis job's completion.
func (s *Service) recordDecision(ctx context.Context, j *Job, c *Customer, d scoring.Decision) error {
	return s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		// Read the status again in this transaction: activation releases held offers in
		// its own, and one of the two must see the other.
		cur, err := q.GetCustomer(ctx, c.PartnerID, c.ID)
		if err != nil {
			return err
		}
		// The clock is read after the customer, so an offer is never older than an
		// activation it saw.
		now := s.clock()
		if cur.Status == StatusDenied || cur.CNPJ != c.CNPJ {
			// Denied, or another company since it was scored: no offer. (A change of
			// company enqueued a new analysis.)
			return s.completeIn(ctx, q, j, now)
		}
		// The decision goes into the customer's audit trail, approved or declined.
		decision := &Transition{ID: NewID(prefixTransition), PartnerID: c.PartnerID, CustomerID: c.ID,
			Event: EventCreditDecision, From: cur.Status, To: cur.Status, Actor: truncate("scorer:"+d.Model, maxNameLen),
			Reason: cleanText(string(d.Outcome)+": "+d.Reason, maxReasonLen), CreatedAt: now}
		if d.Approved() {
			o := &CreditOffer{ID: NewID(prefixOffer), PartnerID: c.PartnerID, CustomerID: c.ID, ExternalID: c.ExternalID,
				Status: OfferAvailable, ApprovedAmount: money.Money(d.ApprovedAmountCents), MinAmount: money.Money(d.MinAmountCents),
				MonthlyInterestRate: d.MonthlyRate, Installments: d.Installments,
				MinInstallments: d.MinInstallments, MaxInstallments: d.MaxInstallments, DueDateRule: d.DueDateRule,
				ValidUntil: now.Add(d.ValidFor), Model: d.Model, Version: 1, CreatedAt: now, UpdatedAt: now}
			hold := s.holdOffers && cur.Status != StatusActive
			if !hold {
				o.ReleasedAt = now
			}
			if err := q.InsertOffer(ctx, o); err != nil {
				return err
			}
			decision.Reason = truncate(decision.Reason+" (offer "+o.ID+")", maxReasonLen)
			// Write the customer (same data, next version) so that a denial, an
			// activation or a change of company racing with this transaction fails its
			// compare-and-set and, retried, sees this offer (to withdraw or release it).
			if err := q.UpdateCustomer(ctx, cur); err != nil {
				return err
			}
			if !hold {
				if err := s.announceOffer(ctx, q, c, o, now); err != nil {
					return err
				}
			}
		}
		if err := q.InsertTransition(ctx, decision); err != nil {
			return err
		}
		return s.completeIn(ctx, q, j, now)
	})
}

// announceOffer writes a released offer's credit_offer.available event and its expiry job.
func (s *Service) announceOffer(ctx context.Context, q Queries, c *Customer, o *CreditOffer, now time.Time) error {
	if err := s.emit(ctx, q, c, EventCreditOfferAvailable, o, now); err != nil {
		return err
	}
	return enqueue(ctx, q, expireOfferArgs{OfferID: o.ID}, jobFor{PartnerID: c.PartnerID, CustomerID: c.ID, RunAt: o.ValidUntil}, now)
}

// releaseHeldOffers announces the offers held until the customer became active, in the
// activation's transaction. Their validity counts from now.
func (s *Service) releaseHeldOffers(ctx context.Context, q Queries, c *Customer, now time.Time) error {
	held, err := q.ListOffers(ctx, c.PartnerID, ListOffersParams{CustomerID: c.ID, Status: OfferAvailable, IncludeHeld: true})
	if err != nil {
		return err
	}
	for _, o := range held {
		if !o.ReleasedAt.IsZero() {
			continue
		}
		o.ValidUntil = now.Add(o.ValidUntil.Sub(o.CreatedAt))
		o.ReleasedAt, o.UpdatedAt = now, now
		if err := q.UpdateOffer(ctx, o); err != nil {
			return err
		}
		if err := s.announceOffer(ctx, q, c, o, now); err != nil {
			return err
		}
	}
	return nil
}

// withdrawOffers expires the customer's open offers (released or held), in the caller's
// transaction: the customer was denied, or changed company. Released ones are announced
// with credit_offer.expired.
func (s *Service) withdrawOffers(ctx context.Context, q Queries, c *Customer, now time.Time) error {
	open, err := q.ListOffers(ctx, c.PartnerID, ListOffersParams{CustomerID: c.ID, Status: OfferAvailable, IncludeHeld: true})
	if err != nil {
		return err
	}
	for _, o := range open {
		o.Status, o.UpdatedAt = OfferExpired, now
		if err := q.UpdateOffer(ctx, o); err != nil {
			return err
		}
		if o.ReleasedAt.IsZero() {
			continue
		}
		if err := s.emit(ctx, q, c, EventCreditOfferExpired, o, now); err != nil {
			return err
		}
	}
	return nil
}

// expireOffer expires an available offer whose valid_until has passed.
func (s *Service) expireOffer(ctx context.Context, j *Job, args expireOfferArgs) error {
	now := s.clock()
	err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		o, err := q.GetOffer(ctx, j.PartnerID, args.OfferID)
		if err != nil {
			return err
		}
		if o.Status == OfferAvailable {
			if now.Before(o.ValidUntil) {
				return fmt.Errorf("offer %s is valid until %s", o.ID, o.ValidUntil.Format(time.RFC3339))
			}
			o.Status, o.UpdatedAt = OfferExpired, now
			if err := q.UpdateOffer(ctx, o); err != nil {
				return err
			}
			c := &Customer{ID: o.CustomerID, PartnerID: o.PartnerID}
			if err := s.emit(ctx, q, c, EventCreditOfferExpired, o, now); err != nil {
				return err
			}
		}
		return s.completeIn(ctx, q, j, now)
	})
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err == nil {
		s.notify()
	}
	return err
}
