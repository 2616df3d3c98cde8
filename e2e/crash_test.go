package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/webhook"
)

// The crash child is this test binary re-executed with these variables set.
const (
	childEnv       = "E2E_CRASH_CHILD" // "1" runs crashChild instead of the tests
	childKindEnv   = "E2E_CRASH_DB_KIND"
	childTargetEnv = "E2E_CRASH_DB_TARGET"
	childSeedEnv   = "E2E_CRASH_SEED"
	childURLEnv    = "E2E_CRASH_WEBHOOK_URL"
	// childLease is the child's job lease: the restarted Service's clock runs this much
	// (and a second) ahead, so that the dead child's leases have expired for it.
	childLease = 5 * time.Second
	// childMaxLife bounds a child the parent failed to kill.
	childMaxLife = 3 * time.Minute
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashChild is the process that gets killed: it runs a Service (Run) on the database
// and registers customers from four goroutines in a paced loop, printing "C <id>" on stdout
// for every registration committed, until it is killed.
func crashChild() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		return 2
	}
	kind, target := os.Getenv(childKindEnv), os.Getenv(childTargetEnv)
	seed, err := strconv.ParseUint(os.Getenv(childSeedEnv), 10, 64)
	if err != nil {
		return fail("bad seed: %v", err)
	}
	db, err := openTarget(kind, target)
	if err != nil {
		return fail("open: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), childMaxLife)
	defer cancel()
	svc, err := onboarding.New(bunstore.New(db, nil), &onboarding.Options{Scorer: scoring.Sandbox{}, AllowPrivateWebhooks: true,
		Logger: discard, PollInterval: 50 * time.Millisecond, WorkerID: "crash-child", JobLease: childLease, Blobs: sandbox.NewMemoryBlobStore()})
	if err != nil {
		return fail("new service: %v", err)
	}
	page, err := svc.ListWebhookEndpoints(ctx, partner, onboarding.ListEndpointsParams{})
	if err != nil || len(page.Data) != 1 || page.Data[0].URL != os.Getenv(childURLEnv) {
		return fail("the parent's endpoint is not there: %v", err)
	}
	go func() { _ = svc.Run(ctx) }()
	ppl := peopleFromSeed(seed)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			// About 50 registrations a second in all, at most 1,000: a load the
			// background work keeps up with, more or less, so that the kill finds
			// every stage busy (registrations, analyses, publications, deliveries).
			for i := 0; i < 250 && ctx.Err() == nil; i++ {
				time.Sleep(80 * time.Millisecond)
				c, _, err := svc.CreateCustomer(ctx, partner, ppl.next(""))
				mu.Lock()
				if err != nil {
					fmt.Fprintf(os.Stdout, "E %v\n", err)
				} else {
					fmt.Fprintf(os.Stdout, "C %s\n", c.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	<-ctx.Done()
	return 3 // not killed in time
}

// TestCrashSafety: a process registering customers in a loop while its Service runs the
// background work is killed with SIGKILL in the middle of the load. A Service restarted on
// the same database then drains what was left: every committed customer (every ID the
// child saw committed, and whatever else the database holds) gets exactly one offer and
// exactly one credit_offer.available webhook (deduplicated by webhook-id); nothing
// committed is lost.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testCrash)
}

func testCrash(t *testing.T, db *database) {
	rcv := newReceiver(t, time.Now)
	setup := newService(t, db.open(t), onboarding.Options{})
	endpoint(t, setup, rcv, "credit_offer.available")

	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), childMaxLife)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childKindEnv+"="+db.kind, childTargetEnv+"="+db.target,
		childSeedEnv+"=7", childURLEnv+"="+rcv.URL())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	var mu sync.Mutex
	var committed []string
	var errs []string
	lines := make(chan struct{}, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			// The kill may cut the last line short: only whole IDs count.
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "C "):
				if id := strings.TrimPrefix(line, "C "); len(id) == len("cust_")+32 {
					committed = append(committed, id)
				}
			case strings.HasPrefix(line, "E "):
				errs = append(errs, line)
			}
			mu.Unlock()
			select {
			case lines <- struct{}{}:
			default:
			}
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(committed)
	}

	// Kill it mid-load: registrations still coming, offers being made and delivered.
	const wantCommitted, wantDelivered = 100, 20
	deadline := time.After(2 * waitLong)
	for count() < wantCommitted || len(rcv.OfType(webhook.EventCreditOfferAvailable)) < wantDelivered {
		select {
		case <-lines:
		case <-time.After(50 * time.Millisecond):
		case <-readDone:
			t.Fatalf("the child exited by itself: %s", stderr.String())
		case <-deadline:
			t.Fatalf("the child committed %d registrations and %d offers arrived; stderr: %s",
				count(), len(rcv.OfType(webhook.EventCreditOfferAvailable)), stderr.String())
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	<-readDone
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "wait: %v", err)
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the child died of SIGKILL: %v", err)
	assert.NotContains(t, stderr.String(), "DATA RACE")
	mu.Lock()
	seen := append([]string(nil), committed...)
	assert.Empty(t, errs, "the child's registrations all succeeded")
	mu.Unlock()
	delivered := len(rcv.OfType(webhook.EventCreditOfferAvailable))

	// Restart on the same database, on the real clock: the jobs the child was running keep
	// its lease until their last heartbeat's lease runs out, then the restarted Service
	// takes them over.
	killed := time.Now()
	svc := newService(t, db.open(t), onboarding.Options{Scorer: scoring.Sandbox{}, WorkerID: "restarted"})
	pending, err := svc.Store().ListJobs(context.Background(), onboarding.ListJobsParams{State: onboarding.JobAvailable})
	require.NoError(t, err)
	running, err := svc.Store().ListJobs(context.Background(), onboarding.ListJobsParams{State: onboarding.JobRunning})
	require.NoError(t, err)
	customers := allCustomers(t, svc)
	t.Logf("killed after %d committed registrations (%d in the database), %d offers delivered; %d jobs available, %d running",
		len(seen), len(customers), delivered, len(pending), len(running))
	run(t, svc)
	require.Eventually(t, func() bool {
		jobs, err := svc.Store().ListJobs(context.Background(), onboarding.ListJobsParams{State: onboarding.JobRunning})
		require.NoError(t, err)
		for _, j := range jobs {
			if j.LockedBy == "crash-child" {
				return false
			}
		}
		return true
	}, childLease+5*time.Second, 20*time.Millisecond, "the dead child's jobs are taken over within its lease")
	t.Logf("the dead child's jobs were taken over %s after the kill (lease %s)", time.Since(killed).Round(100*time.Millisecond), childLease)

	inDB := map[string]bool{}
	for _, c := range customers {
		inDB[c.ID] = true
	}
	for _, id := range seen {
		assert.True(t, inDB[id], "committed customer %s lost", id)
	}
	rcv.WaitFor(2*waitLong, "a credit_offer.available per customer", func(evs []webhook.Event) bool { return len(evs) >= len(customers) })
	require.Eventually(t, func() bool { // the deliveries are recorded as such
		for _, st := range []onboarding.JobState{onboarding.JobAvailable, onboarding.JobRunning} {
			jobs, err := svc.Store().ListJobs(context.Background(), onboarding.ListJobsParams{State: st})
			require.NoError(t, err)
			for _, j := range jobs {
				if j.Kind != onboarding.JobExpireOffer && j.Kind != onboarding.JobSweepBlobs {
					return false
				}
			}
		}
		return true
	}, waitLong, 20*time.Millisecond, "every job done")

	offers := offersByCustomer(t, svc)
	byCustomer := map[string]int{}
	for _, e := range rcv.Events() {
		byCustomer[customerOf(t, e)]++
	}
	for _, c := range customers {
		assert.Len(t, offers[c.ID], 1, "offers of %s", c.ID)
		assert.Equal(t, 1, byCustomer[c.ID], "credit_offer.available webhooks of %s", c.ID)
	}
	assert.Len(t, offers, len(customers))
	assert.Len(t, eventsOfType(t, svc, onboarding.EventCreditOfferAvailable), len(customers))
	dead, err := svc.Store().ListJobs(context.Background(), onboarding.ListJobsParams{State: onboarding.JobDead})
	require.NoError(t, err)
	assert.Empty(t, dead)
	distinct, dups, bad := rcv.Stats()
	assert.Equal(t, len(customers), distinct)
	assert.Empty(t, bad)
	t.Logf("after the restart: %d customers, %d offers, %d distinct webhooks, %d redelivered (at least once)",
		len(customers), len(offers), distinct, dups)
}
