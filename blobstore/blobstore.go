package blobstore

import (
	"context"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"gocloud.dev/secrets"

	"github.com/onboardkit/onboarding"
)

// SidecarSuffix ends the key of the small object that carries a document's digest (and,
// when encrypted, its wrapped data key) next to the document: "…/documents/doc_…" has
// "…/documents/doc_….meta". Keys ending with it are reserved.
const SidecarSuffix = ".meta"

// Metadata keys (gocloud lower-cases them).
const (
	mdSHA256      = "sha256"
	mdSize        = "size"
	mdContentType = "content-type"
	mdEncryption  = "encryption"
	mdWrappedKey  = "encryption-key"
	mdChunkSize   = "encryption-chunk"
)

// octetStream is the content type of sidecars and of encrypted objects, whose bytes are
// not the document's format.
const octetStream = "application/octet-stream"

// abortGrace is how long a Put whose caller went away lets the driver notice it through
// the stream before cancelling the write outright.
const abortGrace = 10 * time.Second

// copyBufferSize is the size of each of the two buffers a Put copies through (see
// upload.WriteTo). Large enough that fileblob's write syscalls and goroutine hand-offs
// are amortised, small enough that an upload holds half a MiB; buffers are pooled, so a
// warm upload allocates none.
const copyBufferSize = 256 << 10

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// ErrSignedURLUnsupported is returned by SignedURL when the bucket cannot sign URLs
// (mem://, file:// without a URL signer, gs:// without signing credentials) or when the
// object is encrypted, since a URL would hand out ciphertext. It matches
// errors.ErrUnsupported.
var ErrSignedURLUnsupported = fmt.Errorf("blobstore: signed URLs are not available for this object: %w", errors.ErrUnsupported)

// ErrNoKeeper is returned when reading an encrypted object through a Store that has no
// secrets keeper.
var ErrNoKeeper = errors.New("blobstore: the object is encrypted and the store has no secrets keeper")

// Options configures a Store. The zero value (or nil) stores documents unencrypted.
type Options struct {
	// Keeper, when set, turns on envelope encryption at rest: each object gets a random
	// AES-256 data key, wrapped by Keeper and stored in the object's metadata. Objects
	// written without encryption stay readable. Use a cloud KMS keeper in production
	// ("awskms://", "gcpkms://", …) and "base64key://" locally; the application opens it
	// (and blank-imports its driver) and keeps it open while the Store is in use.
	Keeper *secrets.Keeper
}

// Store keeps document bytes in a gocloud.dev/blob bucket. It implements
// onboarding.BlobStore and is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	keeper *secrets.Keeper
	owned  bool
}

var (
	_ onboarding.BlobStore      = (*Store)(nil)
	_ onboarding.DocumentOpener = (*Store)(nil)
)

// New returns a Store on bucket. The caller keeps ownership of bucket: Close does not
// close it. opts may be nil.
func New(bucket *blob.Bucket, opts *Options) *Store {
	if bucket == nil {
		panic("blobstore: New needs a bucket")
	}
	s := &Store{bucket: bucket}
	if opts != nil {
		s.keeper = opts.Keeper
	}
	return s
}

// Open opens the bucket at urlstr with blob.OpenBucket and returns a Store on it that
// owns it (Close closes it). The scheme's driver must be linked in by a blank import in
// the application: gocloud.dev/blob/fileblob for file://, memblob for mem://, s3blob for
// s3://, gcsblob for gs://. opts may be nil.
func Open(ctx context.Context, urlstr string, opts *Options) (*Store, error) {
	b, err := blob.OpenBucket(ctx, urlstr)
	if err != nil {
		return nil, fmt.Errorf("blobstore: open bucket: %w", err)
	}
	s := New(b, opts)
	s.owned = true
	return s, nil
}

// Bucket returns the underlying bucket.
func (s *Store) Bucket() *blob.Bucket { return s.bucket }

// Close closes the bucket if Open opened it; a bucket passed to New is the caller's to
// close.
func (s *Store) Close() error {
	if s.owned {
		return s.bucket.Close()
	}
	return nil
}

// Attributes describe a stored document, as recorded at upload in its sidecar.
type Attributes struct {
	// ContentType is the format the uploader detected.
	ContentType onboarding.Format
	// Size is the document's size in bytes (before encryption).
	Size int64
	// SHA256 is the lowercase hex SHA-256 of the document's bytes (before encryption).
	SHA256 string
	// Encrypted reports whether the stored bytes are envelope-encrypted.
	Encrypted bool
	// ModTime is when the upload completed.
	ModTime time.Time

	wrappedKey []byte
	chunkSize  int
}

