package onboarding

import (
	"slices"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// WebhookEndpoint is a partner's webhook destination as stored: the webhook package's
// Endpoint (URL, filter, status, secrets) plus a version for compare-and-set writes. Its
// JSON form is the API's endpoint object, without secrets.
type WebhookEndpoint struct {
	webhook.Endpoint
	// Format is the wire format of the endpoint's deliveries: the one of the API it was
	// created through (WireFormatGuide when empty). It never changes.
	Format  WireFormat `json:"-"`
	Version int64      `json:"-"`
}

// Clone returns a deep copy of e.
func (e *WebhookEndpoint) Clone() *WebhookEndpoint {
	if e == nil {
		return nil
	}
	c := *e
	c.Events = slices.Clone(e.Events)
	c.Secrets = slices.Clone(e.Secrets)
	return &c
}

// ListEndpointsParams filters and pages endpoint listings (oldest first).
type ListEndpointsParams struct {
	Status        webhook.EndpointStatus
	Limit         int
	StartingAfter string
}

// EndpointPage is one page of endpoints.
type EndpointPage = Page[*WebhookEndpoint]

// DeliveryStatus is the state of one event's delivery to one endpoint.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // not yet delivered; an attempt is scheduled
	DeliveryDelivered DeliveryStatus = "delivered" // the receiver answered 2xx
	DeliveryDead      DeliveryStatus = "dead"      // given up; ReplayDelivery sends it again
	DeliveryCancelled DeliveryStatus = "cancelled" // the endpoint was disabled or deleted
)

// Delivery is one event's delivery to one endpoint: the row the delivery log hangs off.
type Delivery struct {
	ID             string
	PartnerID      string
	EndpointID     string
	EventID        string
	EventType      EventType
	Status         DeliveryStatus
	Attempts       int
	LastStatusCode int
	LastError      string
	NextAttemptAt  time.Time
	DeliveredAt    time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// DeliveryAttempt is one entry of the delivery log.
type DeliveryAttempt struct {
	ID         string
	PartnerID  string
	DeliveryID string
	Attempt    int
	StatusCode int
	Latency    time.Duration
	Error      string
	// Response is the start of the receiver's answer.
	Response  string
	CreatedAt time.Time
}

// ListDeliveriesParams filters and pages delivery listings (newest first).
type ListDeliveriesParams struct {
	EndpointID    string
	EventID       string
	Status        DeliveryStatus
	Limit         int
	StartingAfter string
}

// CreateEndpointParams registers a webhook endpoint.
type CreateEndpointParams struct {
	URL         string
	Events      []string
	Description string
	// Format is the wire format of its deliveries; empty means WireFormatGuide.
	Format WireFormat
}

// UpdateEndpointParams changes an endpoint; nil fields are unchanged.
type UpdateEndpointParams struct {
	URL         *string
	Events      *[]string
	Description *string
	Status      *webhook.EndpointStatus
}
