package onboarding

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/onboardkit/onboarding/scoring"
)

// notify wakes Run after this process committed new work.
func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func defaultWorkerID() string {
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + NewID("w")[2:14]
}

// Run works background jobs (credit analysis, offer expiry, event publishing) until ctx
// ends. Any number of Services, in this process or other replicas, may Run on the same
// store: jobs are leased, and a crashed worker's lease expires so another takes its job.
// Run wakes at once when this Service enqueues work and polls every PollInterval as a
// fallback. When ctx ends it stops claiming, waits for the jobs in flight, and returns nil.
func (s *Service) Run(ctx context.Context) error {
	if sw, ok := s.store.(SingleWriter); ok && sw.SingleWriter() {
		b := newOutcomeBatcher(s)
		defer b.close() // after the workers below: they wait on it
		ctx = context.WithValue(ctx, batcherKey{}, b)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, s.workers)
	freed := make(chan struct{}, 1)
	var remote <-chan struct{}
	if l, ok := s.store.(JobListener); ok {
		ch, err := l.ListenJobs(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "onboarding: cannot listen for jobs; polling only", "error", err)
		}
		remote = ch
	}
	for {
		s.schedulePeriodic(ctx)
		if free := s.workers - len(slots); free > 0 {
			// Polls are not traced: one trace a second per replica would bury the rest.
			jobs, err := s.store.ClaimJobs(untraced(ctx), ClaimParams{Kinds: s.kinds, Worker: s.workerID, Limit: free,
				Now: s.clock(), Lease: s.lease})
			if err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "onboarding: claim jobs", "error", err)
			}
			for _, j := range jobs {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.work(ctx, j)
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
			}
			if err == nil && len(jobs) == free {
				continue // there may be more
			}
		}
		timer := time.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-s.wake:
		case _, ok := <-remote:
			if !ok {
				remote = nil // the listener ended: poll
			}
		case <-freed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Work runs every job that is due now, one at a time, and returns how many it ran. It is
// Run without the waiting, for tests, one-shot commands and cron-style deployments.
func (s *Service) Work(ctx context.Context) (int, error) {
	n := 0
	for {
		jobs, err := s.store.ClaimJobs(ctx, ClaimParams{Kinds: s.kinds, Worker: s.workerID, Limit: 1,
			Now: s.clock(), Lease: s.lease})
		if err != nil || len(jobs) == 0 {
			return n, err
		}
		s.work(ctx, jobs[0])
		n++
	}
}

// work runs one claimed job and records a failure. The job runs on a context that outlives
// ctx by at most JobTimeout, so a shutdown lets it finish, and its lease is extended while
// it runs.
func (s *Service) work(ctx context.Context, j *Job) {
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.jobTimeout)
	defer cancel()
	defer s.heartbeat(jctx, cancel, j)()
	jctx = context.WithValue(jctx, parentRunAtKey{}, j.RunAt)
	jctx, run := s.startJob(jctx, j)
	h := s.jobs[j.Kind]
	var err error
	if h == nil {
		err = permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	} else {
		err = h(jctx, j)
	}
	if err == nil {
		s.endJob(jctx, run, nil, false)
		return
	}
	now := s.clock()
	f := JobFailure{Error: err.Error()}
	dead := errors.Is(err, errPermanent) || scoring.IsPermanent(err) || j.Attempt >= j.MaxAttempts
	s.endJob(jctx, run, err, dead)
	if dead {
		f.Dead = true
	} else {
		f.RetryAt = now.Add(retryDelay(j.Attempt))
	}
	s.log.WarnContext(jctx, "onboarding: job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempt,
		"dead", dead, "error", err)
	// A conflict may be a lost lease (then FailJob conflicts too, and the job belongs to
	// another worker) or a race the handler lost (then the job is retried soon).
	if ferr := s.store.FailJob(jctx, j.ID, s.workerID, now, f); ferr != nil && !errors.Is(ferr, ErrConcurrentUpdate) {
		s.log.ErrorContext(jctx, "onboarding: record job failure", "job", j.ID, "error", ferr)
	}
}

// heartbeat extends j's lease every third of it while the job runs, so that a short lease
// suffices for a long job and a dead replica's jobs are taken over within a lease. A lost
// lease (another worker took the job) cancels the job's context. The returned func stops
// it.
func (s *Service) heartbeat(ctx context.Context, cancel context.CancelFunc, j *Job) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(s.lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := s.store.ExtendJobLease(ctx, j.ID, s.workerID, s.clock().Add(s.lease))
			select {
			case <-done: // the job finished (and completed itself) meanwhile
				return
			default:
			}
			if errors.Is(err, ErrConcurrentUpdate) {
				s.log.WarnContext(ctx, "onboarding: job lease lost; stopping the job", "job", j.ID, "kind", j.Kind)
				cancel()
				return
			}
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "onboarding: extend job lease", "job", j.ID, "error", err)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// retryDelay is exponential backoff from 1 s, doubling to at most an hour, with ±20 %
// jitter so that retries of a burst spread out.
func retryDelay(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 12)
	d = min(d, time.Hour)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// completeIn completes j inside the caller's transaction.
func (s *Service) completeIn(ctx context.Context, q Queries, j *Job, now time.Time) error {
	return q.CompleteJob(ctx, j.ID, s.workerID, now)
}

// ReplayJob makes a dead job run again (after fixing what killed it).
func (s *Service) ReplayJob(ctx context.Context, id string) (err error) {
	ctx, span := s.start(ctx, "ReplayJob", "")
	defer span.end(&err)
	if err := s.store.ReplayJob(ctx, id, s.clock()); err != nil {
		return err
	}
	s.notify()
	return nil
}