// Put streams r into the bucket under key; r is read once and never buffered whole. The
// content type goes to the object (unless encrypted) and to its sidecar, with the size and
// SHA-256: taken from r when it is an onboarding.Digester (the Service's verified reader),
// computed while copying otherwise. When r or ctx fails before the end, the write is
// aborted and nothing is left under key: no object, no sidecar, no pending multipart
// upload. Keys are written once: Put does not replace a document atomically.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, contentType onboarding.Format) error {
	if err := checkKey(key); err != nil {
		return err
	}
	ct := string(contentType)
	if ct == "" {
		ct = octetStream
	}
	meta := map[string]string{mdContentType: ct}
	var enc *envelope
	if s.keeper != nil {
		var err error
		if enc, err = s.seal(ctx, key); err != nil {
			return err
		}
		meta[mdEncryption] = algAES256GCMChunked
		meta[mdWrappedKey] = base64.StdEncoding.EncodeToString(enc.wrapped)
		meta[mdChunkSize] = strconv.Itoa(chunkSize)
		ct = octetStream
	}

	digest, ok := r.(onboarding.Digester)
	if !ok {
		hr := &hashingReader{r: r, h: sha256.New()}
		r, digest = hr, hr
	}
	if enc != nil {
		r = newEncryptReader(r, enc.aead, enc.aad, chunkSize)
	}

	// The writer's context outlives the caller's on purpose: the S3 driver aborts a
	// failed multipart upload with the writer's context, and a cancelled one leaves the
	// parts behind. A failure instead reaches the driver through the stream (see
	// upload), and the caller's cancellation does too, at the driver's next read; a
	// driver that does not read again within abortGrace is cut off.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var hardStop atomic.Pointer[time.Timer]
	stop := context.AfterFunc(ctx, func() { hardStop.Store(time.AfterFunc(abortGrace, cancel)) })
	defer func() {
		stop()
		if t := hardStop.Load(); t != nil {
			t.Stop()
		}
	}()
	up := &upload{ctx: ctx, abort: cancel, r: r}
	err := s.bucket.Upload(wctx, key, up, &blob.WriterOptions{ContentType: ct, Metadata: meta})
	if up.err != nil || err != nil {
		// Drivers that commit what they had before seeing the failure (memblob) are
		// undone here; the others have nothing to delete.
		s.deleteQuietly(ctx, key)
		if up.err != nil {
			return up.err
		}
		return fmt.Errorf("blobstore: write %s: %w", key, err)
	}

	sidecar := map[string]string{
		mdSHA256:      digest.SHA256(),
		mdSize:        strconv.FormatInt(digest.Size(), 10),
		mdContentType: string(contentType),
	}
	if enc != nil {
		sidecar[mdEncryption] = meta[mdEncryption]
		sidecar[mdWrappedKey] = meta[mdWrappedKey]
		sidecar[mdChunkSize] = meta[mdChunkSize]
	}
	if err := s.bucket.WriteAll(ctx, key+SidecarSuffix, nil, &blob.WriterOptions{ContentType: octetStream, Metadata: sidecar}); err != nil {
		s.deleteQuietly(ctx, key)
		return fmt.Errorf("blobstore: write the sidecar of %s: %w", key, err)
	}
	return nil
}

// deleteQuietly removes what a failed Put wrote, even when ctx is done. A failure is left
// to the sweeper.
func (s *Store) deleteQuietly(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = s.Delete(ctx, key)
}

// Open streams the document stored under key, decrypting it if needed, and checks the
// bytes against the size and SHA-256 recorded at upload: a mismatch is an error matching
// onboarding.ErrDocumentCorrupted at the latest at EOF. A missing document is
// onboarding.ErrNotFound.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	a, err := s.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, key, a, a.Size, a.SHA256)
}

// OpenDocument is Open checked against the document row rather than the sidecar: the
// row, in the database, is the record a bucket writer cannot also rewrite. A sidecar
// that disagrees with the row fails at once.
func (s *Store) OpenDocument(ctx context.Context, d *onboarding.Document) (io.ReadCloser, error) {
	a, err := s.Attributes(ctx, d.Key)
	if err != nil {
		return nil, err
	}
	if a.Size != d.Size || a.SHA256 != d.SHA256 {
		return nil, fmt.Errorf("%w: the stored digest of %s differs from its row", onboarding.ErrDocumentCorrupted, d.ID)
	}
	return s.open(ctx, d.Key, a, d.Size, d.SHA256)
}

