package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/otelbench"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/webhook"
)

// benchReceiver is the local receiver of the benchmarks: it reads each body, answers 204,
// and counts; onBody, when set, sees every body with its arrival time.
type benchReceiver struct {
	url    string
	n      atomic.Int64
	target atomic.Int64
	done   chan struct{}
	once   sync.Once
	onBody func(body []byte, at time.Time)
}

func newBenchReceiver(b *testing.B, target int, onBody func([]byte, time.Time)) *benchReceiver {
	r := &benchReceiver{done: make(chan struct{}), onBody: onBody}
	r.target.Store(int64(target))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if r.onBody != nil {
			r.onBody(body, time.Now())
		}
		w.WriteHeader(http.StatusNoContent)
		if r.n.Add(1) == r.target.Load() {
			r.once.Do(func() { close(r.done) })
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/webhooks"
	return r
}

func (r *benchReceiver) wait(b *testing.B, timeout time.Duration) {
	select {
	case <-r.done:
	case <-time.After(timeout):
		b.Fatalf("the receiver got %d of %d messages in %s", r.n.Load(), r.target.Load(), timeout)
	}
}

// benchPayload is an event's data the size of a credit_offer.available.
var benchPayload = json.RawMessage(`{"id":"co_01a2191f954070c4b0a9853946389968","customer_id":"cust_01a2191f954070c4b0a9853946389968",` +
	`"external_id":"ext_01a2191f954070c4b0a9853946389968","status":"available","approved_amount":"95000.00",` +
	`"min_amount":"9500.00","interest_rate":2.21,"monthly_interest_rate":2.21,"min_installments":3,"max_installments":24,` +
	`"due_date_rule":"monthly","valid_until":"2026-12-26T12:00:00Z","created_at":"2026-11-26T12:00:00Z","updated_at":"2026-11-26T12:00:00Z"}`)

// BenchmarkWebhookDispatch compares, at the same concurrency W and against the same
// local receiver, webhook dispatch through the library (outbox events fanned out by the
// publish job into deliveries, whose jobs Run works with W workers: claim, sign, POST,
// record the attempt and complete, in the database) with a raw loop of W goroutines
// doing signed net/http POSTs (webhook.Sign) of the same envelope. The library lines
// report msgs/s and x-raw, their rate as a fraction of the raw line's (goal ≥ 0.8). The
// sender-only line is the library's webhook.HTTPSender alone (envelope, signature, POST,
// classification) at the same concurrency, without the database: it tells the cost of
// the HTTP path from the cost of durable dispatch. Each library line has a /telemetry twin
// whose Service and database hook (bunstore.Instrument) report to the real OpenTelemetry SDK with
// exporters that drop everything (internal/otelbench): x-off is its rate as a fraction of
// the line without (the goal is ≥ 0.9).
//
//	go test -run '^$' -bench WebhookDispatch -benchtime 2000x ./e2e/
func BenchmarkWebhookDispatch(b *testing.B) {
	for _, w := range []int{4, 16} {
		var rawRate float64
		b.Run(fmt.Sprintf("W=%d/raw", w), func(b *testing.B) { rawRate = benchRawDispatch(b, w) })
		b.Run(fmt.Sprintf("W=%d/sender-only", w), func(b *testing.B) {
			rate := benchSenderDispatch(b, w)
			if rawRate > 0 {
				b.ReportMetric(rate/rawRate, "x-raw")
			}
		})
		for _, kind := range kinds {
			var offRate float64
			b.Run(fmt.Sprintf("W=%d/library-%s", w, kind), func(b *testing.B) {
				offRate = benchLibraryDispatch(b, kind, w, false)
				if rawRate > 0 {
					b.ReportMetric(offRate/rawRate, "x-raw")
				}
			})
			b.Run(fmt.Sprintf("W=%d/library-%s/telemetry", w, kind), func(b *testing.B) {
				rate := benchLibraryDispatch(b, kind, w, true)
				if rawRate > 0 {
					b.ReportMetric(rate/rawRate, "x-raw")
				}
				if offRate > 0 {
					b.ReportMetric(rate/offRate, "x-off")
				}
			})
		}
	}
}

func benchRawDispatch(b *testing.B, w int) float64 {
	rcv := newBenchReceiver(b, b.N, nil)
	secret, err := webhook.NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(w, webhook.DefaultMaxIdleConnsPerHost)
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: webhook.DefaultTimeout}
	now := time.Now().UTC()
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				id := onboarding.NewID("evt")
				body, err := json.Marshal(webhook.Event{ID: id, Type: webhook.EventCreditOfferAvailable,
					APIVersion: onboarding.APIVersion, CreatedAt: now, DeliveryID: onboarding.NewID("dlv"), Timestamp: now, Data: benchPayload})
				if err != nil {
					b.Error(err)
					return
				}
				ts := time.Now()
				sig, err := webhook.Sign(secret, id, ts, body)
				if err != nil {
					b.Error(err)
					return
				}
				req, _ := http.NewRequest(http.MethodPost, rcv.url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(webhook.HeaderID, id)
				req.Header.Set(webhook.HeaderTimestamp, fmt.Sprint(ts.Unix()))
				req.Header.Set(webhook.HeaderSignature, sig)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	rcv.wait(b, time.Minute)
	b.StopTimer()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "msgs/s")
	return rate
}

