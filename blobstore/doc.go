// Package blobstore keeps onboarding documents in a gocloud.dev/blob bucket: a local
// folder, memory, Amazon S3 (or any S3-compatible store), Google Cloud Storage. A *Store
// is the onboarding.BlobStore the Service streams uploads to:
//
//	store, err := blobstore.Open(ctx, "file:///var/lib/onboarding/documents?create_dir=1", nil)
//	…
//	svc := onboarding.New(db, &onboarding.Options{Blobs: store})
//
// # URLs and drivers
//
// Open takes any URL blob.OpenBucket understands; New takes a *blob.Bucket opened any
// other way. This package imports no driver, so a binary links only the clouds it uses:
// the application blank-imports the driver of its scheme.
//
//	file:///path?create_dir=1    import _ "gocloud.dev/blob/fileblob"
//	mem://                       import _ "gocloud.dev/blob/memblob" (tests; buffers whole objects)
//	s3://bucket?region=…         import _ "gocloud.dev/blob/s3blob"
//	gs://bucket                  import _ "gocloud.dev/blob/gcsblob"
//
// S3-compatible servers take endpoint=<url-escaped URL>&use_path_style=true. Credentials
// come from each cloud's usual environment.
//
// # What is stored
//
// The Service generates every key (onboarding.DocumentKey:
// partners/{p}/customers/{c}/documents/{doc}); a client's file name never reaches a
// key. Each document is two objects:
//
//   - the document itself under its key, with the detected content type (or
//     application/octet-stream when encrypted), streamed once and never held in memory;
//   - a sidecar under key+".meta", an empty object whose metadata records the content
//     type, the size and the SHA-256 (and, when encrypted, the wrapped data key).
//
// The sidecar exists because a bucket takes an object's metadata when its upload
// starts, before the last byte (and so the digest) is known. It is written after the
// document and before the Service writes its row, so a document without a sidecar is an
// upload that never finished. Writing it costs one small request; a rewrite of the
// document to attach the digest (Copy with new metadata, which not every driver can do)
// would cost a second pass over the bytes. The SHA-256 is the one the Service computed
// while verifying the upload (onboarding.Digester), so the bytes are hashed once.
//
// Put aborts on any failure of the stream or of the caller's context, leaving nothing:
// fileblob drops its temporary file, gcsblob abandons the upload, s3blob aborts the
// multipart upload (its transfer manager aborts with the writer's context, so that
// context outlives the caller's, and a failure reaches the driver through the stream
// instead), and memblob, which commits what it buffered, is undone by a Delete.
//
// # Reading back
//
// Open streams a document and checks it against its sidecar; OpenDocument checks it
// against the document's row (the record a bucket writer cannot also rewrite). Bytes
// that do not match, in size or SHA-256, fail with onboarding.ErrDocumentCorrupted at
// the latest at EOF: a consumer that streams must discard what it read when the read
// fails. SignedURL hands a reviewer or provider a time-limited URL where the bucket can
// sign (S3 with credentials; GCS with signing credentials; fileblob with a URL signer),
// and ErrSignedURLUnsupported (errors.ErrUnsupported) elsewhere and for encrypted
// documents.
//
// # Encryption at rest
//
// With Options.Keeper (a gocloud.dev/secrets keeper: a cloud KMS in production,
// "base64key://" with gocloud.dev/secrets/localsecrets locally) every document is
// envelope-encrypted while it streams. A random 256-bit data key per object encrypts
// the bytes with AES-256-GCM in 64 KiB chunks; the keeper encrypts the data key, which is
// stored in the metadata of the object and of its sidecar. Chunk i is sealed with the
// nonce i (64-bit big-endian) || 0x000000 || final, where final is 1 on the last chunk
// only, and with the object's key as additional data (the STREAM construction): a
// changed, dropped, reordered, duplicated or appended chunk, a stream cut at a chunk
// boundary, or an object copied under another key fails to decrypt. Encryption is per
// object, so a bucket may hold both kinds, and it is off by default.
//
// # Orphans
//
// The Service writes the blob first and the row second and deletes the blob when the
// row fails; a crash between the two leaves a blob no row references. Store.Sweep lists
// SweepPrefix and deletes such blobs once they are older than a grace period (so an
// upload in flight is never taken for an orphan). Call it directly or from a scheduled
// job, for example every hour with olderThan = now - DefaultSweepGrace.
package blobstore
