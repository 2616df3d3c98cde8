package onboarding

import (
	"encoding/json"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// EventType names a webhook event. The values are the webhook package's catalogue.
type EventType string

// The event catalogue.
const (
	EventCustomerCreated      EventType = webhook.EventCustomerCreated
	EventCustomerKYCUpdated   EventType = webhook.EventCustomerKYCUpdated
	EventCustomerUnderReview  EventType = webhook.EventCustomerUnderReview
	EventCustomerActive       EventType = webhook.EventCustomerActive
	EventCustomerDenied       EventType = webhook.EventCustomerDenied
	EventCreditOfferAvailable EventType = webhook.EventCreditOfferAvailable
	EventCreditOfferExpired   EventType = webhook.EventCreditOfferExpired
)

// EventTypes lists the catalogue in a stable order.
var EventTypes = func() []EventType {
	var out []EventType
	for _, t := range webhook.EventTypes() {
		out = append(out, EventType(t))
	}
	return out
}()

// APIVersion is the api_version written into every event envelope.
const APIVersion = "2026-11-01"

// Event is one row of the outbox: something that happened to a partner's resource, written
// in the same transaction as the change. Data is the event's payload.
type Event struct {
	ID        string
	PartnerID string
	Type      EventType
	// CustomerID is the customer the event is about.
	CustomerID string
	Data       json.RawMessage
	CreatedAt  time.Time
}

// Clone returns a deep copy of e.
func (e *Event) Clone() *Event {
	if e == nil {
		return nil
	}
	c := *e
	c.Data = append(json.RawMessage(nil), e.Data...)
	return &c
}

// ListEventsParams filters event listings.
type ListEventsParams struct {
	CustomerID string
	Type       EventType
	// CreatedFrom keeps events created at or after it (zero: all).
	CreatedFrom   time.Time
	Limit         int
	StartingAfter string
}

// Event payloads (docs/http-api.md, "Event types and their data"). Embedded structs keep
// the field order of the documented payloads.
type (
	customerRef struct {
		ID         string `json:"id"`
		ExternalID string `json:"external_id"`
	}
	customerContact struct {
		customerRef
		Name  string  `json:"name"`
		Email string  `json:"email"`
		Phone string  `json:"phone"`
		CPF   string  `json:"cpf"`
		CNPJ  *string `json:"cnpj"`
	}
	customerCreatedData struct {
		customerContact
		TradingName string        `json:"trading_name"`
		Status      Status        `json:"status"`
		KYC         []Requirement `json:"kyc"`
	}
	customerKYCData struct {
		customerRef
		Status Status        `json:"status"`
		KYC    []Requirement `json:"kyc"`
	}
	customerStatusData struct {
		customerRef
		Status Status `json:"status"`
	}
	customerDeniedData struct {
		customerContact
		Status Status `json:"status"`
	}
)

func cnpjPtr(c *Customer) *string {
	if c.CNPJ == "" {
		return nil
	}
	s := c.CNPJ.String()
	return &s
}

func kycOrEmpty(k []Requirement) []Requirement {
	if k == nil {
		return []Requirement{}
	}
	return k
}

// customerEventData builds the payload of a customer event.
func customerEventData(t EventType, c *Customer) any {
	ref := customerRef{ID: c.ID, ExternalID: c.ExternalID}
	contact := customerContact{customerRef: ref, Name: c.Name, Email: c.Email, Phone: c.Phone, CPF: c.CPF.String(), CNPJ: cnpjPtr(c)}
	switch t {
	case EventCustomerCreated:
		return customerCreatedData{customerContact: contact, TradingName: c.TradingName, Status: c.Status, KYC: kycOrEmpty(c.KYC)}
	case EventCustomerKYCUpdated:
		return customerKYCData{customerRef: ref, Status: c.Status, KYC: kycOrEmpty(c.KYC)}
	case EventCustomerDenied:
		return customerDeniedData{customerContact: contact, Status: c.Status}
	default:
		return customerStatusData{customerRef: ref, Status: c.Status}
	}
}
