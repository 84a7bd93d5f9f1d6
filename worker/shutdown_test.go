package worker_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// bubbleDocket opens a docket on an embedded Redis inside the current
// synctest bubble, for tests that drive a worker themselves.
func bubbleDocket(t *testing.T) *sdk.Docket {
	rdb, closeRedis := store.Embedded()
	d, err := sdk.OpenClient(rdb, sdk.WithName("shutdown"))
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = d.Close()
		_ = closeRedis()
	})
	return d
}

// On shutdown a worker stops claiming and lets running tasks finish.
func TestShutdownDrainsRunningTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		task := sdk.NewTask("slow", func(ctx context.Context, in Order) error {
			time.Sleep(10 * time.Second)
			return ctx.Err()
		})
		require.NoError(t, d.Register(task))
		running, err := task.Add(t.Context(), d, Order{ID: 1})
		require.NoError(t, err)
		w := worker.New(d, worker.Options{Concurrency: 1, DrainTimeout: time.Minute})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		time.Sleep(time.Second)
		queued, err := task.Add(t.Context(), d, Order{ID: 2})
		require.NoError(t, err)

		t0 := time.Now()
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, 9*time.Second, time.Since(t0), "Run returns when the running task ends")

		info, err := running.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State, "its context stayed alive during the drain")
		info, err = queued.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State, "nothing new is claimed")
		snap, err := d.Snapshot(t.Context())
		require.NoError(t, err)
		assert.Empty(t, snap.Workers, "the worker unregistered")
	})
}

// Tasks still running when the drain timeout ends are cancelled and handed
// back, to be run again by another worker.
func TestDrainTimeoutHandsTasksBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		var causes []error
		task := sdk.NewTask("endless", func(ctx context.Context, in Order) error {
			<-ctx.Done()
			causes = append(causes, context.Cause(ctx))
			return ctx.Err()
		})
		require.NoError(t, d.Register(task))
		ex, err := task.Add(t.Context(), d, Order{ID: 1})
		require.NoError(t, err)
		w := worker.New(d, worker.Options{DrainTimeout: 5 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		time.Sleep(time.Second)

		t0 := time.Now()
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, 5*time.Second, time.Since(t0))
		assert.Equal(t, []error{sdk.ErrShutdown}, causes)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State, "handed back, due now")
		assert.Equal(t, 1, info.Attempt, "not counted as a failed attempt")
		assert.Equal(t, 0, info.Deliveries, "nor as a delivery")

		// The next worker runs it at once, without waiting for a lease.
		ctx2, cancel2 := context.WithCancel(t.Context())
		done2 := make(chan error)
		go func() { done2 <- worker.New(d, worker.Options{}).Run(ctx2) }()
		synctest.Wait()
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateRunning, info.State)
		require.NoError(t, d.Cancel(t.Context(), ex.Key()))
		cancel2()
		require.NoError(t, <-done2)
	})
}

// However short the drain timeout, the tasks it cuts short are handed
// back: the hand-back lands in a round trip, which the drain timeout does
// not bound. Cut short by a nanosecond, a running task is queued again
// once Run returns (not left running until its lease lapses, which would
// count as a delivery lost), and so is one whose worker stopped by Close.
func TestAShortDrainTimeoutStillHandsTasksBack(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		for _, stop := range []string{"context", "close"} {
			// The worker's own docket, which "close" closes.
			wd, err := sdk.Open(t.Context(), b.URL, sdk.WithName(d.Name()))
			require.NoError(t, err)
			started := make(chan string, 1)
			task := sdk.NewTask("endless", func(ctx context.Context, in Order) error {
				started <- sdk.Current(ctx).Key()
				<-ctx.Done()
				return ctx.Err()
			})
			require.NoError(t, wd.Register(task))
			ex, err := task.Add(t.Context(), d, Order{ID: 1})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- worker.New(wd, worker.Options{DrainTimeout: time.Nanosecond}).Run(ctx) }()
			waitFor(t, started, 1)
			if stop == "close" {
				require.NoError(t, wd.Close())
				assert.ErrorIs(t, <-done, sdk.ErrClosed)
			} else {
				cancel()
				require.NoError(t, <-done)
				require.NoError(t, wd.Close())
			}
			cancel()
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateQueued, info.State, "%s: handed back, due now", stop)
			assert.Equal(t, 0, info.Deliveries, "%s: not counted as a delivery", stop)
			require.NoError(t, d.Cancel(t.Context(), ex.Key()))
		}
	})
}
