package pubsubpub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"gocloud.dev/pubsub"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

// Metadata keys set on every message. The signature keys are webhook.HeaderID,
// webhook.HeaderTimestamp and webhook.HeaderSignature.
const (
	// MetadataEventID is the event's ID ("evt_…"), the key consumers deduplicate on.
	MetadataEventID = "event-id"
	// MetadataEventType is the event type, such as "customer.created".
	MetadataEventType = "event-type"
	// MetadataPartnerID is the partner (tenant) the event belongs to.
	MetadataPartnerID = "partner-id"
	// MetadataCustomerID is the customer the event is about; absent when the event has none.
	MetadataCustomerID = "customer-id"
	// MetadataAPIVersion is the version of the data schema, onboarding.APIVersion.
	MetadataAPIVersion = "api-version"
)

// reserved are the metadata keys the Publisher sets itself; Options.Metadata cannot
// override them.
var reserved = []string{MetadataEventID, MetadataEventType, MetadataPartnerID, MetadataCustomerID,
	MetadataAPIVersion, webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature}

// Options configures a Publisher. The zero value (or nil) publishes every event,
// unsigned.
type Options struct {
	// Secret, when set, signs every message per Standard Webhooks ("whsec_<base64>" of 24
	// to 64 bytes, as from webhook.NewSecret): the metadata then carry webhook-id,
	// webhook-timestamp and webhook-signature.
	Secret string
	// PreviousSecrets also sign every message, after Secret, during a secret rotation, so
	// that consumers still holding an old secret keep verifying. Ignored without Secret.
	PreviousSecrets []string
	// Filter selects the event types to publish, with the patterns of webhook endpoints
	// ("customer.created", "customer.*", "*"); empty publishes every event. Other events
	// are skipped: Publish returns nil without sending.
	Filter []string
	// Metadata, when set, returns extra metadata for an event's message, such as
	// awssnssqs.MetadataKeyMessageGroupID and MetadataKeyDeduplicationID for an SQS FIFO
	// queue. It cannot replace the keys the Publisher sets. Brokers limit metadata (SQS:
	// 10 attributes, of which the Publisher uses up to 8).
	Metadata func(e *onboarding.Event) map[string]string
	// NowFunc is the clock of the webhook-timestamp metadata. Default time.Now.
	NowFunc func() time.Time
}

// Validate reports whether the options are usable: secrets as webhook.ValidateSecret
// wants them, and a filter whose every pattern is well formed and matches at least one
// type of onboarding.EventTypes (which catches typos). A nil *Options is valid.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if o.Secret == "" && len(o.PreviousSecrets) > 0 {
		return errors.New("pubsubpub: PreviousSecrets without Secret")
	}
	if o.Secret != "" {
		for _, s := range append([]string{o.Secret}, o.PreviousSecrets...) {
			if err := webhook.ValidateSecret(s); err != nil {
				return fmt.Errorf("pubsubpub: %w", err)
			}
		}
	}
	known := make([]string, len(onboarding.EventTypes))
	for i, t := range onboarding.EventTypes {
		known[i] = string(t)
	}
	if err := webhook.ValidateFilter(o.Filter, known...); err != nil {
		return fmt.Errorf("pubsubpub: %w", err)
	}
	return nil
}

// Publisher sends onboarding events to a gocloud.dev/pubsub topic; it implements
// onboarding.Publisher. It is safe for concurrent use.
type Publisher struct {
	topic    *pubsub.Topic
	secrets  []string
	filter   []string
	metadata func(e *onboarding.Event) map[string]string
	now      func() time.Time
}

var _ onboarding.Publisher = (*Publisher)(nil)

