package onboarding

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Biometrics sessions for a hosted KYC page. When Options.KYCPageURL is set,
// StartBiometricsSession issues a one-time code with each session and the session URL is
// that page with ?code=bsc_…. The page (or whoever it hands the code to) exchanges the
// code once, through ExchangeBiometricsCode, for a CustomerSession: the right to act for
// that one customer until the session expires. Only the code's SHA-256 is stored.

// BiometricsCode is the stored form of a session's one-time code.
type BiometricsCode struct {
	// Hash is the hex SHA-256 of the code.
	Hash       string
	PartnerID  string
	CustomerID string
	ExpiresAt  time.Time
	CreatedAt  time.Time
	// UsedAt is when the code was exchanged (zero: not yet).
	UsedAt time.Time
}

// Clone returns a copy of c.
func (c *BiometricsCode) Clone() *BiometricsCode {
	if c == nil {
		return nil
	}
	out := *c
	return &out
}

// BiometricsCodeQueries are the Store's reads and writes of biometrics session codes.
type BiometricsCodeQueries interface {
	// InsertBiometricsCode stores a new code.
	InsertBiometricsCode(ctx context.Context, c *BiometricsCode) error
	// ConsumeBiometricsCode marks the code with this hash used at now and returns it,
	// when it is unused and expires after now, and (when partnerID is not empty) belongs
	// to partnerID. Otherwise ErrNotFound, and nothing changes. Of concurrent calls with
	// the same code, at most one succeeds.
	ConsumeBiometricsCode(ctx context.Context, partnerID, hash string, now time.Time) (*BiometricsCode, error)
	// PruneBiometricsCodes deletes up to limit codes, used or not, that expired before
	// before (their sessions have ended with them), oldest first, and returns how many.
	PruneBiometricsCodes(ctx context.Context, before time.Time, limit int) (int, error)
}

// CustomerSession is what a biometrics code was exchanged for: the right to act for one
// customer (read it, upload its KYC) until ExpiresAt.
type CustomerSession struct {
	PartnerID  string
	CustomerID string
	ExpiresAt  time.Time
}

// biometricsCodePrefix starts every code, so that a code is recognisable in a URL.
const biometricsCodePrefix = "bsc_"

// hashCode is the stored form of a code.
func hashCode(code string) string { return strings.TrimPrefix(HashClientSecret(code), "sha256:") }

// hostedSession gives sess a one-time code on the hosted KYC page, in q's transaction.
func (s *Service) hostedSession(ctx context.Context, q Queries, c *Customer, sess *BiometricsSession) error {
	code, err := newSecret(biometricsCodePrefix)
	if err != nil {
		return err
	}
	now := s.clock()
	if err := q.InsertBiometricsCode(ctx, &BiometricsCode{Hash: hashCode(code), PartnerID: c.PartnerID, CustomerID: c.ID,
		ExpiresAt: sess.ExpiresAt.UTC().Truncate(time.Microsecond), CreatedAt: now}); err != nil {
		return err
	}
	sep := "?"
	if strings.Contains(s.kycPageURL, "?") {
		sep = "&"
	}
	sess.URL = s.kycPageURL + sep + "code=" + url.QueryEscape(code)
	return nil
}

// ErrInvalidCode is returned by ExchangeBiometricsCode for a code that is unknown,
// already used, expired, or another partner's.
var ErrInvalidCode = errors.New("onboarding: invalid or used biometrics code")

// ExchangeBiometricsCode exchanges a session's one-time code (the code parameter of the
// session URL) for a CustomerSession. A code works once, until its session expires.
// partnerID restricts the exchange to the partner's own codes (a partner's API client
// exchanging); the lender's own KYC page, which serves every partner, passes "". Any
// failure is ErrInvalidCode; the customer must not be denied (ErrInvalidTransition).
func (s *Service) ExchangeBiometricsCode(ctx context.Context, partnerID, code string) (*CustomerSession, error) {
	if partnerID != "" {
		if err := checkPartner(partnerID); err != nil {
			return nil, err
		}
	}
	if !strings.HasPrefix(code, biometricsCodePrefix) || len(code) > 128 {
		return nil, ErrInvalidCode
	}
	bc, err := s.store.ConsumeBiometricsCode(ctx, partnerID, hashCode(code), s.clock())
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidCode
	}
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(ctx, bc.PartnerID, bc.CustomerID)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusDenied {
		return nil, fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
	}
	return &CustomerSession{PartnerID: bc.PartnerID, CustomerID: bc.CustomerID, ExpiresAt: bc.ExpiresAt}, nil
}