func (s *Store) open(ctx context.Context, key string, a *Attributes, size int64, sum string) (io.ReadCloser, error) {
	var env *envelope
	if a.Encrypted {
		var err error
		if env, err = s.unseal(ctx, key, a); err != nil {
			return nil, err
		}
	}
	br, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, s.mapErr("read", key, err)
	}
	var rc io.ReadCloser = br
	if env != nil {
		rc = readCloser{Reader: newDecryptReader(br, env.aead, env.aad, a.chunkSize), Closer: br}
	}
	return onboarding.VerifyDigest(rc, size, sum), nil
}

// Attributes returns what was recorded about the document under key. A missing document
// is onboarding.ErrNotFound; a document without its sidecar (an upload interrupted
// between the two writes, or a tampered bucket) is onboarding.ErrDocumentCorrupted.
func (s *Store) Attributes(ctx context.Context, key string) (*Attributes, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	ba, err := s.bucket.Attributes(ctx, key+SidecarSuffix)
	if isNotFound(err) {
		if _, derr := s.bucket.Attributes(ctx, key); derr == nil {
			return nil, fmt.Errorf("%w: %s has no sidecar (an interrupted upload?)", onboarding.ErrDocumentCorrupted, key)
		}
	}
	if err != nil {
		return nil, s.mapErr("read the sidecar of", key, err)
	}
	return parseSidecar(key, ba)
}

func parseSidecar(key string, ba *blob.Attributes) (*Attributes, error) {
	md := ba.Metadata
	bad := func(what string) error {
		return fmt.Errorf("%w: the sidecar of %s has %s", onboarding.ErrDocumentCorrupted, key, what)
	}
	a := &Attributes{ContentType: onboarding.Format(md[mdContentType]), SHA256: md[mdSHA256], ModTime: ba.ModTime}
	if sum, err := hex.DecodeString(a.SHA256); err != nil || len(sum) != sha256.Size {
		return nil, bad("no valid sha256")
	}
	size, err := strconv.ParseInt(md[mdSize], 10, 64)
	if err != nil || size < 0 {
		return nil, bad("no valid size")
	}
	a.Size = size
	switch md[mdEncryption] {
	case "":
	case algAES256GCMChunked:
		a.Encrypted = true
		if a.wrappedKey, err = base64.StdEncoding.DecodeString(md[mdWrappedKey]); err != nil || len(a.wrappedKey) == 0 {
			return nil, bad("no valid wrapped key")
		}
		if a.chunkSize, err = strconv.Atoi(md[mdChunkSize]); err != nil || a.chunkSize < 1 || a.chunkSize > maxChunkSize {
			return nil, bad("no valid chunk size")
		}
	default:
		return nil, bad(fmt.Sprintf("an unknown encryption %q", md[mdEncryption]))
	}
	return a, nil
}

// Delete removes the document under key and its sidecar. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	var errs []error
	for _, k := range []string{key, key + SidecarSuffix} {
		if err := s.bucket.Delete(ctx, k); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("blobstore: delete %s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}

// SignedURL returns a URL that lets its holder GET the document under key until expiry
// elapses (0: gocloud's default of one hour). The URL serves the stored bytes as they
// are, without the SHA-256 check of Open. It fails with ErrSignedURLUnsupported when the
// bucket cannot sign or the object is encrypted, and onboarding.ErrNotFound when there is
// no such document.
func (s *Store) SignedURL(ctx context.Context, key string, expiry time.Duration) (string, error) {
	a, err := s.Attributes(ctx, key)
	if err != nil {
		return "", err
	}
	if a.Encrypted {
		return "", fmt.Errorf("%w (%s is encrypted)", ErrSignedURLUnsupported, key)
	}
	u, err := s.bucket.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: expiry, Method: http.MethodGet})
	if gcerrors.Code(err) == gcerrors.Unimplemented {
		return "", fmt.Errorf("%w: %v", ErrSignedURLUnsupported, err)
	}
	if err != nil {
		return "", fmt.Errorf("blobstore: sign a URL for %s: %w", key, err)
	}
	return u, nil
}

