package blobstore

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/onboardkit/onboarding"
)

// The encrypted object format (see the package documentation):
//
//	object = chunk* final
//	chunk  = AES-256-GCM(dek, nonce(i, 0), plaintext[i*C : (i+1)*C], aad)   exactly C+16 bytes
//	final  = AES-256-GCM(dek, nonce(n, 1), the last 0..C bytes, aad)         16..C+16 bytes
//	nonce(i, f) = uint64 big-endian i || 0x00 0x00 0x00 || f
//	aad    = "onboarding/blobstore/v1\x00" || object key
//
// This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): the counter
// in the nonce detects reordered, dropped or duplicated chunks, the final flag detects a
// stream truncated at a chunk boundary or extended past its end, and the key in the AAD
// detects an object copied under another key. The data key (dek) is random per object, so
// nonces never repeat under one key.
const (
	// algAES256GCMChunked names the format in metadata.
	algAES256GCMChunked = "aes-256-gcm-chunked-v1"
	// chunkSize is C, the plaintext bytes per chunk.
	chunkSize = 64 << 10
	// maxChunkSize bounds the chunk size a reader accepts from metadata, so a tampered
	// attribute cannot make it allocate without limit.
	maxChunkSize = 16 << 20
	dekSize      = 32
	aadPrefix    = "onboarding/blobstore/v1\x00"
)

// newDEK returns a fresh random data key.
func newDEK() ([]byte, error) {
	dek := make([]byte, dekSize)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("blobstore: generate a data key: %w", err)
	}
	return dek, nil
}

func newAEAD(dek []byte) (cipher.AEAD, error) {
	if len(dek) != dekSize {
		return nil, fmt.Errorf("%w: the data key has %d bytes", onboarding.ErrDocumentCorrupted, len(dek))
	}
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func chunkNonce(nonce *[12]byte, i uint64, final bool) []byte {
	binary.BigEndian.PutUint64(nonce[:8], i)
	nonce[8], nonce[9], nonce[10], nonce[11] = 0, 0, 0, 0
	if final {
		nonce[11] = 1
	}
	return nonce[:]
}

func aadFor(key string) []byte { return []byte(aadPrefix + key) }

// encryptReader reads src and yields it in the chunked format. It holds one chunk,
// sealed in place, and never more.
type encryptReader struct {
	src     io.Reader
	aead    cipher.AEAD
	aad     []byte
	size    int
	buf     []byte // one chunk: plaintext, then sealed in place
	out     []byte // sealed bytes not yet returned
	i       uint64
	nonce   [12]byte
	look    [1]byte // the byte that proved a full chunk was not the last
	hasLook bool
	done    bool
	err     error
}

func newEncryptReader(src io.Reader, aead cipher.AEAD, aad []byte, size int) *encryptReader {
	return &encryptReader{src: src, aead: aead, aad: aad, size: size, buf: make([]byte, size+aead.Overhead())}
}

func (e *encryptReader) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		e.err = e.next()
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// next reads and seals one chunk. A chunk is final when the source ends within it or
// right after it: one byte of lookahead tells a full last chunk from a full middle one.
func (e *encryptReader) next() error {
	start := 0
	if e.hasLook {
		e.buf[0], start, e.hasLook = e.look[0], 1, false
	}
	n, err := io.ReadFull(e.src, e.buf[start:e.size])
	n += start
	final := false
	switch err {
	case nil:
		m, perr := io.ReadFull(e.src, e.look[:])
		switch {
		case m == 1:
			e.hasLook = true
		case perr == io.EOF:
			final = true
		default:
			return perr
		}
	case io.EOF, io.ErrUnexpectedEOF:
		final = true
	default:
		return err
	}
	e.out = e.aead.Seal(e.buf[:0], chunkNonce(&e.nonce, e.i, final), e.buf[:n], e.aad)
	e.i++
	e.done = final
	return nil
}

// decryptReader reverses encryptStream, one authenticated chunk at a time. Any failure
// matches onboarding.ErrDocumentCorrupted.
type decryptReader struct {
	src   *bufio.Reader
	aead  cipher.AEAD
	aad   []byte
	buf   []byte // one sealed chunk
	plain []byte // decrypted bytes not yet returned
	i     uint64
	nonce [12]byte
	done  bool
	err   error
}

func newDecryptReader(src io.Reader, aead cipher.AEAD, aad []byte, size int) *decryptReader {
	return &decryptReader{src: bufio.NewReaderSize(src, 512), aead: aead, aad: aad,
		buf: make([]byte, size+aead.Overhead())}
}

func (d *decryptReader) Read(p []byte) (int, error) {
	for len(d.plain) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.done {
			return 0, io.EOF
		}
		d.next()
	}
	n := copy(p, d.plain)
	d.plain = d.plain[n:]
	return n, nil
}

func (d *decryptReader) next() {
	n, err := io.ReadFull(d.src, d.buf)
	final := false
	switch err {
	case nil:
		if _, perr := d.src.Peek(1); perr == io.EOF {
			final = true
		} else if perr != nil {
			d.err = perr
			return
		}
	case io.EOF, io.ErrUnexpectedEOF:
		final = true
	default:
		d.err = err
		return
	}
	if n < d.aead.Overhead() {
		d.err = fmt.Errorf("%w: the encrypted stream is truncated", onboarding.ErrDocumentCorrupted)
		return
	}
	pt, oerr := d.aead.Open(d.buf[:0], chunkNonce(&d.nonce, d.i, final), d.buf[:n], d.aad)
	if oerr != nil {
		d.err = fmt.Errorf("%w: encrypted chunk %d fails authentication", onboarding.ErrDocumentCorrupted, d.i)
		return
	}
	d.plain, d.done = pt, final
	d.i++
}
