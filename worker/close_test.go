package worker_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// syncBuffer is a bytes.Buffer that goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// endlessTask runs until its context ends: it says when it started, and
// keeps the cause its context ended with.
func endlessTask() (task *sdk.Task[Order], started chan struct{}, cause *error) {
	started, cause = make(chan struct{}, 1), new(error)
	task = sdk.NewTask("endless", func(ctx context.Context, in Order) error {
		started <- struct{}{}
		<-ctx.Done()
		*cause = context.Cause(ctx)
		return ctx.Err()
	})
	return task, started, cause
}

// Closing a docket under a running worker stops the worker promptly: Run
// returns an error matching sdk.ErrClosed, having handed its running task
// back (for another worker) before the connection closed; nothing is
// logged about a closed client.
func TestCloseStopsTheWorkers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		// other watches and checks leaks; d is the docket the test closes.
		other := openDocket(t, b.URL)
		var logs syncBuffer
		d, err := sdk.Open(context.Background(), b.URL, sdk.WithName(other.Name()),
			sdk.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		endless, started, cause := endlessTask()
		require.NoError(t, d.Register(endless))
		ex, err := endless.Add(context.Background(), d, Order{ID: 1})
		require.NoError(t, err)
		w := worker.New(d, worker.Options{DrainTimeout: time.Hour})
		done := make(chan error, 1)
		go func() { done <- w.Run(context.Background()) }()
		waitFor(t, started, 1)

		require.NoError(t, d.Close())
		// Close returns once Run's work is over: the task is handed back
		// already. Run's own return reaches done a moment later (its
		// goroutine sends after Close has stopped waiting), so it is awaited,
		// not polled.
		info, err := other.Execution(ex.Key()).Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State, "handed back before Close returned, for another worker")
		assert.Equal(t, 1, info.Attempt)
		select {
		case err := <-done:
			assert.ErrorIs(t, err, sdk.ErrClosed)
		case <-time.After(10 * time.Second): // a bound on a hang, not a timing
			t.Fatal("Run did not return after Close")
		}
		assert.ErrorIs(t, *cause, sdk.ErrShutdown, "the task was cancelled at once, not drained for an hour")
		assert.NotContains(t, logs.String(), "client is closed")

		require.NoError(t, other.Cancel(context.Background(), ex.Key()))
	})
}

// A task cancelled by Close may still use the docket while it winds down
// (within its grace, before Close returns): here it adds a follow-up, which
// lands. Calls made after Close has stopped the workers get ErrClosed.
func TestTasksUseTheDocketWhileCloseDrains(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		other := openDocket(t, b.URL)
		d, err := sdk.Open(context.Background(), b.URL, sdk.WithName(other.Name()), sdk.WithLogger(quiet))
		require.NoError(t, err)
		followUp := sdk.NewTask("follow_up", func(context.Context, Order) error { return nil })
		started, added := make(chan struct{}, 1), make(chan error, 1)
		saving := sdk.NewTask("saving", func(ctx context.Context, in Order) error {
			started <- struct{}{}
			<-ctx.Done()
			_, err := followUp.Add(context.Background(), d, in, sdk.Key("follow-up"))
			added <- err
			return ctx.Err()
		})
		require.NoError(t, d.Register(saving, followUp))
		ex, err := saving.Add(context.Background(), d, Order{ID: 7})
		require.NoError(t, err)
		go func() { _ = worker.New(d, worker.Options{}).Run(context.Background()) }()
		waitFor(t, started, 1)

		require.NoError(t, d.Close())
		require.NoError(t, <-added, "an add from a task winding down lands")
		info, err := other.Execution("follow-up").Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State)
		_, err = followUp.Add(context.Background(), d, Order{})
		assert.ErrorIs(t, err, sdk.ErrClosed, "once Close has stopped the workers")

		for _, k := range []string{ex.Key(), "follow-up"} {
			require.NoError(t, other.Cancel(context.Background(), k))
		}
	})
}

// A worker of a closed docket refuses to run.
func TestRunOnAClosedDocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		require.NoError(t, d.Close())
		err := worker.New(d, worker.Options{}).Run(t.Context())
		assert.ErrorIs(t, err, sdk.ErrClosed)
	})
}

