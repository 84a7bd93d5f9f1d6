package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
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
		task := sdk.NewTask("guarded", windsDown(returned, started), policy.Concurrency("customer_id", 1))
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
		task := sdk.NewTask("report", greetingWindsDown(windDown, returned, started))
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

// greetingWindsDown is a task's function whose "v1" runs honour their
// context but take wind to return once it ends, reporting when on returned;
// the other runs report when they start on started (either may be nil).
func greetingWindsDown(wind time.Duration, returned, started chan<- time.Time) func(ctx context.Context, in Greeting) error {
	return func(ctx context.Context, in Greeting) error {
		if in.Name != "v1" {
			if started != nil {
				started <- time.Now()
			}
			return nil
		}
		<-ctx.Done()
		time.Sleep(wind)
		if returned != nil {
			returned <- time.Now()
		}
		return ctx.Err()
	}
}

// windsDown is a task's function whose "first" run honours its context but
// takes windDown to return once it ends, reporting when on returned; the
// other runs report when they start on started.
func windsDown(returned, started chan<- time.Time) func(ctx context.Context, in CustomerJob) error {
	return func(ctx context.Context, in CustomerJob) error {
		if in.Step != "first" {
			started <- time.Now()
			return nil
		}
		<-ctx.Done()
		time.Sleep(windDown)
		returned <- time.Now()
		return ctx.Err()
	}
}

// The replacement of a running task, cancelled while it waits for the run it
// replaced, and whose record then expires (a retention of a second) before
// that run returns: the slot the run held still goes to the task waiting
// for it, once the run has returned. (The drain's state is kept beside the
// drain, not in a record that may go.)
func TestDrainOutlivesTheRecordsOfItsKey(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		returned, started := make(chan time.Time, 1), make(chan time.Time, 2)
		task := sdk.NewTask("guarded", windsDown(returned, started), policy.Concurrency("customer_id", 1))
		env.Register(task)
		d := env.Docket()
		_, err := task.Add(t.Context(), d, CustomerJob{1, "first"}, sdk.Key("a"))
		require.NoError(t, err)
		_, err = task.Add(t.Context(), d, CustomerJob{1, "second"}, sdk.Key("b"))
		require.NoError(t, err)
		env.Advance(time.Second)
		_, err = task.Replace(t.Context(), d, CustomerJob{1, "replacement"}, sdk.Key("a"))
		require.NoError(t, err)
		require.NoError(t, d.Cancel(t.Context(), "a")) // the replacement, waiting for the drain
		env.Advance(time.Hour)

		end := <-returned
		assert.WithinRange(t, <-started, end, end.Add(10*time.Millisecond), "b starts once a's run has returned")
		assert.Empty(t, started, "the cancelled replacement never runs")
	}, testsuite.WithDocketOptions(sdk.WithRetention(time.Second)), testsuite.WithWorkerOptions(worker.Options{Lease: 30 * time.Second}))
}

// An add under a key whose cancelled run is still winding down waits for it,
// even once the records of the key's executions have expired.
func TestAddAfterTheRecordsExpiredWaitsForTheDrain(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		returned, started := make(chan time.Time, 1), make(chan time.Time, 1)
		task := sdk.NewTask("report", greetingWindsDown(4*time.Second, returned, started))
		env.Register(task)
		d := env.Docket()
		_, err := task.Add(t.Context(), d, Greeting{"v1"}, sdk.Key("k"))
		require.NoError(t, err)
		env.Advance(time.Second)
		_, err = task.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("k"))
		require.NoError(t, err)
		require.NoError(t, d.Cancel(t.Context(), "k"))
		env.Advance(1500 * time.Millisecond) // the cancelled v2's record (retention 1 s) is gone
		_, err = d.Execution("k").Info(t.Context())
		require.ErrorIs(t, err, sdk.ErrNotFound)
		_, err = task.Add(t.Context(), d, Greeting{"v3"}, sdk.Key("k"))
		require.NoError(t, err)
		env.Advance(10 * time.Second)
		end := <-returned
		assert.WithinRange(t, <-started, end, end.Add(10*time.Millisecond))
	}, testsuite.WithDocketOptions(sdk.WithRetention(time.Second)))
}

// With a lease shorter than the grace a cancelled function has to return,
// the drain lasts while its worker still has the run (its renewals move the
// drain's deadline on), not only until the lease it had when cancelled.
func TestDrainLastsPastAShortLease(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		returned, started := make(chan time.Time, 1), make(chan time.Time, 1)
		task := sdk.NewTask("report", greetingWindsDown(4*time.Second, returned, started)) // within the 5 s grace
		env.Register(task)
		d := env.Docket()
		_, err := task.Add(t.Context(), d, Greeting{"v1"}, sdk.Key("daily"))
		require.NoError(t, err)
		env.Advance(1500 * time.Millisecond)
		replaced := env.Now()
		_, err = task.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("daily"))
		require.NoError(t, err)
		env.Advance(time.Minute)
		end := <-returned
		assert.Equal(t, replaced.Add(4*time.Second), end)
		assert.WithinRange(t, <-started, end, end.Add(10*time.Millisecond))
	}, testsuite.WithWorkerOptions(worker.Options{Lease: 3 * time.Second}))
}

