package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/secrets"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/blobstore"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
)

// TestBlobSuite runs the one blob suite on every backend, plain and encrypted.
func TestBlobSuite(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		for _, encrypt := range []bool{false, true} {
			name := b.name
			if encrypt {
				name += "+encrypted"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				runSuite(t, harness{
					newStore:       func(t *testing.T) *blobstore.Store { return openStore(t, b, encrypt) },
					signs:          b.signs,
					encrypted:      encrypt,
					pendingUploads: b.pendingUploads,
				})
			})
		}
	}
}

// harness is what the suite needs from a backend.
type harness struct {
	// newStore returns a Store on a fresh, empty bucket.
	newStore func(t *testing.T) *blobstore.Store
	// signs: SignedURL works on unencrypted objects.
	signs bool
	// encrypted: the Store encrypts at rest.
	encrypted bool
	// pendingUploads, when set, counts a bucket's unfinished multipart uploads.
	pendingUploads func(t *testing.T, b *blob.Bucket) int
}

const partner = "partner-1"

// bundle is one test's world: a bucket, a memstore, a Service on both, a MEI customer
// (who owes a ccmei document and a selfie).
type bundle struct {
	ctx   context.Context
	blobs *blobstore.Store
	db    *memstore.Store
	svc   *onboarding.Service
	cust  *onboarding.Customer
}

type setupOptions struct {
	uploads   onboarding.UploadRules
	wrapStore func(onboarding.Store) onboarding.Store
	wrapBlobs func(*blobstore.Store) onboarding.BlobStore
}

func (h harness) setup(t *testing.T, so setupOptions) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), blobs: h.newStore(t), db: memstore.New()}
	var st onboarding.Store = b.db
	if so.wrapStore != nil {
		st = so.wrapStore(st)
	}
	var bs onboarding.BlobStore = b.blobs
	if so.wrapBlobs != nil {
		bs = so.wrapBlobs(b.blobs)
	}
	b.svc = onboardingtest.NewService(t, st, &onboarding.Options{Blobs: bs, Uploads: so.uploads})
	b.cust = newCustomer(t, b.svc, "")
	return b
}

// newCustomer registers a MEI customer with generated, valid CPF and CNPJ (seeded by the
// test's name, so a run is reproducible).
func newCustomer(t *testing.T, svc *onboarding.Service, salt string) *onboarding.Customer {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte(t.Name() + "/" + salt))
	r := rand.New(rand.NewPCG(h.Sum64(), 42))
	c, created, err := svc.CreateCustomer(context.Background(), partner, onboarding.CreateCustomerParams{
		ExternalID: "ext-" + hex.EncodeToString(h.Sum(nil)), CPF: string(taxid.GenerateCPF(r)),
		CNPJ: string(taxid.GenerateCNPJ(r, false)), Name: "Maria da Silva", Email: "maria@example.com",
		Phone: "+5511987654321", LegalNature: "mei",
	})
	require.NoError(t, err)
	require.True(t, created)
	return c
}

func (b *bundle) upload(typ onboarding.DocumentType, name string, body io.Reader) (*onboarding.Document, error) {
	return b.svc.UploadDocument(b.ctx, partner, b.cust.ID, onboarding.UploadParams{Type: typ, Filename: name, Body: body})
}

