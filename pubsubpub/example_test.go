package pubsubpub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/mempubsub" // the in-process driver; production imports kafkapubsub, awssnssqs, ...

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/pubsubpub"
	"github.com/onboardkit/onboarding/webhook"
)

// A lender publishes signed credit-offer events to a topic, and a consumer verifies and
// decodes them with the webhook package. In production the URL names a broker
// ("kafka://onboarding-events?key_name=customer-id") and the Publisher goes into
// onboarding.Options.Publisher; here the event is published by hand.
func ExampleOpen() {
	ctx := context.Background()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := func() time.Time { return time.Date(2026, 11, 26, 12, 0, 5, 0, time.UTC) }

	pub, err := pubsubpub.Open(ctx, "mem://example-offers", &pubsubpub.Options{
		Secret:  secret,
		Filter:  []string{"credit_offer.*"},
		NowFunc: now,
	})
	if err != nil {
		panic(err)
	}
	defer pub.Shutdown(ctx)
	sub, err := pubsub.OpenSubscription(ctx, "mem://example-offers")
	if err != nil {
		panic(err)
	}
	defer sub.Shutdown(ctx)

	// What the Service's publish job does for each outbox event.
	created := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, e := range []*onboarding.Event{
		{ID: "evt_1", PartnerID: "acme", CustomerID: "cus_1", Type: onboarding.EventCustomerCreated,
			Data: json.RawMessage(`{"id":"cus_1"}`), CreatedAt: created}, // filtered out
		{ID: "evt_2", PartnerID: "acme", CustomerID: "cus_1", Type: onboarding.EventCreditOfferAvailable,
			Data: json.RawMessage(`{"id":"off_1","customer_id":"cus_1","approved_amount":"50000.00"}`), CreatedAt: created},
	} {
		if err := pub.Publish(ctx, e); err != nil {
			panic(err) // the publish job would retry
		}
	}

	// The consumer: verify, deduplicate on the event ID, decode, ack.
	v := &webhook.Verifier{Secrets: []string{secret}, Tolerance: 7 * 24 * time.Hour, NowFunc: now}
	msg, err := sub.Receive(ctx)
	if err != nil {
		panic(err)
	}
	defer msg.Ack()
	fmt.Println("metadata:", msg.Metadata[pubsubpub.MetadataEventType], msg.Metadata[pubsubpub.MetadataPartnerID],
		msg.Metadata[pubsubpub.MetadataCustomerID])
	fmt.Println("body:", string(msg.Body))
	ev, err := v.Unwrap(msg.Body, pubsubpub.Header(msg.Metadata))
	if err != nil {
		panic(err) // not ours: drop it
	}
	var offer struct {
		ID             string `json:"id"`
		ApprovedAmount string `json:"approved_amount"`
	}
	if err := ev.Decode(&offer); err != nil {
		panic(err)
	}
	fmt.Println("verified:", ev.ID, ev.Type, offer.ID, offer.ApprovedAmount)
	// Output:
	// metadata: credit_offer.available acme cus_1
	// body: {"id":"evt_2","type":"credit_offer.available","api_version":"2026-11-01","created_at":"2026-11-26T12:00:00Z","delivery_id":"","timestamp":"2026-11-26T12:00:00Z","data":{"id":"off_1","customer_id":"cus_1","approved_amount":"50000.00"}}
	// verified: evt_2 credit_offer.available off_1 50000.00
}