// Options that cannot work are refused by Run, with an error naming the
// field and what it accepts; zero values mean the defaults.
func TestOptionsOutOfRange(t *testing.T) {
	for _, tt := range []struct {
		opts worker.Options
		want string
	}{
		{worker.Options{Concurrency: -3}, "Concurrency is -3; want 1 to 100000, or 0 for the default (10)"},
		{worker.Options{Concurrency: 1 << 40}, "Concurrency is 1099511627776"},
		{worker.Options{Lease: time.Nanosecond}, "Lease is 1ns; want 1s or more"},
		{worker.Options{Lease: -time.Second}, "Lease is -1s"},
		{worker.Options{PollInterval: time.Nanosecond}, "PollInterval is 1ns; want 10ms or more"},
		{worker.Options{DrainTimeout: -time.Second}, "DrainTimeout is -1s; want a positive duration"},
		{worker.Options{MaxDeliveries: -1}, "MaxDeliveries is -1; want 1 or more"},
		{worker.Options{UnknownTaskWait: -time.Hour}, "UnknownTaskWait is -1h0m0s"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			err := tt.opts.Validate()
			require.ErrorIs(t, err, worker.ErrBadOption)
			assert.Contains(t, err.Error(), tt.want)
			synctest.Test(t, func(t *testing.T) {
				d := bubbleDocket(t)
				err := worker.New(d, tt.opts).Run(t.Context())
				assert.ErrorIs(t, err, worker.ErrBadOption, "Run refuses at once")
			})
		})
	}
	assert.NoError(t, worker.Options{}.Validate(), "zero values are the defaults")
	assert.NoError(t, worker.Options{Concurrency: 1, Lease: time.Second, PollInterval: 10 * time.Millisecond, MaxDeliveries: 1}.Validate())
	assert.False(t, errors.Is(worker.Options{}.Validate(), worker.ErrBadOption))
}

// Close during a drain (Run's context ended, running tasks given their
// DrainTimeout) cuts the drain short, as Close does at any time: the task
// is cancelled with ErrShutdown and handed back at once, and Run returns
// an error matching ErrClosed.
func TestCloseDuringADrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		endless, started, cause := endlessTask()
		require.NoError(t, d.Register(endless))
		_, err := endless.Add(t.Context(), d, Order{ID: 1})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- worker.New(d, worker.Options{DrainTimeout: time.Hour}).Run(ctx) }()
		<-started
		cancel()
		synctest.Wait() // draining: the task has an hour to finish

		t0 := time.Now()
		require.NoError(t, d.Close())
		err = <-done
		assert.ErrorIs(t, err, sdk.ErrClosed)
		assert.ErrorIs(t, *cause, sdk.ErrShutdown)
		assert.Less(t, time.Since(t0), time.Minute, "not the hour of the drain timeout")
	})
}

// Close is prompt with Redis out of reach: the outcomes of the tasks it
// cancels cannot land, and it waits for them a few seconds, not the drain
// timeout (a minute here; with the default of 30 s a Kubernetes pod's grace
// period ran out).
func TestCloseWithRedisDown(t *testing.T) {
	srv := redistest.NewServer(t, "--save", "", "--appendonly", "no")
	ctx := context.Background()
	d, err := sdk.Open(ctx, "redis://"+srv.Addr+"/0", sdk.WithName(redistest.Name(t)), sdk.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	started := make(chan struct{}, 1)
	waits := sdk.NewTask("waits", func(ctx context.Context, in struct{}) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	require.NoError(t, d.Register(waits))
	_, err = waits.Add(ctx, d, struct{}{})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- worker.New(d, worker.Options{DrainTimeout: time.Minute}).Run(ctx) }()
	<-started
	srv.Stop()
	closed := time.Now()
	require.NoError(t, d.Close())
	assert.Less(t, time.Since(closed), 30*time.Second, "Close waited out the drain timeout")
	assert.ErrorIs(t, <-done, sdk.ErrClosed)
}
