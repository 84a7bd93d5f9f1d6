package worker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// With a zero completed retention, a completed execution's record goes at
// once, and its key can be added again; a failed one stays for the
// retention, as does a completed one without the option.
func TestZeroCompletedRetentionDeletesCompletedRecords(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("maybe", func(ctx context.Context, in Greeting) error {
			if in.Name == "fail" {
				return errors.New("no")
			}
			return nil
		})
		env.Register(task)
		d := env.Docket()
		ok, err := task.Add(t.Context(), d, Greeting{"ok"}, sdk.Key("ok"))
		require.NoError(t, err)
		failed, err := task.Add(t.Context(), d, Greeting{"fail"}, sdk.Key("fail"))
		require.NoError(t, err)
		env.RunUntilIdle()

		_, err = ok.Info(t.Context())
		assert.ErrorIs(t, err, sdk.ErrNotFound, "the completed record is gone")
		info, err := failed.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State, "a failure stays for the retention")

		again, err := task.Add(t.Context(), d, Greeting{"ok"}, sdk.Key("ok"))
		require.NoError(t, err)
		assert.Equal(t, sdk.Scheduled, again.Disposition(), "its key is free again")
		env.RunUntilIdle()
		assert.Len(t, env.Runs("maybe"), 3)
	}, testsuite.WithDocketOptions(sdk.WithCompletedRetention(0)))
}

func TestCompletedRetentionOfItsOwn(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("quick", func(ctx context.Context, in Greeting) error { return nil })
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), Greeting{"x"})
		require.NoError(t, err)
		env.RunUntilIdle()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)

		env.Advance(59 * time.Second)
		_, err = ex.Info(t.Context())
		require.NoError(t, err, "kept for its own retention")
		env.Advance(2 * time.Second)
		_, err = ex.Info(t.Context())
		assert.ErrorIs(t, err, sdk.ErrNotFound, "and no longer")
	}, testsuite.WithDocketOptions(sdk.WithRetention(time.Hour), sdk.WithCompletedRetention(time.Minute)))
}

func TestNegativeCompletedRetentionIsRefused(t *testing.T) {
	_, err := sdk.Open(t.Context(), "memory://negative-retention", sdk.WithCompletedRetention(-time.Second))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "completed retention must not be negative")
}

// Deleting completed records frees the concurrency slots they held, so the
// tasks waiting for them run, and tells watchers the execution completed;
// a watched one leaves a short-lived tombstone that says so.
func TestZeroCompletedRetentionWithLimitsAndWatchers(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex
		running, most := 0, 0
		task := sdk.NewTask("one_at_a_time", func(ctx context.Context, in Greeting) error {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(time.Second)
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}, policy.TaskConcurrency(1))
		env.Register(task)
		d := env.Docket()
		var keys []string
		for _, name := range []string{"a", "b", "c"} {
			ex, err := task.Add(t.Context(), d, Greeting{name})
			require.NoError(t, err)
			keys = append(keys, ex.Key())
		}
		events, err := d.Watch(t.Context(), keys[2])
		require.NoError(t, err)
		var states []sdk.State
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range events {
				if !ev.IsProgress {
					states = append(states, ev.State)
				}
			}
		}()
		env.Advance(time.Minute)
		<-done

		assert.Len(t, env.Runs("one_at_a_time"), 3, "each slot freed by a deleted record went to the next")
		mu.Lock()
		assert.Equal(t, 1, most)
		mu.Unlock()
		require.NotEmpty(t, states)
		assert.Equal(t, sdk.StateCompleted, states[len(states)-1], "the watcher saw it complete: %v", states)
		for _, key := range keys[:2] {
			_, err := d.Execution(key).Info(t.Context())
			assert.ErrorIs(t, err, sdk.ErrNotFound)
		}
		// The watched one leaves a tombstone for a while, so that a watcher
		// cut off when it completed still learns it did.
		info, err := d.Execution(keys[2]).Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		env.Advance(2 * time.Hour) // the watch's registration (an hour under the testsuite) and more
		_, err = d.Execution(keys[2]).Info(t.Context())
		assert.ErrorIs(t, err, sdk.ErrNotFound, "and then nothing")
		// The leak check that ends the test finds any slot or key left behind.
	}, testsuite.WithDocketOptions(sdk.WithCompletedRetention(0)))
}

// Call gets the result of a task that completes at once on a docket that
// keeps no completed records: it follows the task before adding it, so the
// record leaves its result for it. (It used to add first, and found
// nothing: ErrNotFound for a task that had completed.)
func TestCallWithoutCompletedRetention(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		double := sdk.NewResultTask("double", func(ctx context.Context, in Order) (int, error) { return 2 * in.ID, nil })
		env.Register(double)
		for i := range 5 {
			v, err := double.Call(t.Context(), env.Docket(), Order{ID: i})
			require.NoError(t, err)
			assert.Equal(t, 2*i, v)
		}
		v, err := double.Call(t.Context(), env.Docket(), Order{ID: 21}, sdk.Key("keyed"))
		require.NoError(t, err)
		assert.Equal(t, 42, v)
	}, testsuite.WithDocketOptions(sdk.WithCompletedRetention(0)))
}
