package worker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// openDocket opens a docket with a fresh name on the backend, checks for
// leaked keys when the test ends, and closes it.
func openDocket(t *testing.T, url string, opts ...sdk.Option) *sdk.Docket {
	t.Helper()
	name := redistest.Name(t)
	d, err := sdk.Open(context.Background(), url, append([]sdk.Option{sdk.WithName(name)}, opts...)...)
	require.NoError(t, err)
	// Cleanups run last-registered first: workers stop, then the leak
	// check, then the docket closes.
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, d.Redis(), name)
	return d
}

// runWorker runs w until the test ends, and fails the test if Run returns
// an error.
func runWorker(t *testing.T, w *worker.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
}

// waitFor waits for n values on ch, failing the test after a generous real
// deadline (this bounds a hang; it does not measure anything).
func waitFor[T any](t *testing.T, ch <-chan T, n int) []T {
	t.Helper()
	var got []T
	deadline := time.After(time.Minute)
	for len(got) < n {
		select {
		case v := <-ch:
			got = append(got, v)
		case <-deadline:
			t.Fatalf("waited a minute for %d values, got %d", n, len(got))
		}
	}
	return got
}

// Several workers on a real Redis share the work: every task runs exactly
// once, retries included, and nothing leaks.
func TestWorkersShareTasks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		type done struct {
			key     string
			attempt int
		}
		ran := make(chan done, 1000)
		task := sdk.NewTask("share", func(ctx context.Context, in Order) error {
			cur := sdk.Current(ctx)
			ran <- done{cur.Key(), cur.Attempt()}
			if in.ID%10 == 0 && cur.Attempt() == 1 {
				return fmt.Errorf("order %d: first attempt fails", in.ID)
			}
			return nil
		}, policy.Retry(2, 0))
		require.NoError(t, d.Register(task))
		for i := 0; i < 3; i++ {
			runWorker(t, worker.New(d, worker.Options{Concurrency: 8, Name: fmt.Sprint("w", i)}))
		}
		ins := make([]Order, 300)
		for i := range ins {
			ins[i] = Order{ID: i}
		}
		exs, err := task.AddMany(context.Background(), d, ins)
		require.NoError(t, err)

		got := waitFor(t, ran, 330)
		seen := map[done]int{}
		for _, g := range got {
			seen[g]++
		}
		for _, ex := range exs {
			assert.Equal(t, 1, seen[done{ex.Key(), 1}], ex.Key())
		}
		assert.Len(t, seen, 330, "300 first attempts and 30 retries, each once")
		for _, ex := range exs {
			require.Eventually(t, func() bool {
				info, err := ex.Info(context.Background())
				return err == nil && info.State == sdk.StateCompleted
			}, 10*time.Second, 5*time.Millisecond)
		}
	})
}

func TestRunUntilIdle(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		var mu sync.Mutex
		count := 0
		task := sdk.NewTask("count", func(ctx context.Context, in Order) error {
			mu.Lock()
			defer mu.Unlock()
			count++
			return nil
		})
		require.NoError(t, d.Register(task))
		for i := range 25 {
			_, err := task.Add(context.Background(), d, Order{ID: i})
			require.NoError(t, err)
		}
		later, err := task.Add(context.Background(), d, Order{ID: 99}, sdk.After(time.Hour))
		require.NoError(t, err)
		w := worker.New(d, worker.Options{Concurrency: 4})
		require.NoError(t, w.RunUntilIdle(context.Background()))
		assert.Equal(t, 25, count)
		info, err := later.Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State, "a task due later stays scheduled")
		require.NoError(t, d.Cancel(context.Background(), later.Key()))
	})
}

func TestSecondRunIsRefused(t *testing.T) {
	d := openDocket(t, redistest.Memory(t).URL)
	w := worker.New(d, worker.Options{})
	runWorker(t, w)
	require.Eventually(t, func() bool { // the worker has registered itself
		snap, err := d.Snapshot(context.Background())
		return err == nil && len(snap.Workers) == 1
	}, 10*time.Second, time.Millisecond)
	assert.ErrorIs(t, w.Run(context.Background()), worker.ErrRunning)
}
