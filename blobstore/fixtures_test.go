package blobstore_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// Test files are generated, never checked in: minimal but valid PDF, JPEG and PNG files
// with their real trailers, and the hostile look-alikes.

// pdfHead is a one-page PDF up to its last object. The xref offsets below point into it.
const pdfHead = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" +
	"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" +
	"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n" +
	"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n"

// pdfTail is the cross-reference table and trailer for an xref starting at xrefAt.
func pdfTail(xrefAt int64) string {
	off := func(obj string) int { return bytes.Index([]byte(pdfHead), []byte(obj)) }
	return fmt.Sprintf("xref\n0 4\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n%010d 00000 n \n"+
		"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n",
		off("1 0 obj"), off("2 0 obj"), off("3 0 obj"), xrefAt)
}

// minPDF is the size of a PDF with no padding.
var minPDF = int64(len(pdfHead) + len(pdfTail(int64(len(pdfHead)))))

// pdfReader streams a valid PDF of exactly n bytes (n >= minPDF+2): the padding is a
// comment line between the objects and the xref, filled from seed. It holds 64 KiB.
func pdfReader(n int64, seed uint64) io.Reader {
	// The tail's length depends on the digits of its own offset: settle it.
	pad := n - minPDF
	for range 4 {
		pad = n - int64(len(pdfHead)) - int64(len(pdfTail(int64(len(pdfHead))+pad)))
	}
	if pad < 2 || int64(len(pdfHead))+pad+int64(len(pdfTail(int64(len(pdfHead))+pad))) != n {
		panic("pdfReader: size " + strconv.FormatInt(n, 10) + " not reachable")
	}
	block := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range block {
		block[i] = 'a' + byte(r.IntN(26))
	}
	return io.MultiReader(
		bytes.NewReader([]byte(pdfHead)),
		bytes.NewReader([]byte("%")),
		&fillReader{block: block, left: pad - 2},
		bytes.NewReader([]byte("\n")),
		bytes.NewReader([]byte(pdfTail(int64(len(pdfHead))+pad))),
	)
}

// makePDF returns a valid PDF of exactly n bytes.
func makePDF(t testing.TB, n int64, seed uint64) []byte {
	t.Helper()
	b, err := io.ReadAll(pdfReader(n, seed))
	require.NoError(t, err)
	require.Len(t, b, int(n))
	return b
}

type fillReader struct {
	block []byte
	off   int
	left  int64
}

func (f *fillReader) Read(p []byte) (int, error) {
	if f.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], f.block[f.off:])
		n += c
		f.off = (f.off + c) % len(f.block)
	}
	f.left -= int64(n)
	return n, nil
}

func testImage(seed uint64) image.Image {
	r := rand.New(rand.NewPCG(seed, 11))
	img := image.NewRGBA(image.Rect(0, 0, 24, 24))
	for i := range img.Pix {
		img.Pix[i] = byte(r.IntN(256))
	}
	return img
}

// makeJPEG returns a valid JPEG (it ends with the EOI marker FF D9).
func makeJPEG(t testing.TB, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, testImage(seed), nil))
	require.Equal(t, []byte{0xFF, 0xD9}, buf.Bytes()[buf.Len()-2:])
	return buf.Bytes()
}

// makePNG returns a valid PNG (it ends with the IEND chunk).
func makePNG(t testing.TB, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, testImage(seed)))
	require.True(t, bytes.HasSuffix(buf.Bytes(), []byte("IEND\xaeB`\x82")))
	return buf.Bytes()
}

// makeGIF returns a valid GIF: a real image in a format the library refuses.
func makeGIF(t testing.TB) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White})
	var buf bytes.Buffer
	require.NoError(t, gif.Encode(&buf, img, nil))
	return buf.Bytes()
}

// elfBytes and mzBytes start like Linux and Windows executables.
var (
	elfBytes = append([]byte("\x7fELF\x02\x01\x01\x00"), bytes.Repeat([]byte{0x90}, 512)...)
	mzBytes  = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00"), bytes.Repeat([]byte{0}, 512)...)
	// htmlBytes is a page that would run script if served as HTML.
	htmlBytes = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n")
)
