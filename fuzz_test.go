package onboarding_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
)

// FuzzCreateCustomer feeds arbitrary registration input: it never panics, and either a
// valid customer is created with all its rows, or a typed error leaves nothing behind.
func FuzzCreateCustomer(f *testing.F) {
	f.Add("ext-1", "123.456.789-09", "12.ABC.345/01DE-35", "Maria", "maria@example.com", "+5511912345678", "Padaria", "")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("ext\x00", "52998224725", "11222333000181", "Ana\u202e", "a@b.co", "+55 (11) 9-1234-5678", "x", "LTDA")
	f.Add("e", "111.111.111-11", "00.000.000/0000-00", "N", "bad@", "+0", "", "s.a.")
	f.Add("e2", "529.982.247-25", "12abc34501de35", "Ana", "ANA@EXAMPLE.COM", "+5511912345678", "", "mei")
	f.Fuzz(func(t *testing.T, ext, cpf, cnpj, name, email, phone, trading, ln string) {
		store := memstore.New()
		svc := onboardingtest.NewService(t, store, nil)
		ctx := context.Background()
		p := onboarding.CreateCustomerParams{ExternalID: ext, CPF: cpf, CNPJ: cnpj, Name: name, Email: email,
			Phone: phone, TradingName: trading, LegalNature: ln}
		c, created, err := svc.CreateCustomer(ctx, "p1", p)
		list, lerr := store.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{Limit: 10})
		require.NoError(t, lerr)
		jobs, jerr := store.ListJobs(ctx, onboarding.ListJobsParams{})
		require.NoError(t, jerr)
		if err != nil {
			var ve *onboarding.ValidationError
			require.True(t, errors.As(err, &ve), "untyped error %v", err)
			require.NotEmpty(t, ve.Fields)
			require.Empty(t, list, "half-written customer")
			require.Empty(t, jobs, "half-written job")
			return
		}
		require.True(t, created)
		require.Len(t, list, 1)
		require.Len(t, jobs, 1, "the analysis job")
		// What was stored is itself valid input: registering it again is idempotent.
		again, created, err := svc.CreateCustomer(ctx, "p1", onboarding.CreateCustomerParams{
			ExternalID: c.ExternalID, CPF: c.CPF.String(), CNPJ: c.CNPJ.String(), Name: c.Name, Email: c.Email,
			Phone: c.Phone, TradingName: c.TradingName, LegalNature: string(c.LegalNature)})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, c.ID, again.ID)
	})
}

// FuzzUpload feeds arbitrary bytes as a document: never a panic, never an untyped error,
// and nothing stored unless accepted.
func FuzzUpload(f *testing.F) {
	f.Add([]byte("%PDF-1.4\n%%EOF"), true)
	f.Add([]byte("\xff\xd8\xff\xe0\xff\xd9"), false)
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xaeB`\x82"), false)
	f.Add([]byte("GIF89a"), false)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, body []byte, asCCMEI bool) {
		blobs := sandbox.NewMemoryBlobStore()
		svc := onboardingtest.NewService(t, memstore.New(), &onboarding.Options{Blobs: blobs,
			Uploads: onboarding.UploadRules{MaxSize: 4096}})
		ctx := context.Background()
		c, _, err := svc.CreateCustomer(ctx, "p1", onboarding.CreateCustomerParams{ExternalID: "e", CPF: "529.982.247-25",
			CNPJ: "11.222.333/0001-81", Name: "Ana", Email: "ana@example.com", Phone: "+5511912345678"})
		require.NoError(t, err)
		typ := onboarding.DocSelfie
		if asCCMEI {
			typ = onboarding.DocCCMEI
		}
		d, err := svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: typ, Body: bytes.NewReader(body)})
		if err != nil {
			for _, want := range []error{onboarding.ErrUnsupportedFormat, onboarding.ErrEmptyFile, onboarding.ErrTruncatedFile, onboarding.ErrFileTooLarge} {
				if errors.Is(err, want) {
					require.Empty(t, blobs.Keys())
					return
				}
			}
			t.Fatalf("untyped upload error: %v", err)
		}
		require.Equal(t, []string{d.Key}, blobs.Keys())
		require.EqualValues(t, len(body), d.Size)
	})
}