func (s *Store) mapErr(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: blob %s", onboarding.ErrNotFound, key)
	}
	return fmt.Errorf("blobstore: %s %s: %w", op, key, err)
}

func checkKey(key string) error {
	if key == "" || strings.HasSuffix(key, SidecarSuffix) {
		return fmt.Errorf("blobstore: invalid key %q: empty or ending with the reserved %q", key, SidecarSuffix)
	}
	return nil
}

// envelope is the per-object encryption state.
type envelope struct {
	aead    cipher.AEAD
	aad     []byte
	wrapped []byte
}

// seal makes a fresh data key for key and wraps it with the keeper.
func (s *Store) seal(ctx context.Context, key string) (*envelope, error) {
	dek, err := newDEK()
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	wrapped, err := s.keeper.Encrypt(ctx, dek)
	if err != nil {
		return nil, fmt.Errorf("blobstore: wrap the data key of %s: %w", key, err)
	}
	return &envelope{aead: aead, aad: aadFor(key), wrapped: wrapped}, nil
}

// unseal unwraps the data key recorded for key.
func (s *Store) unseal(ctx context.Context, key string, a *Attributes) (*envelope, error) {
	if s.keeper == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoKeeper, key)
	}
	dek, err := s.keeper.Decrypt(ctx, a.wrappedKey)
	if err != nil {
		return nil, fmt.Errorf("blobstore: unwrap the data key of %s: %w", key, err)
	}
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, err
	}
	return &envelope{aead: aead, aad: aadFor(key)}, nil
}

// hashingReader counts and hashes what a caller other than the Service puts.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += int64(n)
	h.h.Write(p[:n])
	return n, err
}

func (h *hashingReader) Size() int64    { return h.n }
func (h *hashingReader) SHA256() string { return hex.EncodeToString(h.h.Sum(nil)) }

// upload is the byte stream of one Put, as the driver pulls it. It stops at the first
// error of the source or of the caller's context, and how it stops depends on who pulls:
//
//   - Read is called by drivers that upload on their own (s3blob's transfer manager):
//     the error alone makes them abort, and they abort with the writer's context, which
//     must therefore still be live.
//   - WriteTo is called by blob.Writer.ReadFrom for drivers that do not (fileblob,
//     gcsblob): the copy ends before Close, and Close commits what was written unless
//     the writer's context is cancelled, so WriteTo cancels it before returning.
type upload struct {
	ctx   context.Context
	abort context.CancelFunc
	r     io.Reader
	err   error
}

func (u *upload) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if err := u.ctx.Err(); err != nil {
		u.err = err
		return 0, err
	}
	n, err := u.r.Read(p)
	if err != nil && err != io.EOF {
		u.err = err
	}
	return n, err
}

// WriteTo copies with two pooled buffers (blob.Writer.ReadFrom would allocate 1 MiB): a
// goroutine reads the next buffer, which runs the Service's SHA-256 and the encryption,
// while this one writes the last, which runs the driver's own work (fileblob's MD5 and
// the write syscall). On two cores an upload costs about what the slower half costs,
// not their sum. The goroutine has exited when WriteTo returns, so the source and its
// digest are never touched concurrently.
func (u *upload) WriteTo(w io.Writer) (int64, error) {
	type chunk struct {
		buf *[]byte
		n   int
		err error
	}
	const nbuf = 2
	free := make(chan *[]byte, nbuf)
	full := make(chan chunk, nbuf)
	stop := make(chan struct{})
	for range nbuf {
		free <- copyBuffers.Get().(*[]byte)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(full)
		for {
			var buf *[]byte
			select {
			case <-stop:
				return
			case buf = <-free:
			}
			n, err := u.Read(*buf)
			full <- chunk{buf, n, err} // never blocks: there are only nbuf buffers
			if err != nil {
				return
			}
		}
	})
	var (
		total int64
		err   error
	)
	for c := range full {
		if c.n > 0 && err == nil {
			m, werr := w.Write((*c.buf)[:c.n])
			total += int64(m)
			if werr != nil {
				err = werr
				close(stop)
			}
		}
		if c.err != nil && c.err != io.EOF && err == nil {
			err = c.err
		}
		free <- c.buf
	}
	wg.Wait()
	for range nbuf {
		copyBuffers.Put(<-free)
	}
	if err != nil {
		u.abort()
	}
	return total, err
}

type readCloser struct {
	io.Reader
	io.Closer
}
