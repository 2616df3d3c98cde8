package onboarding

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The batched machinery of Run (worker.go): the lease keeper, which renews the leases of
// every job in flight in one statement, and the outcome writer, which writes the outcomes
// of many webhook deliveries in one statement (group commit). A delivery claimed with its
// rows (ClaimJobBatch) is sent by its worker, which then hands the outcome to the writer
// and takes the next job: the job stays leased to this worker, and renewed, until its
// outcome is written, and the write is refused for a job whose lease was lost.

// leaseKeeper extends the leases of the jobs this Service has in flight, every third of a
// lease, in one statement, and cancels a job whose lease was lost (another worker took it
// after this one stalled).
type leaseKeeper struct {
	s    *Service
	mu   sync.Mutex
	jobs map[string]context.CancelFunc
	stop chan struct{}
	done chan struct{}
}

func (s *Service) newLeaseKeeper() *leaseKeeper {
	k := &leaseKeeper{s: s, jobs: map[string]context.CancelFunc{}, stop: make(chan struct{}), done: make(chan struct{})}
	go k.loop()
	return k
}

// add keeps the lease of job id until remove; cancel stops the job if the lease is lost.
func (k *leaseKeeper) add(id string, cancel context.CancelFunc) {
	k.mu.Lock()
	k.jobs[id] = cancel
	k.mu.Unlock()
}

// remove stops keeping the lease of job id (it finished, or its outcome is written).
func (k *leaseKeeper) remove(id string) {
	k.mu.Lock()
	delete(k.jobs, id)
	k.mu.Unlock()
}

// close stops the keeper; call it once every job is removed.
func (k *leaseKeeper) close() {
	close(k.stop)
	<-k.done
}

func (k *leaseKeeper) loop() {
	defer close(k.done)
	s := k.s
	tick := time.NewTicker(s.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-tick.C:
		}
		k.mu.Lock()
		ids := make([]string, 0, len(k.jobs))
		for id := range k.jobs {
			ids = append(ids, id)
		}
		k.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.lease/3)
		extended, err := s.store.ExtendJobLeases(ctx, ids, s.workerID, s.clock().Add(s.lease))
		cancel()
		if err != nil {
			s.log.Warn("onboarding: extend job leases", "jobs", len(ids), "error", err)
			continue
		}
		kept := make(map[string]bool, len(extended))
		for _, id := range extended {
			kept[id] = true
		}
		k.mu.Lock()
		for _, id := range ids {
			if stop, ok := k.jobs[id]; ok && !kept[id] {
				// Still in flight (not finished meanwhile) and not extended: lost.
				s.log.Warn("onboarding: job lease lost; stopping the job", "job", id)
				delete(k.jobs, id)
				stop()
			}
		}
		k.mu.Unlock()
	}
}

// The flusher, holding fewer than minOutcomeBatch outcomes, waits up to outcomeLinger
// for more before writing them.
const (
	minOutcomeBatch = 16
	outcomeLinger   = time.Millisecond
)

// maxOutcomeBatch bounds how many delivery outcomes share a statement.
const maxOutcomeBatch = 128

// pendingOutcome is an outcome waiting for the writer, and what to do once it is written
// or refused.
type pendingOutcome struct {
	o    *DeliveryOutcome
	done func(written bool, err error)
}

// outcomeWriter writes delivery outcomes from many workers in shared statements (group
// commit): its flusher takes whatever has queued while its previous write ran, so
// batches grow with the load and an idle system pays no wait. A batch that
// fails is written again outcome by outcome, so one bad outcome fails alone; a refused
// outcome (lost lease) is no failure of the others.
type outcomeWriter struct {
	s  *Service
	in chan pendingOutcome
	wg sync.WaitGroup
}

// newOutcomeWriter starts the writer's one flusher. One, on every store: while it writes
// a batch the next one fills, so batches grow with the rate, and no two statements of
// the same replica contend for the same rows' index pages. (Measured on PostgreSQL with
// 16 workers on two cores: with a second flusher the batches held 22 outcomes instead
// of 61, each cost the database 175 µs instead of 109, and the dispatch rate fell by
// about a sixth.)
func (s *Service) newOutcomeWriter() *outcomeWriter {
	w := &outcomeWriter{s: s, in: make(chan pendingOutcome, 2*maxOutcomeBatch)}
	w.wg.Go(w.flush)
	return w
}

