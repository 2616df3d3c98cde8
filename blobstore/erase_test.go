package blobstore_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/blobstore"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/memstore"
)

// TestEraseDeletesEverything: an erasure leaves nothing of the customer in any backend,
// plain or encrypted: no document, no sidecar, no stray object under its prefix, while
// another customer's documents stay.
func TestEraseDeletesEverything(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		for _, encrypt := range []bool{false, true} {
			name := b.name
			if encrypt {
				name += "+encrypted"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				bs := openStore(t, b, encrypt)
				svc := onboardingtest.NewService(t, memstore.New(), &onboarding.Options{Blobs: bs})
				victim, control := newCustomer(t, svc, "victim"), newCustomer(t, svc, "control")
				for _, c := range []*onboarding.Customer{victim, control} {
					for _, label := range []uint64{1, 2} { // the second supersedes the first
						_, err := svc.UploadDocument(ctx, partner, c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI,
							Filename: "ccmei.pdf", Body: bytes.NewReader(makePDF(t, 2000, label))})
						require.NoError(t, err)
					}
				}
				// A stray object under the victim's prefix (an upload that lost the race).
				stray := onboarding.CustomerBlobPrefix(partner, victim.ID) + "documents/doc_stray"
				require.NoError(t, bs.Put(ctx, stray, bytes.NewReader(makePDF(t, 2000, 3)), onboarding.FormatPDF))

				er, err := svc.EraseCustomer(ctx, partner, victim.ID, onboarding.EraseParams{Reason: "request"})
				require.NoError(t, err)
				assert.True(t, er.BlobsDeleted)
				var left []string
				it := bs.Bucket().List(nil)
				for {
					obj, err := it.Next(ctx)
					if err == io.EOF {
						break
					}
					require.NoError(t, err)
					left = append(left, obj.Key)
				}
				assert.Len(t, left, 4, "the control's two documents and their sidecars: %v", left)
				for _, k := range left {
					assert.Contains(t, k, control.ID)
				}
			})
		}
	}
}

func TestDeletePrefixRefusesOutsideTheDocuments(t *testing.T) {
	t.Parallel()
	bs := openStore(t, backends[0], false)
	for _, p := range []string{"", "partners/", "partners/x", "other/", "../"} {
		_, err := bs.DeletePrefix(context.Background(), p)
		assert.Error(t, err, "%q", p)
	}
}

// TestFileBucketHoldsNothingAfterErasure reads the bucket's folder: no file of the
// customer is left, fileblob's .attrs included.
func TestFileBucketHoldsNothingAfterErasure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	bs, err := blobstore.Open(ctx, "file://"+dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { bs.Close() })
	svc := onboardingtest.NewService(t, memstore.New(), &onboarding.Options{Blobs: bs})
	c := newCustomer(t, svc, "")
	_, err = svc.UploadDocument(ctx, partner, c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI,
		Filename: "ccmei.pdf", Body: bytes.NewReader(makePDF(t, 2000, 1))})
	require.NoError(t, err)
	count := func() int {
		n := 0
		require.NoError(t, filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return err
		}))
		return n
	}
	require.Equal(t, 4, count(), "the document, its sidecar and their .attrs")
	_, err = svc.EraseCustomer(ctx, partner, c.ID, onboarding.EraseParams{Reason: "request"})
	require.NoError(t, err)
	assert.Zero(t, count())
}
