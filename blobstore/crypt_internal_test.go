package blobstore

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// The stream format on a tiny chunk size, so every boundary case is cheap to reach.
const testChunk = 16

func testAEAD(t *testing.T) (aead interface{ Overhead() int }, seal func([]byte) []byte, open func([]byte) ([]byte, error)) {
	t.Helper()
	dek, err := newDEK()
	require.NoError(t, err)
	a, err := newAEAD(dek)
	require.NoError(t, err)
	aad := aadFor("k")
	seal = func(p []byte) []byte {
		out, err := io.ReadAll(iotest.OneByteReader(newEncryptReader(bytes.NewReader(p), a, aad, testChunk)))
		require.NoError(t, err)
		return out
	}
	open = func(c []byte) ([]byte, error) {
		return io.ReadAll(newDecryptReader(bytes.NewReader(c), a, aad, testChunk))
	}
	return a, seal, open
}

func TestStreamRoundTrip(t *testing.T) {
	t.Parallel()
	a, seal, open := testAEAD(t)
	for n := 0; n <= 5*testChunk+1; n++ {
		p := make([]byte, n)
		rand.Read(p)
		c := seal(p)
		chunks := n / testChunk
		if n%testChunk != 0 || n == 0 {
			chunks++
		}
		require.Len(t, c, n+chunks*a.Overhead(), "size %d", n)
		got, err := open(c)
		require.NoError(t, err, "size %d", n)
		require.Equal(t, p, got, "size %d", n)
	}
}

func TestStreamDetectsTampering(t *testing.T) {
	t.Parallel()
	a, seal, open := testAEAD(t)
	sealed := testChunk + a.Overhead()
	p := make([]byte, 3*testChunk+5) // three full chunks and a short final one
	rand.Read(p)
	c := seal(p)
	require.Len(t, c, 3*sealed+5+a.Overhead())

	cases := map[string][]byte{
		"empty":           nil,
		"tag only":        c[:a.Overhead()],
		"last dropped":    c[:3*sealed],
		"cut mid chunk":   c[:2*sealed+7],
		"cut by one":      c[:len(c)-1],
		"extended":        append(bytes.Clone(c), 0),
		"chunk appended":  append(bytes.Clone(c), c[:sealed]...),
		"chunks swapped":  append(append(bytes.Clone(c[sealed:2*sealed]), c[:sealed]...), c[2*sealed:]...),
		"chunk repeated":  append(bytes.Clone(c[:sealed]), c...),
		"first dropped":   c[sealed:],
		"bit flipped":     func() []byte { d := bytes.Clone(c); d[sealed+3] ^= 1; return d }(),
		"tag bit flipped": func() []byte { d := bytes.Clone(c); d[len(d)-1] ^= 1; return d }(),
	}
	for name, bad := range cases {
		_, err := open(bad)
		require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted, name)
	}

	// Another object's key (the AAD) does not open it either.
	dek, err := newDEK()
	require.NoError(t, err)
	other, err := newAEAD(dek)
	require.NoError(t, err)
	_, err = io.ReadAll(newDecryptReader(bytes.NewReader(c), other, aadFor("k"), testChunk))
	require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
}

func TestStreamKeyBinding(t *testing.T) {
	t.Parallel()
	dek, err := newDEK()
	require.NoError(t, err)
	a, err := newAEAD(dek)
	require.NoError(t, err)
	c, err := io.ReadAll(newEncryptReader(bytes.NewReader([]byte("hello, world")), a, aadFor("a"), testChunk))
	require.NoError(t, err)
	_, err = io.ReadAll(newDecryptReader(bytes.NewReader(c), a, aadFor("b"), testChunk))
	require.ErrorIs(t, err, onboarding.ErrDocumentCorrupted)
	got, err := io.ReadAll(newDecryptReader(bytes.NewReader(c), a, aadFor("a"), testChunk))
	require.NoError(t, err)
	require.Equal(t, "hello, world", string(got))
}

func TestEncryptReaderPassesSourceErrors(t *testing.T) {
	t.Parallel()
	dek, err := newDEK()
	require.NoError(t, err)
	a, err := newAEAD(dek)
	require.NoError(t, err)
	boom := iotest.ErrReader(io.ErrClosedPipe)
	for _, src := range []io.Reader{boom, io.MultiReader(bytes.NewReader(make([]byte, testChunk)), boom)} {
		_, err := io.ReadAll(newEncryptReader(src, a, aadFor("k"), testChunk))
		require.ErrorIs(t, err, io.ErrClosedPipe)
	}
}
