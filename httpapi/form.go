package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// Multipart limits besides the total size.
const (
	maxFieldLen   = 4 << 10
	maxFormParts  = 32
	fileFieldName = "file"
	blobFieldName = "blob" // the SDK's name for the file part
)

// formState streams a multipart/form-data body: small fields are read into memory, the
// file part is handed on as a reader and never buffered. Every part is hashed as it
// passes (name, file name, SHA-256 of the content), so that the idempotency layer can
// tell whether a repeated request carried the same body without keeping it.
type formState struct {
	mr     *multipart.Reader
	body   *trackingReader
	limit  int64
	h      hash.Hash
	fields map[string]string
	parts  int

	cur     *hashedPart
	done    bool  // the closing boundary was read
	failed  bool  // some part could not be read whole
	partErr error // the first error reading inside a part
}

// trackingReader records the first error of the request body other than io.EOF.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// hashedPart hashes a part's content as it is read.
type hashedPart struct {
	f    *formState
	p    *multipart.Part
	name string
	file string
	h    hash.Hash
	eof  bool
}

func (hp *hashedPart) Read(b []byte) (int, error) {
	n, err := hp.p.Read(b)
	hp.h.Write(b[:n])
	switch {
	case err == io.EOF:
		hp.eof = true
	case err != nil && hp.f.partErr == nil:
		hp.f.partErr = err
	}
	return n, err
}

// openForm checks the Content-Type and prepares to stream the body.
func (a *api) openForm(r *http.Request, rc *reqCtx) (*formState, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, badContentType("multipart/form-data with a boundary")
	}
	tr := &trackingReader{r: http.MaxBytesReader(rc.rawW, r.Body, a.maxMultipart)}
	return &formState{mr: multipart.NewReader(tr, params["boundary"]), body: tr, limit: a.maxMultipart,
		h: sha256.New(), fields: map[string]string{}}, nil
}

// readErr maps a failure to read the body: over the limit is 413, a broken connection or
// malformed multipart 400 (transient when the body did not arrive whole).
func (f *formState) readErr() error {
	var mbe *http.MaxBytesError
	if errors.As(f.body.err, &mbe) {
		return tooLarge("file_too_large", f.limit)
	}
	if f.body.err != nil {
		p := malformed("The request body could not be read whole.")
		p.transient = true
		return p
	}
	return malformed("The multipart body is malformed.")
}

// finish completes the current part: reads what is left of it (bounded by the body
// limit) and adds its digest to the request hash.
func (f *formState) finish() error {
	hp := f.cur
	if hp == nil {
		return nil
	}
	f.cur = nil
	if !hp.eof {
		if _, err := io.Copy(io.Discard, hp); err != nil {
			f.failed = true
			return f.readErr()
		}
	}
	if f.partErr != nil {
		f.failed = true
		return f.readErr()
	}
	writeField(f.h, hp.name)
	writeField(f.h, hp.file)
	f.h.Write(hp.h.Sum(nil))
	return nil
}

// next returns the next part, io.EOF after the last.
func (f *formState) next() (*hashedPart, error) {
	if err := f.finish(); err != nil {
		return nil, err
	}
	if f.done {
		return nil, io.EOF
	}
	if f.failed {
		return nil, malformed("The multipart body is malformed.")
	}
	p, err := f.mr.NextPart()
	if err == io.EOF {
		f.done = true
		return nil, io.EOF
	}
	if err != nil {
		f.failed = true
		return nil, f.readErr()
	}
	f.parts++
	if f.parts > maxFormParts {
		f.failed = true
		return nil, malformed("The multipart body has too many parts.")
	}
	f.cur = &hashedPart{f: f, p: p, name: p.FormName(), file: p.FileName(), h: sha256.New()}
	return f.cur, nil
}

// isFile reports whether a part is the upload: named file (the guide) or blob (the SDK).
func (hp *hashedPart) isFile() bool { return hp.name == fileFieldName || hp.name == blobFieldName }

// nextFile reads fields until the file part and returns it; nil at the end of a body
// without one.
func (f *formState) nextFile() (*hashedPart, error) {
	for {
		hp, err := f.next()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if hp.isFile() {
			return hp, nil
		}
		if err := f.readField(hp); err != nil {
			return nil, err
		}
	}
}

// readField keeps a small field's value (the first of a name wins).
func (f *formState) readField(hp *hashedPart) error {
	b, err := io.ReadAll(io.LimitReader(hp, maxFieldLen+1))
	if err != nil {
		f.failed = true
		return f.readErr()
	}
	if len(b) > maxFieldLen {
		return fieldProblem(hp.name, "invalid_value", "must be at most 4096 bytes")
	}
	if _, seen := f.fields[hp.name]; !seen && hp.name != "" {
		f.fields[hp.name] = strings.TrimSpace(string(b))
	}
	return nil
}

// drainAll reads the rest of the body, hashing it, and returns the request hash. The
// replay of a multipart request calls it to compare the body with the first one.
func (f *formState) drainAll() (string, error) {
	for {
		_, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	sum, _ := f.sum()
	return sum, nil
}

// drainRest reads what follows the file (usually only the closing boundary), so that
// the request hash covers the whole body. Errors only leave the hash incomplete.
func (f *formState) drainRest() {
	_, _ = f.drainAll()
}

// sum returns the request hash and whether it covers the whole body.
func (f *formState) sum() (string, bool) {
	if !f.done || f.failed || f.cur != nil {
		return "", false
	}
	return hex.EncodeToString(f.h.Sum(nil)), true
}
