package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/onboardkit/onboarding"
)

// MemoryBlobStore is a BlobStore in memory, for tests and examples. It buffers whole
// objects: do not use it for large files.
type MemoryBlobStore struct {
	mu      sync.Mutex
	objects map[string][]byte
}

// NewMemoryBlobStore returns an empty MemoryBlobStore.
func NewMemoryBlobStore() *MemoryBlobStore {
	return &MemoryBlobStore{objects: map[string][]byte{}}
}

// Put implements BlobStore.
func (m *MemoryBlobStore) Put(ctx context.Context, key string, r io.Reader, _ onboarding.Format) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = buf.Bytes()
	return nil
}

// Open implements BlobStore.
func (m *MemoryBlobStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, fmt.Errorf("%w: blob %s", onboarding.ErrNotFound, key)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Delete implements BlobStore.
func (m *MemoryBlobStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// Keys returns the stored keys (for tests).
func (m *MemoryBlobStore) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.objects))
}
