package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
)

func TestUploadErrors(t *testing.T) { bothPaths(t, testUploadErrors) }

func testUploadErrors(t *testing.T, tel *httpapi.Telemetry) {
	t.Parallel()
	blobs := sandbox.NewMemoryBlobStore()
	e := setup(t, nil, &onboarding.Options{Blobs: blobs, Uploads: onboarding.UploadRules{MaxSize: 8 << 10}},
		&httpapi.Options{MaxUploadSize: 8 << 10, Telemetry: tel})
	c := e.createCustomer(acmeClient)
	path := "/customers/" + c["id"].(string) + "/documents"
	up := func(parts ...part) *resp { return e.upload(path, acmeClient, parts) }
	pdf := testfiles.PDF("ok")

	// 413: over the Service's limit, and over the multipart cap (cut short).
	big := append(append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 9<<10)...), "\n%%EOF\n"...)
	up(field("type", "ccmei"), filePart("file", "big.pdf", big)).problem(t, 413, "file_too_large")
	huge := append(append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 1<<20)...), "\n%%EOF\n"...)
	up(field("type", "ccmei"), filePart("file", "huge.pdf", huge)).problem(t, 413, "file_too_large")

	// 415: not PDF/JPEG/PNG, a truncated PDF, a PDF as a selfie.
	up(field("type", "ccmei"), filePart("file", "a.pdf", []byte("hello, I am a text file"))).problem(t, 415, "unsupported_format")
	up(field("type", "ccmei"), filePart("file", "a.pdf", pdf[:len(pdf)-8])).problem(t, 415, "unsupported_format")
	up(field("type", "selfie"), filePart("file", "s.pdf", pdf)).problem(t, 415, "unsupported_format")
	// A small PNG declaring 60000×60000 pixels: a decompression bomb, refused unread.
	up(field("type", "selfie"), filePart("file", "s.png", testfiles.PNGSized("bomb", 60000, 60000))).problem(t, 415, "image_too_large")

	// 400 missing_file: no file part, an empty file.
	up(field("type", "ccmei")).problem(t, 400, "missing_file")
	up(field("type", "ccmei"), filePart("document", "a.pdf", pdf)).problem(t, 400, "missing_file")
	up(field("type", "ccmei"), filePart("file", "a.pdf", nil)).problem(t, 400, "missing_file")

	// 422: a type the kyc does not list; no type before the file.
	up(field("type", "rg"), filePart("file", "a.pdf", pdf)).problem(t, 422, "document_type_not_required")
	up(field("type", "spaceship"), filePart("file", "a.pdf", pdf)).problem(t, 422, "document_type_not_required")
	p := up(filePart("file", "a.pdf", pdf), field("type", "ccmei")).problem(t, 422, "missing_required_field")
	require.Equal(t, "type", p.Param)
	up(field("type", strings.Repeat("a", 5000)), filePart("file", "a.pdf", pdf)).problem(t, 422, "invalid_value")

	// 400: not multipart, no boundary, malformed or cut-short bodies.
	e.do("POST", path, acmeClient, `{"type":"ccmei"}`).problem(t, 400, "invalid_content_type")
	e.do("POST", path, acmeClient, "x", "Content-Type", "multipart/form-data").problem(t, 400, "invalid_content_type")
	body, ct := multipartBody(t, field("type", "ccmei"), filePart("file", "a.pdf", pdf))
	e.do("POST", path, acmeClient, body[:len(body)-40], "Content-Type", ct).problem(t, 400, "malformed_body")
	e.do("POST", path, acmeClient, body, "Content-Type", "multipart/form-data; boundary=other").problem(t, 400, "malformed_body")
	e.do("POST", path, acmeClient, "garbage", "Content-Type", ct).problem(t, 400, "malformed_body")
	e.do("POST", path, acmeClient, "", "Content-Type", ct).problem(t, 400, "malformed_body")
	var many []part
	for range 40 {
		many = append(many, field("x", "y"))
	}
	up(many...).problem(t, 400, "malformed_body")

	// Nothing was stored by any of those.
	require.Empty(t, blobs.Keys())
	docs := e.do("GET", path, acmeClient, nil).json(t)["data"].([]any)
	require.Empty(t, docs)

	// An approved item takes no more uploads.
	r := up(field("type", "ccmei"), filePart("file", "a.pdf", pdf))
	require.Equal(t, 201, r.status, "%s", r.body)
	_, err := e.svc.ReviewDocument(t.Context(), acmePartner, r.json(t)["id"].(string), onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
	require.NoError(t, err)
	up(field("type", "ccmei"), filePart("file", "b.pdf", testfiles.PDF("b"))).problem(t, 422, "document_type_not_required")

	// Extra fields and parts after the file are fine.
	r = up(field("type", "selfie"), field("note", "hi"), filePart("file", "s.png", testfiles.PNG("s")), field("after", "x"))
	require.Equal(t, 201, r.status, "%s", r.body)
	require.Len(t, blobs.Keys(), 2)
}