// New returns a Publisher sending to topic. opts may be nil; the Publisher keeps a copy.
// Shutdown shuts topic down. New panics if topic is nil or opts is not valid (see
// Options.Validate): a misconfigured Publisher would fail every publish job, and with it
// the webhooks of every event.
func New(topic *pubsub.Topic, opts *Options) *Publisher {
	if topic == nil {
		panic("pubsubpub: New needs a topic")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	p := &Publisher{topic: topic, now: time.Now}
	if opts != nil {
		if opts.Secret != "" {
			p.secrets = append([]string{opts.Secret}, opts.PreviousSecrets...)
		}
		p.filter = slices.Clone(opts.Filter)
		p.metadata = opts.Metadata
		if opts.NowFunc != nil {
			p.now = opts.NowFunc
		}
	}
	return p
}

// Open validates opts, opens the topic at url with pubsub.OpenTopic and returns a
// Publisher sending to it. The URL's scheme must be registered by a driver the program
// imports (see the package documentation for the forms).
func Open(ctx context.Context, url string, opts *Options) (*Publisher, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	topic, err := pubsub.OpenTopic(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("pubsubpub: open topic: %w", err)
	}
	return New(topic, opts), nil
}

// Topic returns the topic the Publisher sends to, for its As method.
func (p *Publisher) Topic() *pubsub.Topic { return p.topic }

// Shutdown flushes the messages being sent and shuts the topic down; Publish fails
// afterwards. Call it once the Service's workers have stopped.
func (p *Publisher) Shutdown(ctx context.Context) error {
	return p.topic.Shutdown(ctx)
}

// Publish sends e to the topic unless Options.Filter skips it, and returns once the
// broker has it or the send failed. Errors are returned as they are (wrapped), so that
// the publish job retries; gcerrors.Code classifies them.
func (p *Publisher) Publish(ctx context.Context, e *onboarding.Event) error {
	if e == nil {
		return errors.New("pubsubpub: nil event")
	}
	if !webhook.MatchFilter(p.filter, string(e.Type)) {
		return nil
	}
	m, err := p.Message(e)
	if err != nil {
		return err
	}
	if err := p.topic.Send(ctx, m); err != nil {
		return fmt.Errorf("pubsubpub: send %s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// Message builds the message Publish sends for e, whatever the filter: the envelope as
// body, the metadata, and the signature when the Publisher has a secret. The signature's
// timestamp is now.
func (p *Publisher) Message(e *onboarding.Event) (*pubsub.Message, error) {
	if e == nil {
		return nil, errors.New("pubsubpub: nil event")
	}
	body, err := json.Marshal(webhook.Event{ID: e.ID, Type: string(e.Type), APIVersion: onboarding.APIVersion,
		CreatedAt: e.CreatedAt, Timestamp: e.CreatedAt, Data: e.Data})
	if err != nil {
		return nil, fmt.Errorf("pubsubpub: encode %s: %w", e.ID, err)
	}
	md := map[string]string{}
	if p.metadata != nil {
		maps.Copy(md, p.metadata(e))
		for _, k := range reserved {
			delete(md, k)
		}
	}
	md[MetadataEventID] = e.ID
	md[MetadataEventType] = string(e.Type)
	md[MetadataPartnerID] = e.PartnerID
	md[MetadataAPIVersion] = onboarding.APIVersion
	if e.CustomerID != "" {
		md[MetadataCustomerID] = e.CustomerID
	}
	if len(p.secrets) > 0 {
		ts := p.now()
		sig, err := webhook.SignAll(p.secrets, e.ID, ts, body)
		if err != nil {
			return nil, fmt.Errorf("pubsubpub: sign %s: %w", e.ID, err)
		}
		md[webhook.HeaderID] = e.ID
		md[webhook.HeaderTimestamp] = strconv.FormatInt(ts.Unix(), 10)
		md[webhook.HeaderSignature] = sig
	}
	return &pubsub.Message{Body: body, Metadata: md}, nil
}

// Header returns a received message's metadata as an http.Header, for webhook.Unwrap
// and webhook.Verifier: each key becomes a canonical header name.
func Header(metadata map[string]string) http.Header {
	h := make(http.Header, len(metadata))
	for k, v := range metadata {
		h.Set(k, v)
	}
	return h
}
