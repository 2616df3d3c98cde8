package blobstore

import (
	"context"
	"fmt"
	"strings"

	"gocloud.dev/blob"

	"github.com/onboardkit/onboarding"
)

var _ onboarding.BlobPrefixDeleter = (*Store)(nil)

// DeletePrefix deletes every object whose key starts with prefix: documents, their
// sidecars (which hold each document's size, SHA-256 and, encrypted, its wrapped data
// key) and anything else stored there, and returns how many documents it deleted (a
// document and its sidecar count once). An erasure calls it with the customer's prefix
// (onboarding.CustomerBlobPrefix), so that nothing of the customer is left in the bucket,
// not even the blob of an upload that raced the erasure. prefix must end with "/" and lie
// under SweepPrefix. It stops at the first error; calling it again resumes.
//
// On fileblob, deleting an object also deletes its ".attrs" file (gocloud's metadata); on
// an encrypted Store, deleting the sidecar destroys the only copy of the wrapped data key,
// so whatever copy of the ciphertext a backup or the provider keeps can no longer be
// decrypted.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if !strings.HasPrefix(prefix, SweepPrefix) || !strings.HasSuffix(prefix, "/") || len(prefix) <= len(SweepPrefix) {
		return 0, fmt.Errorf("blobstore: DeletePrefix: %q is not a folder under %q", prefix, SweepPrefix)
	}
	var keys []string
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			if isDone(err) {
				break
			}
			return 0, fmt.Errorf("blobstore: DeletePrefix: list: %w", err)
		}
		if !obj.IsDir {
			keys = append(keys, obj.Key)
		}
	}
	deleted := 0
	for _, k := range keys {
		// A document before its sidecar, as Delete does: listing order puts "doc_x" first.
		if err := s.bucket.Delete(ctx, k); err != nil && !isNotFound(err) {
			return deleted, fmt.Errorf("blobstore: DeletePrefix: delete %s: %w", k, err)
		}
		if !strings.HasSuffix(k, SidecarSuffix) {
			deleted++
		}
	}
	return deleted, nil
}
