package onboarding

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
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

// Run works background jobs (credit analysis, offer expiry, webhook deliveries, event
// publishing) until ctx ends. Any number of Services, in this process or other replicas,
// may Run on the same store: jobs are leased, and a crashed worker's lease expires so
// another takes its job.
//
// Run claims jobs in batches and works Workers at a time; a webhook delivery comes with its
// delivery, endpoint and event in the same query, is sent at once, and its outcome is
// written with others in one statement. When nothing is due it sleeps until the next job
// is (a retry included), and wakes earlier when this Service commits work or,
// on a Store that announces jobs (JobListener, e.g. PostgreSQL), when any replica does.
// PollInterval only bounds that sleep (a replica's job whose lease ended, after a crash,
// is found at the next poll at the latest). When ctx ends it stops claiming, gives the
// jobs it claimed ahead and has not started back to the queue (ReleaseJobs), waits for
// the jobs in flight and for their outcomes to be written, and returns nil.
func (s *Service) Run(ctx context.Context) error {
	keeper := s.newLeaseKeeper()
	defer keeper.close()
	writer := s.newOutcomeWriter()
	defer writer.close() // after the workers below: they submit to it
	// Workers goroutines work the claimed jobs in claim order. Run holds more than that:
	// the jobs beyond the workers wait in the queue, leased, so that a worker finishing a
	// job takes the next at once instead of waiting for a claim. How many is ahead's
	// business: as many as the workers finish in aheadTarget.
	ahead := s.newAheadMeter()
	queue := make(chan claimedJob, s.workers+ahead.ceil)
	var inflight atomic.Int32 // claimed and not finished: queued or running
	var finished atomic.Int64
	freed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for c := range queue {
				s.runClaimed(c, keeper, writer)
				inflight.Add(-1)
				finished.Add(1)
				select {
				case freed <- struct{}{}:
				default:
				}
			}
		})
	}
	defer wg.Wait()
	defer close(queue) // the workers finish what is queued, then stop
	var remote <-chan struct{}
	if l, ok := s.store.(JobListener); ok {
		ch, err := l.ListenJobs(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "onboarding: cannot listen for jobs; polling only", "error", err)
		}
		remote = ch
	}
	var lastClaim time.Time
	idleClaims := 0 // claims in a row that found nothing although a job was due
	for {
		s.schedulePeriodic(ctx)
		wait := s.poll
		// A busy runner claims when half its room has freed up, or, when a worker is
		// idle, claimCooldown after its last claim: it claims in batches rather than one
		// job per finished job.
		capacity := s.workers + ahead.update(time.Now(), finished.Load())
		threshold := max(capacity/2, 1)
		busy := int(inflight.Load())
		room := capacity - busy
		if room > 0 {
			since := time.Since(lastClaim)
			switch {
			case room < threshold && busy >= s.workers:
				// Every worker has a job: wait for half the room, woken as jobs finish.
			case room < threshold && busy > 0 && since < claimCooldown:
				wait = claimCooldown - since // a worker is idle: claim for it soon
			default:
				// Polls are not traced: one trace a second per replica would bury the rest.
				jobs, err := s.store.ClaimJobBatch(untraced(ctx), ClaimParams{Kinds: s.kinds, Worker: s.workerID, Limit: room,
					Now: s.clock(), Lease: s.lease})
				lastClaim = time.Now()
				if err != nil && ctx.Err() == nil {
					s.log.ErrorContext(ctx, "onboarding: claim jobs", "error", err)
				}
				inflight.Add(int32(len(jobs)))
				for _, cj := range jobs {
					// The job's context outlives Run's, so that a shutdown lets it finish;
					// the keeper renews its lease from now on, and cancels it if lost.
					jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
					keeper.add(cj.Job.ID, cancel)
					queue <- claimedJob{cj, jctx, cancel} // never blocks: at most capacity are in flight
				}
				if err == nil && len(jobs) == room {
					continue // there may be more
				}
				if err == nil {
					wait = s.untilNextJob(untraced(ctx), len(jobs) == 0, &idleClaims)
				}
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			s.releaseQueued(queue, keeper, &inflight)
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

// releaseQueued gives the jobs claimed ahead that no worker has started back to the
// queue when Run stops (ReleaseJobs), so that another replica claims them at once: the
// workers finish only the jobs they are running, and a shutdown does not wait for up to
// maxAhead jobs, each as slow as its endpoint, nor leaves them leased until their leases
// end. A job the release misses (a store error) is claimed again once its lease ends,
// as after a crash.
func (s *Service) releaseQueued(queue chan claimedJob, keeper *leaseKeeper, inflight *atomic.Int32) {
	var ids []string
	for len(queue) > 0 {
		select {
		case c := <-queue:
			keeper.remove(c.Job.ID)
			c.cancel()
			inflight.Add(-1)
			ids = append(ids, c.Job.ID)
		default: // a worker took the last one
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.lease/3)
	defer cancel()
	released, err := s.store.ReleaseJobs(ctx, ids, s.workerID, s.clock())
	if err != nil {
		s.log.Warn("onboarding: release unstarted jobs at shutdown; they run once their leases end", "jobs", len(ids), "error", err)
		return
	}
	s.log.Debug("onboarding: released unstarted jobs at shutdown", "jobs", len(released))
}

// aheadMeter sizes how many jobs Run claims beyond its workers: as many as they finished
// in aheadTarget of the last aheadWindow, at least floor and at most ceil. With one
// worker it is none (a job claimed ahead would wait behind the running one however long
// it takes); with more, the floor is max(Workers, minAhead), and short jobs (webhook
// deliveries) raise it towards maxAhead, so that a claim, whose latency grows little with
// its rows, is not what the workers wait for. Slow jobs keep it at the floor: jobs
// claimed ahead are leased to this replica, and another replica cannot take them.
type aheadMeter struct {
	floor, ceil int
	start       time.Time // of the current window
	base        int64     // jobs finished before start
	ahead       int
}

const (
	minAhead    = 64
	maxAhead    = 256
	aheadTarget = 50 * time.Millisecond
	aheadWindow = 100 * time.Millisecond
)

func (s *Service) newAheadMeter() *aheadMeter {
	if s.workers < 2 {
		return &aheadMeter{}
	}
	floor := max(s.workers, minAhead)
	return &aheadMeter{floor: floor, ceil: max(floor, maxAhead), ahead: floor}
}

// update returns the jobs to claim ahead, given how many the workers have finished so
// far; a window ends, and the size follows its rate, every aheadWindow.
func (m *aheadMeter) update(now time.Time, finished int64) int {
	if m.ceil == 0 {
		return 0
	}
	if m.start.IsZero() {
		m.start, m.base = now, finished
	}
	if d := now.Sub(m.start); d >= aheadWindow {
		want := int(float64(finished-m.base) * float64(aheadTarget) / float64(d))
		m.ahead = min(max(want, m.floor), m.ceil)
		m.start, m.base = now, finished
	}
	return m.ahead
}

// claimCooldown is how long a runner with an idle worker waits after a claim before
// claiming for less than half its room.
const claimCooldown = 2 * time.Millisecond

// untilNextJob is how long Run may sleep after a claim that left workers free: until the
// next job of its kinds is due (NextJobAt), at most PollInterval. A job already due that
// the claim did not get (another replica's claim held its row) is retried after a short
// pause that grows while it lasts.
func (s *Service) untilNextJob(ctx context.Context, empty bool, idle *int) time.Duration {
	next, err := s.store.NextJobAt(ctx, s.kinds)
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "onboarding: read the next job's time", "error", err)
		}
		return s.poll
	}
	if next.IsZero() {
		*idle = 0
		return s.poll
	}
	d := next.Sub(s.clock())
	if d > 0 {
		*idle = 0
		return min(d, s.poll)
	}
	if !empty {
		return 0 // the claim got jobs: claim again at once
	}
	*idle++
	return min(time.Millisecond<<min(*idle, 10), s.poll)
}

// Work runs every job that is due now, one at a time, and returns how many it ran. It is
// Run without the waiting, for tests, one-shot commands and cron-style deployments.
func (s *Service) Work(ctx context.Context) (int, error) {
	keeper := s.newLeaseKeeper()
	defer keeper.close()
	n := 0
	for {
		jobs, err := s.store.ClaimJobs(ctx, ClaimParams{Kinds: s.kinds, Worker: s.workerID, Limit: 1,
			Now: s.clock(), Lease: s.lease})
		if err != nil || len(jobs) == 0 {
			return n, err
		}
		j := jobs[0]
		jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.jobTimeout)
		keeper.add(j.ID, cancel)
		s.work(jctx, j)
		keeper.remove(j.ID)
		cancel()
		n++
	}
}

