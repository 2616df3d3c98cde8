package onboarding

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/onboardkit/onboarding/banks"
	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/webhook"
)

// Two wire formats share one domain. The guide's format is the JSON methods of the
// domain types (RFC 3339 timestamps, amounts as decimal strings). The official SDK's
// format (API version APIVersionSDK) is written here, in one place: timestamps are integer
// Unix seconds, amounts JSON numbers with two decimals, absent names and external IDs
// null, and KYC items carry the SDK's requirement IDs. httpapi serves the guide's format
// under /v3 and the SDK's under /api/v3; a webhook endpoint's deliveries follow the format
// of the API it was created through.

// WireFormat names a wire format.
type WireFormat string

// The wire formats.
const (
	// WireFormatGuide is the format of the partner guide (docs/http-api.md).
	WireFormatGuide WireFormat = "guide"
	// WireFormatSDK is the format of the official JavaScript SDK.
	WireFormatSDK WireFormat = "sdk"
)

// APIVersionSDK is the api_version of the SDK's format, written into the envelope of
// deliveries in that format.
const APIVersionSDK = "2026-03-01"

// Valid reports whether f is one of the formats.
func (f WireFormat) Valid() bool { return f == WireFormatGuide || f == WireFormatSDK }

// APIVersion is the api_version of the format.
func (f WireFormat) APIVersion() string {
	if f == WireFormatSDK {
		return APIVersionSDK
	}
	return APIVersion
}

// Encode returns v as f writes it, ready for json.Marshal. The guide's format is v
// itself. The SDK's format converts the domain types (Customer, CreditOffer,
// WebhookEndpoint, BiometricsSession, BankAccount, Credential, Simulation, Document, and
// Pages of them); other values are returned unchanged.
func (f WireFormat) Encode(v any) any {
	if f != WireFormatSDK {
		return v
	}
	switch x := v.(type) {
	case *Customer:
		return sdkCustomerOf(x)
	case *CreditOffer:
		return sdkOfferOf(x)
	case *WebhookEndpoint:
		return sdkEndpointOf(x)
	case *BiometricsSession:
		return sdkSession{URL: x.URL, ExpiresAt: x.ExpiresAt.Unix()}
	case BiometricsSession:
		return sdkSession{URL: x.URL, ExpiresAt: x.ExpiresAt.Unix()}
	case *BankAccount:
		return sdkBankAccountOf(x)
	case *Credential:
		return sdkCredentialOf(x)
	case *Simulation:
		return sdkSimulationOf(x)
	case *Document:
		return sdkDocumentOf(x)
	case *CustomerPage:
		return sdkPage(x, sdkCustomerOf)
	case *OfferPage:
		return sdkPage(x, sdkOfferOf)
	case *EndpointPage:
		return sdkPage(x, sdkEndpointOf)
	case *CredentialPage:
		return sdkPage(x, sdkCredentialOf)
	}
	return v
}

// Time encodes a timestamp in f: the time itself (RFC 3339 once marshalled) for the guide,
// Unix seconds for the SDK.
func (f WireFormat) Time(t time.Time) any {
	if f == WireFormatSDK {
		return t.Unix()
	}
	return t
}

// SDKRequirementID is the SDK's requirement_id of an item: its requirement type for an
// item about the company ("articles_of_association", "company_document",
// "ei_mei_documents"), and the type and the subject for an item about a person
// ("identity_applicant", "selfie_co_owner_1").
func SDKRequirementID(r *Requirement) string {
	if r.Subject != nil {
		return string(r.Type) + "_" + r.Subject.ID
	}
	return string(r.Type)
}

// RequirementForWire returns the customer's item with requirement ID id as format f
// names it (the SDK's IDs, or the guide's "req_…"), or nil. The SDK's format also takes
// the guide's IDs.
func (f WireFormat) RequirementForWire(c *Customer, id string) *Requirement {
	if r := c.Requirement(id); r != nil {
		return r
	}
	if f == WireFormatSDK {
		for i := range c.KYC {
			if SDKRequirementID(&c.KYC[i]) == id {
				return &c.KYC[i]
			}
		}
	}
	return nil
}

// RequirementID is the ID format f shows for r.
func (f WireFormat) RequirementID(r *Requirement) string {
	if f == WireFormatSDK {
		return SDKRequirementID(r)
	}
	return r.ID
}

// sdkMoney is an amount as a JSON number with two decimals (127000.00).
type sdkMoney money.Money

// MarshalJSON writes the amount as a number.
func (m sdkMoney) MarshalJSON() ([]byte, error) { return []byte(money.Money(m).String()), nil }

