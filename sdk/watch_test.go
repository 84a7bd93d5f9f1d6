package sdk_test

import (
	"context"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// watchWait bounds each wait for a watch event: generous, since only a
// failing test reaches it.
const watchWait = 30 * time.Second

// nextEvent returns the next event of a watch, and false when its channel
// closed.
func nextEvent(t *testing.T, events <-chan sdk.Event) (sdk.Event, bool) {
	t.Helper()
	select {
	case ev, ok := <-events:
		return ev, ok
	case <-time.After(watchWait):
		require.FailNow(t, "no watch event within 30s")
		return sdk.Event{}, false
	}
}

// lastEvent reads a watch to its end and returns its last event.
func lastEvent(t *testing.T, events <-chan sdk.Event) sdk.Event {
	t.Helper()
	var last sdk.Event
	for {
		ev, ok := nextEvent(t, events)
		if !ok {
			return last
		}
		last = ev
	}
}

// A Redis restarted without persistence loses a watched task: the watch,
// whose connection dropped, finds no record when it reconnects, and
// reports the task lost (ErrLost), never completed: nobody saw it complete.
func TestWatchReportsAVanishedTaskLost(t *testing.T) {
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	d := openChecked(t, srv.URL())
	ctx := context.Background()
	task := sdk.NewTask("later", func(context.Context, Job) error { return nil })
	_, err := task.Add(ctx, d, Job{Customer: 1}, sdk.Key("later-1"), sdk.After(time.Hour))
	require.NoError(t, err)

	events, err := d.Watch(ctx, "later-1")
	require.NoError(t, err)
	first, ok := nextEvent(t, events)
	require.True(t, ok)
	assert.Equal(t, sdk.StateScheduled, first.State)

	srv.Restart(t) // an empty dataset: no persistence
	last := lastEvent(t, events)
	assert.NotEqual(t, sdk.StateCompleted, last.State, "a vanished record is no completion")
	require.ErrorIs(t, last.Err, sdk.ErrLost)
	assert.Contains(t, last.Err.Error(), `"later-1"`)
	assert.Equal(t, sdk.StateScheduled, last.State, "the last state the watch knew")
}

// With a zero completed retention a completed record is deleted at once;
// a watcher whose connection was down when the task completed, and so
// missed the announcement, still learns it completed when it reconnects:
// the record of a watched task leaves a tombstone that says so.
func TestWatchReconnectingAfterACompletionWithoutRetention(t *testing.T) {
	backend := redistest.Redis(t).URL
	name := redistest.Name(t)
	d := openNamed(t, backend, name, sdk.WithCompletedRetention(0))
	ctx := context.Background()
	release := make(chan struct{})
	task := sdk.NewTask("gated", func(ctx context.Context, _ Job) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	require.NoError(t, d.Register(task))
	runWorker(t, d)
	ex, err := task.Add(ctx, d, Job{Customer: 1})
	require.NoError(t, err)
	waitUntil(t, ex, "it runs", func(i sdk.Info) bool { return i.State == sdk.StateRunning })

	// The watcher reaches Redis through a proxy the test can cut.
	u, err := url.Parse(backend)
	require.NoError(t, err)
	p := redistest.NewProxy(t, u.Host)
	watcher, err := sdk.Open(ctx, "redis://"+p.Addr+"/0", sdk.WithName(name), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = watcher.Close() })
	events, err := watcher.Watch(ctx, ex.Key())
	require.NoError(t, err)
	first, ok := nextEvent(t, events)
	require.True(t, ok)
	assert.Equal(t, sdk.StateRunning, first.State)

	p.Cut()
	close(release)
	waitUntil(t, ex, "it completed", func(i sdk.Info) bool { return i.State == sdk.StateCompleted })
	p.Restore()

	last := lastEvent(t, events)
	assert.NoError(t, last.Err)
	assert.Equal(t, sdk.StateCompleted, last.State)

	// The tombstone frees the key: adding it again starts a new execution,
	// whose record has no TTL (the leak check at the end would say so).
	again, err := task.Add(ctx, d, Job{Customer: 2}, sdk.Key(ex.Key()), sdk.After(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, sdk.Scheduled, again.Disposition())
	info, err := again.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, sdk.StateScheduled, info.State)
	assert.JSONEq(t, `{"customer":2,"step":0}`, string(info.Input))
}

// runWorker runs a worker on d until the test ends.
func runWorker(t *testing.T, d *sdk.Docket) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.New(d, worker.Options{Logger: quiet}).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// A Result whose context ends while it sets up its watch returns the
// context's error, which errors.Is matches with context.DeadlineExceeded:
// it returned go-redis's "i/o timeout" when the deadline fell during the
// subscription.
func TestResultReturnsTheContextsError(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openChecked(t, b.URL)
		never := sdk.NewResultTask("never", func(ctx context.Context, in Job) (int, error) { return 0, nil })
		ex, err := never.Add(context.Background(), d, Job{}) // no worker: it never ends
		require.NoError(t, err)
		for i := range 300 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%30)*100*time.Microsecond)
			_, err := never.Result(ctx, ex)
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded, "deadline %v", time.Duration(i%30)*100*time.Microsecond)
		}
		require.NoError(t, d.Cancel(context.Background(), ex.Key()))
	})
}

