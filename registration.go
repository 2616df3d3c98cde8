package onboarding

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/onboardkit/onboarding/taxid"
)

// CreateCustomer registers a customer for partnerID. It is idempotent: when the partner
// already has a customer with the same CPF/CNPJ and external_id, it returns that customer
// and created is false. When only one of them matches it returns a *ConflictError
// (ErrConflict). Invalid input is a *ValidationError (ErrInvalidInput).
//
// In the same transaction it writes the history row, the customer.created event and the
// credit-analysis job, so the analysis starts in parallel with KYC, and completes the
// idempotency key ctx carries, if any (WithKeyCompletion).
func (s *Service) CreateCustomer(ctx context.Context, partnerID string, p CreateCustomerParams) (c *Customer, created bool, err error) {
	ctx, span := s.start(ctx, "CreateCustomer", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return nil, false, err
	}
	n, err := p.normalize()
	if err != nil {
		return nil, false, err
	}
	key := taxKey(n.cpf, n.cnpj)
	if s.registry != nil {
		// Look before calling out, so that a replayed registration does not call the
		// registry again. Without a registry the insert alone decides (one round trip
		// fewer), and a replay is answered after its insert conflicts. A keyed repeat is
		// its key's business (ErrKeyInUse: the key's response is replayed), and the key
		// is read after the customer: they commit together, so a customer found means
		// its request's key is visible too.
		if existing, err := s.store.FindCustomer(ctx, partnerID, n.externalID, key); err == nil {
			if err := checkKey(ctx, s.store, partnerID); err != nil {
				return nil, false, err
			}
			return resolveExisting(existing, n, key)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
	}

	in := RequirementInput{CPF: n.cpf, CNPJ: n.cnpj, Name: n.name, LegalNature: n.legalNature}
	if s.registry != nil && n.cnpj != "" {
		info, err := s.registry.LookupCompany(ctx, n.cnpj)
		if err != nil {
			return nil, false, fmt.Errorf("onboarding: company registry: %w", err)
		}
		in.Company = info
		if info != nil && info.LegalNature != "" {
			// The registry's word wins over the partner's: a partner must not lower the
			// KYC bar by declaring an LTDA a MEI.
			n.legalNature, in.LegalNature = info.LegalNature, info.LegalNature
		}
	}
	reqs, err := s.requirements(ctx, in)
	if err != nil {
		return nil, false, err
	}
	now := s.clock()
	c = &Customer{
		ID: NewID(prefixCustomer), PartnerID: partnerID, ExternalID: n.externalID, CPF: n.cpf, CNPJ: n.cnpj,
		Name: n.name, Email: n.email, Phone: n.phone, TradingName: n.tradingName, LegalNature: n.legalNature,
		Status: StatusPendingKYC, KYC: reqs, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	response := renderKey(ctx, partnerID, c)
	register := func(ctx context.Context, q Queries) error {
		if err := reserveKey(ctx, q, partnerID, response); err != nil { // the request's idempotency key, if any
			return err
		}
		if err := q.InsertCustomer(ctx, c); err != nil {
			return err
		}
		if err := q.InsertTransition(ctx, &Transition{ID: NewID(prefixTransition), PartnerID: partnerID,
			CustomerID: c.ID, Event: EventRegister, To: StatusPendingKYC, Actor: "partner", CreatedAt: now}); err != nil {
			return err
		}
		if err := s.emit(ctx, q, c, EventCustomerCreated, customerEventData(EventCustomerCreated, c), now); err != nil {
			return err
		}
		if err := enqueueAnalysis(ctx, q, c, now); err != nil {
			return err
		}
		return completeKey(ctx, q, response)
	}
	err = s.store.InTx(ctx, register)
	if errors.Is(err, ErrKeyInUse) && clearExpiredKey(ctx, s.store, response) {
		err = s.store.InTx(ctx, register) // the key had expired: once more, over its record
	}
	if errors.Is(err, ErrConflict) {
		// Lost the race to a concurrent registration, or a repeat: the unique index
		// settled it. A keyed repeat is its key's business (ErrKeyInUse: replayed).
		if kerr := checkKey(ctx, s.store, partnerID); kerr != nil {
			return nil, false, kerr
		}
		existing, ferr := s.store.FindCustomer(ctx, partnerID, n.externalID, key)
		if ferr == nil {
			return resolveExisting(existing, n, key)
		}
		return nil, false, err
	}
	if err != nil {
		return nil, false, err
	}
	s.notify()
	s.customerRegistered(ctx)
	return c, true, nil
}

// resolveExisting decides between an idempotent replay and a conflict.
func resolveExisting(c *Customer, n normalizedCustomer, key string) (*Customer, bool, error) {
	switch {
	case n.externalID != "" && c.ExternalID != n.externalID:
		field := "cnpj"
		if n.cnpj == "" {
			field = "cpf"
		}
		return nil, false, &ConflictError{Field: field, ExistingID: c.ID}
	case c.TaxKey() != key:
		return nil, false, &ConflictError{Field: "external_id", ExistingID: c.ID}
	case c.CPF != n.cpf:
		return nil, false, &ConflictError{Field: "cpf", ExistingID: c.ID}
	}
	return c, false, nil
}

// requirements runs the policy and checks what it returned.
func (s *Service) requirements(ctx context.Context, in RequirementInput) ([]Requirement, error) {
	reqs, err := s.policy.Requirements(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("onboarding: requirement policy: %w", err)
	}
	seen := make(map[string]bool, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		if r.ID == "" || seen[r.ID] {
			return nil, fmt.Errorf("onboarding: requirement policy returned an empty or duplicate requirement_id %q", r.ID)
		}
		seen[r.ID] = true
		if r.Status == "" {
			r.Status = RequirementPending
		}
		if r.Kind == "" {
			r.Kind = KindDocument
		}
		if r.Description == "" {
			r.Description = r.Label
		}
	}
	return reqs, nil
}

// GetCustomer returns one of the partner's customers.
func (s *Service) GetCustomer(ctx context.Context, partnerID, id string) (_ *Customer, err error) {
	ctx, span := s.start(ctx, "GetCustomer", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.store.GetCustomer(ctx, partnerID, id)
}

// ListCustomers pages through the partner's customers.
func (s *Service) ListCustomers(ctx context.Context, partnerID string, p ListCustomersParams) (_ *CustomerPage, err error) {
	ctx, span := s.start(ctx, "ListCustomers", partnerID)
	defer span.end(&err)
	check := func(ve *ValidationError) {
		p.Sort = oneOf(ve, "sort", p.Sort, "created_at", "created_at", "updated_at")
		p.Order = oneOf(ve, "order", p.Order, "desc", "asc", "desc")
		if p.Status != "" && !p.Status.Valid() {
			ve.add("status", CodeInvalidValue, "must be pending_kyc, under_review, active or denied")
		}
		if p.CPF != "" {
			cpf, err := taxid.ParseCPF(p.CPF)
			if err != nil {
				ve.add("cpf", CodeInvalidCPF, taxidDetail(err))
			}
			p.CPF = string(cpf)
		}
	}
	return listPage(partnerID, p.Limit, check, func(limit int) ([]*Customer, error) {
		p.Limit = limit
		return s.store.ListCustomers(ctx, partnerID, p)
	})
}

// oneOf returns v, or def when v is empty; anything but allowed is a field error.
func oneOf(ve *ValidationError, param, v, def string, allowed ...string) string {
	switch {
	case v == "":
		return def
	case slices.Contains(allowed, v):
		return v
	}
	ve.add(param, CodeInvalidValue, "must be "+strings.Join(allowed, " or "))
	return v
}

// History returns the customer's audit trail, oldest first. It still answers once the
// customer was erased (EraseCustomer): the rows keep their events, statuses, actors and
// times, and the last one records the erasure.
func (s *Service) History(ctx context.Context, partnerID, customerID string) (_ []*Transition, err error) {
	ctx, span := s.start(ctx, "History", partnerID)
	defer span.end(&err)
	if _, err := s.GetCustomer(ctx, partnerID, customerID); errors.Is(err, ErrNotFound) {
		return s.erasedHistory(ctx, partnerID, customerID)
	} else if err != nil {
		return nil, err
	}
	return s.store.ListTransitions(ctx, partnerID, customerID)
}

// ListEvents returns the partner's outbox events, oldest first.
func (s *Service) ListEvents(ctx context.Context, partnerID string, p ListEventsParams) (_ []*Event, err error) {
	ctx, span := s.start(ctx, "ListEvents", partnerID)
	defer span.end(&err)
	if p.Limit, err = checkList(partnerID, p.Limit, nil); err != nil {
		return nil, err
	}
	return s.store.ListEvents(ctx, partnerID, p)
}

// UpdateCustomer corrects a customer's data (PATCH /customers/{id}). Changing the CNPJ recomputes
// the KYC items, and the company's document must be sent again. A denied customer cannot
// be changed; an active one cannot change company.
func (s *Service) UpdateCustomer(ctx context.Context, partnerID, id string, p UpdateCustomerParams) (_ *Customer, err error) {
	ctx, span := s.start(ctx, "UpdateCustomer", partnerID)
	defer span.end(&err)
	ve := &ValidationError{}
	var name, email, phone, trading string
	var cnpj taxid.CNPJ
	if p.Name != nil {
		name = strings.TrimSpace(*p.Name)
		checkText(ve, "name", name, true, maxNameLen)
	}
	if p.Email != nil {
		email = checkEmail(ve, *p.Email)
	}
	if p.Phone != nil {
		phone = checkPhone(ve, *p.Phone)
	}
	if p.TradingName != nil {
		trading = strings.TrimSpace(*p.TradingName)
		checkText(ve, "trading_name", trading, false, maxNameLen)
	}
	if p.CNPJ != nil {
		v, err := taxid.ParseCNPJ(*p.CNPJ)
		if err != nil {
			ve.add("cnpj", CodeInvalidCNPJ, taxidDetail(err))
		}
		cnpj = v
	}
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	// The registry is asked whenever the requirements are recomputed (a new company, a new
	// name), so that co-owners it lists are never lost from the kyc.
	var company *CompanyInfo
	if s.registry != nil && (p.CNPJ != nil || p.Name != nil) {
		lookup := cnpj
		if p.CNPJ == nil {
			cur, err := s.GetCustomer(ctx, partnerID, id)
			if err != nil {
				return nil, err
			}
			lookup = cur.CNPJ
		}
		if lookup != "" {
			info, err := s.registry.LookupCompany(ctx, lookup)
			if err != nil {
				return nil, fmt.Errorf("onboarding: company registry: %w", err)
			}
			company = info
		}
	}
	return s.mutate(ctx, partnerID, id, "partner", func(ctx context.Context, t *customerTx) error {
		c := t.c
		if c.Status == StatusDenied {
			return fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
		}
		newName := p.Name != nil && name != c.Name
		newCompany := p.CNPJ != nil && cnpj != c.CNPJ
		if c.Status == StatusActive && (newName || newCompany) {
			return fmt.Errorf("%w: an active customer cannot change its name or CNPJ: its KYC was approved for them", ErrInvalidTransition)
		}
		set := func(dst *string, v string, given bool) {
			if given && *dst != v {
				*dst, t.dirty = v, true
			}
		}
		set(&c.Name, name, p.Name != nil)
		set(&c.Email, email, p.Email != nil)
		set(&c.Phone, phone, p.Phone != nil)
		set(&c.TradingName, trading, p.TradingName != nil)
		if newCompany {
			c.CNPJ, t.dirty = cnpj, true
		}
		if company != nil && company.LegalNature != "" {
			c.LegalNature = company.LegalNature
		}
		if !newName && !newCompany {
			return nil
		}
		reqs, err := s.requirements(ctx, RequirementInput{CPF: c.CPF, CNPJ: c.CNPJ, Name: c.Name,
			LegalNature: c.LegalNature, Company: company})
		if err != nil {
			return err
		}
		merged, changed := mergeRequirements(c.KYC, reqs, !newCompany)
		if newCompany {
			// Another company: its documents must be sent again, and what depends on the
			// company (the credit analysis) starts over.
			for i := range merged {
				if merged[i].Subject == nil && merged[i].Status != RequirementPending {
					merged[i] = resetRequirement(merged[i])
					changed = true
				}
			}
			if err := t.react(ctx, triggerCompanyChanged); err != nil {
				return err
			}
		}
		if changed {
			c.KYC, t.kycChanged = merged, true
		}
		return t.settle(ctx)
	})
}

func resetRequirement(r Requirement) Requirement {
	r.Status, r.Message, r.UploadedAt, r.Submitted = RequirementPending, nil, nil, nil
	return r
}

// DenyCustomer refuses a customer for good (fraud, sanctions, unfit company). reason is
// required and recorded in the history.
func (s *Service) DenyCustomer(ctx context.Context, partnerID, customerID, reason, actor string) (_ *Customer, err error) {
	ctx, span := s.start(ctx, "DenyCustomer", partnerID)
	defer span.end(&err)
	reason = strings.TrimSpace(reason)
	ve := &ValidationError{}
	checkText(ve, "reason", reason, true, maxReasonLen)
	checkText(ve, "actor", actor, false, maxNameLen)
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	if actor == "" {
		actor = "back_office"
	}
	return s.mutate(ctx, partnerID, customerID, actor, func(ctx context.Context, t *customerTx) error {
		if t.c.Status == StatusDenied {
			return nil
		}
		return t.fire(ctx, EventDeny, reason)
	})
}