// work runs one claimed job with its handler and records a failure. ctx is the job's own
// context: it outlives Run's by at most JobTimeout, so a shutdown lets the job finish, and
// the lease keeper cancels it when the lease is lost.
func (s *Service) work(ctx context.Context, j *Job) {
	ctx = context.WithValue(ctx, parentRunAtKey{}, j.RunAt)
	ctx, run := s.startJob(ctx, j)
	h := s.jobs[j.Kind]
	var err error
	if h == nil {
		err = permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	} else {
		err = h(ctx, j)
	}
	if err == nil {
		s.endJob(ctx, run, nil, false)
		return
	}
	s.failed(ctx, run, j, err)
}

// failed records a failed run of j: a retry after a backoff, or a dead job.
func (s *Service) failed(ctx context.Context, run *jobRun, j *Job, err error) {
	now := s.clock()
	f := JobFailure{Error: err.Error()}
	dead := errors.Is(err, errPermanent) || scoring.IsPermanent(err) || j.Attempt >= j.MaxAttempts
	s.endJob(ctx, run, err, dead)
	if dead {
		f.Dead = true
	} else {
		f.RetryAt = now.Add(s.retryDelay(j.Attempt))
	}
	s.log.WarnContext(ctx, "onboarding: job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempt,
		"dead", dead, "error", err)
	// A conflict may be a lost lease (then FailJob conflicts too, and the job belongs to
	// another worker) or a race the handler lost (then the job is retried soon).
	// The job's context may have ended (JobTimeout): record the failure all the same.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.lease)
	defer cancel()
	if ferr := s.store.FailJob(fctx, j.ID, s.workerID, now, f); ferr != nil && !errors.Is(ferr, ErrConcurrentUpdate) {
		s.log.ErrorContext(ctx, "onboarding: record job failure", "job", j.ID, "error", ferr)
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
