package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/banks"
	"github.com/onboardkit/onboarding/webhook"
)

// The bank-account capability: the account a customer's credit is paid into. A customer
// has at most one current account; setting another replaces it, and every account ever
// set stays in the history (a disbursement must be traceable to the account it went to).
// Each change emits customer.bank_account_updated, an opt-in event type.

// EventCustomerBankAccountUpdated is emitted when a customer's bank account is set or
// replaced. It is opt-in: only endpoints whose filter names it receive it.
const EventCustomerBankAccountUpdated EventType = webhook.EventCustomerBankAccountUpdated

// BankAccount is one bank account of a customer, as set at CreatedAt. The customer's
// current account is its newest one.
type BankAccount struct {
	// ID identifies this version of the account ("ba_…"): each change is a new ID.
	ID         string
	PartnerID  string
	CustomerID string
	// BankID is the bank's 3-digit COMPE code; BankName its name in package banks.
	BankID   string
	BankName string
	// Branch is the 4-digit branch (agência) without its check digit.
	Branch string
	// Number is the account number without its check digit; Digit is the check digit.
	Number string
	Digit  string
	Kind   banks.AccountKind
	// CreatedAt is when the account was set (the SDK's updated_at).
	CreatedAt time.Time
}

// Clone returns a copy of a.
func (a *BankAccount) Clone() *BankAccount {
	if a == nil {
		return nil
	}
	c := *a
	return &c
}

// bankAccountJSON is the guide's form of an account (RFC 3339 times).
type bankAccountJSON struct {
	ID         string            `json:"id"`
	CustomerID string            `json:"customer_id"`
	BankID     string            `json:"bank_id"`
	BankName   string            `json:"bank_name"`
	Branch     string            `json:"branch"`
	Number     string            `json:"number"`
	Digit      string            `json:"digit"`
	Kind       banks.AccountKind `json:"kind"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// MarshalJSON encodes the account as the guide's API object.
func (a *BankAccount) MarshalJSON() ([]byte, error) {
	return json.Marshal(bankAccountJSON{ID: a.ID, CustomerID: a.CustomerID, BankID: a.BankID, BankName: a.BankName,
		Branch: a.Branch, Number: a.Number, Digit: a.Digit, Kind: a.Kind, CreatedAt: a.CreatedAt, UpdatedAt: a.CreatedAt})
}

// UnmarshalJSON decodes the guide's API object (a customer.bank_account_updated
// webhook's data).
func (a *BankAccount) UnmarshalJSON(b []byte) error {
	var w bankAccountJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = BankAccount{ID: w.ID, CustomerID: w.CustomerID, BankID: w.BankID, BankName: w.BankName, Branch: w.Branch,
		Number: w.Number, Digit: w.Digit, Kind: w.Kind, CreatedAt: w.CreatedAt}
	return nil
}

// BankAccountQueries are the Store's reads and writes of bank accounts. Accounts are
// never updated or deleted: a change is a new row, and the newest row is current.
type BankAccountQueries interface {
	// InsertBankAccount appends an account to its customer's history.
	InsertBankAccount(ctx context.Context, a *BankAccount) error
	// GetBankAccount returns the customer's current account (the newest by ID).
	// ErrNotFound when the customer has none.
	GetBankAccount(ctx context.Context, partnerID, customerID string) (*BankAccount, error)
	// ListBankAccounts returns every account the customer had, oldest first.
	ListBankAccounts(ctx context.Context, partnerID, customerID string) ([]*BankAccount, error)
}

// SetBankAccount sets the customer's bank account, replacing the current one (which stays
// in the history). The account is validated and normalised by package banks (an unknown
// bank or a malformed branch or number is a *ValidationError). Setting the account the
// customer already has changes nothing and emits nothing. A denied customer's account
// cannot change (ErrInvalidTransition).
func (s *Service) SetBankAccount(ctx context.Context, partnerID, customerID string, in banks.Account) (*BankAccount, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	acct, err := normalizeAccount(in)
	if err != nil {
		return nil, err
	}
	bank, _ := banks.Lookup(acct.BankID)
	var out *BankAccount
	err = s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		c, err := q.GetCustomer(ctx, partnerID, customerID)
		if err != nil {
			return err
		}
		if c.Status == StatusDenied {
			return fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
		}
		cur, err := q.GetBankAccount(ctx, partnerID, customerID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if cur != nil && cur.BankID == acct.BankID && cur.Branch == acct.Branch && cur.Number == acct.Number &&
			cur.Digit == acct.Digit && cur.Kind == acct.Kind {
			out = cur
			return nil
		}
		now := s.clock()
		a := &BankAccount{ID: NewID(prefixBankAccount), PartnerID: partnerID, CustomerID: c.ID, BankID: acct.BankID,
			BankName: bank.Name, Branch: acct.Branch, Number: acct.Number, Digit: acct.Digit, Kind: acct.Kind, CreatedAt: now}
		if err := q.InsertBankAccount(ctx, a); err != nil {
			return err
		}
		if err := s.emit(ctx, q, c, EventCustomerBankAccountUpdated, a, now); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.notify()
	return out, nil
}

// GetBankAccount returns the customer's current bank account; ErrNotFound when it has
// none (or the customer is not the partner's).
func (s *Service) GetBankAccount(ctx context.Context, partnerID, customerID string) (*BankAccount, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetCustomer(ctx, partnerID, customerID); err != nil {
		return nil, err
	}
	return s.store.GetBankAccount(ctx, partnerID, customerID)
}

// BankAccountHistory returns every bank account the customer had, oldest first; the last
// is the current one.
func (s *Service) BankAccountHistory(ctx context.Context, partnerID, customerID string) ([]*BankAccount, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetCustomer(ctx, partnerID, customerID); err != nil {
		return nil, err
	}
	return s.store.ListBankAccounts(ctx, partnerID, customerID)
}

// normalizeAccount checks every field (missing ones first) and maps package banks'
// errors to field errors.
func normalizeAccount(in banks.Account) (banks.Account, error) {
	ve := &ValidationError{}
	for _, f := range []struct{ name, v string }{{"bank_id", in.BankID}, {"branch", in.Branch}, {"number", in.Number},
		{"digit", in.Digit}, {"kind", string(in.Kind)}} {
		if strings.TrimSpace(f.v) == "" {
			ve.add(f.name, CodeMissingRequiredField, "is required")
		}
	}
	if err := ve.orNil(); err != nil {
		return banks.Account{}, err
	}
	out, err := in.Normalize()
	var fe *banks.FieldError
	if errors.As(err, &fe) {
		return banks.Account{}, invalid(fe.Field, CodeInvalidValue, fe.Reason)
	}
	return out, err
}

// prefixBankAccount prefixes bank account IDs.
const prefixBankAccount = "ba"
