package onboarding

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// ErrDocumentCorrupted is returned while reading a document whose bytes no longer match
// the size and SHA-256 recorded at upload: the blob was altered, truncated, replaced or
// (when encrypted) fails authentication. It surfaces at the read that detects it, at the
// latest at EOF, so a consumer that streams must treat everything it read as void.
var ErrDocumentCorrupted = errors.New("onboarding: document bytes do not match their digest")

// Digester is implemented by the reader the Service hands to BlobStore.Put. Once Read has
// returned io.EOF, Size and SHA256 describe exactly the bytes read (and verified), so a
// BlobStore can record them without hashing the stream a second time. Before EOF their
// values are meaningless.
type Digester interface {
	// Size is the number of bytes read.
	Size() int64
	// SHA256 is the lowercase hex SHA-256 of the bytes read.
	SHA256() string
}

// Size implements Digester.
func (v *verifyingReader) Size() int64 { return v.n }

// SHA256 implements Digester.
func (v *verifyingReader) SHA256() string { return v.sum() }

// DocumentOpener is implemented by a BlobStore that can check a document's bytes against
// its row itself (package blobstore does, decrypting first when needed). The Service
// prefers it to Open followed by VerifyDigest.
type DocumentOpener interface {
	// OpenDocument streams d's bytes; a read fails with an error matching
	// ErrDocumentCorrupted, at the latest at EOF, when they differ from d.Size and
	// d.SHA256.
	OpenDocument(ctx context.Context, d *Document) (io.ReadCloser, error)
}

// VerifyDigest wraps rc so that reading it checks the bytes against the expected size and
// lowercase hex SHA-256: a read past size, or EOF with a different count or digest, returns
// an error matching ErrDocumentCorrupted instead of the bytes or io.EOF. Close closes rc.
// It holds no more than a hash state.
func VerifyDigest(rc io.ReadCloser, size int64, sha256Hex string) io.ReadCloser {
	want, err := hex.DecodeString(sha256Hex)
	d := &digestReader{rc: rc, size: size, want: want, h: sha256.New()}
	switch {
	case err != nil || len(want) != sha256.Size:
		d.err = fmt.Errorf("%w: the recorded SHA-256 %q is not a hex digest", ErrDocumentCorrupted, sha256Hex)
	case size < 0:
		d.err = fmt.Errorf("%w: the recorded size %d is negative", ErrDocumentCorrupted, size)
	}
	return d
}

type digestReader struct {
	rc   io.ReadCloser
	size int64
	want []byte
	h    hash.Hash
	n    int64
	err  error
}

func (d *digestReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	// Ask for one byte more than is left, so an overlong blob is caught without
	// handing out bytes beyond the recorded size.
	if rem := d.size + 1 - d.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := d.rc.Read(p)
	if n > 0 {
		d.n += int64(n)
		if d.n > d.size {
			d.err = fmt.Errorf("%w: more than the recorded %d bytes", ErrDocumentCorrupted, d.size)
			return 0, d.err
		}
		d.h.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		if d.n != d.size {
			d.err = fmt.Errorf("%w: %d bytes, %d recorded", ErrDocumentCorrupted, d.n, d.size)
			return n, d.err
		}
		if subtle.ConstantTimeCompare(d.h.Sum(nil), d.want) != 1 {
			d.err = fmt.Errorf("%w: the SHA-256 differs from the recorded one", ErrDocumentCorrupted)
			return n, d.err
		}
		d.err = io.EOF
	case err != nil:
		d.err = err
	}
	return n, err
}

func (d *digestReader) Close() error { return d.rc.Close() }

// BlobSweeper is implemented by a BlobStore that can find and delete orphaned documents
// (package blobstore does). Sweep deletes those no row references and older than olderThan.
type BlobSweeper interface {
	Sweep(ctx context.Context, q Queries, olderThan time.Time) (int, error)
}

// BlobStore holds document bytes. The Service streams verified bytes to it and deletes
// what it no longer references; package blobstore implements it on gocloud.dev/blob.
type BlobStore interface {
	// Put stores r under key. It must not leave an object behind when r returns an error
	// or ctx ends before r is drained.
	Put(ctx context.Context, key string, r io.Reader, contentType Format) error
	// Open streams the object stored under key.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
