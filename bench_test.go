package onboarding_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
)

// BenchmarkCreateCustomer measures registration through the Service on memstore against a
// raw unit of work writing the same five rows (customer, history, event, two jobs) with
// everything precomputed, and reports the library's rate as a fraction of the raw rate (x-raw) on the library line.
//
//	go test -run '^$' -bench CreateCustomer -benchmem .
func BenchmarkCreateCustomer(b *testing.B) {
	ctx := context.Background()
	inputs := func(n int) []onboarding.CreateCustomerParams {
		r := rand.New(rand.NewPCG(1, 2))
		out := make([]onboarding.CreateCustomerParams, n)
		for i := range out {
			out[i] = onboarding.CreateCustomerParams{ExternalID: onboarding.NewID("ext"),
				CPF: taxid.GenerateCPF(r).String(), CNPJ: taxid.GenerateCNPJ(r, i%2 == 0).String(),
				Name: "Maria da Silva", Email: "maria@example.com", Phone: "+5511912345678", TradingName: "Padaria"}
		}
		return out
	}
	var libNs, rawNs float64
	b.Run("raw", func(b *testing.B) {
		in := inputs(b.N)
		store := memstore.New()
		now := time.Now().UTC()
		kyc, _ := onboarding.DefaultPolicy{}.Requirements(ctx, onboarding.RequirementInput{})
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			cpf, _ := taxid.ParseCPF(in[i].CPF)
			cnpj, _ := taxid.ParseCNPJ(in[i].CNPJ)
			c := &onboarding.Customer{ID: onboarding.NewID("cust"), PartnerID: "p1", ExternalID: in[i].ExternalID,
				CPF: cpf, CNPJ: cnpj, Name: in[i].Name, Email: in[i].Email, Phone: in[i].Phone,
				Status: onboarding.StatusPendingKYC, KYC: kyc, CreatedAt: now, UpdatedAt: now}
			data, _ := json.Marshal(c)
			err := store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				if err := q.InsertCustomer(ctx, c); err != nil {
					return err
				}
				if err := q.InsertTransition(ctx, &onboarding.Transition{ID: onboarding.NewID("tr"), PartnerID: "p1", CustomerID: c.ID, CreatedAt: now}); err != nil {
					return err
				}
				ev := &onboarding.Event{ID: onboarding.NewID("evt"), PartnerID: "p1", CustomerID: c.ID, Data: data, CreatedAt: now}
				if err := q.InsertEvent(ctx, ev); err != nil {
					return err
				}
				for range 2 {
					if err := q.InsertJob(ctx, &onboarding.Job{ID: onboarding.NewID("job"), PartnerID: "p1", CustomerID: c.ID, RunAt: now}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		rawNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("library", func(b *testing.B) {
		in := inputs(b.N)
		svc := onboardingtest.NewService(b, memstore.New(), nil)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, _, err := svc.CreateCustomer(ctx, "p1", in[i]); err != nil {
				b.Fatal(err)
			}
		}
		libNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if rawNs > 0 {
			b.ReportMetric(rawNs/libNs, "x-raw")
		}
	})
}
