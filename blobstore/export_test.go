package blobstore

// CopyBuffers is the memory Put copies through: two pooled buffers.
const CopyBuffers = 2 * copyBufferSize