// nullable returns nil for "", else &s.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// epochPtr is Unix seconds, or nil for the zero time.
func epochPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.Unix()
	return &v
}

type sdkSubmission struct {
	EvidenceType string       `json:"evidence_type"`
	Attachments  []Attachment `json:"attachments"`
	ReviewStatus string       `json:"review_status"`
	ReviewReason *string      `json:"review_reason"`
}

type sdkRequirement struct {
	RequirementID   string            `json:"requirement_id"`
	RequirementType RequirementType   `json:"requirement_type"`
	Label           string            `json:"label"`
	Mandatory       bool              `json:"mandatory"`
	Status          RequirementStatus `json:"status"`
	Subject         *Subject          `json:"subject,omitempty"`
	Submitted       *sdkSubmission    `json:"submitted,omitempty"`
}

func sdkRequirements(rs []Requirement) []sdkRequirement {
	out := make([]sdkRequirement, len(rs))
	for i := range rs {
		r := &rs[i]
		out[i] = sdkRequirement{RequirementID: SDKRequirementID(r), RequirementType: r.Type, Label: r.Label,
			Mandatory: r.Mandatory, Status: r.Status, Subject: r.Subject}
		if s := r.Submitted; s != nil {
			att := s.Attachments
			if att == nil {
				att = []Attachment{}
			}
			out[i].Submitted = &sdkSubmission{EvidenceType: s.EvidenceType, Attachments: att,
				ReviewStatus: s.ReviewStatus, ReviewReason: s.ReviewReason}
		}
	}
	return out
}

type sdkCustomer struct {
	ID          string           `json:"id"`
	Status      Status           `json:"status"`
	CPF         string           `json:"cpf"`
	CNPJ        *string          `json:"cnpj"`
	Name        *string          `json:"name"`
	Email       string           `json:"email"`
	Phone       string           `json:"phone"`
	TradingName *string          `json:"trading_name"`
	ExternalID  *string          `json:"external_id"`
	LegalNature *LegalNature     `json:"legal_nature,omitempty"`
	KYC         []sdkRequirement `json:"kyc"`
	CreatedAt   int64            `json:"created_at"`
	UpdatedAt   int64            `json:"updated_at"`
}

func sdkCustomerOf(c *Customer) sdkCustomer {
	out := sdkCustomer{ID: c.ID, Status: c.Status, CPF: c.CPF.String(), CNPJ: cnpjPtr(c), Name: nullable(c.Name),
		Email: c.Email, Phone: c.Phone, TradingName: nullable(c.TradingName), ExternalID: nullable(c.ExternalID),
		KYC: sdkRequirements(c.KYC), CreatedAt: c.CreatedAt.Unix(), UpdatedAt: c.UpdatedAt.Unix()}
	if c.LegalNature != "" {
		ln := c.LegalNature
		out.LegalNature = &ln
	}
	return out
}

type sdkOffer struct {
	ID                  string      `json:"id"`
	CustomerID          string      `json:"customer_id"`
	ExternalID          *string     `json:"external_id,omitempty"` // optional in the SDK's offer (null in event data)
	Status              OfferStatus `json:"status"`
	ApprovedAmount      sdkMoney    `json:"approved_amount"`
	MinAmount           sdkMoney    `json:"min_amount"`
	MonthlyInterestRate money.Rate  `json:"monthly_interest_rate"`
	Installments        *int        `json:"installments,omitempty"`
	MinInstallments     *int        `json:"min_installments,omitempty"`
	MaxInstallments     *int        `json:"max_installments,omitempty"`
	DueDateRule         *string     `json:"due_date_rule"`
	ValidUntil          int64       `json:"valid_until"`
	CreatedAt           int64       `json:"created_at"`
	UpdatedAt           int64       `json:"updated_at"`
}

func sdkOfferOf(o *CreditOffer) sdkOffer {
	out := sdkOffer{ID: o.ID, CustomerID: o.CustomerID, ExternalID: nullable(o.ExternalID), Status: o.Status,
		ApprovedAmount: sdkMoney(o.ApprovedAmount), MinAmount: sdkMoney(o.MinAmount), MonthlyInterestRate: o.MonthlyInterestRate,
		DueDateRule: nullable(o.DueDateRule), ValidUntil: o.ValidUntil.Unix(), CreatedAt: o.CreatedAt.Unix(), UpdatedAt: o.UpdatedAt.Unix()}
	if o.Installments > 0 {
		n := o.Installments
		out.Installments = &n
	} else {
		lo, hi := o.MinInstallments, o.MaxInstallments
		out.MinInstallments, out.MaxInstallments = &lo, &hi
	}
	return out
}

