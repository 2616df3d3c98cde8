package blobstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/blobstore"
)

// TestUploadHeap100MiB checks that a 100 MiB upload through the Service into a file://
// bucket allocates less than 1 MiB beyond Put's copy buffers, plain and encrypted.
//
// It measures bytes allocated (TotalAlloc), not a sampled peak: an upper bound on heap
// growth that does not depend on when the GC runs. It is not parallel, so no other test
// allocates meanwhile (parallel tests wait for the sequential ones), and it measures the
// second upload, once the buffer pool is warm.
func TestUploadHeap100MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 400 MiB")
	}
	for _, encrypt := range []bool{false, true} {
		w := newBenchWorld(t, encrypt, onboarding.UploadRules{MaxSize: 128 << 20})
		var alloc, peak uint64
		for i := range 2 {
			cust := w.customer(t)
			var d *onboarding.Document
			peak, alloc = heapCost(func() { d = w.upload(t, cust, pdfReader(100<<20, uint64(i))) })
			require.Equal(t, int64(100<<20), d.Size)
			require.NoError(t, w.blobs.Delete(w.ctx, d.Key))
		}
		t.Logf("encrypt=%v: allocated %d B, heap peak +%d B (copy buffers %d B)", encrypt, alloc, peak, blobstore.CopyBuffers)
		require.Less(t, alloc, uint64(1<<20), "a warm 100 MiB upload must allocate under 1 MiB (encrypt=%v)", encrypt)
	}
}
