package onboarding

import (
	"encoding/json"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/onboardkit/onboarding/taxid"
)

// Status is a customer's lifecycle state. See the package documentation for the diagram.
type Status string

const (
	// StatusPendingKYC: the customer owes at least one mandatory KYC item.
	StatusPendingKYC Status = "pending_kyc"
	// StatusUnderReview: every mandatory item is submitted and waits for a reviewer.
	StatusUnderReview Status = "under_review"
	// StatusActive: every mandatory item is approved. The customer may take credit.
	StatusActive Status = "active"
	// StatusDenied: the customer was refused (fraud, sanctions, unfit company). Terminal.
	StatusDenied Status = "denied"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPendingKYC, StatusUnderReview, StatusActive, StatusDenied:
		return true
	}
	return false
}

// DefaultPartnerID is the partner a single-tenant lender passes to every call.
const DefaultPartnerID = "default"

// Customer is a business customer registered by a partner. Every customer belongs to
// exactly one partner; other partners never see it.
type Customer struct {
	ID          string
	PartnerID   string
	ExternalID  string
	CPF         taxid.CPF
	CNPJ        taxid.CNPJ // empty for a person without a company
	Name        string
	Email       string
	Phone       string // E.164
	TradingName string
	// LegalNature is the company's legal nature, from the registration input or the
	// CompanyRegistry. Empty when unknown.
	LegalNature LegalNature
	Status      Status
	// KYC is the list of verification items the customer owes, in policy order.
	KYC []Requirement
	// Version increases by one on every write; stores use it for compare-and-set.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TaxKey is the per-partner uniqueness key of a customer: its CNPJ, or its CPF when it has
// no CNPJ. The prefixes keep the two namespaces apart.
func (c *Customer) TaxKey() string { return taxKey(c.CPF, c.CNPJ) }

func taxKey(cpf taxid.CPF, cnpj taxid.CNPJ) string {
	if cnpj != "" {
		return "cnpj:" + string(cnpj)
	}
	return "cpf:" + string(cpf)
}

// Requirement returns the item with the given ID, or nil.
func (c *Customer) Requirement(id string) *Requirement {
	for i := range c.KYC {
		if c.KYC[i].ID == id {
			return &c.KYC[i]
		}
	}
	return nil
}

// Clone returns a deep copy of c. Stores hand out clones so that callers never share
// memory with the stored state.
func (c *Customer) Clone() *Customer {
	if c == nil {
		return nil
	}
	out := *c
	out.KYC = cloneRequirements(c.KYC)
	return &out
}

// customerJSON is the wire form of a Customer (docs/http-api.md, "The customer object").
type customerJSON struct {
	ID          string        `json:"id"`
	Status      Status        `json:"status"`
	CPF         string        `json:"cpf"`
	CNPJ        *string       `json:"cnpj"`
	Name        string        `json:"name"`
	Email       string        `json:"email"`
	Phone       string        `json:"phone"`
	TradingName string        `json:"trading_name"`
	ExternalID  string        `json:"external_id"`
	LegalNature *LegalNature  `json:"legal_nature,omitempty"`
	KYC         []Requirement `json:"kyc"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// MarshalJSON encodes the customer as the API object: formatted CPF and CNPJ, snake_case,
// no partner or version.
func (c *Customer) MarshalJSON() ([]byte, error) {
	w := customerJSON{
		ID: c.ID, Status: c.Status, CPF: c.CPF.String(), Name: c.Name, Email: c.Email,
		Phone: c.Phone, TradingName: c.TradingName, ExternalID: c.ExternalID, KYC: c.KYC,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	if c.CNPJ != "" {
		s := c.CNPJ.String()
		w.CNPJ = &s
	}
	if c.LegalNature != "" {
		ln := c.LegalNature
		w.LegalNature = &ln
	}
	if w.KYC == nil {
		w.KYC = []Requirement{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the API object (a customer.created webhook's data, say), checking
// the CPF and CNPJ. Partner and version are not part of it and stay zero.
func (c *Customer) UnmarshalJSON(b []byte) error {
	var w struct {
		customerJSON
		CPF  taxid.CPF   `json:"cpf"`
		CNPJ *taxid.CNPJ `json:"cnpj"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*c = Customer{ID: w.ID, Status: w.Status, CPF: w.CPF, Name: w.Name, Email: w.Email, Phone: w.Phone,
		TradingName: w.TradingName, ExternalID: w.ExternalID, KYC: w.KYC, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if w.CNPJ != nil {
		c.CNPJ = *w.CNPJ
	}
	if w.LegalNature != nil {
		c.LegalNature = *w.LegalNature
	}
	return nil
}

// CreateCustomerParams is the registration input. Strings are taken as the partner sent
// them; CreateCustomer trims, normalises and validates them.
type CreateCustomerParams struct {
	ExternalID  string
	CPF         string
	CNPJ        string // optional: empty for a person
	Name        string
	Email       string
	Phone       string
	TradingName string
	// LegalNature is optional: mei, ei, ltda, slu, sa, eireli. When empty, the
	// CompanyRegistry (if configured) decides, else the default policy assumes MEI.
	LegalNature string
	// NameOptional and ExternalIDOptional accept a registration without a name or an
	// external_id, as the official SDK's format does. A customer without an external_id
	// is found again by its CPF/CNPJ alone.
	NameOptional       bool
	ExternalIDOptional bool
}

// UpdateCustomerParams holds the fields a partner may correct (PATCH /customers/{id}). Nil means
// unchanged. CPF and external_id are read-only.
type UpdateCustomerParams struct {
	Name        *string
	Email       *string
	Phone       *string
	CNPJ        *string
	TradingName *string
}

// ListCustomersParams filters and pages ListCustomers.
type ListCustomersParams struct {
	ExternalID string
	CPF        string
	Status     Status
	// Sort is "created_at" (default) or "updated_at".
	Sort string
	// Order is "desc" (default, newest first) or "asc".
	Order string
	// Limit is 1..100; 0 means 25.
	Limit int
	// StartingAfter is the ID of the last customer of the previous page.
	StartingAfter string
}

// CustomerPage is one page of ListCustomers.
type CustomerPage = Page[*Customer]

// Field length limits.
const (
	maxExternalIDLen = 128
	maxNameLen       = 200
	maxEmailLen      = 254
)

// normalizedCustomer is CreateCustomerParams after validation.
type normalizedCustomer struct {
	externalID, name, email, phone, tradingName string
	cpf                                         taxid.CPF
	cnpj                                        taxid.CNPJ
	legalNature                                 LegalNature
}

func (p *CreateCustomerParams) normalize() (normalizedCustomer, error) {
	var n normalizedCustomer
	ve := &ValidationError{}
	n.externalID = strings.TrimSpace(p.ExternalID)
	checkText(ve, "external_id", n.externalID, !p.ExternalIDOptional, maxExternalIDLen)
	if strings.TrimSpace(p.CPF) == "" {
		ve.add("cpf", CodeMissingRequiredField, "is required")
	} else if cpf, err := taxid.ParseCPF(p.CPF); err != nil {
		ve.add("cpf", CodeInvalidCPF, taxidDetail(err))
	} else {
		n.cpf = cpf
	}
	if strings.TrimSpace(p.CNPJ) != "" {
		if cnpj, err := taxid.ParseCNPJ(p.CNPJ); err != nil {
			ve.add("cnpj", CodeInvalidCNPJ, taxidDetail(err))
		} else {
			n.cnpj = cnpj
		}
	}
	n.name = strings.TrimSpace(p.Name)
	checkText(ve, "name", n.name, !p.NameOptional, maxNameLen)
	n.email = checkEmail(ve, p.Email)
	n.phone = checkPhone(ve, p.Phone)
	n.tradingName = strings.TrimSpace(p.TradingName)
	checkText(ve, "trading_name", n.tradingName, false, maxNameLen)
	if p.LegalNature != "" {
		ln, err := ParseLegalNature(p.LegalNature)
		if err != nil {
			ve.add("legal_nature", CodeInvalidValue, err.Error())
		}
		n.legalNature = ln
	}
	return n, ve.orNil()
}

// taxidDetail strips the package prefix from a taxid error for a field detail.
func taxidDetail(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// checkText validates a free-text field: valid UTF-8, no control characters, length.
func checkText(ve *ValidationError, param, s string, required bool, maxLen int) {
	switch {
	case s == "":
		if required {
			ve.add(param, CodeMissingRequiredField, "is required")
		}
	case !utf8.ValidString(s):
		ve.add(param, CodeInvalidValue, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxLen:
		ve.add(param, CodeInvalidValue, "must be at most "+strconv.Itoa(maxLen)+" characters")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		ve.add(param, CodeInvalidValue, "must not contain control characters")
	}
}

// checkEmail validates an address (addr-spec only, no display name) and returns it with
// the domain lower-cased.
func checkEmail(ve *ValidationError, raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		ve.add("email", CodeMissingRequiredField, "is required")
		return ""
	}
	if len(s) > maxEmailLen {
		ve.add("email", CodeInvalidEmail, "must be at most 254 characters")
		return ""
	}
	a, err := mail.ParseAddress(s)
	at := strings.LastIndexByte(s, '@')
	if err != nil || a.Address != s || a.Name != "" || at < 1 ||
		!strings.Contains(s[at+1:], ".") || strings.ContainsAny(s, " \t\r\n<>") {
		ve.add("email", CodeInvalidEmail, "must be an email address such as name@example.com")
		return ""
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:])
}

// checkPhone validates an E.164 number. Spaces, dashes, dots and parentheses are removed
// first; the leading + and country code are required (no country is guessed).
func checkPhone(ve *ValidationError, raw string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		ve.add("phone", CodeMissingRequiredField, "is required")
		return ""
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			ve.add("phone", CodeInvalidPhone, "must be in E.164 format, such as +5511912345678")
			return ""
		}
	}
	p := b.String()
	if len(p) < 9 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		ve.add("phone", CodeInvalidPhone, "must be in E.164 format, such as +5511912345678")
		return ""
	}
	return p
}

// maxReasonLen bounds a review or denial reason.
const maxReasonLen = 1000

// cleanText keeps text from outside (a client's file name, a provider's reason) as
// printable, valid UTF-8 of at most max bytes.
func cleanText(text string, max int) string {
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(text, ""))
	return truncate(text, max)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
