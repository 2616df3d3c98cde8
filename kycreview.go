package onboarding

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The KYC-review capability: a partner says "every document is in, review it". The
// lifecycle already moves a customer to under_review when its last mandatory item is
// submitted (lifecycle.go's settle), so the call mostly confirms; it exists for clients,
// such as the official SDK, that ask for the review explicitly and want to be told what is
// still missing.

// ErrKYCIncomplete is matched by the *KYCIncompleteError StartKYCReview returns while a
// mandatory item is pending or rejected.
var ErrKYCIncomplete = errors.New("onboarding: kyc incomplete")

// KYCIncompleteError lists the mandatory items a customer still owes. It matches
// ErrKYCIncomplete.
type KYCIncompleteError struct {
	// Missing are the mandatory items still pending or rejected, in policy order.
	Missing []Requirement
}

// Error names the missing items by requirement ID.
func (e *KYCIncompleteError) Error() string {
	ids := make([]string, len(e.Missing))
	for i, r := range e.Missing {
		ids[i] = r.ID
	}
	return "onboarding: kyc incomplete: missing " + strings.Join(ids, ", ")
}

// Is makes errors.Is(err, ErrKYCIncomplete) true.
func (e *KYCIncompleteError) Is(target error) bool { return target == ErrKYCIncomplete }

// StartKYCReview submits the customer's KYC for review. When every mandatory item is
// submitted the customer is (or becomes) under_review and is returned; a customer already
// under review or active is returned as it is, so the call is idempotent. While a
// mandatory item is pending or rejected it returns a *KYCIncompleteError naming them; a
// denied customer is ErrInvalidTransition.
func (s *Service) StartKYCReview(ctx context.Context, partnerID, customerID string) (*Customer, error) {
	c, err := s.GetCustomer(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case StatusUnderReview, StatusActive:
		return c, nil
	case StatusDenied:
		return nil, fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
	}
	if missing := missingItems(c); len(missing) > 0 {
		return nil, &KYCIncompleteError{Missing: missing}
	}
	// Every item is in but the customer is still pending (a policy change, say): settle.
	return s.mutate(ctx, partnerID, customerID, "partner", func(ctx context.Context, t *customerTx) error {
		if missing := missingItems(t.c); len(missing) > 0 {
			return &KYCIncompleteError{Missing: missing}
		}
		return t.settle(ctx)
	})
}

// missingItems are the mandatory items of c neither submitted nor approved.
func missingItems(c *Customer) []Requirement {
	var out []Requirement
	for _, r := range c.KYC {
		if r.Mandatory && (r.Status == RequirementPending || r.Status == RequirementRejected) {
			out = append(out, r.clone())
		}
	}
	return out
}
