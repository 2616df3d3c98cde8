package onboarding_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
)

// otelKit is an in-memory OpenTelemetry pipeline: every span the providers end, and a
// manual metric reader.
type otelKit struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newOtelKit(t *testing.T) *otelKit {
	k := &otelKit{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	k.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(k.spans))
	k.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(k.reader))
	t.Cleanup(func() {
		_ = k.tp.Shutdown(context.Background())
		_ = k.mp.Shutdown(context.Background())
	})
	return k
}

func (k *otelKit) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, k.reader.Collect(context.Background(), &rm))
	return rm
}

// point is one data point of a collected metric, whatever its type: its attributes and
// its value (a sum's or gauge's value, a histogram's count).
type point struct {
	attrs attribute.Set
	value float64
}

func points(rm metricdata.ResourceMetrics, name string) []point {
	var out []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Value)})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, p.Value})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{p.Attributes, float64(p.Count)})
				}
			}
		}
	}
	return out
}

// value is the sum of the points of a metric whose attributes include every kv pair
// ("key=value").
func value(rm metricdata.ResourceMetrics, name string, kv ...string) float64 {
	total := 0.0
next:
	for _, p := range points(rm, name) {
		for _, want := range kv {
			k, v, _ := strings.Cut(want, "=")
			got, ok := p.attrs.Value(attribute.Key(k))
			if !ok || got.Emit() != v {
				continue next
			}
		}
		total += p.value
	}
	return total
}

// marked is the personal data of the telemetry tests' customers: none of it may appear
// in a span or a metric.
type marked struct {
	params   onboarding.CreateCustomerParams
	cpfDigit string
}

func markedCustomer(t *testing.T, i int, externalID string) marked {
	p := params(t)
	p.ExternalID = externalID
	p.Name = fmt.Sprintf("Telemetrina Marcada %d", i)
	p.Email = fmt.Sprintf("telemetrina.%d@pessoal.example", i)
	p.Phone = fmt.Sprintf("+55119%08d", 70000000+i)
	return marked{params: p, cpfDigit: strings.NewReplacer(".", "", "-", "").Replace(p.CPF)}
}

func (m marked) needles() []string {
	return []string{m.params.CPF, m.cpfDigit, m.params.Name, m.params.Email, m.params.Phone, m.params.Phone[3:]}
}

// assertNoPersonalData scans every span (name, attributes, events, links, status) and every
// metric data point's attributes for the customers' personal data.
func assertNoPersonalData(t *testing.T, spans []sdktrace.ReadOnlySpan, rm metricdata.ResourceMetrics, people ...marked) {
	t.Helper()
	var texts []string
	addAttrs := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			texts = append(texts, where+" "+string(kv.Key)+"="+kv.Value.Emit())
		}
	}
	for _, s := range spans {
		where := "span " + s.Name()
		texts = append(texts, where, where+" status "+s.Status().Description)
		addAttrs(where, s.Attributes())
		for _, e := range s.Events() {
			texts = append(texts, where+" event "+e.Name)
			addAttrs(where+" event "+e.Name, e.Attributes)
		}
		for _, l := range s.Links() {
			addAttrs(where+" link", l.Attributes)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, name := range []string{m.Name} {
				for _, p := range points(rm, name) {
					addAttrs("metric "+name, p.attrs.ToSlice())
				}
			}
		}
	}
	require.NotEmpty(t, texts)
	for _, text := range texts {
		for _, m := range people {
			for _, needle := range m.needles() {
				assert.NotContains(t, text, needle, "personal data in telemetry")
			}
		}
	}
}

