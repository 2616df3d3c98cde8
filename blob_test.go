package onboarding_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
)

func TestVerifyDigest(t *testing.T) {
	t.Parallel()
	data := []byte("%PDF-1.4 not really a pdf %%EOF")
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	read := func(body []byte, size int64, digest string) ([]byte, error) {
		rc := onboarding.VerifyDigest(io.NopCloser(iotest.HalfReader(bytes.NewReader(body))), size, digest)
		defer rc.Close()
		return io.ReadAll(rc)
	}

	got, err := read(data, int64(len(data)), hexSum)
	require.NoError(t, err)
	require.Equal(t, data, got)

	flipped := bytes.Clone(data)
	flipped[3] ^= 1
	for name, c := range map[string]struct {
		body   []byte
		size   int64
		digest string
	}{
		"flipped":   {flipped, int64(len(data)), hexSum},
		"truncated": {data[:len(data)-1], int64(len(data)), hexSum},
		"extended":  {append(bytes.Clone(data), 'x'), int64(len(data)), hexSum},
		"bad size":  {data, -1, hexSum},
		"bad hex":   {data, int64(len(data)), "zz"},
		"empty":     {nil, int64(len(data)), hexSum},
	} {
		got, err := read(c.body, c.size, c.digest)
		require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted, name)
		require.LessOrEqual(t, len(got), len(data), name)
	}
}

// digestCheck is a BlobStore that records what the Service's reader says it read.
type digestCheck struct {
	onboarding.BlobStore
	size int64
	sum  string
	ok   bool
}

func (d *digestCheck) Put(ctx context.Context, key string, r io.Reader, f onboarding.Format) error {
	if err := d.BlobStore.Put(ctx, key, r, f); err != nil {
		return err
	}
	var dg onboarding.Digester
	dg, d.ok = r.(onboarding.Digester)
	if d.ok {
		d.size, d.sum = dg.Size(), dg.SHA256()
	}
	return nil
}

func TestUploadReaderIsDigester(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	blobs := &digestCheck{BlobStore: sandbox.NewMemoryBlobStore()}
	svc, cust := newDigestService(t, blobs)
	jpg := testfiles.JPEG("a tiny jpeg body")
	doc, err := svc.UploadDocument(ctx, "p1", cust, onboarding.UploadParams{Type: onboarding.DocSelfie, Body: bytes.NewReader(jpg)})
	require.NoError(t, err)
	require.True(t, blobs.ok, "the reader handed to Put is an onboarding.Digester")
	require.Equal(t, doc.Size, blobs.size)
	require.Equal(t, doc.SHA256, blobs.sum)
	sum := sha256.Sum256(jpg)
	require.Equal(t, hex.EncodeToString(sum[:]), blobs.sum)
}

func newDigestService(t *testing.T, blobs onboarding.BlobStore) (*onboarding.Service, string) {
	t.Helper()
	svc := onboardingtest.NewService(t, memstore.New(), &onboarding.Options{Blobs: blobs})
	r := rand.New(rand.NewPCG(4, 2))
	c, _, err := svc.CreateCustomer(context.Background(), "p1", onboarding.CreateCustomerParams{
		ExternalID: "digest-1", CPF: string(taxid.GenerateCPF(r)), CNPJ: string(taxid.GenerateCNPJ(r, false)),
		Name: "Ana", Email: "ana@example.com", Phone: "+5511987654321", LegalNature: "mei",
	})
	require.NoError(t, err)
	return svc, c.ID
}