// A workflow's child cancelled when the workflow failed is started again by
// the workflow's retry under the same key: the new child waits for the
// cancelled one to return, and no drain is left behind.
func TestChildStartedAgainWaitsForItsCancelledRun(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex
		var oldReturned, newStarted time.Time
		var childRuns, workflowRuns atomic.Int32
		child := sdk.NewTask("child", func(ctx context.Context, in Greeting) error {
			if childRuns.Add(1) == 1 {
				<-ctx.Done()
				time.Sleep(windDown)
				mu.Lock()
				oldReturned = time.Now()
				mu.Unlock()
				return ctx.Err()
			}
			mu.Lock()
			newStarted = time.Now()
			mu.Unlock()
			return nil
		})
		parent := sdk.NewTask("parent", func(ctx context.Context, in Greeting) error {
			if _, err := workflow.StartTask(ctx, child, "c", Greeting{"c"}); err != nil {
				return err
			}
			if workflowRuns.Add(1) == 1 {
				time.Sleep(time.Second)
				return sdk.Permanent(errors.New("boom"))
			}
			time.Sleep(10 * time.Second)
			return nil
		})
		env.Register(child, parent)
		d := env.Docket()
		_, err := parent.Add(t.Context(), d, Greeting{}, sdk.Key("w"))
		require.NoError(t, err)
		env.Advance(1500 * time.Millisecond) // w failed at 1 s; its child, cancelled, winds down until 3 s
		info, err := d.Execution("w").Info(t.Context())
		require.NoError(t, err)
		require.Equal(t, sdk.StateFailed, info.State)
		require.NoError(t, d.Retry(t.Context(), "w"))
		env.Advance(time.Minute)

		mu.Lock()
		defer mu.Unlock()
		require.False(t, oldReturned.IsZero())
		require.False(t, newStarted.IsZero(), "the child started again runs")
		assert.WithinRange(t, newStarted, oldReturned, oldReturned.Add(10*time.Millisecond))
		n, err := d.Redis().Exists(t.Context(), "docket:{"+d.Name()+"}:draining").Result()
		require.NoError(t, err)
		assert.Zero(t, n, "no drain left")
	})
}

// Clear cancels the replacement that waits for its replaced run to end,
// however many cancelled runs drain beside it.
func TestClearReachesAReplacementBehindManyDrains(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("slow", greetingWindsDown(windDown, nil, nil))
		env.Register(task)
		d := env.Docket()
		for i := range 1000 {
			_, err := task.Add(t.Context(), d, Greeting{"v1"}, sdk.Key(fmt.Sprintf("k%04d", i)))
			require.NoError(t, err)
		}
		_, err := task.Add(t.Context(), d, Greeting{"v1"}, sdk.Key("zzz"))
		require.NoError(t, err)
		env.Advance(time.Second)
		for i := range 1000 {
			require.NoError(t, d.Cancel(t.Context(), fmt.Sprintf("k%04d", i)))
		}
		_, err = task.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("zzz"))
		require.NoError(t, err)
		n, err := d.Clear(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		info, err := d.Execution("zzz").Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCancelled, info.State)
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1100}))
}

// An automatic perpetual chain cancelled while it runs is seeded again at
// once: its next run waits for the cancelled one to return.
func TestReseededChainWaitsForItsCancelledRun(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex
		var returned time.Time
		var starts []time.Time
		var runs atomic.Int32
		tick := sdk.NewTask("tick", func(ctx context.Context, in struct{}) error {
			n := runs.Add(1)
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			if n == 1 {
				<-ctx.Done()
				time.Sleep(windDown)
				mu.Lock()
				returned = time.Now()
				mu.Unlock()
				return ctx.Err()
			}
			return nil
		}, policy.Perpetual(time.Hour, policy.Automatic()))
		env.Register(tick)
		env.Advance(time.Second)
		require.NoError(t, env.Docket().Cancel(t.Context(), "tick"))
		env.Advance(10 * time.Second)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, starts, 2)
		assert.WithinRange(t, starts[1], returned, returned.Add(10*time.Millisecond))
	})
}

// A Fallback handler that ignores its context, whose message is replaced
// while it runs, is abandoned after the grace as a task's function is: the
// replacement does not wait for it for ever.
func TestFallbackIgnoringItsContextIsAbandonedAfterAGrace(t *testing.T) {
	// Made inside the bubble (see testsuite.Run), which the fallback, given
	// before it, reaches through these.
	var mu sync.Mutex
	var release chan struct{}
	var started chan time.Time
	fallback := func(ctx context.Context, task string, input json.RawMessage) error {
		mu.Lock()
		rel, st := release, started
		mu.Unlock()
		var in Greeting
		if err := json.Unmarshal(input, &in); err == nil && in.Name == "v2" {
			st <- time.Now()
			return nil
		}
		<-rel // ignores its context
		return nil
	}
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		mu.Lock()
		release, started = make(chan struct{}), make(chan time.Time, 1)
		rel, st := release, started
		mu.Unlock()
		ghost := sdk.NewTask("ghost", func(ctx context.Context, in Greeting) error { return nil }) // not registered
		d := env.Docket()
		_, err := ghost.Add(t.Context(), d, Greeting{"v1"}, sdk.Key("g"))
		require.NoError(t, err)
		env.Advance(time.Second)
		replaced := env.Now()
		_, err = ghost.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("g"))
		require.NoError(t, err)
		env.Advance(time.Minute)
		grace := replaced.Add(store.CancelGrace)
		select {
		case at := <-st:
			assert.WithinRange(t, at, grace, grace.Add(10*time.Millisecond))
		case <-time.After(time.Hour):
			t.Error("the replacement had not started an hour after the Replace")
		}
		close(rel)
	}, testsuite.WithWorkerOptions(worker.Options{Fallback: fallback}))
}
