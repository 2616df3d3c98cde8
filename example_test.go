package onboarding_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
)

// Registering a customer is idempotent: the same CPF/CNPJ and external_id give the same
// customer, while the same company under another external_id is a conflict.
func ExampleService_CreateCustomer() {
	ctx := context.Background()
	svc, err := onboarding.New(memstore.New(), &onboarding.Options{Blobs: sandbox.NewMemoryBlobStore()})
	if err != nil {
		log.Fatal(err)
	}

	p := onboarding.CreateCustomerParams{
		ExternalID: "erp-42", CPF: "123.456.789-09", CNPJ: "12.ABC.345/01DE-35",
		Name: "Maria da Silva", Email: "maria@example.com", Phone: "+55 11 91234-5678",
		TradingName: "Padaria da Maria",
	}
	c, created, err := svc.CreateCustomer(ctx, onboarding.DefaultPartnerID, p)
	if err != nil {
		panic(err)
	}
	fmt.Println(created, c.Status, c.CNPJ, c.Phone)
	for _, r := range c.KYC {
		fmt.Println("owes", r.DocumentType, r.Status)
	}

	again, created, _ := svc.CreateCustomer(ctx, onboarding.DefaultPartnerID, p)
	fmt.Println(created, again.ID == c.ID)

	p.ExternalID = "erp-43"
	_, _, err = svc.CreateCustomer(ctx, onboarding.DefaultPartnerID, p)
	fmt.Println(errors.Is(err, onboarding.ErrConflict))
	// Output:
	// true pending_kyc 12.ABC.345/01DE-35 +5511912345678
	// owes ccmei pending
	// owes selfie pending
	// false true
	// true
}

// The KYC side of the guide: the last mandatory upload puts the customer under review, and
// approving every item activates it.
func Example_uploadToActive() {
	ctx := context.Background()
	svc, err := onboarding.New(memstore.New(), &onboarding.Options{Blobs: sandbox.NewMemoryBlobStore()})
	if err != nil {
		log.Fatal(err)
	}
	const partner = "marketplace"
	c, _, err := svc.CreateCustomer(ctx, partner, onboarding.CreateCustomerParams{
		ExternalID: "seller-7", CPF: "529.982.247-25", CNPJ: "11.222.333/0001-81",
		Name: "João Souza", Email: "joao@example.com", Phone: "+5521912345678",
	})
	if err != nil {
		panic(err)
	}
	ccmei, _ := svc.UploadDocument(ctx, partner, c.ID, onboarding.UploadParams{
		Type: onboarding.DocCCMEI, Filename: "ccmei.pdf", Body: bytes.NewReader(testfiles.PDF("ccmei"))})
	selfie, _ := svc.UploadDocument(ctx, partner, c.ID, onboarding.UploadParams{
		Type: onboarding.DocSelfie, Filename: "me.jpg", Body: bytes.NewReader(testfiles.JPEG("me"))})
	c, _ = svc.GetCustomer(ctx, partner, c.ID)
	fmt.Println(c.Status)

	for _, d := range []*onboarding.Document{ccmei, selfie} {
		if _, err := svc.ReviewDocument(ctx, partner, d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove, Reviewer: "ana"}); err != nil {
			panic(err)
		}
	}
	c, _ = svc.GetCustomer(ctx, partner, c.ID)
	fmt.Println(c.Status)

	history, _ := svc.History(ctx, partner, c.ID)
	for _, h := range history {
		fmt.Printf("%s: %q -> %s by %s\n", h.Event, h.From, h.To, h.Actor)
	}
	// Output:
	// under_review
	// active
	// register: "" -> pending_kyc by partner
	// submit: "pending_kyc" -> under_review by partner
	// item_decision: "under_review" -> under_review by reviewer:ana
	// item_decision: "under_review" -> under_review by reviewer:ana
	// approve: "under_review" -> active by reviewer:ana
}
