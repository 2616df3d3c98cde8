// Package pubsubpub publishes onboarding events to a message broker through
// gocloud.dev/pubsub, for lenders who fan events out through Kafka, NATS, Amazon SQS or
// SNS, Google Cloud Pub/Sub, Azure Service Bus or RabbitMQ rather than (or as well as)
// webhooks. A *Publisher is an onboarding.Publisher: set it as Options.Publisher and the
// Service's publish job sends every outbox event to the topic, at least once.
//
// # Drivers and URLs
//
// This package imports no driver. The program that opens the topic blank-imports the one
// it needs, and Open takes that driver's URL:
//
//	import (
//		"github.com/onboardkit/onboarding/pubsubpub"
//		_ "gocloud.dev/pubsub/kafkapubsub" // or another driver below
//	)
//
//	pub, err := pubsubpub.Open(ctx, "kafka://onboarding-events?key_name=customer-id", &pubsubpub.Options{
//		Secret: os.Getenv("ONBOARDING_EVENTS_SECRET"), // optional: sign messages
//	})
//	if err != nil { ... }
//	defer pub.Shutdown(context.Background())
//	svc := onboarding.New(store, &onboarding.Options{Publisher: pub, ...})
//
// The URL forms of the drivers (see each driver's documentation for the options):
//
//	kafka://TOPIC                       gocloud.dev/pubsub/kafkapubsub   brokers in KAFKA_BROKERS
//	nats://SUBJECT                      gocloud.dev/pubsub/natspubsub    server in NATS_SERVER_URL
//	rabbit://EXCHANGE                   gocloud.dev/pubsub/rabbitpubsub  server in RABBIT_SERVER_URL
//	awssqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE?region=REGION        gocloud.dev/pubsub/awssnssqs
//	awssns:///arn:aws:sns:REGION:ACCOUNT:TOPIC?region=REGION             gocloud.dev/pubsub/awssnssqs
//	gcppubsub://projects/PROJECT/topics/TOPIC                            gocloud.dev/pubsub/gcppubsub
//	azuresb://TOPIC                     gocloud.dev/pubsub/azuresb       SERVICEBUS_CONNECTION_STRING
//	mem://TOPIC                         gocloud.dev/pubsub/mempubsub     in process: tests only
//
// kafkapubsub, natspubsub and rabbitpubsub are modules of their own (go get them at the
// gocloud.dev version in use). New takes a *pubsub.Topic opened any other way, such as
// with a driver's own constructor.
//
// # Messages
//
// The body is the JSON envelope of the webhooks, webhook.Event: id, type, api_version,
// created_at, delivery_id, timestamp and data, byte for byte what a webhook of the same
// event carries except that delivery_id is always the empty string. A delivery ID
// names one event's delivery to one webhook endpoint; on a broker, fanning the message
// out to subscribers is the broker's business and its own message IDs name those
// deliveries. The field is kept, empty, so that webhook and broker consumers share one
// decoder.
//
// The metadata (Kafka headers, SQS message attributes, Pub/Sub attributes, ...) let
// consumers route without parsing the body:
//
//	event-id      the event's ID ("evt_…"): consumers deduplicate on it
//	event-type    such as "credit_offer.available"
//	partner-id    the partner (tenant) the event belongs to
//	customer-id   the customer the event is about (omitted when empty)
//	api-version   onboarding.APIVersion, the version of the data schema
//
// With Kafka, key_name=customer-id in the URL keys each record by customer, so one
// customer's events stay in order on one partition. Options.Metadata adds keys of its
// own, such as the MessageGroupId and DeduplicationId of an SQS FIFO queue.
//
// # Signatures
//
// When Options.Secret is set, messages also carry the Standard Webhooks metadata
// webhook-id (the event ID), webhook-timestamp (when the message was sent) and
// webhook-signature, computed exactly as for a webhook, so a consumer verifies a message
// with the webhook package, the metadata standing in for HTTP headers (see Header). A
// broker may hold a message for longer than webhook.DefaultTolerance (five minutes) of a
// consumer that lags or replays, so consumers of a broker use a Verifier whose Tolerance
// covers the topic's retention, and rely on deduplication by event ID against replays:
//
//	v := &webhook.Verifier{Secrets: []string{secret}, Tolerance: 7 * 24 * time.Hour}
//	msg, err := sub.Receive(ctx)
//	...
//	ev, err := v.Unwrap(msg.Body, pubsubpub.Header(msg.Metadata))
//	if err != nil { ... } // not from us: drop it
//	if alreadyProcessed(ev.ID) { msg.Ack(); continue }
//
// Without a secret, consumers decode the body with encoding/json into a webhook.Event.
//
// # Delivery semantics
//
// Publish returns the error of the send, and the Service's publish job retries the event
// with backoff; a send may also succeed and be retried when the job's completion fails.
// Messages are therefore delivered at least once, and consumers deduplicate on the
// event-id metadata (equal to the body's id and to webhook-id). Note that the publish job
// fans an event out to the webhook endpoints only after Publish succeeds: a broker that
// stays down delays the webhooks as well.
package pubsubpub
