package worker_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