// A watch open when its docket closes ends with an event whose Err
// matches ErrClosed: its channel closed without a word, which a range over
// it cannot tell from anything else.
func TestWatchEndsWithErrClosedWhenTheDocketCloses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d, err := sdk.Open(context.Background(), b.URL, sdk.WithName(redistest.Name(t)), sdk.WithLogger(quiet))
		require.NoError(t, err)
		later := sdk.NewTask("later", func(ctx context.Context, in Job) error { return nil })
		ex, err := later.Add(context.Background(), d, Job{}, sdk.After(time.Hour))
		require.NoError(t, err)
		events, err := ex.Watch(context.Background())
		require.NoError(t, err)
		first, ok := nextEvent(t, events)
		require.True(t, ok)
		assert.Equal(t, sdk.StateScheduled, first.State)
		require.NoError(t, d.Cancel(context.Background(), ex.Key())) // nothing left behind
		cancelled, ok := nextEvent(t, events)
		require.True(t, ok)
		require.Equal(t, sdk.StateCancelled, cancelled.State)

		ex2, err := later.Add(context.Background(), d, Job{}, sdk.After(time.Hour))
		require.NoError(t, err)
		events, err = ex2.Watch(context.Background())
		require.NoError(t, err)
		_, ok = nextEvent(t, events)
		require.True(t, ok)
		require.NoError(t, d.Close())
		last, ok := nextEvent(t, events)
		require.True(t, ok, "an event says why the watch ended")
		assert.ErrorIs(t, last.Err, sdk.ErrClosed)
		assert.Equal(t, sdk.StateScheduled, last.State, "the last state the watch knew")
		_, ok = nextEvent(t, events)
		assert.False(t, ok, "then the channel closes")
	})
}

// A watch whose reader stopped reading (its channel full) ends when the
// docket closes, though its context never does: it held two goroutines,
// and the closed client's connection, for as long as the process lived.
func TestAnUnreadWatchEndsWhenTheDocketCloses(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		d, err := sdk.Open(ctx, b.URL, sdk.WithName(redistest.Name(t)), sdk.WithLogger(quiet))
		require.NoError(t, err)
		reported := make(chan struct{})
		chatty := sdk.NewTask("chatty", func(ctx context.Context, in Job) error {
			p := sdk.Current(ctx).Progress()
			for range 40 { // more than a watch's channel holds
				if err := p.Increment(ctx); err != nil {
					return err
				}
			}
			close(reported)
			<-ctx.Done() // until Close stops the worker
			return context.Cause(ctx)
		})
		require.NoError(t, d.Register(chatty))
		ex, err := chatty.Add(ctx, d, Job{})
		require.NoError(t, err)
		_, err = ex.Watch(ctx) // never read
		require.NoError(t, err)
		ran := make(chan error, 1)
		go func() { ran <- worker.New(d, worker.Options{}).Run(ctx) }()
		<-reported
		require.Eventually(t, func() bool {
			p, err := ex.Progress(ctx)
			return err == nil && p.Current == 40
		}, 30*time.Second, time.Millisecond)
		require.NoError(t, d.Close())
		require.ErrorIs(t, <-ran, sdk.ErrClosed)
		assert.Eventually(t, func() bool { return !goroutineIn("(*Execution).follow") }, 30*time.Second, time.Millisecond,
			"the watch's goroutine ended")
	})
}

// goroutineIn reports whether a goroutine of the process runs fn.
func goroutineIn(fn string) bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn)
}
