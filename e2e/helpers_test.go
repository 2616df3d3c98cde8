package e2e

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/pgtest"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/taxid"
	"github.com/onboardkit/onboarding/webhook"
)

// postgresDSNEnv names the variable holding the DSN of a PostgreSQL database the tests may
// create schemas in (as in store/bunstore's tests).
const postgresDSNEnv = "ONBOARDING_TEST_POSTGRES_DSN"

const partner = "partner_e2e"

// kinds are the backends every end-to-end test runs on.
var kinds = []string{"sqlite", "postgres"}

// database is one migrated database of a test: a SQLite file in t.TempDir(), or a
// PostgreSQL schema of its own (dropped when the test ends). Open gives it new pools, as
// separate processes or replicas would have.
type database struct {
	kind string // "sqlite" or "postgres"
	// target is the SQLite file's path or the PostgreSQL DSN with the schema's search_path.
	target string
}

// newDatabase creates and migrates a database of the given kind.
func newDatabase(t testing.TB, kind string) *database {
	t.Helper()
	d := &database{kind: kind}
	switch kind {
	case "sqlite":
		d.target = filepath.Join(t.TempDir(), "onboarding.db")
	case "postgres":
		d.target = pgtest.SchemaDSN(t, "e2e")
	default:
		t.Fatalf("unknown backend %q", kind)
	}
	db := d.open(t)
	if err := bunstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return d
}

// open returns a new pool on the database, closed when the test ends.
func (d *database) open(t testing.TB) *bun.DB {
	t.Helper()
	db, err := openTarget(d.kind, d.target)
	if err != nil {
		t.Fatalf("open %s: %v", d.kind, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func openTarget(kind, target string) (*bun.DB, error) {
	if kind == "sqlite" {
		return bunstore.OpenSQLite(target)
	}
	db, err := bunstore.OpenPostgres(target)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	return db, nil
}

// forEachBackend runs fn as a parallel subtest on a fresh database of each backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, db *database)) {
	t.Helper()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, newDatabase(t, kind))
		})
	}
}

// clock is real time shifted by an offset the test moves forward: real time for the parts
// that run in real time (Run, HTTP), jumps for backoffs, leases and expiries.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// SetAt moves the clock so that it reads t now (and goes on from there).
func (c *clock) SetAt(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = time.Until(t)
}

// discard is the Services' logger: the tests check outcomes, not logs.
var discard = slog.New(slog.DiscardHandler)

