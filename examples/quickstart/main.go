// Command quickstart runs the registration guide end to end, in process, and prints each
// step: register a customer, see what KYC it owes, upload the documents, review them, and
// watch the status and the outbox.
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/memstore"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	store := memstore.New()
	svc := onboarding.New(store, &onboarding.Options{
		Scorer: scoring.Sandbox{}, // deterministic: approves, amounts derived from the CNPJ
	})
	const partner = "acme-marketplace"

	step := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }

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
		fmt.Fprintf(out, "    kyc: %-28s type=%-8s mandatory=%t status=%s\n", r.ID, r.DocumentType, r.Mandatory, r.Status)
	}

	step("register again with the same data (idempotent)")
	again, created, err := svc.CreateCustomer(ctx, partner, params)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "    %s created=%t same=%t\n", again.ID, created, again.ID == c.ID)

	step("the same company under another external_id is a conflict")
	conflicting := params
	conflicting.ExternalID = "seller-9999"
	_, _, err = svc.CreateCustomer(ctx, partner, conflicting)
	fmt.Fprintf(out, "    error: %v\n", err)

	step("credit analysis runs in the background, in parallel with KYC")
	if _, err := svc.Work(ctx); err != nil { // what Service.Run does continuously
		return err
	}
	offers, err := svc.ListCreditOffers(ctx, partner, onboarding.ListOffersParams{CustomerID: c.ID})
	if err != nil {
		return err
	}
	if len(offers.Data) != 1 {
		return fmt.Errorf("want one offer, got %d", len(offers.Data))
	}
	o := offers.Data[0]
	fmt.Fprintf(out, "    offer %s %s: R$ %s (min R$ %s) at %s%% a month, %d-%d installments, valid until %s\n",
		o.ID, o.Status, o.ApprovedAmount, o.MinAmount, o.MonthlyInterestRate, o.MinInstallments, o.MaxInstallments,
		o.ValidUntil.Format("2006-01-02"))

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
		c, _ = svc.GetCustomer(ctx, partner, c.ID)
		fmt.Fprintf(out, "    %s %s %s %d bytes sha256=%s… -> customer %s\n", d.ID, d.Type, d.ContentType, d.Size, d.SHA256[:12], c.Status)
	}

	step("the back office reviews them")
	for _, d := range docs {
		if _, err := svc.ReviewDocument(ctx, partner, d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove, Reviewer: "ana"}); err != nil {
			return err
		}
		c, _ = svc.GetCustomer(ctx, partner, c.ID)
		fmt.Fprintf(out, "    approved %s -> customer %s\n", d.Type, c.Status)
	}
	if c.Status != onboarding.StatusActive {
		return fmt.Errorf("customer ended %s, want active", c.Status)
	}

	step("audit history")
	history, err := svc.History(ctx, partner, c.ID)
	if err != nil {
		return err
	}
	for _, h := range history {
		fmt.Fprintf(out, "    %-16s %-12s -> %-12s by %s\n", h.Event, h.From, h.To, h.Actor)
	}

	step("outbox (each event is published by a durable job)")
	events, err := svc.ListEvents(ctx, partner, onboarding.ListEventsParams{CustomerID: c.ID})
	if err != nil {
		return err
	}
	for _, e := range events {
		fmt.Fprintf(out, "    %s %s\n", e.ID, e.Type)
	}
	step("done: customer %s is %s", c.ID, c.Status)
	return nil
}
