package onboarding_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/scoring"
)

func TestExportCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}, HoldOffersUntilActive: true})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	first := uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei-old.pdf", testfiles.PDF("old"))
	second := uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("new"))
	selfie := uploadNamed(t, b, c.ID, onboarding.DocSelfie, "me.png", testfiles.PNG("me"))
	_, err = b.svc.Work(ctx) // a held offer
	require.NoError(t, err)
	other, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)

	x, err := b.svc.ExportCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, c.ID, x.Customer.ID)
	assert.Equal(t, c.CPF, x.Customer.CPF)
	require.Len(t, x.Documents, 3, "superseded uploads too")
	assert.Equal(t, onboarding.DocumentSuperseded, x.Documents[0].Status)
	assert.Equal(t, "ccmei-old.pdf", x.Documents[0].Filename)
	assert.Equal(t, "documents/"+first.ID+".pdf", x.Documents[0].File)
	assert.Equal(t, "documents/"+selfie.ID+".png", x.Documents[2].File)
	require.Len(t, x.Offers, 1, "held offers too")
	assert.NotEmpty(t, x.History)
	assert.Equal(t, onboarding.EventRegister, x.History[0].Event)
	require.NotEmpty(t, x.Events)
	for _, e := range x.Events {
		assert.NotContains(t, string(e.Data), other.ID)
	}

	// The archive: the JSON, then every document's bytes.
	var buf bytes.Buffer
	_, err = b.svc.WriteCustomerArchive(ctx, "p1", c.ID, &buf)
	require.NoError(t, err)
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		files[f.Name], err = io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
	}
	require.Len(t, files, 4)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(files[onboarding.ArchiveCustomerFile], &doc))
	for _, k := range []string{"exported_at", "customer", "documents", "credit_offers", "history", "events"} {
		assert.Contains(t, doc, k)
	}
	assert.Equal(t, c.Email, doc["customer"].(map[string]any)["email"])
	assert.Equal(t, testfiles.PDF("old"), files["documents/"+first.ID+".pdf"])
	assert.Equal(t, testfiles.PDF("new"), files["documents/"+second.ID+".pdf"])
	assert.Equal(t, testfiles.PNG("me"), files["documents/"+selfie.ID+".png"])

	_, err = b.svc.ExportCustomer(ctx, "p2", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound, "another partner's customer")
	// A document whose bytes changed fails the archive rather than exporting them.
	require.NoError(t, b.blobs.Put(ctx, second.Key, bytes.NewReader(testfiles.PDF("tampered")), onboarding.FormatPDF))
	_, err = b.svc.WriteCustomerArchive(ctx, "p1", c.ID, io.Discard)
	assert.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
}
