package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/onboardkit/onboarding"
)

// SweepPrefix is where the Service keeps documents (onboarding.DocumentKey). Everything
// under it belongs to the library, and Sweep may delete what no row references.
const SweepPrefix = "partners/"

// DefaultSweepGrace is a safe age for Sweep's cutoff: far longer than any upload takes,
// so a document whose row is about to be written is never taken for an orphan.
const DefaultSweepGrace = 24 * time.Hour

// Sweep deletes orphaned documents: objects under SweepPrefix that no document row
// references (q.DocumentKeyExists) and that were last modified before olderThan. An
// orphan is what a crash between the blob write and the row insert leaves, or a Delete
// that failed. It returns the number of orphaned documents removed (a document and its
// sidecar count once).
//
// olderThan must be earlier than the start of any upload still in flight, because some
// buckets date an object by when its upload began (S3 multipart): now minus
// DefaultSweepGrace is a good choice. Sweep is safe to run concurrently with uploads and
// with other Sweeps, and to call directly or from a scheduled job; it stops at the first
// error, returning what it deleted so far, and the next run resumes the work.
//
// The partners' folders are swept in a random order, so that a run cut short by its
// context (a bucket too large to list in one lease) still covers every partner over a few
// runs instead of always the first ones.
func (s *Store) Sweep(ctx context.Context, q onboarding.Queries, olderThan time.Time) (deleted int, err error) {
	var prefixes []string
	it := s.bucket.List(&blob.ListOptions{Prefix: SweepPrefix, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			if isDone(err) {
				break
			}
			return 0, fmt.Errorf("blobstore: sweep: list: %w", err)
		}
		prefixes = append(prefixes, obj.Key) // a partner's folder, or a stray object under the prefix
	}
	rand.Shuffle(len(prefixes), func(i, j int) { prefixes[i], prefixes[j] = prefixes[j], prefixes[i] })
	for _, p := range prefixes {
		n, err := s.sweepPrefix(ctx, q, p, olderThan)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// sweepPrefix sweeps the objects under prefix, in key order.
func (s *Store) sweepPrefix(ctx context.Context, q onboarding.Queries, prefix string, olderThan time.Time) (deleted int, err error) {
	var group struct {
		docKey string
		keys   []string
		young  bool
	}
	flush := func() error {
		if group.docKey == "" || group.young {
			return nil
		}
		ok, err := q.DocumentKeyExists(ctx, group.docKey)
		if err != nil {
			return fmt.Errorf("blobstore: sweep: %w", err)
		}
		if ok {
			return nil
		}
		// Delete the document before its sidecar, like Delete.
		for _, k := range group.keys {
			if err := s.bucket.Delete(ctx, k); err != nil && !isNotFound(err) {
				return fmt.Errorf("blobstore: sweep: delete %s: %w", k, err)
			}
		}
		deleted++
		return nil
	}
	// Listing is in key order, so a document and its sidecar ("doc_x", "doc_x.meta")
	// come one after the other and are judged together: both must be old.
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			if isDone(err) {
				break
			}
			return deleted, fmt.Errorf("blobstore: sweep: list: %w", err)
		}
		if obj.IsDir {
			continue
		}
		docKey := strings.TrimSuffix(obj.Key, SidecarSuffix)
		if docKey != group.docKey {
			if err := flush(); err != nil {
				return deleted, err
			}
			group.docKey, group.keys, group.young = docKey, group.keys[:0], false
		}
		group.keys = append(group.keys, obj.Key)
		mod := obj.ModTime
		if mod.IsZero() {
			// A listing without dates: ask the object; never delete what cannot be dated.
			if a, err := s.bucket.Attributes(ctx, obj.Key); err == nil {
				mod = a.ModTime
			}
		}
		if mod.IsZero() || !mod.Before(olderThan) {
			group.young = true
		}
	}
	if err := flush(); err != nil {
		return deleted, err
	}
	return deleted, nil
}

func isDone(err error) bool { return errors.Is(err, io.EOF) }

func isNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }
