package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Event types of the catalogue, as plain strings so a receiver can switch on Event.Type
// without importing the onboarding module. The onboarding package's EventType constants
// are these values; this is the one place they are written.
const (
	EventCustomerCreated      = "customer.created"
	EventCustomerKYCUpdated   = "customer.kyc_updated"
	EventCustomerUnderReview  = "customer.under_review"
	EventCustomerActive       = "customer.active"
	EventCustomerDenied       = "customer.denied"
	EventCreditOfferAvailable = "credit_offer.available"
	EventCreditOfferExpired   = "credit_offer.expired"
	// EventCustomerBankAccountUpdated is opt-in (see OptIn): an endpoint receives it only
	// when its filter names it exactly.
	EventCustomerBankAccountUpdated = "customer.bank_account_updated"
)

// EventTypes returns the catalogue in a stable order (a new slice each call).
func EventTypes() []string {
	return []string{EventCustomerCreated, EventCustomerKYCUpdated, EventCustomerUnderReview, EventCustomerActive,
		EventCustomerDenied, EventCreditOfferAvailable, EventCreditOfferExpired, EventCustomerBankAccountUpdated}
}

// OptIn reports whether eventType is an opt-in type: one added to the catalogue after
// endpoints already existed. Receivers written against the earlier catalogue (the official
// SDK throws on a type it does not know) would break on it, so an endpoint gets an opt-in
// type only when its filter lists that exact type: neither "*", a prefix wildcard nor an
// empty filter selects it. See Endpoint.Matches.
func OptIn(eventType string) bool {
	return eventType == EventCustomerBankAccountUpdated
}

// Event is the envelope every webhook body carries. The same event delivered to two
// endpoints has the same ID and different DeliveryIDs; a retried delivery keeps both.
type Event struct {
	// ID identifies the event ("evt_…").
	ID string `json:"id"`
	// Type is the event type, such as "credit_offer.available".
	Type string `json:"type"`
	// APIVersion is the version of the data schema.
	APIVersion string `json:"api_version"`
	// CreatedAt is when the event happened.
	CreatedAt time.Time `json:"created_at"`
	// DeliveryID identifies the delivery of this event to one endpoint ("dlv_…").
	DeliveryID string `json:"delivery_id"`
	// Timestamp is the Standard Webhooks "timestamp" field: when the event occurred. It
	// equals CreatedAt; the attempt's time travels in the webhook-timestamp header.
	Timestamp time.Time `json:"timestamp"`
	// Data is the event's payload, whose schema depends on Type (the onboarding module's docs/http-api.md lists each).
	Data json.RawMessage `json:"data"`
}

// Decode unmarshals the event's data into v. Errors wrap ErrInvalidPayload.
func (e Event) Decode(v any) error {
	if len(bytes.TrimSpace(e.Data)) == 0 {
		return fmt.Errorf("%w: event has no data", ErrInvalidPayload)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	return nil
}