func benchSenderDispatch(b *testing.B, w int) float64 {
	rcv := newBenchReceiver(b, b.N, nil)
	secret, err := webhook.NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	sender := webhook.NewHTTPSender(&webhook.HTTPOptions{AllowPrivate: true, AllowInsecure: true})
	b.Cleanup(sender.CloseIdleConnections)
	now := time.Now().UTC()
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				id := onboarding.NewID("evt")
				body, err := json.Marshal(webhook.Event{ID: id, Type: webhook.EventCreditOfferAvailable,
					APIVersion: onboarding.APIVersion, CreatedAt: now, DeliveryID: onboarding.NewID("dlv"), Timestamp: now, Data: benchPayload})
				if err != nil {
					b.Error(err)
					return
				}
				res := sender.Send(context.Background(), webhook.Delivery{URL: rcv.url, Secrets: []string{secret}, MsgID: id,
					Payload: body, EventType: webhook.EventCreditOfferAvailable})
				if !res.Delivered {
					b.Error(res.Err)
					return
				}
			}
		})
	}
	wg.Wait()
	rcv.wait(b, time.Minute)
	b.StopTimer()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "msgs/s")
	return rate
}

func benchLibraryDispatch(b *testing.B, kind string, w int, telemetry bool) float64 {
	ctx := context.Background()
	db := newDatabase(b, kind)
	rcv := newBenchReceiver(b, b.N, nil)
	pool := db.open(b)
	opts := onboarding.Options{Workers: w}
	if telemetry {
		tp, mp := otelbench.Providers(b)
		opts.TracerProvider, opts.MeterProvider = tp, mp
		bunstore.Instrument(pool, &bunstore.TelemetryOptions{TracerProvider: tp, MeterProvider: mp})
	}
	svc := newService(b, pool, opts)
	ep, _, err := svc.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: rcv.url, Events: []string{"*"}})
	if err != nil {
		b.Fatal(err)
	}
	// b.N events in the outbox, each with its delivery to the endpoint and the delivery's
	// job, as the business transactions leave them (the fan-out happens in them).
	store := svc.Store()
	for start := 0; start < b.N; start += 500 {
		err := store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
			for range min(500, b.N-start) {
				now := time.Now().UTC().Truncate(time.Microsecond)
				e := &onboarding.Event{ID: onboarding.NewID("evt"), PartnerID: partner, Type: onboarding.EventCreditOfferAvailable,
					CustomerID: "cust_bench", Data: benchPayload, CreatedAt: now}
				if err := q.InsertEvent(ctx, e); err != nil {
					return err
				}
				d := &onboarding.Delivery{ID: onboarding.NewID("dlv"), PartnerID: partner, EndpointID: ep.ID, EventID: e.ID,
					EventType: e.Type, Status: onboarding.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
				if err := q.InsertDelivery(ctx, d); err != nil {
					return err
				}
				args, _ := json.Marshal(map[string]string{"delivery_id": d.ID})
				if err := q.InsertJob(ctx, &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobDeliverWebhook,
					PartnerID: partner, Args: args, State: onboarding.JobAvailable,
					MaxAttempts: len(webhook.DefaultSchedule.Delays) + 1, RunAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	stop := run(b, svc)
	rcv.wait(b, 10*time.Minute)
	b.StopTimer()
	stop()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "msgs/s")
	return rate
}

// BenchmarkPipeline measures the whole pipeline on each backend, from a registration's
// commit to its credit_offer.available webhook at the local receiver, through Run
// (credit analysis by scoring.Sandbox, the offer and its event, fan-out, delivery):
//
//	go test -run '^$' -bench Pipeline -benchtime 1000x ./e2e/
//
// Two loads:
//
//   - burst: 8 concurrent clients register b.N customers as fast as they can; regs/s is
//     the throughput (b.N over the time from the first registration to the last
//     webhook), p50-ms and p99-ms the commit-to-webhook latencies, queueing included.
//   - serial: one client registers, waits for its webhook, and registers the next: the
//     latency of one registration through an idle pipeline.
func BenchmarkPipeline(b *testing.B) {
	for _, kind := range kinds {
		b.Run(kind+"/burst", func(b *testing.B) { benchPipeline(b, kind, 8) })
		b.Run(kind+"/serial", func(b *testing.B) { benchPipeline(b, kind, 0) })
	}
}

// benchPipeline registers b.N customers from clients goroutines, or from one that waits
// for each webhook when clients is 0.
func benchPipeline(b *testing.B, kind string, clients int) {
	ctx := context.Background()
	db := newDatabase(b, kind)
	var mu sync.Mutex
	committed := make(map[string]time.Time, b.N)
	arrived := make(map[string]time.Time, b.N)
	arrivals := make(chan string, b.N)
	rcv := newBenchReceiver(b, b.N, func(body []byte, at time.Time) {
		var e struct {
			Data struct {
				CustomerID string `json:"customer_id"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &e) == nil {
			mu.Lock()
			_, dup := arrived[e.Data.CustomerID]
			if !dup {
				arrived[e.Data.CustomerID] = at
			}
			mu.Unlock()
			if !dup {
				arrivals <- e.Data.CustomerID
			}
		}
	})
	svc := newService(b, db.open(b), onboarding.Options{Scorer: scoring.Sandbox{}})
	if _, _, err := svc.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: rcv.url,
		Events: []string{"credit_offer.available"}}); err != nil {
		b.Fatal(err)
	}
	ppl := newPeople(b)
	regs := make([]onboarding.CreateCustomerParams, b.N)
	for i := range regs {
		regs[i] = ppl.next("")
	}
	run(b, svc)
	register := func(i int64) (string, bool) {
		c, _, err := svc.CreateCustomer(ctx, partner, regs[i])
		if err != nil {
			b.Error(err)
			return "", false
		}
		at := time.Now()
		mu.Lock()
		committed[c.ID] = at
		mu.Unlock()
		return c.ID, true
	}
	b.ResetTimer()
	if clients == 0 {
		for i := range int64(b.N) {
			id, ok := register(i)
			if !ok {
				break
			}
			select {
			case got := <-arrivals:
				if got != id {
					b.Fatalf("webhook for %s while waiting for %s", got, id)
				}
			case <-time.After(time.Minute):
				b.Fatalf("no webhook for %s within a minute", id)
			}
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
					if _, ok := register(i); !ok {
						return
					}
				}
			})
		}
		wg.Wait()
	}
	rcv.wait(b, 10*time.Minute)
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	lat := make([]time.Duration, 0, b.N)
	for id, at := range committed {
		got, ok := arrived[id]
		if !ok {
			b.Fatalf("no webhook for %s", id)
		}
		lat = append(lat, got.Sub(at))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "regs/s")
}