// TestUploadStreams: the handler hands the file to the Service while it is still
// arriving (it is never buffered whole first).
func TestUploadStreams(t *testing.T) { bothPaths(t, testUploadStreams) }

func testUploadStreams(t *testing.T, tel *httpapi.Telemetry) {
	t.Parallel()
	seen := make(chan struct{})
	blobs := &signalBlobs{MemoryBlobStore: sandbox.NewMemoryBlobStore(), started: seen}
	e := setup(t, nil, &onboarding.Options{Blobs: blobs}, &httpapi.Options{Telemetry: tel})
	c := e.createCustomer(acmeClient)
	pdf := testfiles.PDF("streamed")
	body, ct := multipartBody(t, field("type", "ccmei"), filePart("file", "c.pdf", pdf))
	cut := bytes.Index(body, []byte("%%EOF"))
	out, release := slowUpload(t, e, "/customers/"+c["id"].(string)+"/documents", "stream-1", body[:cut], body[cut:], ct)
	<-seen // the blob store is reading while the client still holds the rest of the file
	close(release)
	r := <-out
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
}

// discardBlobs is a BlobStore that streams what it is given to nowhere, so that memory
// measurements see only the HTTP layer and the Service.
type discardBlobs struct{ n atomic.Int64 }

func (d *discardBlobs) Put(_ context.Context, _ string, r io.Reader, _ onboarding.Format) error {
	n, err := io.Copy(io.Discard, r)
	d.n.Add(n)
	return err
}
func (d *discardBlobs) Open(context.Context, string) (io.ReadCloser, error) {
	return nil, onboarding.ErrNotFound
}
func (d *discardBlobs) Delete(context.Context, string) error { return nil }

// TestUploadDoesNotBuffer streams a 9 MiB document through the handler and checks that
// the whole process allocated much less than the file: nothing held it whole. Not
// parallel, so that no other test allocates meanwhile.
func TestUploadDoesNotBuffer(t *testing.T) {
	blobs := &discardBlobs{}
	e := setup(t, nil, &onboarding.Options{Blobs: blobs}, nil)
	c := e.createCustomer(acmeClient)
	const size = 9 << 20
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		_ = mw.WriteField("type", "ccmei")
		fw, _ := mw.CreateFormFile("file", "big.pdf")
		_, _ = io.WriteString(fw, "%PDF-1.4\n")
		chunk := bytes.Repeat([]byte("0123456789abcde\n"), 2048) // 32 KiB, reused
		for written := 0; written < size; written += len(chunk) {
			_, _ = fw.Write(chunk)
		}
		_, _ = io.WriteString(fw, "\n%%EOF\n")
		_ = mw.Close()
		_ = pw.Close()
	}()
	req, _ := http.NewRequest("POST", e.base+"/customers/"+c["id"].(string)+"/documents", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.token(acmeClient))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := e.send(req)
	runtime.ReadMemStats(&after)
	require.Equal(t, 201, r.status, "%s", r.body)
	require.Greater(t, blobs.n.Load(), int64(size))
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB for a %d KiB upload", allocated>>10, size>>10)
	require.Less(t, allocated, uint64(size/4), "the upload was buffered")
}