type sdkEndpoint struct {
	ID          string                 `json:"id"`
	URL         string                 `json:"url"`
	Events      []string               `json:"events"`
	Description string                 `json:"description"`
	Status      webhook.EndpointStatus `json:"status"`
	CreatedAt   int64                  `json:"created_at"`
	UpdatedAt   int64                  `json:"updated_at"`
}

func sdkEndpointOf(e *WebhookEndpoint) sdkEndpoint {
	ev := e.Events
	if ev == nil {
		ev = []string{}
	}
	return sdkEndpoint{ID: e.ID, URL: e.URL, Events: ev, Description: e.Description, Status: e.Status,
		CreatedAt: e.CreatedAt.Unix(), UpdatedAt: e.UpdatedAt.Unix()}
}

type sdkSession struct {
	URL       string `json:"session_url"`
	ExpiresAt int64  `json:"expires_at"`
}

type sdkBankAccount struct {
	ID         string            `json:"id"`
	CustomerID string            `json:"customer_id"`
	BankID     string            `json:"bank_id"`
	BankName   string            `json:"bank_name"`
	Branch     string            `json:"branch"`
	Number     string            `json:"number"`
	Digit      string            `json:"digit"`
	Kind       banks.AccountKind `json:"kind"`
	UpdatedAt  int64             `json:"updated_at"`
}

func sdkBankAccountOf(a *BankAccount) sdkBankAccount {
	return sdkBankAccount{ID: a.ID, CustomerID: a.CustomerID, BankID: a.BankID, BankName: a.BankName, Branch: a.Branch,
		Number: a.Number, Digit: a.Digit, Kind: a.Kind, UpdatedAt: a.CreatedAt.Unix()}
}

type sdkCredential struct {
	ID         string           `json:"id"`
	ClientID   string           `json:"client_id"`
	Name       string           `json:"name"`
	Status     CredentialStatus `json:"status"`
	Scopes     []Scope          `json:"scopes"`
	ExpiresAt  *int64           `json:"expires_at"`
	LastUsedAt *int64           `json:"last_used_at"`
	CreatedAt  int64            `json:"created_at"`
	UpdatedAt  int64            `json:"updated_at"`
}

func sdkCredentialOf(c *Credential) sdkCredential {
	return sdkCredential{ID: c.ID, ClientID: c.ID, Name: c.Name, Status: c.Status, Scopes: c.Scopes,
		ExpiresAt: epochPtr(c.ExpiresAt), LastUsedAt: epochPtr(c.LastUsedAt), CreatedAt: c.CreatedAt.Unix(), UpdatedAt: c.UpdatedAt.Unix()}
}

type sdkSimulation struct {
	ID                  string     `json:"id"`
	CreditOfferID       string     `json:"credit_offer_id"`
	CustomerID          string     `json:"customer_id"`
	RequestedAmount     sdkMoney   `json:"requested_amount"`
	PrincipalAmount     sdkMoney   `json:"principal_amount"`
	InterestAmount      sdkMoney   `json:"interest_amount"`
	IOFAmount           sdkMoney   `json:"iof_amount"`
	FeeAmount           sdkMoney   `json:"fee_amount"`
	TotalAmount         sdkMoney   `json:"total_amount"`
	MonthlyInterestRate money.Rate `json:"monthly_interest_rate"`
	AnnualInterestRate  money.Rate `json:"annual_interest_rate"`
	MonthlyCETRate      money.Rate `json:"monthly_cet_rate"`
	AnnualCETRate       money.Rate `json:"annual_cet_rate"`
	InstallmentCount    int        `json:"installment_count"`
	InstallmentAmount   sdkMoney   `json:"installment_amount"`
	FirstDueDate        string     `json:"first_due_date"`
	CreatedAt           int64      `json:"created_at"`
}

func sdkSimulationOf(sim *Simulation) sdkSimulation {
	t := sim.Terms
	return sdkSimulation{ID: sim.ID, CreditOfferID: sim.CreditOfferID, CustomerID: sim.CustomerID,
		RequestedAmount: sdkMoney(t.RequestedAmount), PrincipalAmount: sdkMoney(t.PrincipalAmount),
		InterestAmount: sdkMoney(t.InterestAmount), IOFAmount: sdkMoney(t.IOFAmount), FeeAmount: sdkMoney(t.FeeAmount),
		TotalAmount: sdkMoney(t.TotalAmount), MonthlyInterestRate: t.MonthlyInterestRate, AnnualInterestRate: t.AnnualInterestRate,
		MonthlyCETRate: t.MonthlyCETRate, AnnualCETRate: t.AnnualCETRate, InstallmentCount: t.InstallmentCount,
		InstallmentAmount: sdkMoney(t.InstallmentAmount), FirstDueDate: t.FirstDueDate, CreatedAt: sim.CreatedAt.Unix()}
}

