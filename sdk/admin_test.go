package sdk_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/workflow"
)

// RunNow runs a task scheduled for an hour later at once; a running task,
// or one that ended, is refused with a sentinel that says which.
func TestRunNow(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		d := openChecked(t, b.URL)
		release := make(chan struct{})
		var ran atomic.Int32
		task := sdk.NewTask("report", func(ctx context.Context, j Job) error {
			ran.Add(1)
			if j.Step == 1 {
				<-release
			}
			return nil
		})
		require.NoError(t, d.Register(task))
		runWorker(t, d)

		later, err := task.Add(ctx, d, Job{Customer: 1}, sdk.After(time.Hour))
		require.NoError(t, err)
		info, err := later.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, sdk.StateScheduled, info.State)
		require.NoError(t, d.RunNow(ctx, later.Key()))
		done := waitUntil(t, later, "it completes", func(i sdk.Info) bool { return i.State == sdk.StateCompleted })
		assert.Equal(t, 1, done.Attempt)
		assert.Equal(t, int32(1), ran.Load())
		err = d.RunNow(ctx, later.Key())
		assert.ErrorIs(t, err, sdk.ErrNotFound, "it ended: no live task has the key")
		assert.ErrorIs(t, err, sdk.ErrWrongState, "and its state is why")
		assert.ErrorContains(t, err, "is completed, not scheduled")

		busy, err := task.Add(ctx, d, Job{Customer: 2, Step: 1})
		require.NoError(t, err)
		waitUntil(t, busy, "it runs", func(i sdk.Info) bool { return i.State == sdk.StateRunning })
		err = d.RunNow(ctx, busy.Key())
		require.ErrorIs(t, err, sdk.ErrWrongState)
		assert.Contains(t, err.Error(), "is running, not scheduled")
		close(release)
		waitUntil(t, busy, "it completes", func(i sdk.Info) bool { return i.State == sdk.StateCompleted })

		assert.ErrorIs(t, d.RunNow(ctx, "never-added"), sdk.ErrNotFound)
	})
}

// Retry runs a failed execution again from its first attempt, with its
// input; it refuses an execution that did not fail.
func TestRetry(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		d := openChecked(t, b.URL)
		var fixed atomic.Bool
		var mu sync.Mutex
		var inputs []int
		task := sdk.NewTask("charge", func(ctx context.Context, j Job) error {
			mu.Lock()
			inputs = append(inputs, j.Customer)
			mu.Unlock()
			if !fixed.Load() {
				return sdk.Permanent(errors.New("card declined"))
			}
			return nil
		})
		require.NoError(t, d.Register(task))
		runWorker(t, d)

		ex, err := task.Add(ctx, d, Job{Customer: 7})
		require.NoError(t, err)
		failed := waitUntil(t, ex, "it fails", func(i sdk.Info) bool { return i.State == sdk.StateFailed })
		assert.Equal(t, "card declined", failed.Error)
		assert.True(t, failed.Retried.IsZero())
		err = d.RunNow(ctx, ex.Key())
		assert.ErrorIs(t, err, sdk.ErrWrongState)
		assert.ErrorContains(t, err, "is failed, not scheduled; Retry runs a failed execution again", "RunNow points to Retry")

		fixed.Store(true)
		require.NoError(t, d.Retry(ctx, ex.Key()))
		done := waitUntil(t, ex, "it completes", func(i sdk.Info) bool { return i.State == sdk.StateCompleted })
		assert.Equal(t, 1, done.Attempt)
		assert.False(t, done.Retried.IsZero())
		assert.False(t, done.Retried.Before(failed.Finished))
		assert.Equal(t, failed.Created, done.Created, "the same execution, run again")
		mu.Lock()
		assert.Equal(t, []int{7, 7}, inputs)
		mu.Unlock()

		err = d.Retry(ctx, ex.Key())
		require.ErrorIs(t, err, sdk.ErrWrongState)
		assert.Contains(t, err.Error(), "is completed, not failed")
		assert.ErrorIs(t, d.Retry(ctx, "never-added"), sdk.ErrNotFound)

		// A live task in the schedule may be queued to Info (due): the
		// error does not call it scheduled alone.
		later, err := task.Add(ctx, d, Job{Customer: 8}, sdk.Key("later"), sdk.After(time.Hour))
		require.NoError(t, err)
		err = d.Retry(ctx, later.Key())
		require.ErrorIs(t, err, sdk.ErrWrongState)
		assert.Contains(t, err.Error(), `"later" is scheduled or queued, not failed`)
		require.NoError(t, d.Cancel(ctx, later.Key()))
	})
}

// A retried workflow does not run its done steps again, keeps the children
// that completed, and starts again those that failed.
func TestRetryWorkflow(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		d := openChecked(t, b.URL)
		var fixed atomic.Bool
		var steps, oks, flaky atomic.Int32
		okChild := sdk.NewResultTask("ok_child", func(ctx context.Context, j Job) (int, error) {
			oks.Add(1)
			return j.Customer, nil
		})
		flakyChild := sdk.NewResultTask("flaky_child", func(ctx context.Context, j Job) (int, error) {
			flaky.Add(1)
			if !fixed.Load() {
				return 0, errors.New("out of stock")
			}
			return j.Customer * 10, nil
		})
		flow := sdk.NewResultTask("order", func(ctx context.Context, j Job) (int, error) {
			charged, err := workflow.Step(ctx, "charge", func(ctx context.Context) (int, error) {
				steps.Add(1)
				return 100, nil
			})
			if err != nil {
				return 0, err
			}
			a, err := workflow.Start(ctx, okChild, "a", Job{Customer: 1})
			if err != nil {
				return 0, err
			}
			b, err := workflow.Start(ctx, flakyChild, "b", Job{Customer: 2})
			if err != nil {
				return 0, err
			}
			if err := workflow.Wait(ctx, a, b); err != nil {
				return 0, err
			}
			ra, err := a.Get(ctx)
			if err != nil {
				return 0, err
			}
			rb, err := b.Get(ctx)
			if err != nil {
				return 0, err
			}
			return charged + ra + rb, nil
		})
		require.NoError(t, d.Register(okChild, flakyChild, flow))
		runWorker(t, d)

		ex, err := flow.Add(ctx, d, Job{})
		require.NoError(t, err)
		failed := waitUntil(t, ex, "it fails", func(i sdk.Info) bool { return i.State == sdk.StateFailed })
		assert.Equal(t, sdk.ReasonChild, failed.Reason)

		fixed.Store(true)
		require.NoError(t, d.Retry(ctx, ex.Key()))
		waitUntil(t, ex, "it completes", func(i sdk.Info) bool { return i.State == sdk.StateCompleted })
		out, err := flow.Result(ctx, ex)
		require.NoError(t, err)
		assert.Equal(t, 121, out)
		assert.Equal(t, int32(1), steps.Load(), "the step done is not run again")
		assert.Equal(t, int32(1), oks.Load(), "the child that completed is not run again")
		assert.Equal(t, int32(2), flaky.Load(), "the child that failed runs again")
	})
}
