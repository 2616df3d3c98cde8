package onboarding_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/pgtest"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/store/memstore"
)

// wakeStores are the stores the wake-up test runs on: memstore, SQLite and PostgreSQL
// (skipped without ONBOARDING_TEST_POSTGRES_DSN).
func wakeStores() map[string]func(t *testing.T) onboarding.Store {
	return map[string]func(t *testing.T) onboarding.Store{
		"memstore": func(*testing.T) onboarding.Store { return memstore.New() },
		"sqlite": func(t *testing.T) onboarding.Store {
			db, err := bunstore.OpenSQLite(filepath.Join(t.TempDir(), "onboarding.db"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			require.NoError(t, bunstore.Migrate(context.Background(), db))
			return bunstore.New(db, nil)
		},
		"postgres": func(t *testing.T) onboarding.Store {
			db, err := bunstore.OpenPostgres(pgtest.SchemaDSN(t, "wakeup"))
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			require.NoError(t, bunstore.Migrate(context.Background(), db))
			return bunstore.New(db, nil)
		},
	}
}

// flakyScorer fails its first call and records when each call began.
type flakyScorer struct {
	mu    sync.Mutex
	calls []time.Time
	again chan struct{}
}

func (f *flakyScorer) Score(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	n := len(f.calls)
	f.mu.Unlock()
	if n == 1 {
		return scoring.Decision{}, errors.New("scorer unavailable")
	}
	select {
	case f.again <- struct{}{}:
	default:
	}
	return scoring.Sandbox{}.Score(ctx, req)
}

// TestRunWakesForRetry: a job that fails is retried when its retry is due, not at the next
// poll. The retry is due 50 ms after the failure while PollInterval is 1 s; Run sleeps
// until the retry's run_at (NextJobAt) and runs it then. The bound asserted is loose (the
// machine may be loaded): well under the poll interval; the measured delay is logged.
func TestRunWakesForRetry(t *testing.T) {
	t.Parallel()
	const retry = 50 * time.Millisecond
	for name, open := range wakeStores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			scorer := &flakyScorer{again: make(chan struct{}, 1)}
			svc := onboardingtest.NewService(t, open(t), &onboarding.Options{Scorer: scorer, PollInterval: time.Second,
				Logger: slog.New(slog.DiscardHandler)})
			onboarding.SetRetryDelay(svc, func(int) time.Duration { return retry })
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- svc.Run(ctx) }()
			defer func() {
				cancel()
				require.NoError(t, <-done)
			}()
			// Let Run settle into its first sleep (nothing due: up to PollInterval).
			time.Sleep(100 * time.Millisecond)
			_, _, err := svc.CreateCustomer(context.Background(), "p1", params(t))
			require.NoError(t, err)
			select {
			case <-scorer.again:
			case <-time.After(5 * time.Second):
				t.Fatal("the retry never ran")
			}
			scorer.mu.Lock()
			defer scorer.mu.Unlock()
			require.Len(t, scorer.calls, 2)
			took := scorer.calls[1].Sub(scorer.calls[0])
			t.Logf("retry due %v after the failure ran %v after it (PollInterval 1s)", retry, took)
			assert.GreaterOrEqual(t, took, retry, "not before it was due")
			assert.Less(t, took, 400*time.Millisecond, "run when due, not at the next poll")
		})
	}
}