// newService returns a Service on db with the e2e defaults: loopback webhooks allowed, a
// short poll, no logs. Fields of opts set by the caller win.
func newService(t testing.TB, db *bun.DB, opts onboarding.Options) *onboarding.Service {
	t.Helper()
	opts.AllowPrivateWebhooks = true
	if opts.Logger == nil {
		opts.Logger = discard
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	return onboardingtest.NewService(t, bunstore.New(db, nil), &opts)
}

// run starts svc.Run in the background; it is stopped (and waited for) when the test
// ends, or earlier by calling the returned function.
func run(t testing.TB, svc *onboarding.Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(time.Minute):
				t.Errorf("Run did not return within a minute of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// work calls svc.Work and fails the test on an error.
func work(t testing.TB, svc *onboarding.Service) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := svc.Work(ctx)
	require.NoError(t, err)
	return n
}

// people makes valid registrations from a seed derived from the test's name, so that a
// test always registers the same people.
type people struct {
	mu sync.Mutex
	r  *mrand.Rand
	n  int
}

func newPeople(t testing.TB) *people {
	h := fnv.New64a()
	_, _ = io.WriteString(h, t.Name())
	return peopleFromSeed(h.Sum64())
}

func peopleFromSeed(seed uint64) *people {
	return &people{r: mrand.New(mrand.NewPCG(seed, 42))}
}

// next returns a new registration (a MEI unless legalNature says otherwise).
func (p *people) next(legalNature string) onboarding.CreateCustomerParams {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	for {
		cnpj := taxid.GenerateCNPJ(p.r, false).String()
		if raiz := strings.NewReplacer(".", "", "/", "", "-", "").Replace(cnpj)[:8]; isMagicRaiz(raiz) {
			continue
		}
		return onboarding.CreateCustomerParams{
			ExternalID: onboarding.NewID("ext"), CPF: taxid.GenerateCPF(p.r).String(), CNPJ: cnpj,
			Name: "Maria da Silva", Email: "maria@example.com", Phone: "+5511987654321",
			TradingName: "Padaria da Maria", LegalNature: legalNature,
		}
	}
}

// isMagicRaiz reports whether a CNPJ root is one of scoring.Sandbox's scripted ones
// (11111111 … 55555555).
func isMagicRaiz(raiz string) bool {
	return len(raiz) == 8 && strings.Count(raiz, raiz[:1]) == 8 && raiz[0] >= '1' && raiz[0] <= '5'
}

// register registers p for the e2e partner and fails the test on an error.
func register(t testing.TB, svc *onboarding.Service, p onboarding.CreateCustomerParams) *onboarding.Customer {
	t.Helper()
	c, created, err := svc.CreateCustomer(context.Background(), partner, p)
	require.NoError(t, err)
	require.True(t, created)
	return c
}

// endpoint registers a webhook endpoint for rcv's URL with the given filter and makes
// rcv trust its secret.
func endpoint(t testing.TB, svc *onboarding.Service, rcv *receiver, events ...string) (*onboarding.WebhookEndpoint, string) {
	t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	ep, secret, err := svc.CreateWebhookEndpoint(context.Background(), partner,
		onboarding.CreateEndpointParams{URL: rcv.URL(), Events: events, Description: "e2e receiver"})
	require.NoError(t, err)
	rcv.Trust(secret)
	return ep, secret
}

// allCustomers lists every customer of the partner.
func allCustomers(t testing.TB, svc *onboarding.Service) []*onboarding.Customer {
	t.Helper()
	var out []*onboarding.Customer
	after := ""
	for {
		page, err := svc.ListCustomers(context.Background(), partner,
			onboarding.ListCustomersParams{Limit: onboarding.MaxPageLimit, StartingAfter: after, Order: "asc"})
		require.NoError(t, err)
		out = append(out, page.Data...)
		if !page.HasMore {
			return out
		}
		after = page.Data[len(page.Data)-1].ID
	}
}

// offersByCustomer lists every offer of the partner, by customer.
func offersByCustomer(t testing.TB, svc *onboarding.Service) map[string][]*onboarding.CreditOffer {
	t.Helper()
	out := map[string][]*onboarding.CreditOffer{}
	after := ""
	for {
		page, err := svc.ListCreditOffers(context.Background(), partner,
			onboarding.ListOffersParams{Limit: onboarding.MaxPageLimit, StartingAfter: after})
		require.NoError(t, err)
		for _, o := range page.Data {
			out[o.CustomerID] = append(out[o.CustomerID], o)
		}
		if !page.HasMore {
			return out
		}
		after = page.Data[len(page.Data)-1].ID
	}
}

// eventsOfType lists the partner's outbox events of one type.
func eventsOfType(t testing.TB, svc *onboarding.Service, typ onboarding.EventType) []*onboarding.Event {
	t.Helper()
	var out []*onboarding.Event
	after := ""
	for {
		page, err := svc.ListEvents(context.Background(), partner,
			onboarding.ListEventsParams{Type: typ, Limit: onboarding.MaxPageLimit, StartingAfter: after})
		require.NoError(t, err)
		out = append(out, page...)
		if len(page) < onboarding.MaxPageLimit {
			return out
		}
		after = page[len(page)-1].ID
	}
}

// received is the first accepted (2xx) delivery of one webhook-id.
type received struct {
	Event  webhook.Event
	Body   []byte
	Header http.Header
	At     time.Time
}

// fault is what the receiver does with one request instead of accepting it.
type fault struct {
	status     int    // answer this status
	retryAfter string // with this Retry-After header
	hang       bool   // or hold the request until the client gives up
}

// receiver is a partner's webhook endpoint: a real HTTP server on loopback that verifies
// every request with the endpoint's secret, records the first accepted delivery of each
// webhook-id, and counts every attempt. It can fail on purpose (faultFn) and go down and
// come back on the same port.
type receiver struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *http.Server
	verifier webhook.Verifier
	faultFn  func(msgID string, attempt int) *fault
	attempts map[string]int
	got      map[string]*received
	order    []string
	dups     int
	bad      []string // requests that failed verification
	changed  chan struct{}
}

// newReceiver starts a receiver whose signature check uses now (the Services' clock: the
// webhook-timestamp header comes from it).
func newReceiver(t testing.TB, now func() time.Time) *receiver {
	t.Helper()
	r := &receiver{t: t, verifier: webhook.Verifier{NowFunc: now}, attempts: map[string]int{},
		got: map[string]*received{}, changed: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.Down)
	return r
}

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// URL is the endpoint URL to register.
func (r *receiver) URL() string { return "http://" + r.addr + "/webhooks/onboarding" }

// Trust sets the secrets the receiver verifies with.
func (r *receiver) Trust(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verifier.Secrets = secrets
}

// SetFault makes the receiver consult fn for every request; a nil fn or a nil *fault
// accepts.
func (r *receiver) SetFault(fn func(msgID string, attempt int) *fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faultFn = fn
}

// Down closes the listener and every connection: the receiver is unreachable.
func (r *receiver) Down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (r *receiver) Up() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port is ours, but the kernel may take a moment to free it
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(r.t, err, "listen again on %s", r.addr)
	r.serve(ln)
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return
	}
	id := req.Header.Get(webhook.HeaderID)
	r.mu.Lock()
	r.attempts[id]++
	var f *fault
	if r.faultFn != nil {
		f = r.faultFn(id, r.attempts[id])
	}
	if f != nil {
		r.mu.Unlock()
		if f.hang {
			select {
			case <-req.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, "e2e: injected failure")
		return
	}
	ev, err := r.verifier.Unwrap(body, req.Header)
	if err == nil && ev.ID != id {
		err = errors.New("webhook-id header differs from the envelope's id")
	}
	if err != nil {
		r.bad = append(r.bad, id+": "+err.Error())
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, dup := r.got[id]; dup {
		r.dups++
	} else {
		r.got[id] = &received{Event: ev, Body: body, Header: req.Header.Clone(), At: time.Now()}
		r.order = append(r.order, id)
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Got returns the first accepted delivery of a webhook-id.
func (r *receiver) Got(id string) (*received, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.got[id]
	return g, ok
}

// Events returns the distinct accepted events, in order of first arrival.
func (r *receiver) Events() []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]webhook.Event, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.got[id].Event)
	}
	return out
}

// OfType returns the distinct accepted events of one type.
func (r *receiver) OfType(typ string) []webhook.Event {
	var out []webhook.Event
	for _, e := range r.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Attempts is how many requests carried a webhook-id, accepted or not.
func (r *receiver) Attempts(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[id]
}

// Stats returns the number of distinct events accepted, duplicate deliveries, and the
// requests that failed verification.
func (r *receiver) Stats() (distinct, dups int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got), r.dups, append([]string(nil), r.bad...)
}

// WaitFor waits until cond holds over the distinct accepted events, failing the test
// after timeout.
func (r *receiver) WaitFor(timeout time.Duration, what string, cond func(evs []webhook.Event) bool) {
	r.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond(r.Events()) {
			return
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond): // cond may depend on other state too
		case <-deadline.C:
			_, _, bad := r.Stats()
			r.t.Fatalf("timed out after %s waiting for %s (received %d distinct events; bad requests: %v)",
				timeout, what, len(r.Events()), bad)
		}
	}
}

// customerOf reads data.customer_id (offers) or data.id (customers) of an event.
func customerOf(t testing.TB, e webhook.Event) string {
	t.Helper()
	var d struct {
		ID         string `json:"id"`
		CustomerID string `json:"customer_id"`
	}
	require.NoError(t, e.Decode(&d))
	if strings.HasPrefix(e.Type, "credit_offer.") {
		return d.CustomerID
	}
	return d.ID
}

// hasEvent reports whether evs holds an event of type typ about customer id.
func hasEvent(t testing.TB, evs []webhook.Event, typ, id string) bool {
	for _, e := range evs {
		if e.Type == typ && customerOf(t, e) == id {
			return true
		}
	}
	return false
}
