package storeutil_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/store/storeutil"
)

// isRead tells the reads of onboarding.Queries from its writes.
func isRead(method string) bool {
	for _, prefix := range []string{"Get", "Find", "List", "Search", "Count"} {
		if strings.HasPrefix(method, prefix) {
			return true
		}
	}
	return method == "DocumentKeyExists" || method == "CountJobs" || method == "NextJobAt"
}

// TestRouting calls every method of onboarding.Queries on an AutoCommit whose Queries are
// nil: the call panics once it has chosen its path, and the test sees which one it took.
func TestRouting(t *testing.T) {
	var reads, dones, writes int
	ac := &storeutil.AutoCommit{
		Read: func(context.Context) (onboarding.Queries, func()) {
			reads++
			return nil, func() { dones++ }
		},
		Write: func(_ context.Context, fn func(q onboarding.Queries) error) error {
			writes++
			return fn(nil)
		},
	}
	queries := reflect.TypeFor[onboarding.Queries]()
	require.Greater(t, queries.NumMethod(), 40)
	v := reflect.ValueOf(ac)
	for i := range queries.NumMethod() {
		m := queries.Method(i)
		t.Run(m.Name, func(t *testing.T) {
			reads, dones, writes = 0, 0, 0
			args := []reflect.Value{reflect.ValueOf(context.Background())}
			for j := 1; j < m.Type.NumIn(); j++ {
				args = append(args, reflect.Zero(m.Type.In(j)))
			}
			assert.Panics(t, func() { v.MethodByName(m.Name).Call(args) }, "the nil Queries was called")
			if isRead(m.Name) {
				assert.Equal(t, [3]int{1, 1, 0}, [3]int{reads, dones, writes}, "a read: Read once, done once, no Write")
			} else {
				assert.Equal(t, [3]int{0, 0, 1}, [3]int{reads, dones, writes}, "a write: Write once, no Read")
			}
		})
	}
}

// job is a Queries answering GetJob and ClaimJobs only.
type job struct {
	onboarding.Queries
	j   *onboarding.Job
	err error
}

func (q job) GetJob(context.Context, string) (*onboarding.Job, error) { return q.j, q.err }

func (q job) ClaimJobs(context.Context, onboarding.ClaimParams) ([]*onboarding.Job, error) {
	return []*onboarding.Job{q.j}, q.err
}

func TestResults(t *testing.T) {
	ctx := context.Background()
	want := &onboarding.Job{ID: "job_1"}
	boom := errors.New("boom")
	ac := &storeutil.AutoCommit{Read: storeutil.ReadFrom(job{j: want}),
		Write: func(_ context.Context, fn func(q onboarding.Queries) error) error { return fn(job{j: want, err: boom}) }}
	got, err := ac.GetJob(ctx, "job_1")
	require.NoError(t, err)
	assert.Same(t, want, got)
	claimed, err := ac.ClaimJobs(ctx, onboarding.ClaimParams{})
	assert.ErrorIs(t, err, boom, "the write's error")
	assert.Equal(t, []*onboarding.Job{want}, claimed)
}

// TestReadAllocs checks that a read through ReadFrom costs no allocation of its own.
func TestReadAllocs(t *testing.T) {
	ctx := context.Background()
	ac := &storeutil.AutoCommit{Read: storeutil.ReadFrom(job{j: &onboarding.Job{}})}
	allocs := testing.AllocsPerRun(100, func() { _, _ = ac.GetJob(ctx, "job_1") })
	assert.Zero(t, allocs)
}

func TestWriteInTx(t *testing.T) {
	ctx := context.Background()
	var units int
	inTx := func(ctx context.Context, fn func(ctx context.Context, q onboarding.Queries) error) error {
		units++
		return fn(ctx, job{j: &onboarding.Job{ID: "job_2"}})
	}
	ac := &storeutil.AutoCommit{Write: storeutil.WriteInTx(inTx)}
	claimed, err := ac.ClaimJobs(ctx, onboarding.ClaimParams{})
	require.NoError(t, err)
	assert.Equal(t, "job_2", claimed[0].ID)
	assert.Equal(t, 1, units)
}