// keys lists every object in the bucket.
func (b *bundle) keys(t *testing.T) []string {
	t.Helper()
	var keys []string
	it := b.blobs.Bucket().List(nil)
	for {
		obj, err := it.Next(b.ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		keys = append(keys, obj.Key)
	}
	slices.Sort(keys)
	return keys
}

func (b *bundle) docs(t *testing.T) []*onboarding.Document {
	t.Helper()
	docs, err := b.svc.ListDocuments(b.ctx, partner, b.cust.ID)
	require.NoError(t, err)
	return docs
}

// requireNothingStored checks that the bucket and the customer's documents are empty.
func (b *bundle) requireNothingStored(t *testing.T) {
	t.Helper()
	require.Empty(t, b.keys(t), "no blob may be left")
	require.Empty(t, b.docs(t), "no row may be left")
}

func readAll(t *testing.T, rc io.ReadCloser) ([]byte, error) {
	t.Helper()
	defer rc.Close()
	return io.ReadAll(rc)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func objectKeys(d *onboarding.Document) []string {
	return []string{d.Key, d.Key + blobstore.SidecarSuffix}
}

// plainReader hides any WriterTo/ReaderFrom, like a network body.
type plainReader struct{ io.Reader }

func runSuite(t *testing.T, h harness) {
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		pdf := makePDF(t, 200<<10, 1) // several encryption chunks
		jpg := makeJPEG(t, 2)
		doc, err := b.upload(onboarding.DocCCMEI, "contrato.pdf", bytes.NewReader(pdf))
		require.NoError(t, err)
		selfie, err := b.upload(onboarding.DocSelfie, "me.jpg", plainReader{bytes.NewReader(jpg)})
		require.NoError(t, err)
		require.Equal(t, onboarding.DocumentKey(partner, b.cust.ID, doc.ID), doc.Key)
		require.ElementsMatch(t, append(objectKeys(doc), objectKeys(selfie)...), b.keys(t))

		for _, c := range []struct {
			doc  *onboarding.Document
			data []byte
			ct   onboarding.Format
		}{{doc, pdf, onboarding.FormatPDF}, {selfie, jpg, onboarding.FormatJPEG}} {
			require.Equal(t, c.ct, c.doc.ContentType)
			require.Equal(t, int64(len(c.data)), c.doc.Size)
			require.Equal(t, sha(c.data), c.doc.SHA256)

			rc, _, err := b.svc.OpenDocument(b.ctx, partner, c.doc.ID)
			require.NoError(t, err)
			got, err := readAll(t, rc)
			require.NoError(t, err)
			require.True(t, bytes.Equal(c.data, got), "bytes read back through the Service differ")

			rc, err = b.blobs.OpenDocument(b.ctx, c.doc)
			require.NoError(t, err)
			got, err = readAll(t, rc)
			require.NoError(t, err)
			require.True(t, bytes.Equal(c.data, got))

			a, err := b.blobs.Attributes(b.ctx, c.doc.Key)
			require.NoError(t, err)
			require.Equal(t, c.ct, a.ContentType)
			require.Equal(t, c.doc.Size, a.Size)
			require.Equal(t, c.doc.SHA256, a.SHA256)
			require.Equal(t, h.encrypted, a.Encrypted)
			require.WithinDuration(t, time.Now(), a.ModTime, time.Minute)

			// What the bucket itself holds.
			raw, err := b.blobs.Bucket().ReadAll(b.ctx, c.doc.Key)
			require.NoError(t, err)
			ra, err := b.blobs.Bucket().Attributes(b.ctx, c.doc.Key)
			require.NoError(t, err)
			if h.encrypted {
				require.False(t, bytes.Contains(raw, c.data[:64]), "the plaintext must not be stored")
				chunks := len(c.data)/(64<<10) + 1
				require.Len(t, raw, len(c.data)+16*chunks)
				require.Equal(t, "application/octet-stream", ra.ContentType)
				require.Equal(t, "aes-256-gcm-chunked-v1", ra.Metadata["encryption"])
				require.NotEmpty(t, ra.Metadata["encryption-key"])
			} else {
				require.True(t, bytes.Equal(c.data, raw))
				require.Equal(t, string(c.ct), ra.ContentType)
			}
		}
		got, err := b.svc.GetCustomer(b.ctx, partner, b.cust.ID)
		require.NoError(t, err)
		require.Equal(t, onboarding.StatusUnderReview, got.Status)
	})

	t.Run("PutAndOpenDirectly", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		png := makePNG(t, 3)
		key := "partners/p/customers/c/documents/direct"
		// A bytes.Reader is no Digester: the Store hashes it itself.
		require.NoError(t, b.blobs.Put(b.ctx, key, bytes.NewReader(png), onboarding.FormatPNG))
		a, err := b.blobs.Attributes(b.ctx, key)
		require.NoError(t, err)
		require.Equal(t, sha(png), a.SHA256)
		require.Equal(t, int64(len(png)), a.Size)
		rc, err := b.blobs.Open(b.ctx, key)
		require.NoError(t, err)
		got, err := readAll(t, rc)
		require.NoError(t, err)
		require.Equal(t, png, got)

		for _, n := range []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 128 << 10} {
			data := bytes.Repeat([]byte{'x'}, n)
			require.NoError(t, b.blobs.Put(b.ctx, key+"-n", plainReader{bytes.NewReader(data)}, ""))
			rc, err := b.blobs.Open(b.ctx, key+"-n")
			require.NoError(t, err)
			got, err := readAll(t, rc)
			require.NoError(t, err, "size %d", n)
			require.Equal(t, len(data), len(got), "size %d", n)
		}

		require.NoError(t, b.blobs.Delete(b.ctx, key))
		require.NoError(t, b.blobs.Delete(b.ctx, key), "deleting a missing key is not an error")
		require.NoError(t, b.blobs.Delete(b.ctx, key+"-n"))
		require.Empty(t, b.keys(t))
	})

	t.Run("MissingAndReservedKeys", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		const key = "partners/p/customers/c/documents/missing"
		_, err := b.blobs.Open(b.ctx, key)
		require.ErrorIs(t, err, onboarding.ErrNotFound)
		_, err = b.blobs.Attributes(b.ctx, key)
		require.ErrorIs(t, err, onboarding.ErrNotFound)
		_, err = b.blobs.SignedURL(b.ctx, key, time.Minute)
		require.ErrorIs(t, err, onboarding.ErrNotFound)
		require.NoError(t, b.blobs.Delete(b.ctx, key))
		require.Error(t, b.blobs.Put(b.ctx, key+blobstore.SidecarSuffix, strings.NewReader("x"), ""))
		require.Error(t, b.blobs.Put(b.ctx, "", strings.NewReader("x"), ""))
		require.Empty(t, b.keys(t))
	})

	t.Run("HostileFilesStoreNothing", func(t *testing.T) {
		t.Parallel()
		jpg, png, pdf := makeJPEG(t, 4), makePNG(t, 5), makePDF(t, 4096, 6)
		cases := []struct {
			name string
			typ  onboarding.DocumentType
			file string
			body []byte
			want error
		}{
			{"ELFNamedPDF", onboarding.DocCCMEI, "report.pdf", elfBytes, onboarding.ErrUnsupportedFormat},
			{"MZNamedPDF", onboarding.DocCCMEI, "invoice.pdf", mzBytes, onboarding.ErrUnsupportedFormat},
			{"HTMLNamedPNG", onboarding.DocSelfie, "me.png", htmlBytes, onboarding.ErrUnsupportedFormat},
			{"GIF", onboarding.DocSelfie, "me.gif", makeGIF(t), onboarding.ErrUnsupportedFormat},
			{"PDFAsSelfie", onboarding.DocSelfie, "me.jpg", pdf, onboarding.ErrUnsupportedFormat},
			{"Empty", onboarding.DocCCMEI, "empty.pdf", nil, onboarding.ErrEmptyFile},
			{"TruncatedPDF", onboarding.DocCCMEI, "cut.pdf", pdf[:len(pdf)-200], onboarding.ErrTruncatedFile},
			{"JPEGWithoutEOI", onboarding.DocSelfie, "me.jpg", jpg[:len(jpg)-2], onboarding.ErrTruncatedFile},
			{"PNGWithoutIEND", onboarding.DocSelfie, "me.png", png[:len(png)-12], onboarding.ErrTruncatedFile},
			{"OneByteOverLimit", onboarding.DocCCMEI, "big.pdf", makePDF(t, 8193, 7), onboarding.ErrFileTooLarge},
			{"FarOverLimit", onboarding.DocCCMEI, "huge.pdf", makePDF(t, 1<<20, 8), onboarding.ErrFileTooLarge},
		}
		rules := onboarding.UploadRules{MaxSizeByType: map[onboarding.DocumentType]int64{onboarding.DocCCMEI: 8192}}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				b := h.setup(t, setupOptions{uploads: rules})
				_, err := b.upload(c.typ, c.file, plainReader{bytes.NewReader(c.body)})
				require.ErrorIs(t, err, c.want)
				b.requireNothingStored(t)
			})
		}
		t.Run("AtTheLimit", func(t *testing.T) {
			t.Parallel()
			b := h.setup(t, setupOptions{uploads: rules})
			d, err := b.upload(onboarding.DocCCMEI, "limit.pdf", bytes.NewReader(makePDF(t, 8192, 7)))
			require.NoError(t, err)
			require.Equal(t, int64(8192), d.Size)
		})
	})

	t.Run("FilenameIsData", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		for i, name := range []string{"../../etc/passwd", "/etc/shadow", "..\\..\\boot.ini", "a/../../b.meta", "doc.pdf\x00.exe"} {
			d, err := b.upload(onboarding.DocCCMEI, name, bytes.NewReader(makePDF(t, 2048, uint64(i))))
			require.NoError(t, err, name)
			require.Equal(t, onboarding.DocumentKey(partner, b.cust.ID, d.ID), d.Key)
			require.NotContains(t, d.Key, "..")
			require.NotContains(t, d.Key, "etc")
			require.Equal(t, strings.ReplaceAll(name, "\x00", ""), d.Filename)
		}
		prefix := "partners/" + partner + "/customers/" + b.cust.ID + "/documents/doc_"
		for _, k := range b.keys(t) {
			require.True(t, strings.HasPrefix(k, prefix), k)
		}
	})

	t.Run("IdenticalBytesAreIdempotent", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		pdf := makePDF(t, 100<<10, 9)
		d1, err := b.upload(onboarding.DocCCMEI, "a.pdf", bytes.NewReader(pdf))
		require.NoError(t, err)
		d2, err := b.upload(onboarding.DocCCMEI, "b.pdf", plainReader{bytes.NewReader(pdf)})
		require.NoError(t, err)
		require.Equal(t, d1.ID, d2.ID)
		require.Len(t, b.docs(t), 1)
		require.Equal(t, objectKeys(d1), b.keys(t), "one blob (and its sidecar)")
	})

	t.Run("RowFailureLeavesNoBlob", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{wrapStore: func(s onboarding.Store) onboarding.Store {
			return &faultyStore{Store: s, fail: alwaysFail()}
		}})
		_, err := b.upload(onboarding.DocCCMEI, "a.pdf", bytes.NewReader(makePDF(t, 50<<10, 10)))
		require.ErrorIs(t, err, errInjected)
		b.requireNothingStored(t)
	})

	t.Run("CrashBetweenBlobAndRowIsSwept", func(t *testing.T) {
		t.Parallel()
		var faults atomic.Bool
		b := h.setup(t, setupOptions{
			wrapStore: func(s onboarding.Store) onboarding.Store { return &faultyStore{Store: s, fail: &faults} },
			// The process "dies" before it can delete the blob the row will not reference.
			wrapBlobs: func(s *blobstore.Store) onboarding.BlobStore { return &faultyBlobs{Store: s, fail: &faults} },
		})
		kept, err := b.upload(onboarding.DocSelfie, "me.png", bytes.NewReader(makePNG(t, 11)))
		require.NoError(t, err)
		faults.Store(true)
		_, err = b.upload(onboarding.DocCCMEI, "a.pdf", bytes.NewReader(makePDF(t, 50<<10, 12)))
		require.ErrorIs(t, err, errInjected)
		faults.Store(false)
		require.Len(t, b.keys(t), 4, "the orphan and its sidecar are left behind")
		require.Len(t, b.docs(t), 1)

		// Within the grace period nothing is swept: it could be an upload in flight.
		n, err := b.blobs.Sweep(b.ctx, b.db, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Zero(t, n)
		require.Len(t, b.keys(t), 4)

		n, err = b.blobs.Sweep(b.ctx, b.db, time.Now().Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, objectKeys(kept), b.keys(t), "only the referenced document is left")
		rc, _, err := b.svc.OpenDocument(b.ctx, partner, kept.ID)
		require.NoError(t, err)
		_, err = readAll(t, rc)
		require.NoError(t, err)

		n, err = b.blobs.Sweep(b.ctx, b.db, time.Now().Add(time.Minute))
		require.NoError(t, err)
		require.Zero(t, n, "a second sweep finds nothing")
	})

	t.Run("CrashMidUploadLeavesNothing", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		pdf := makePDF(t, 300<<10, 13)
		_, err := b.upload(onboarding.DocCCMEI, "a.pdf", &failingReader{r: bytes.NewReader(pdf), after: 150 << 10})
		require.ErrorIs(t, err, errInjected)
		b.requireNothingStored(t)

		// The client goes away mid-upload.
		ctx, cancel := context.WithCancel(b.ctx)
		defer cancel()
		_, err = b.svc.UploadDocument(ctx, partner, b.cust.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI,
			Body: &failingReader{r: bytes.NewReader(pdf), after: 150 << 10, cancel: cancel}})
		require.ErrorIs(t, err, context.Canceled)
		b.requireNothingStored(t)

		n, err := b.blobs.Sweep(b.ctx, b.db, time.Now().Add(time.Minute))
		require.NoError(t, err)
		require.Zero(t, n)
		require.Empty(t, b.keys(t))
	})

	t.Run("LargeAbortedUpload", func(t *testing.T) {
		// Past the S3 and GCS drivers' single-request buffers, so a multipart or resumable
		// upload is under way when the reader fails.
		t.Parallel()
		b := h.setup(t, setupOptions{uploads: onboarding.UploadRules{MaxSize: 20 << 20}})
		pendingAtFailure := -1
		fr := &failingReader{r: pdfReader(19<<20, 14), after: 18 << 20}
		if h.pendingUploads != nil {
			fr.onFail = func() { pendingAtFailure = h.pendingUploads(t, b.blobs.Bucket()) }
		}
		_, err := b.upload(onboarding.DocCCMEI, "a.pdf", fr)
		require.ErrorIs(t, err, errInjected)
		b.requireNothingStored(t)
		if h.pendingUploads != nil {
			require.Equal(t, 1, pendingAtFailure, "a multipart upload was under way")
			require.Zero(t, h.pendingUploads(t, b.blobs.Bucket()), "and it was aborted")
		}
	})

	t.Run("OrphansWithoutRowAreSwept", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		// A crash between the document and its sidecar: a bare object.
		bare := onboarding.DocumentKey(partner, b.cust.ID, "doc_0000000000000000000000000000dead")
		require.NoError(t, b.blobs.Bucket().WriteAll(b.ctx, bare, makePDF(t, 1024, 15), &blob.WriterOptions{ContentType: "application/pdf"}))
		_, err := b.blobs.Open(b.ctx, bare)
		require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
		// A crash between the blob and the row: a complete blob nobody references.
		whole := onboarding.DocumentKey(partner, b.cust.ID, "doc_0000000000000000000000000000beef")
		require.NoError(t, b.blobs.Put(b.ctx, whole, bytes.NewReader(makePDF(t, 1024, 16)), onboarding.FormatPDF))
		// Outside the library's prefix nothing is touched.
		require.NoError(t, b.blobs.Bucket().WriteAll(b.ctx, "other/file", []byte("x"), nil))
		require.Len(t, b.keys(t), 4)

		n, err := b.blobs.Sweep(b.ctx, b.db, time.Now().Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, []string{"other/file"}, b.keys(t))
	})

	t.Run("TamperDetection", func(t *testing.T) {
		t.Parallel()
		pdf := makePDF(t, 200<<10, 17)
		tamper := func(t *testing.T, name string, edit func(raw []byte) []byte) {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := h.setup(t, setupOptions{})
				d, err := b.upload(onboarding.DocCCMEI, "a.pdf", bytes.NewReader(pdf))
				require.NoError(t, err)
				bk := b.blobs.Bucket()
				raw, err := bk.ReadAll(b.ctx, d.Key)
				require.NoError(t, err)
				ra, err := bk.Attributes(b.ctx, d.Key)
				require.NoError(t, err)
				require.NoError(t, bk.WriteAll(b.ctx, d.Key, edit(slices.Clone(raw)),
					&blob.WriterOptions{ContentType: ra.ContentType, Metadata: ra.Metadata}))

				rc, _, err := b.svc.OpenDocument(b.ctx, partner, d.ID)
				require.NoError(t, err)
				_, err = readAll(t, rc)
				require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
				rc, err = b.blobs.OpenDocument(b.ctx, d)
				require.NoError(t, err)
				_, err = readAll(t, rc)
				require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
			})
		}
		tamper(t, "FlippedByte", func(raw []byte) []byte { raw[len(raw)/2] ^= 1; return raw })
		tamper(t, "FlippedLastByte", func(raw []byte) []byte { raw[len(raw)-1] ^= 0x80; return raw })
		tamper(t, "Truncated", func(raw []byte) []byte { return raw[:len(raw)-1] })
		tamper(t, "Extended", func(raw []byte) []byte { return append(raw, raw[:100]...) })
		tamper(t, "Replaced", func([]byte) []byte { return makePDF(t, 200<<10, 18) })
		const sealed = 64<<10 + 16
		if h.encrypted {
			tamper(t, "LastChunkDropped", func(raw []byte) []byte { return raw[:len(raw)-len(raw)%sealed] })
			tamper(t, "CutAtChunkBoundary", func(raw []byte) []byte { return raw[:2*sealed] })
			tamper(t, "ChunksSwapped", func(raw []byte) []byte {
				out := slices.Clone(raw[sealed : 2*sealed])
				out = append(out, raw[:sealed]...)
				return append(out, raw[2*sealed:]...)
			})
			tamper(t, "ChunkDuplicated", func(raw []byte) []byte {
				return append(slices.Clone(raw[:sealed]), raw...)
			})
		}

		t.Run("SidecarRewritten", func(t *testing.T) {
			t.Parallel()
			b := h.setup(t, setupOptions{})
			d, err := b.upload(onboarding.DocCCMEI, "a.pdf", bytes.NewReader(pdf))
			require.NoError(t, err)
			other := makePDF(t, 200<<10, 19)
			bk := b.blobs.Bucket()
			ra, err := bk.Attributes(b.ctx, d.Key+blobstore.SidecarSuffix)
			require.NoError(t, err)
			md := ra.Metadata
			md["sha256"] = sha(other)
			require.NoError(t, bk.WriteAll(b.ctx, d.Key+blobstore.SidecarSuffix, nil,
				&blob.WriterOptions{ContentType: ra.ContentType, Metadata: md}))
			// Checked against the sidecar: the bytes no longer match at EOF.
			rc, err := b.blobs.Open(b.ctx, d.Key)
			require.NoError(t, err)
			_, err = readAll(t, rc)
			require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
			// Checked against the row: refused before any byte is read.
			_, err = b.blobs.OpenDocument(b.ctx, d)
			require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
		})

		t.Run("MovedToAnotherKey", func(t *testing.T) {
			t.Parallel()
			b := h.setup(t, setupOptions{})
			d, err := b.upload(onboarding.DocCCMEI, "a.pdf", bytes.NewReader(pdf))
			require.NoError(t, err)
			bk := b.blobs.Bucket()
			moved := d.Key + "x"
			for _, sfx := range []string{"", blobstore.SidecarSuffix} {
				require.NoError(t, bk.Copy(b.ctx, moved+sfx, d.Key+sfx, nil))
			}
			rc, err := b.blobs.Open(b.ctx, moved)
			require.NoError(t, err)
			got, err := readAll(t, rc)
			if h.encrypted {
				// The key is bound into every chunk: a copied object does not decrypt.
				require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
			} else {
				require.NoError(t, err)
				require.Equal(t, pdf, got)
			}
		})
	})

	t.Run("Encryption", func(t *testing.T) {
		t.Parallel()
		if !h.encrypted {
			t.Skip("the store does not encrypt")
		}
		b := h.setup(t, setupOptions{})
		pdf := makePDF(t, 70<<10, 20)
		d, err := b.upload(onboarding.DocCCMEI, "a.pdf", bytes.NewReader(pdf))
		require.NoError(t, err)

		// Without the keeper the bytes stay sealed.
		plain := blobstore.New(b.blobs.Bucket(), nil)
		_, err = plain.Open(b.ctx, d.Key)
		require.ErrorIs(t, err, blobstore.ErrNoKeeper)
		// A different key cannot unwrap the data key.
		wrong := blobstore.New(b.blobs.Bucket(), &blobstore.Options{Keeper: keeperOf(t)})
		_, err = wrong.Open(b.ctx, d.Key)
		require.Error(t, err)

		// Each object has its own data key: identical bytes never give identical objects.
		key2 := d.Key + "-copy"
		require.NoError(t, b.blobs.Put(b.ctx, key2, bytes.NewReader(pdf), onboarding.FormatPDF))
		raw1, err := b.blobs.Bucket().ReadAll(b.ctx, d.Key)
		require.NoError(t, err)
		raw2, err := b.blobs.Bucket().ReadAll(b.ctx, key2)
		require.NoError(t, err)
		require.NotEqual(t, raw1, raw2)

		// A signed URL would hand out ciphertext.
		_, err = b.blobs.SignedURL(b.ctx, d.Key, time.Minute)
		require.ErrorIs(t, err, blobstore.ErrSignedURLUnsupported)
		require.ErrorIs(t, err, errors.ErrUnsupported)
	})

	t.Run("SignedURL", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		jpg := makeJPEG(t, 21)
		d, err := b.upload(onboarding.DocSelfie, "me.jpg", bytes.NewReader(jpg))
		require.NoError(t, err)
		u, err := b.blobs.SignedURL(b.ctx, d.Key, 5*time.Minute)
		if h.encrypted || !h.signs {
			require.ErrorIs(t, err, blobstore.ErrSignedURLUnsupported)
			require.ErrorIs(t, err, errors.ErrUnsupported)
			return
		}
		require.NoError(t, err)
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
		require.Equal(t, jpg, got)
	})

	t.Run("ConcurrentUploads", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, setupOptions{})
		const n = 6
		custs := make([]*onboarding.Customer, n)
		custs[0] = b.cust
		for i := 1; i < n; i++ {
			custs[i] = newCustomer(t, b.svc, strconv.Itoa(i))
		}
		var wg sync.WaitGroup
		docs := make([]*onboarding.Document, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				docs[i], errs[i] = b.svc.UploadDocument(b.ctx, partner, custs[i].ID, onboarding.UploadParams{
					Type: onboarding.DocCCMEI, Body: pdfReader(90<<10, uint64(100+i))})
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			rc, _, err := b.svc.OpenDocument(b.ctx, partner, docs[i].ID)
			require.NoError(t, err)
			got, err := readAll(t, rc)
			require.NoError(t, err)
			assert.Equal(t, docs[i].SHA256, sha(got))
		}
		require.Len(t, b.keys(t), 2*n)
	})
}

