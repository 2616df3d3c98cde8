package onboarding_test

import (
	"bytes"
	"context"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
)

// An image is refused by the dimensions its header declares, before anything is stored:
// a 60000×60000 PNG of a few bytes is a decompression bomb for whoever decodes it.
func TestImageDimensionLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Uploads: onboarding.UploadRules{MaxImagePixels: 4_000_000, MaxImageSide: 3000}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)

	for name, tc := range map[string]struct {
		body []byte
		want error
	}{
		"a PNG bomb":                 {testfiles.PNGSized("bomb", 60000, 60000), onboarding.ErrImageTooLarge},
		"a PNG wider than the side":  {testfiles.PNGSized("wide", 3001, 10), onboarding.ErrImageTooLarge},
		"a JPEG over the pixels":     {testfiles.JPEGSized("big", 2001, 2000), onboarding.ErrImageTooLarge},
		"a JPEG taller than a side":  {testfiles.JPEGSized("tall", 10, 3001), onboarding.ErrImageTooLarge},
		"a JPEG without a frame":     {[]byte("\xff\xd8\xff\xfe\x00\x04hi\xff\xd9"), onboarding.ErrUnsupportedFormat},
		"junk between JPEG segments": {[]byte("\xff\xd8junk\xff\xd9"), onboarding.ErrUnsupportedFormat},
		"a PNG cut in its header":    {testfiles.PNGSized("cut", 1, 1)[:20], onboarding.ErrTruncatedFile},
	} {
		_, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie,
			Body: iotest.OneByteReader(bytes.NewReader(tc.body))})
		assert.ErrorIs(t, err, tc.want, name)
	}
	docs, err := b.svc.ListDocuments(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs, "no row for a refused image")
	assert.Empty(t, b.blobs.Keys(), "no blob for a refused image")

	// At the limits exactly, it goes through.
	for _, body := range [][]byte{testfiles.PNGSized("edge", 3000, 1333), testfiles.JPEGSized("edge", 2000, 2000)} {
		_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie, Body: bytes.NewReader(body)})
		require.NoError(t, err)
	}

	// The defaults: 40 megapixels, 12,000 pixels a side.
	d := setup(t, nil)
	c, _, err = d.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = d.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie,
		Body: bytes.NewReader(testfiles.PNGSized("bomb", 60000, 60000))})
	assert.ErrorIs(t, err, onboarding.ErrImageTooLarge)
	_, err = d.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie,
		Body: bytes.NewReader(testfiles.JPEGSized("phone", 8000, 5000))})
	assert.NoError(t, err, "a 40-megapixel phone photo")
}

// The probe reads the same dimensions however the bytes arrive, and never panics.
func FuzzImageProbe(f *testing.F) {
	f.Add(testfiles.PNG("a"), true, 1)
	f.Add(testfiles.JPEG("a"), false, 3)
	f.Add(testfiles.JPEGSized("b", 4000, 3000), false, 7)
	f.Add([]byte("\xff\xd8\xff\xff\xff\xc0\x00\x0b\x08\x00\x10\x00\x20"), false, 2)
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x02\xff\xc2\x00\x07\x08\x01\x00\x02\x00"), false, 1)
	f.Fuzz(func(t *testing.T, b []byte, png bool, chunk int) {
		format := onboarding.FormatJPEG
		if png {
			format = onboarding.FormatPNG
		}
		w1, h1, done1, err1 := onboarding.ProbeImage(format, b, len(b)+1)
		w2, h2, done2, err2 := onboarding.ProbeImage(format, b, max(1, chunk%64))
		if w1 != w2 || h1 != h2 || done1 != done2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("whole: %d×%d %v %v; in chunks: %d×%d %v %v", w1, h1, done1, err1, w2, h2, done2, err2)
		}
	})
}