// TestTelemetryMetrics drives every business path once and checks that each metric of
// the Service moves as it should, that the queue gauges follow the store, and that no
// span or metric holds personal data — not even the text of a plugin error that quotes
// it.
func TestTelemetryMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newOtelKit(t)
	failedOnce := map[string]bool{}
	scorer := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		if strings.HasPrefix(req.ExternalID, "flaky") && !failedOnce[req.CustomerID] {
			failedOnce[req.CustomerID] = true
			// A plugin that breaks the rule and quotes personal data in its error: what can be
			// recognised (not a name) is redacted from the span.
			return scoring.Decision{}, fmt.Errorf("bureau timeout for %s (%s, %s)", req.CPF, req.Email, req.Phone)
		}
		if strings.HasPrefix(req.ExternalID, "decline") {
			return scoring.Decision{Outcome: scoring.Decline, Reason: "no", Model: "t"}, nil
		}
		return scoring.Sandbox{}.Score(ctx, req)
	})
	var gone, failing bool
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/gone") && !gone:
			gone = true
			w.WriteHeader(http.StatusGone)
		case strings.HasSuffix(r.URL.Path, "/failing") && !failing:
			failing = true
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(rcv.Close)
	b := setup(t, &onboarding.Options{Scorer: scorer, Reviewer: sandbox.Reviewer{}, Biometrics: sandbox.Biometrics{},
		AllowPrivateWebhooks: true, TracerProvider: k.tp, MeterProvider: k.mp})

	for _, path := range []string{"/ok", "/gone", "/failing"} {
		_, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.URL + path,
			Events: []string{"credit_offer.available"}})
		require.NoError(t, err)
	}
	people := []marked{markedCustomer(t, 1, "flaky-1"), markedCustomer(t, 2, "decline-2"), markedCustomer(t, 3, "plain-3")}
	var ids []string
	for _, m := range people {
		c, created, err := b.svc.CreateCustomer(ctx, "p1", m.params)
		require.NoError(t, err)
		require.True(t, created)
		ids = append(ids, c.ID)
	}
	_, created, err := b.svc.CreateCustomer(ctx, "p1", people[0].params)
	require.NoError(t, err)
	require.False(t, created, "a replay")
	// Client errors: invalid input quoting nothing, a conflict.
	bad := people[2].params
	bad.Email = "not an email " + people[2].params.Email
	_, _, err = b.svc.CreateCustomer(ctx, "p1", bad)
	require.ErrorIs(t, err, onboarding.ErrInvalidInput)
	clash := people[2].params
	clash.ExternalID = "another"
	_, _, err = b.svc.CreateCustomer(ctx, "p1", clash)
	require.ErrorIs(t, err, onboarding.ErrConflict)

	// A job whose arguments do not decode dies at once.
	require.NoError(t, b.store.InsertJob(ctx, &onboarding.Job{ID: "job_broken", Kind: onboarding.JobExpireOffer,
		PartnerID: "p1", Args: json.RawMessage(`{"offer_id": 5}`), State: onboarding.JobAvailable, MaxAttempts: 3,
		RunAt: b.clock.Now(), CreatedAt: b.clock.Now(), UpdatedAt: b.clock.Now()}))

	b.clock.Add(30 * time.Second)
	rm := k.collect(t)
	assert.Equal(t, 3.0, value(rm, "onboarding.customers.registered"), "a replay is not a registration")
	assert.Equal(t, 3.0, value(rm, "onboarding.jobs", "kind=credit_analysis", "state=available"))
	assert.Equal(t, 1.0, value(rm, "onboarding.jobs", "kind=expire_offer", "state=available"))
	assert.Equal(t, 0.0, value(rm, "onboarding.jobs", "kind=credit_analysis", "state=dead"))
	assert.Len(t, points(rm, "onboarding.jobs"), 3*len(jobKindsOf(rm)), "every kind in every state, zeros included")
	assert.InDelta(t, 30.0, value(rm, "onboarding.jobs.oldest_due_age", "kind=credit_analysis"), 0.001)
	assert.Equal(t, 0.0, value(rm, "onboarding.jobs.oldest_due_age", "kind=deliver_webhook"))

	// KYC: the first customer's documents go to the Reviewer and Biometrics; the third's
	// CCMEI is reviewed by hand before the Reviewer gets to it.
	uploadNamed(t, b, ids[0], onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("a"))
	uploadNamed(t, b, ids[0], onboarding.DocSelfie, "me.jpg", testfiles.JPEG("a"))
	d := uploadNamed(t, b, ids[2], onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("b"))
	_, err = b.svc.ReviewDocument(ctx, "p1", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewReject, Reason: "blurred"})
	require.NoError(t, err)

	_, err = b.svc.Work(ctx) // analyses (one fails once), reviews, deliveries, the broken job
	require.NoError(t, err)
	b.clock.Add(time.Hour) // past the retries' backoff
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)

	rm = k.collect(t)
	assert.Equal(t, 2.0, value(rm, "onboarding.credit.decisions", "outcome=approve"))
	assert.Equal(t, 1.0, value(rm, "onboarding.credit.decisions", "outcome=decline"))
	assert.Equal(t, 1.0, value(rm, "onboarding.kyc.reviews", "decision=approve", "reviewer_kind=reviewer"))
	assert.Equal(t, 1.0, value(rm, "onboarding.kyc.reviews", "decision=approve", "reviewer_kind=biometrics"))
	assert.Equal(t, 1.0, value(rm, "onboarding.kyc.reviews", "decision=reject", "reviewer_kind=manual"))
	assert.Equal(t, 3.0, value(rm, "onboarding.kyc.reviews"), "the Reviewer found the hand-reviewed CCMEI done")

	assert.Equal(t, 3.0, value(rm, "onboarding.job.duration", "kind=credit_analysis", "outcome=completed"))
	assert.Equal(t, 1.0, value(rm, "onboarding.job.duration", "kind=credit_analysis", "outcome=retried"))
	assert.Equal(t, 1.0, value(rm, "onboarding.job.duration", "kind=expire_offer", "outcome=dead"))
	assert.Equal(t, 1.0, value(rm, "onboarding.job.duration", "kind=deliver_webhook", "outcome=retried"),
		"the 503 rescheduled its delivery")
	// Two approvals: the first to three endpoints (delivered, 503 then delivered, 410: the
	// endpoint is disabled), the second to the two left (delivered).
	assert.Equal(t, 4.0, value(rm, "onboarding.webhook.deliveries", "outcome=delivered"))
	assert.Equal(t, 1.0, value(rm, "onboarding.webhook.deliveries", "outcome=failed"))
	assert.Equal(t, 1.0, value(rm, "onboarding.webhook.deliveries", "outcome=gone"))
	assert.Equal(t, 6.0, value(rm, "onboarding.webhook.delivery.duration"))
	assert.Equal(t, 1.0, value(rm, "onboarding.jobs", "kind=expire_offer", "state=dead"))
	assert.Equal(t, 0.0, value(rm, "onboarding.jobs", "kind=credit_analysis", "state=available"))
	assert.Equal(t, 0.0, value(rm, "onboarding.jobs.oldest_due_age", "kind=credit_analysis"))

	spans := k.spans.Ended()
	byName := map[string]int{}
	for _, s := range spans {
		byName[s.Name()]++
	}
	assert.Equal(t, 6, byName["onboarding.CreateCustomer"])
	assert.Equal(t, 1, byName["onboarding.ReviewDocument"])
	assert.Equal(t, 4, byName["job credit_analysis"])
	assert.Equal(t, 6, byName["webhook.deliver"])
	assert.Equal(t, 6, byName["HTTP POST"], "the default sender's client spans")
	failed := 0
	for _, s := range spans {
		if s.Name() == "job credit_analysis" && s.Status().Description != "" {
			failed++
			assert.Equal(t, "scorer: bureau timeout for *** (***@***, +***)", s.Status().Description, "a plugin's error is redacted")
		}
	}
	assert.Equal(t, 1, failed)
	assertNoPersonalData(t, spans, rm, people...)
}

