// Package bench compares the library's durable webhook dispatch with River, the job queue
// a Go team would otherwise use on its own database. It is a module of its own, so that
// the library never depends on River.
//
//	cd bench && ONBOARDING_TEST_POSTGRES_DSN=postgres://… go test -run '^$' -bench PeerDispatch -benchtime 4000x -count 3
//
// Each run drains b.N queued webhook deliveries (a credit_offer-sized event, signed and
// POSTed to a local receiver, the job completed in the database) twice on fresh
// databases of the same backend: once with River (riverpgxv5 or riversqlite,
// FetchCooldown 1 ms, MaxWorkers W) and once with the library (Service.Run, Workers W),
// in alternating order, and reports the library's msgs/s, River's river-msgs/s and their
// ratio x-river. The clock runs from the start of the workers until every message has
// arrived and the workers have stopped, their last completions written.
package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/pgtest"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/webhook"
)

// payload is an event's data the size of a credit_offer.available.
var payload = json.RawMessage(`{"id":"co_01a2191f954070c4b0a9853946389968","customer_id":"cust_01a2191f954070c4b0a9853946389968",` +
	`"external_id":"ext_01a2191f954070c4b0a9853946389968","status":"available","approved_amount":"95000.00",` +
	`"min_amount":"9500.00","interest_rate":2.21,"monthly_interest_rate":2.21,"min_installments":3,"max_installments":24,` +
	`"due_date_rule":"monthly","valid_until":"2026-12-26T12:00:00Z","created_at":"2026-11-26T12:00:00Z","updated_at":"2026-11-26T12:00:00Z"}`)

const partner = "partner_bench"

var discard = slog.New(slog.DiscardHandler)

// BenchmarkPeerDispatch: see the package documentation.
func BenchmarkPeerDispatch(b *testing.B) {
	var round atomic.Int64
	for _, kind := range []string{"postgres", "sqlite"} {
		for _, w := range []int{4, 16, 64} {
			b.Run(fmt.Sprintf("%s/W=%d", kind, w), func(b *testing.B) {
				if kind == "postgres" {
					pgtest.DSN(b)
				}
				var lib, riv float64
				if round.Add(1)%2 == 0 {
					riv = drainRiver(b, kind, w)
					lib = drainLibrary(b, kind, w)
				} else {
					lib = drainLibrary(b, kind, w)
					riv = drainRiver(b, kind, w)
				}
				b.ReportMetric(lib, "msgs/s")
				b.ReportMetric(riv, "river-msgs/s")
				b.ReportMetric(lib/riv, "x-river")
				b.ReportMetric(0, "ns/op") // the two drains share the clock: ns/op means nothing
			})
		}
	}
}

// receiver answers 204 to every POST and says when it has seen target of them.
type receiver struct {
	url    string
	n      atomic.Int64
	target int64
	done   chan struct{}
	once   sync.Once
}

func newReceiver(b *testing.B, target int) *receiver {
	r := &receiver{target: int64(target), done: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusNoContent)
		if r.n.Add(1) == r.target {
			r.once.Do(func() { close(r.done) })
		}
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	r.url = "http://" + ln.Addr().String() + "/webhooks"
	return r
}

func (r *receiver) wait(b *testing.B) {
	select {
	case <-r.done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("the receiver got %d of %d messages", r.n.Load(), r.target)
	}
}

