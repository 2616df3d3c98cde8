package onboarding

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pruneBatch is how many rows one prune statement deletes.
const pruneBatch = 1000

// Maintenance: the hourly jobs that keep the store and the bucket bounded.

// registerMaintenance registers the periodic jobs.
func (s *Service) registerMaintenance() {
	s.handle(JobPrune, handle(s.prune))
	if _, ok := s.blobs.(BlobSweeper); ok {
		s.handle(JobSweepBlobs, handle(s.sweep))
	}
}

// schedulePeriodic enqueues, once per hour, the prune job and (when the BlobStore can)
// the orphan sweep. Each job's ID is derived from the hour, so replicas racing to enqueue
// it insert one row.
func (s *Service) schedulePeriodic(ctx context.Context) {
	now := s.clock()
	slot := now.Truncate(DefaultSweepInterval)
	if !s.lastPeriodic.Before(slot) {
		return
	}
	periodic := []jobArgs{pruneArgs{}}
	if _, ok := s.blobs.(BlobSweeper); ok {
		periodic = append(periodic, sweepBlobsArgs{})
	}
	for _, args := range periodic {
		id := fmt.Sprintf("%s_%s_%d", prefixJob, args.kind(), slot.Unix())
		if err := enqueue(ctx, s.store, args, jobFor{ID: id}, now); err != nil && !errors.Is(err, ErrConflict) {
			s.log.WarnContext(ctx, "onboarding: schedule periodic job", "kind", args.kind(), "error", err)
			return
		}
	}
	s.lastPeriodic = slot
}

// prune deletes completed jobs past their retention, expired idempotency keys and expired
// biometrics session codes, a batch at a time, then enforces the RetentionPolicy
// (retention.go).
func (s *Service) prune(ctx context.Context, j *Job, _ pruneArgs) error {
	now := s.clock()
	total := 0
	for _, step := range []func() (int, error){
		func() (int, error) { return s.store.PruneJobs(ctx, now.Add(-s.retention), pruneBatch) },
		func() (int, error) { return s.store.PruneIdempotencyKeys(ctx, now, pruneBatch) },
		func() (int, error) { return s.store.PruneBiometricsCodes(ctx, now, pruneBatch) },
	} {
		for {
			n, err := step()
			total += n
			if err != nil {
				return err
			}
			if n < pruneBatch {
				break
			}
		}
	}
	if total > 0 {
		s.log.InfoContext(ctx, "onboarding: pruned old jobs, expired idempotency keys and session codes", "deleted", total)
	}
	deleted, erased, err := s.pruneRetention(ctx, now)
	if deleted > 0 || erased > 0 {
		s.log.InfoContext(ctx, "onboarding: retention: deleted old rows and erased abandoned registrations",
			"deleted", deleted, "erased", erased)
		s.purge(ctx)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// A run cut short by its lease leaves the rest to the next one.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.store.CompleteJob(cctx, j.ID, s.workerID, s.clock())
}

// sweep deletes orphaned document blobs.
func (s *Service) sweep(ctx context.Context, j *Job, _ sweepBlobsArgs) error {
	n, err := s.blobs.(BlobSweeper).Sweep(ctx, s.store, s.clock().Add(-DefaultSweepGrace))
	if n > 0 {
		s.log.InfoContext(ctx, "onboarding: swept orphaned document blobs", "deleted", n)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The job timed out on a large bucket: what was swept stays swept, and the next
		// hour's run (in another order) goes on.
		s.log.InfoContext(ctx, "onboarding: blob sweep cut short by its timeout; the next run goes on")
		err = nil
	}
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.store.CompleteJob(cctx, j.ID, s.workerID, s.clock())
}
