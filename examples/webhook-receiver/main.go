// Command webhook-receiver is what a partner runs to receive the onboarding webhooks: it
// verifies each message's Standard Webhooks signature with webhook.Unwrap, processes each
// webhook-id once, and prints the events.
//
//	WEBHOOK_SECRET=whsec_… go run ./examples/webhook-receiver -addr 127.0.0.1:9000
//
// During a secret rotation pass both secrets, comma-separated: the new one and the one
// it replaces. Register http://127.0.0.1:9000/webhooks as an endpoint (a server started
// with -sandbox or -allow-private-webhooks accepts a loopback URL).
//
// The handler depends only on the webhook package, which imports nothing but the
// standard library.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// MaxBody is the largest webhook body accepted: 1 MiB, far above any onboarding event.
const MaxBody = 1 << 20

// Receiver is an http.Handler for webhook deliveries: it verifies the signature and
// timestamp (with Verifier), hands each event to Handle once per webhook-id, and answers
// 2xx so the sender stops retrying. Handle's error answers 500, so the delivery is
// retried (and the webhook-id is not marked as processed).
type Receiver struct {
	// Verifier holds the endpoint's secrets and the clock.
	Verifier *webhook.Verifier
	// Handle processes one event. It should be quick: queue slow work.
	Handle func(ctx context.Context, ev webhook.Event) error
	// Seen remembers processed webhook-ids. Nil means a fresh in-memory Dedup; a partner
	// with several replicas would keep them in its database instead.
	Seen *Dedup

	once sync.Once
}

// ServeHTTP implements http.Handler.
func (rv *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rv.once.Do(func() {
		if rv.Seen == nil {
			rv.Seen = NewDedup(0, 0)
		}
	})
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	// Verify the exact bytes received, before anything else looks at them.
	ev, err := rv.Verifier.Unwrap(payload, r.Header)
	if err != nil {
		http.Error(w, "invalid webhook", http.StatusBadRequest)
		return
	}
	id := r.Header.Get(webhook.HeaderID)
	switch rv.Seen.Begin(id) {
	case Done:
		w.WriteHeader(http.StatusNoContent) // a retry of something already processed
		return
	case Busy:
		http.Error(w, "already in progress", http.StatusConflict) // retried later
		return
	}
	if err := rv.Handle(r.Context(), ev); err != nil {
		rv.Seen.Abort(id)
		http.Error(w, "could not process the event", http.StatusInternalServerError)
		return
	}
	rv.Seen.Finish(id)
	w.WriteHeader(http.StatusNoContent)
}

// State is what a Dedup knows of a webhook-id.
type State int

// The states Begin returns.
const (
	New  State = iota // not seen: the caller processes it, then calls Finish or Abort
	Busy              // being processed by another request
	Done              // processed
)

// Dedup remembers webhook-ids in memory, for a bounded time and number. The sender
// retries for about a day and a half, so keep ids at least two days.
type Dedup struct {
	mu    sync.Mutex
	ttl   time.Duration
	max   int
	now   func() time.Time
	seq   uint64
	state map[string]entry
	order []queued // oldest first, for eviction
}

type entry struct {
	done bool
	at   time.Time // when processing began
	seq  uint64
}

type queued struct {
	id  string
	seq uint64
}

// NewDedup returns a Dedup keeping up to max ids (default 100,000) for ttl (default 72 h).
func NewDedup(max int, ttl time.Duration) *Dedup {
	if max <= 0 {
		max = 100_000
	}
	if ttl <= 0 {
		ttl = 72 * time.Hour
	}
	return &Dedup{ttl: ttl, max: max, now: time.Now, state: map[string]entry{}}
}

// Begin claims id for processing unless it is done or in progress.
func (d *Dedup) Begin(id string) State {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.evict(now)
	if e, ok := d.state[id]; ok {
		if e.done {
			return Done
		}
		return Busy
	}
	d.seq++
	d.state[id] = entry{at: now, seq: d.seq}
	d.order = append(d.order, queued{id, d.seq})
	return New
}

// Finish marks id processed.
func (d *Dedup) Finish(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.state[id]; ok {
		e.done = true
		d.state[id] = e
	}
}

// Abort forgets id, so that a retry processes it.
func (d *Dedup) Abort(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.state, id)
}

// Len returns how many ids are remembered.
func (d *Dedup) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.state)
}

// evict drops expired ids and, at max, the oldest; d.mu is held.
func (d *Dedup) evict(now time.Time) {
	drop := 0
	for ; drop < len(d.order); drop++ {
		q := d.order[drop]
		e, ok := d.state[q.id]
		if ok && e.seq == q.seq {
			if now.Sub(e.at) < d.ttl && len(d.state) < d.max {
				break
			}
			delete(d.state, q.id)
		}
	}
	d.order = d.order[drop:]
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	secrets := flag.String("secret", os.Getenv("WEBHOOK_SECRET"), "endpoint secret(s), comma-separated (WEBHOOK_SECRET)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, strings.Split(*secrets, ","), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webhook-receiver:", err)
		os.Exit(1)
	}
}

// run serves the receiver at /webhooks until ctx ends, printing each event as a JSON line.
func run(ctx context.Context, addr string, secrets []string, out io.Writer) error {
	for _, s := range secrets {
		if err := webhook.ValidateSecret(s); err != nil {
			return fmt.Errorf("-secret: %w", err)
		}
	}
	var mu sync.Mutex
	enc := json.NewEncoder(out)
	rv := &Receiver{
		Verifier: &webhook.Verifier{Secrets: secrets},
		Handle: func(_ context.Context, ev webhook.Event) error {
			mu.Lock()
			defer mu.Unlock()
			return enc.Encode(map[string]any{"id": ev.ID, "type": ev.Type, "created_at": ev.CreatedAt, "data": ev.Data})
		},
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks", rv)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn)}
	fmt.Fprintf(out, "{\"listening\":\"http://%s/webhooks\"}\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