// submit queues an outcome; it waits only when the queue is full (the database is behind).
func (w *outcomeWriter) submit(o *DeliveryOutcome, done func(written bool, err error)) {
	w.in <- pendingOutcome{o: o, done: done}
}

// close writes what is queued and stops the flusher.
func (w *outcomeWriter) close() {
	close(w.in)
	w.wg.Wait()
}

func (w *outcomeWriter) flush() {
	batch := make([]pendingOutcome, 0, maxOutcomeBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for first := range w.in {
		batch = append(batch[:0], first)
		// Take what has queued; then, while the batch is small, wait a little for more:
		// a statement costs the database about the same for one outcome as for dozens.
		lingering := false
	fill:
		for len(batch) < maxOutcomeBatch {
			select {
			case p, ok := <-w.in:
				if !ok {
					break fill
				}
				batch = append(batch, p)
				continue
			default:
			}
			if lingering || len(batch) >= minOutcomeBatch {
				break
			}
			lingering = true
			linger.Reset(outcomeLinger)
			select {
			case p, ok := <-w.in:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		w.write(batch)
	}
}

func (w *outcomeWriter) write(batch []pendingOutcome) {
	s := w.s
	ctx, cancel := context.WithTimeout(context.Background(), s.lease)
	defer cancel()
	outcomes := make([]*DeliveryOutcome, len(batch))
	for i, p := range batch {
		outcomes[i] = p.o
	}
	written, err := s.store.FinishDeliveries(ctx, s.workerID, s.clock(), outcomes)
	if err != nil && len(batch) > 1 {
		for i := range batch {
			w.write(batch[i : i+1])
		}
		return
	}
	retry := false
	for i, p := range batch {
		ok := err == nil && written[i]
		retry = retry || ok && p.o.Delivery.Status == DeliveryPending
		p.done(ok, err)
	}
	if retry {
		s.notify() // Run's next wake-up may now be sooner
	}
}

// claimedJob is a job of a batch claim waiting for a worker, with its context (cancelled
// when the lease is lost) and the lease kept by the keeper since the claim.
type claimedJob struct {
	*ClaimedJob
	ctx    context.Context
	cancel context.CancelFunc
}

// runClaimed works one job of a batch claim, for at most JobTimeout. A webhook delivery
// whose rows came with the claim is attempted at once and its outcome handed to the
// writer (the job's lease is kept until it is written); any other job runs through its
// handler (work).
func (s *Service) runClaimed(c claimedJob, keeper *leaseKeeper, writer *outcomeWriter) {
	j := c.Job
	jctx, cancel := context.WithTimeout(c.ctx, s.jobTimeout)
	finish := func() {
		keeper.remove(j.ID)
		cancel()
		c.cancel()
	}
	if j.Kind != JobDeliverWebhook || c.Delivery == nil || s.jobs[JobDeliverWebhook] == nil {
		defer finish()
		s.work(jctx, j)
		return
	}
	jctx = context.WithValue(jctx, parentRunAtKey{}, j.RunAt)
	jctx, run := s.startJob(jctx, j)
	o, err := s.attempt(jctx, j, c.Delivery, c.Endpoint, c.Event)
	if err == nil && o != nil {
		markDeliveryJob(jctx, o)
		writer.submit(o, func(written bool, err error) {
			finish()
			switch {
			case err != nil:
				// Not written: retry the delivery after a backoff, as any failed job.
				s.failed(context.WithoutCancel(jctx), run, j, fmt.Errorf("onboarding: record delivery outcome: %w", err))
			case !written:
				s.log.Warn("onboarding: delivery outcome refused: the job's lease was lost", "job", j.ID)
				s.endJob(jctx, run, nil, false)
			default:
				s.endJob(jctx, run, nil, false)
			}
		})
		return
	}
	defer finish()
	if err == nil {
		err = s.store.CompleteJob(jctx, j.ID, s.workerID, s.clock())
	}
	if err != nil {
		s.failed(jctx, run, j, err)
		return
	}
	s.endJob(jctx, run, nil, false)
}
