package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// windDown is how long the cancelled functions below take to return once
// their context ends: they honour it, but cleaning up takes a moment.
const windDown = 2 * time.Second

// A running task that is cancelled keeps its concurrency slot until its
// function returns: the task waiting for the slot starts then, not while
// the cancelled one still runs.
func TestCancelledTaskKeepsItsSlotUntilItReturns(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		returned, started := make(chan time.Time, 1), make(chan time.Time, 1)
		task := sdk.NewTask("guarded", func(ctx context.Context, in CustomerJob) error {
			if in.Step == "second" {
				started <- time.Now()
				return nil
			}
			<-ctx.Done()
			time.Sleep(windDown)
			returned <- time.Now()
			return ctx.Err()
		}, policy.Concurrency("customer_id", 1))
		env.Register(task)
		d := env.Docket()
		first, err := task.Add(t.Context(), d, CustomerJob{1, "first"})
		require.NoError(t, err)
		_, err = task.Add(t.Context(), d, CustomerJob{1, "second"})
		require.NoError(t, err)
		env.Advance(time.Second)
		require.Empty(t, started, "the second waits for the slot")

		cancelled := env.Now()
		require.NoError(t, d.Cancel(t.Context(), first.Key()))
		info, err := first.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCancelled, info.State, "cancelled at once")
		env.Advance(time.Minute)

		end := <-returned
		assert.Equal(t, cancelled.Add(windDown), end)
		assert.WithinRange(t, <-started, end, end.Add(10*time.Millisecond),
			"the second starts once the first has returned, not while it winds down")
	})
}

// The replacement of a running task starts once the run it replaces has
// returned: two runs of one key never overlap.
func TestReplacementStartsWhenTheReplacedRunReturns(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		returned, started := make(chan time.Time, 1), make(chan time.Time, 1)
		task := sdk.NewTask("report", func(ctx context.Context, in Greeting) error {
			if in.Name == "v2" {
				started <- time.Now()
				return nil
			}
			<-ctx.Done()
			time.Sleep(windDown)
			returned <- time.Now()
			return ctx.Err()
		})
		env.Register(task)
		d := env.Docket()
		_, err := task.Add(t.Context(), d, Greeting{"v1"}, sdk.Key("daily"))
		require.NoError(t, err)
		env.Advance(time.Second)

		replaced := env.Now()
		_, err = task.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("daily"))
		require.NoError(t, err)
		env.Advance(time.Minute)

		end := <-returned
		assert.Equal(t, replaced.Add(windDown), end)
		assert.WithinRange(t, <-started, end, end.Add(10*time.Millisecond))
		info, err := d.Execution("daily").Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A cancelled function that ignores its context is abandoned after a grace
// of 5 s: what it held is freed then, though it goes on.
func TestCancelledTaskIgnoringItsContextIsAbandonedAfterAGrace(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		release := make(chan struct{})
		started := make(chan time.Time, 1)
		task := sdk.NewTask("stubborn", func(ctx context.Context, in Greeting) error {
			if in.Name == "v2" {
				started <- time.Now()
				return nil
			}
			<-release // ignores ctx
			return nil
		})
		env.Register(task)
		d := env.Docket()
		_, err := task.Add(t.Context(), d, Greeting{"v1"}, sdk.Key("k"))
		require.NoError(t, err)
		env.Advance(time.Second)
		replaced := env.Now()
		_, err = task.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("k"))
		require.NoError(t, err)
		env.Advance(time.Minute)
		assert.WithinRange(t, <-started, replaced.Add(5*time.Second), replaced.Add(5*time.Second+10*time.Millisecond))
		close(release)
	})
}