// drainLibrary queues n deliveries as the fan-out leaves them (event, delivery, job) and
// times Service.Run with w workers draining them.
func drainLibrary(b *testing.B, kind string, w int) float64 {
	ctx := context.Background()
	n := b.N
	var db *bun.DB
	var err error
	if kind == "postgres" {
		db, err = bunstore.OpenPostgres(pgtest.SchemaDSN(b, "bench"))
		if err == nil {
			db.SetMaxOpenConns(8)
			db.SetMaxIdleConns(8)
		}
	} else {
		db, err = bunstore.OpenSQLite(filepath.Join(b.TempDir(), "onboarding.db"))
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if err := bunstore.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	rcv := newReceiver(b, n)
	svc := onboardingtest.NewService(b, bunstore.New(db, nil), &onboarding.Options{Workers: w, AllowPrivateWebhooks: true, Logger: discard})
	ep, _, err := svc.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: rcv.url, Events: []string{"*"}})
	if err != nil {
		b.Fatal(err)
	}
	store := svc.Store()
	for start := 0; start < n; start += 500 {
		err := store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
			for range min(500, n-start) {
				now := time.Now().UTC().Truncate(time.Microsecond)
				e := &onboarding.Event{ID: onboarding.NewID("evt"), PartnerID: partner, Type: onboarding.EventCreditOfferAvailable,
					CustomerID: "cust_bench", Data: payload, CreatedAt: now}
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
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- svc.Run(runCtx) }()
	rcv.wait(b)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	var completed int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM jobs WHERE kind = 'deliver_webhook' AND state = 'completed'`).Scan(&completed); err != nil {
		b.Fatal(err)
	}
	if completed != n {
		b.Fatalf("library: %d of %d jobs completed", completed, n)
	}
	return float64(n) / elapsed.Seconds()
}

// deliverArgs are the River job's arguments: what the library reads from the event and
// delivery rows.
type deliverArgs struct {
	EventID    string          `json:"event_id"`
	DeliveryID string          `json:"delivery_id"`
	CreatedAt  time.Time       `json:"created_at"`
	Data       json.RawMessage `json:"data"`
}

func (deliverArgs) Kind() string { return "deliver_webhook" }

// deliverWorker does what the library's delivery does: the envelope, its signature and
// the POST through the library's webhook.HTTPSender.
type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	sender *webhook.HTTPSender
	url    string
	secret string
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	a := job.Args
	body, err := json.Marshal(webhook.Event{ID: a.EventID, Type: webhook.EventCreditOfferAvailable, APIVersion: onboarding.APIVersion,
		CreatedAt: a.CreatedAt, DeliveryID: a.DeliveryID, Timestamp: a.CreatedAt, Data: a.Data})
	if err != nil {
		return err
	}
	res := w.sender.Send(ctx, webhook.Delivery{URL: w.url, Secrets: []string{w.secret}, MsgID: a.EventID,
		Timestamp: time.Now(), Payload: body, EventType: webhook.EventCreditOfferAvailable})
	if !res.Delivered {
		return fmt.Errorf("not delivered: %d %v", res.StatusCode, res.Err)
	}
	return nil
}

// drainRiver queues n jobs in River and times a client with w workers draining them.
func drainRiver(b *testing.B, kind string, w int) float64 {
	ctx := context.Background()
	n := b.N
	rcv := newReceiver(b, n)
	secret, err := webhook.NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	sender := webhook.NewHTTPSender(&webhook.HTTPOptions{AllowPrivate: true, AllowInsecure: true})
	b.Cleanup(sender.CloseIdleConnections)
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliverWorker{sender: sender, url: rcv.url, secret: secret})
	config := &river.Config{Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: w}},
		FetchCooldown: time.Millisecond, Workers: workers, Logger: discard}

	var insert func(params []river.InsertManyParams) error
	var start, stop func() error
	var count func() (int, error)
	if kind == "postgres" {
		pool, err := pgxpool.New(ctx, pgtest.SchemaDSN(b, "river")+"&pool_max_conns=8")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		driver := riverpgxv5.New(pool)
		migrateRiver(b, driver)
		client, err := river.NewClient(driver, config)
		if err != nil {
			b.Fatal(err)
		}
		insert = func(p []river.InsertManyParams) error { _, err := client.InsertManyFast(ctx, p); return err }
		start, stop = func() error { return client.Start(ctx) }, func() error { return client.Stop(ctx) }
		count = func() (c int, err error) {
			return c, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&c)
		}
	} else {
		db, err := sql.Open(sqliteshim.ShimName, "file:"+filepath.Join(b.TempDir(), "river.db")+
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1) // River on SQLite: one connection
		b.Cleanup(func() { _ = db.Close() })
		driver := riversqlite.New(db)
		migrateRiver(b, driver)
		client, err := river.NewClient(driver, config)
		if err != nil {
			b.Fatal(err)
		}
		insert = func(p []river.InsertManyParams) error { _, err := client.InsertManyFast(ctx, p); return err }
		start, stop = func() error { return client.Start(ctx) }, func() error { return client.Stop(ctx) }
		count = func() (c int, err error) {
			return c, db.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&c)
		}
	}
	now := time.Now().UTC()
	for from := 0; from < n; from += 500 {
		params := make([]river.InsertManyParams, 0, 500)
		for range min(500, n-from) {
			params = append(params, river.InsertManyParams{Args: deliverArgs{EventID: onboarding.NewID("evt"),
				DeliveryID: onboarding.NewID("dlv"), CreatedAt: now, Data: payload}})
		}
		if err := insert(params); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	if err := start(); err != nil {
		b.Fatal(err)
	}
	rcv.wait(b)
	if err := stop(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(t0)
	completed, err := count()
	if err != nil {
		b.Fatal(err)
	}
	if completed != n {
		b.Fatalf("river: %d of %d jobs completed", completed, n)
	}
	return float64(n) / elapsed.Seconds()
}

func migrateRiver[TTx any](b *testing.B, driver riverdriver.Driver[TTx]) {
	m, err := rivermigrate.New[TTx](driver, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Migrate(context.Background(), rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
}