// keeperOf opens a keeper with a fresh random key.
func keeperOf(t *testing.T) *secrets.Keeper {
	t.Helper()
	k, err := secrets.OpenKeeper(context.Background(), "base64key://")
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

var errInjected = errors.New("injected fault")

func alwaysFail() *atomic.Bool {
	var b atomic.Bool
	b.Store(true)
	return &b
}

// faultyStore fails InsertDocument while fail is set, inside and outside transactions.
type faultyStore struct {
	onboarding.Store
	fail *atomic.Bool
}

func (f *faultyStore) InsertDocument(ctx context.Context, d *onboarding.Document) error {
	if f.fail.Load() {
		return errInjected
	}
	return f.Store.InsertDocument(ctx, d)
}

func (f *faultyStore) InTx(ctx context.Context, fn func(context.Context, onboarding.Queries) error) error {
	return f.Store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		return fn(ctx, &faultyQueries{Queries: q, fail: f.fail})
	})
}

type faultyQueries struct {
	onboarding.Queries
	fail *atomic.Bool
}

func (f *faultyQueries) InsertDocument(ctx context.Context, d *onboarding.Document) error {
	if f.fail.Load() {
		return errInjected
	}
	return f.Queries.InsertDocument(ctx, d)
}

// faultyBlobs cannot delete while fail is set: the process died before cleaning up.
type faultyBlobs struct {
	*blobstore.Store
	fail *atomic.Bool
}

func (f *faultyBlobs) Delete(ctx context.Context, key string) error {
	if f.fail.Load() {
		return errInjected
	}
	return f.Store.Delete(ctx, key)
}

// failingReader fails (or cancels a context) after some bytes: a connection reset or a
// client gone mid-upload.
type failingReader struct {
	r      io.Reader
	after  int
	n      int
	cancel context.CancelFunc
	onFail func()
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		if f.onFail != nil {
			f.onFail()
			f.onFail = nil
		}
		if f.cancel != nil {
			f.cancel()
		} else {
			return 0, errInjected
		}
	}
	if rem := f.after - f.n; rem > 0 && len(p) > rem {
		p = p[:rem]
	}
	n, err := f.r.Read(p)
	f.n += n
	return n, err
}
