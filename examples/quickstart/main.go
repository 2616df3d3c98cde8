// Command quickstart runs the registration guide end to end on the embedded defaults and
// prints each step: SQLite in a temporary directory, documents in a local folder, the
// background workers, and a local webhook receiver that verifies every signature.
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "gocloud.dev/blob/fileblob" // file:// buckets

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/blobstore"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/webhook"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// partnerReceiver is the partner's side: an HTTP endpoint that verifies each webhook with
// webhook.Unwrap and hands verified events to the guide.
type partnerReceiver struct {
	mu       sync.Mutex
	secret   string
	seen     map[string]bool // webhook-id: receivers deduplicate retries
	received chan webhook.Event
}

func (p *partnerReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	p.mu.Lock()
	secret := p.secret
	p.mu.Unlock()
	ev, err := webhook.Unwrap(body, r.Header, secret)
	if err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	dup := p.seen[ev.ID]
	p.seen[ev.ID] = true
	p.mu.Unlock()
	if !dup {
		p.received <- ev
	}
	w.WriteHeader(http.StatusNoContent)
}

func run(ctx context.Context, out io.Writer) error {
	step := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }

	dir, err := os.MkdirTemp("", "onboarding-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	step("open SQLite and a local document folder in %s", dir)
	db, err := bunstore.OpenSQLite(filepath.Join(dir, "onboarding.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := bunstore.Migrate(ctx, db); err != nil {
		return err
	}
	blobs, err := blobstore.Open(ctx, "file://"+filepath.ToSlash(filepath.Join(dir, "documents"))+"?create_dir=1", nil)
	if err != nil {
		return err
	}
	defer blobs.Close()

	svc, err := onboarding.New(bunstore.New(db, nil), &onboarding.Options{
		Blobs:                blobs,
		Scorer:               scoring.Sandbox{}, // deterministic: approves, amounts derived from the CNPJ
		AllowPrivateWebhooks: true,              // the receiver below listens on loopback
		Logger:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	runCtx, stopWorkers := context.WithCancel(ctx)
	workersDone := make(chan error, 1)
	go func() { workersDone <- svc.Run(runCtx) }() // analysis, reviews, webhook delivery
	defer func() {
		stopWorkers()
		<-workersDone
	}()

	const partner = "acme-marketplace"
	rcv := &partnerReceiver{seen: map[string]bool{}, received: make(chan webhook.Event, 64)}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	step("the partner registers its webhook endpoint")
	ep, secret, err := svc.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: srv.URL, Description: "quickstart"})
	if err != nil {
		return err
	}
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	fmt.Fprintf(out, "    %s -> %s (secret %s…)\n", ep.ID, ep.URL, secret[:10])

	wait := func(eventType string) (webhook.Event, error) {
		for {
			select {
			case ev := <-rcv.received:
				fmt.Fprintf(out, "    webhook verified: %s %s\n", ev.Type, ev.ID)
				if ev.Type == eventType {
					return ev, nil
				}
			case <-ctx.Done():
				return webhook.Event{}, fmt.Errorf("waiting for %s: %w", eventType, ctx.Err())
			}
		}
	}

	step("register the customer")
	params := onboarding.CreateCustomerParams{
		ExternalID: "seller-1001", CPF: "123.456.789-09", CNPJ: "12.ABC.345/01DE-35",
		Name: "Maria da Silva", Email: "maria@padaria.example", Phone: "+55 11 91234-5678",
		TradingName: "Padaria da Maria",
	}
	c, created, err := svc.CreateCustomer(ctx, partner, params)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    %s created=%t status=%s cnpj=%s\n", c.ID, created, c.Status, c.CNPJ)
	for _, r := range c.KYC {
		fmt.Fprintf(out, "    kyc: %-22s type=%-7s mandatory=%t status=%s\n", r.ID, r.DocumentType, r.Mandatory, r.Status)
	}

	step("register again with the same data (idempotent)")
	again, created, err := svc.CreateCustomer(ctx, partner, params)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    %s created=%t same=%t\n", again.ID, created, again.ID == c.ID)

	step("the same company under another external_id is a conflict (HTTP 409)")
	conflicting := params
	conflicting.ExternalID = "seller-9999"
	_, _, err = svc.CreateCustomer(ctx, partner, conflicting)
	fmt.Fprintf(out, "    error: %v\n", err)

	step("credit analysis runs in the background, in parallel with KYC")
	offerEvent, err := wait(webhook.EventCreditOfferAvailable)
	if err != nil {
		return err
	}
	var offer struct {
		ID             string  `json:"id"`
		ApprovedAmount string  `json:"approved_amount"`
		MinAmount      string  `json:"min_amount"`
		Rate           float64 `json:"monthly_interest_rate"`
		ValidUntil     string  `json:"valid_until"`
	}
	if err := offerEvent.Decode(&offer); err != nil {
		return err
	}
	fmt.Fprintf(out, "    offer %s: R$ %s (min R$ %s) at %g%% a month, valid until %s\n",
		offer.ID, offer.ApprovedAmount, offer.MinAmount, offer.Rate, offer.ValidUntil)

	step("upload the documents")
	uploads := []struct {
		typ  onboarding.DocumentType
		name string
		body []byte
	}{
		{onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("CCMEI of Padaria da Maria")},
		{onboarding.DocSelfie, "selfie.jpg", testfiles.JPEG("Maria")},
	}
	var docs []*onboarding.Document
	for _, u := range uploads {
		d, err := svc.UploadDocument(ctx, partner, c.ID, onboarding.UploadParams{Type: u.typ, Filename: u.name, Body: bytes.NewReader(u.body)})
		if err != nil {
			return err
		}
		docs = append(docs, d)
		fmt.Fprintf(out, "    %s %s %s %d bytes sha256=%s…\n", d.ID, d.Type, d.ContentType, d.Size, d.SHA256[:12])
	}
	if _, err := wait(webhook.EventCustomerUnderReview); err != nil {
		return err
	}

	step("the back office reviews them")
	for _, d := range docs {
		if _, err := svc.ReviewDocument(ctx, partner, d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove, Reviewer: "ana"}); err != nil {
			return err
		}
		fmt.Fprintf(out, "    approved %s\n", d.Type)
	}
	if _, err := wait(webhook.EventCustomerActive); err != nil {
		return err
	}

	step("audit history")
	history, err := svc.History(ctx, partner, c.ID)
	if err != nil {
		return err
	}
	for _, h := range history {
		fmt.Fprintf(out, "    %-16s %-12s -> %-12s by %s\n", h.Event, h.From, h.To, h.Actor)
	}
	c, err = svc.GetCustomer(ctx, partner, c.ID)
	if err != nil {
		return err
	}
	step("done: customer %s is %s with offer %s", c.ID, c.Status, offer.ID)
	if c.Status != onboarding.StatusActive {
		return fmt.Errorf("customer ended %s, want active", c.Status)
	}
	return nil
}