type sdkDocument struct {
	ID              string         `json:"id"`
	CustomerID      string         `json:"customer_id"`
	RequirementID   string         `json:"requirement_id"`
	Type            DocumentType   `json:"type"`
	Status          DocumentStatus `json:"status"`
	ContentType     Format         `json:"content_type"`
	Size            int64          `json:"size"`
	SHA256          string         `json:"sha256"`
	RejectionReason *string        `json:"rejection_reason"`
	UploadedAt      int64          `json:"uploaded_at"`
	CreatedAt       int64          `json:"created_at"`
	UpdatedAt       int64          `json:"updated_at"`
}

func sdkDocumentOf(d *Document) sdkDocument {
	return sdkDocument{ID: d.ID, CustomerID: d.CustomerID, RequirementID: d.RequirementID, Type: d.Type, Status: d.Status,
		ContentType: d.ContentType, Size: d.Size, SHA256: d.SHA256, RejectionReason: nullable(d.RejectionReason),
		UploadedAt: d.CreatedAt.Unix(), CreatedAt: d.CreatedAt.Unix(), UpdatedAt: d.UpdatedAt.Unix()}
}

type sdkPageOf[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func sdkPage[E, T any](p *Page[E], f func(E) T) sdkPageOf[T] {
	out := sdkPageOf[T]{Object: "list", Data: make([]T, len(p.Data)), HasMore: p.HasMore}
	for i, e := range p.Data {
		out.Data[i] = f(e)
	}
	return out
}

// sdkEnvelope is a delivery's body in the SDK's format.
type sdkEnvelope struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	APIVersion string          `json:"api_version"`
	CreatedAt  int64           `json:"created_at"`
	DeliveryID string          `json:"delivery_id"`
	Timestamp  int64           `json:"timestamp"`
	Data       json.RawMessage `json:"data"`
}

// envelope is the body of delivery d of event e, in format f.
func envelope(f WireFormat, e *Event, d *Delivery) ([]byte, error) {
	if f != WireFormatSDK {
		return json.Marshal(webhook.Event{ID: e.ID, Type: string(e.Type), APIVersion: APIVersion, CreatedAt: e.CreatedAt,
			DeliveryID: d.ID, Timestamp: e.CreatedAt, Data: e.Data})
	}
	data, err := sdkEventData(e.Type, e.Data)
	if err != nil {
		return nil, fmt.Errorf("onboarding: event %s: %w", e.ID, err)
	}
	return json.Marshal(sdkEnvelope{ID: e.ID, Type: string(e.Type), APIVersion: APIVersionSDK, CreatedAt: e.CreatedAt.Unix(),
		DeliveryID: d.ID, Timestamp: e.CreatedAt.Unix(), Data: data})
}

// sdkEventData re-encodes an event's data, stored in the guide's format, in the SDK's.
// Customer events keep their fields; names and external IDs that are empty become null,
// and KYC items take the SDK's shape.
func sdkEventData(t EventType, data json.RawMessage) (json.RawMessage, error) {
	switch t {
	case EventCreditOfferAvailable, EventCreditOfferExpired:
		var o CreditOffer
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, err
		}
		// The SDK's offer event data has a nullable external_id where its offer object has
		// an optional one.
		return json.Marshal(struct {
			sdkOffer
			ExternalID *string `json:"external_id"`
		}{sdkOfferOf(&o), nullable(o.ExternalID)})
	case EventCustomerBankAccountUpdated:
		var a BankAccount
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, err
		}
		return json.Marshal(sdkBankAccountOf(&a))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for _, k := range []string{"external_id", "name", "trading_name"} {
		if v, ok := m[k]; ok {
			if s, err := strconv.Unquote(string(v)); err == nil && s == "" {
				m[k] = json.RawMessage("null")
			}
		}
	}
	if v, ok := m["kyc"]; ok {
		var reqs []Requirement
		if err := json.Unmarshal(v, &reqs); err != nil {
			return nil, err
		}
		b, err := json.Marshal(sdkRequirements(reqs))
		if err != nil {
			return nil, err
		}
		m["kyc"] = b
	}
	return json.Marshal(m)
}
