// Command custom-scorer shows how a lender plugs its own credit policy into the Service:
// a scoring.Func with the lender's rules, wired in with onboarding.Options{Scorer: …}.
// It registers three customers (a MEI, an LTDA and a company on the lender's blocklist),
// runs the credit analyses the way Service.Run does, and prints the offers.
//
//	go run ./examples/custom-scorer
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/memstore"
)

// Model names this policy in every decision, for the audit trail.
const Model = "acme-policy-v1"

// NewScorer returns the lender's credit policy. blockedRoots are CNPJ roots (the first
// eight characters) the lender never lends to.
//
//   - No CNPJ: decline (credit is for companies).
//   - A blocked root: decline.
//   - MEI (or unknown): R$ 20,000.00 at 3.99 % a month in 12 installments.
//   - EI, EIRELI: R$ 50,000.00 at 2.99 %, 6 to 18 installments.
//   - LTDA, SLU, S.A.: R$ 100,000.00 at 2.49 %, 6 to 24 installments.
//
// Offers are valid for 15 days; the minimum amount is 10 % of the approved one.
func NewScorer(blockedRoots ...string) scoring.Scorer {
	blocked := map[string]bool{}
	for _, r := range blockedRoots {
		blocked[strings.ToUpper(r)] = true
	}
	return scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		if err := ctx.Err(); err != nil {
			return scoring.Decision{}, err // retried later
		}
		if req.CNPJ == "" {
			return scoring.Decision{Outcome: scoring.Decline, Reason: "credit is for companies only", Model: Model}, nil
		}
		if len(req.CNPJ) >= 8 && blocked[req.CNPJ[:8]] {
			return scoring.Decision{Outcome: scoring.Decline, Reason: "company on the blocklist", Model: Model}, nil
		}
		d := scoring.Decision{Outcome: scoring.Approve, DueDateRule: scoring.DueMonthly, ValidFor: 15 * 24 * time.Hour, Model: Model}
		switch req.LegalNature {
		case "ltda", "slu", "sa":
			d.ApprovedAmountCents, d.MonthlyRate, d.MinInstallments, d.MaxInstallments = 100_000_00, 249*money.BasisPoint, 6, 24
		case "ei", "eireli":
			d.ApprovedAmountCents, d.MonthlyRate, d.MinInstallments, d.MaxInstallments = 50_000_00, 299*money.BasisPoint, 6, 18
		default: // mei, or unknown
			d.ApprovedAmountCents, d.MonthlyRate, d.Installments = 20_000_00, 399*money.BasisPoint, 12
		}
		d.MinAmountCents = d.ApprovedAmountCents / 10
		d.Reason = "policy for " + strings.ToUpper(orDefault(req.LegalNature, "mei"))
		return d, nil
	})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "custom-scorer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	svc, err := onboarding.New(memstore.New(), &onboarding.Options{Scorer: NewScorer("11222333"),
		Blobs: sandbox.NewMemoryBlobStore()}) // no documents in this example
	if err != nil {
		return err
	}
	const partner = "acme"
	customers := []onboarding.CreateCustomerParams{
		{ExternalID: "mei-1", CPF: "123.456.789-09", CNPJ: "12.345.678/0001-95", LegalNature: "mei"},
		{ExternalID: "ltda-1", CPF: "123.456.789-09", CNPJ: "12.ABC.345/01DE-35", LegalNature: "ltda"},
		{ExternalID: "blocked-1", CPF: "123.456.789-09", CNPJ: "11.222.333/0001-81", LegalNature: "ltda"},
	}
	var ids []string
	for _, p := range customers {
		p.Name, p.Email, p.Phone = "Maria da Silva", "maria@padaria.example", "+5511912345678"
		c, _, err := svc.CreateCustomer(ctx, partner, p)
		if err != nil {
			return err
		}
		ids = append(ids, c.ID)
	}
	// What Service.Run does continuously: work the queued analyses.
	for {
		n, err := svc.Work(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	for i, id := range ids {
		page, err := svc.ListCreditOffers(ctx, partner, onboarding.ListOffersParams{CustomerID: id})
		if err != nil {
			return err
		}
		if len(page.Data) == 0 {
			fmt.Fprintf(out, "%-10s no offer\n", customers[i].ExternalID)
			continue
		}
		o := page.Data[0]
		terms := fmt.Sprintf("%d installments", o.Installments)
		if o.Installments == 0 {
			terms = fmt.Sprintf("%d-%d installments", o.MinInstallments, o.MaxInstallments)
		}
		fmt.Fprintf(out, "%-10s offer R$ %s (min R$ %s) at %s%% a month, %s\n",
			customers[i].ExternalID, o.ApprovedAmount, o.MinAmount, o.MonthlyInterestRate, terms)
	}
	return nil
}