func jobKindsOf(rm metricdata.ResourceMetrics) map[string]bool {
	kinds := map[string]bool{}
	for _, p := range points(rm, "onboarding.jobs") {
		v, _ := p.attrs.Value("kind")
		kinds[v.Emit()] = true
	}
	return kinds
}

// TestTelemetryJobContinuesTrace: a job enqueued under a span runs as that span's child,
// and the follow-up it enqueues (the offer's delivery) continues the same trace.
func TestTelemetryJobContinuesTrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newOtelKit(t)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rcv.Close)
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}, AllowPrivateWebhooks: true, TracerProvider: k.tp, MeterProvider: k.mp})
	_, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.URL, Events: []string{"credit_offer.available"}})
	require.NoError(t, err)
	rctx, root := k.tp.Tracer("test").Start(ctx, "request")
	_, _, err = b.svc.CreateCustomer(rctx, "p1", params(t))
	require.NoError(t, err)
	root.End()
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range k.spans.Ended() {
		byName[s.Name()] = s
	}
	trace := root.SpanContext().TraceID()
	for _, name := range []string{"onboarding.CreateCustomer", "job credit_analysis", "job deliver_webhook", "webhook.deliver", "HTTP POST"} {
		s, ok := byName[name]
		require.True(t, ok, "span %s", name)
		assert.Equal(t, trace, s.SpanContext().TraceID(), "%s is in the request's trace", name)
	}
	assert.Equal(t, byName["onboarding.CreateCustomer"].SpanContext().SpanID(), byName["job credit_analysis"].Parent().SpanID(),
		"the analysis is a child of the call that enqueued it")
	assert.Equal(t, byName["job credit_analysis"].SpanContext().SpanID(), byName["job deliver_webhook"].Parent().SpanID())
	assert.Equal(t, byName["job deliver_webhook"].SpanContext().SpanID(), byName["webhook.deliver"].Parent().SpanID())
	assert.Equal(t, byName["webhook.deliver"].SpanContext().SpanID(), byName["HTTP POST"].Parent().SpanID())
	attrs := attribute.NewSet(byName["job credit_analysis"].Attributes()...)
	for key, want := range map[string]string{"onboarding.job.kind": "credit_analysis", "onboarding.job.attempt": "1",
		"onboarding.job.outcome": "completed"} {
		got, _ := attrs.Value(attribute.Key(key))
		assert.Equal(t, want, got.Emit(), key)
	}
}

// TestTraceLogHandler: records logged with a span's context carry its IDs; others do not.
func TestTraceLogHandler(t *testing.T) {
	t.Parallel()
	k := newOtelKit(t)
	var buf bytes.Buffer
	log := slog.New(onboarding.NewTraceLogHandler(slog.NewJSONHandler(&buf, nil))).With("app", "x")
	ctx, span := k.tp.Tracer("test").Start(context.Background(), "op")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var in, out map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &in))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &out))
	assert.Equal(t, span.SpanContext().TraceID().String(), in["trace_id"])
	assert.Equal(t, span.SpanContext().SpanID().String(), in["span_id"])
	assert.Equal(t, "x", in["app"])
	assert.NotContains(t, out, "trace_id")
	var _ trace.Span = span
}
