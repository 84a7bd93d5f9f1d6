package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// The scenario below runs the store's scripts (add, replace, claim with each
// admission rule, finish with each outcome, renew and unregister, cancel of
// a running task over pub/sub, progress and its watch channel, snapshot,
// clear) through a real worker, on every backend: memory, redis, and a
// Redis Cluster when DOCKET_CLUSTER_URL names one.
func TestScenarioOnEveryBackend(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openChecked(t, b.URL)
		runScenario(t, d, nil)
	})
}

// openChecked opens a docket with a fresh name on url, checks for leaked
// keys when the test ends (after every worker has stopped), and closes it.
func openChecked(t *testing.T, url string, opts ...sdk.Option) *sdk.Docket {
	t.Helper()
	return openNamed(t, url, redistest.Name(t), opts...)
}

// openNamed is openChecked with the docket's name.
func openNamed(t *testing.T, url, name string, opts ...sdk.Option) *sdk.Docket {
	t.Helper()
	d, err := sdk.Open(context.Background(), url, append([]sdk.Option{sdk.WithName(name), sdk.WithLogger(quiet)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, d.Redis(), name)
	return d
}

// Job is the input of the scenario's tasks.
type Job struct {
	Customer int `json:"customer"`
	Step     int `json:"step"`
}

// waitUntil polls the execution's record until ok accepts it, failing the
// test after a generous real deadline (this bounds a hang; it measures
// nothing).
func waitUntil(t *testing.T, ex *sdk.Execution, what string, ok func(sdk.Info) bool) sdk.Info {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := ex.Info(context.Background())
		if err == nil && ok(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %q: waited 30s until %s; last: %+v, %v", ex.Key(), what, info, err)
		}
		time.Sleep(5 * time.Millisecond) // polling a real Redis
	}
}

// waitSubscribed waits until a client listens to the docket's events
// channel: the worker, once its subscription is in place. On a cluster it
// asks the master of the channel's slot, where the worker subscribes.
func waitSubscribed(t *testing.T, rdb redis.UniversalClient, name string) {
	t.Helper()
	ctx := context.Background()
	channel := "docket:{" + name + "}:events" // see "How it is stored" in the README
	var c redis.Cmdable = rdb
	if cluster, ok := rdb.(*redis.ClusterClient); ok {
		m, err := cluster.MasterForKey(ctx, channel)
		require.NoError(t, err)
		c = m
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := c.PubSubNumSub(ctx, channel).Result()
		require.NoError(t, err)
		if n[channel] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nobody subscribed to %s within 30s", channel)
		}
		time.Sleep(5 * time.Millisecond) // polling a real Redis
	}
}

func waitFinished(t *testing.T, ex *sdk.Execution) sdk.Info {
	t.Helper()
	return waitUntil(t, ex, "it finished", func(i sdk.Info) bool { return i.State.Finished() })
}

// runScenario registers the scenario's tasks on d, adds them, runs a worker
// until they are all done, and checks each outcome. The worker stops
// before the test's cleanups run, so a leak check registered earlier sees
// the docket at rest.
//
// admin inspects Redis where the docket's own user may not (PUBSUB); nil
// means d.Redis().
func runScenario(t *testing.T, d *sdk.Docket, admin redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	if admin == nil {
		admin = d.Redis()
	}

	var mu sync.Mutex
	runs := map[string][]Job{}
	record := func(task string, in Job) {
		mu.Lock()
		defer mu.Unlock()
		runs[task] = append(runs[task], in)
	}
	ranWith := func(task string) []Job {
		mu.Lock()
		defer mu.Unlock()
		return append([]Job(nil), runs[task]...)
	}

	greet := sdk.NewTask("greet", func(ctx context.Context, in Job) error {
		record("greet", in)
		return nil
	})
	flaky := sdk.NewTask("flaky", func(ctx context.Context, in Job) error {
		record("flaky", in)
		if sdk.Current(ctx).Attempt() < 3 {
			return errors.New("not yet")
		}
		return nil
	}, policy.Retry(3, 10*time.Millisecond))
	failing := sdk.NewTask("failing", func(ctx context.Context, in Job) error {
		return errors.New("always broken")
	}, policy.Retry(2, 10*time.Millisecond))
	var inSerial, maxSerial atomic.Int32
	serial := sdk.NewTask("serial", func(ctx context.Context, in Job) error {
		if in.Customer == 7 { // customer 8's run may overlap these
			n := inSerial.Add(1)
			defer inSerial.Add(-1)
			for {
				m := maxSerial.Load()
				if n <= m || maxSerial.CompareAndSwap(m, n) {
					break
				}
			}
		}
		record("serial", in)
		time.Sleep(20 * time.Millisecond) // holds its slot a while, so the others must wait
		return nil
	}, policy.Concurrency("customer", 1))
	cooled := sdk.NewTask("cooled", func(ctx context.Context, in Job) error {
		record("cooled", in)
		return nil
	}, policy.Cooldown("customer", time.Minute))
	debounced := sdk.NewTask("debounced", func(ctx context.Context, in Job) error {
		record("debounced", in)
		return nil
	}, policy.TaskDebounce(time.Second))
	cause := make(chan error, 1)
	called := make(chan struct{}, 1)
	blocker := sdk.NewTask("blocker", func(ctx context.Context, in Job) error {
		select {
		case called <- struct{}{}:
		default:
		}
		<-ctx.Done()
		cause <- context.Cause(ctx)
		return ctx.Err()
	})
	progress := sdk.NewTask("progress", func(ctx context.Context, in Job) error {
		p := sdk.Current(ctx).Progress()
		if err := p.SetTotal(ctx, 3); err != nil {
			return err
		}
		for range 3 {
			if err := p.Increment(ctx); err != nil {
				return err
			}
		}
		return p.Sync(ctx)
	})
	var perpetualRuns atomic.Int32
	perpetual := sdk.NewTask("perpetual", func(ctx context.Context, in Job) error {
		if perpetualRuns.Add(1) == 3 {
			sdk.Current(ctx).Perpetual().Cancel()
		}
		return nil
	}, policy.Perpetual(20*time.Millisecond))
	require.NoError(t, d.Register(greet, flaky, failing, serial, cooled, debounced, blocker, progress, perpetual))

	// Added before any worker runs: a batch, keyed tasks, a replacement.
	jobs := make([]Job, 25)
	for i := range jobs {
		jobs[i] = Job{Step: i}
	}
	many, err := greet.AddMany(ctx, d, jobs)
	require.NoError(t, err)
	later, err := greet.Add(ctx, d, Job{Step: 100}, sdk.Key("replaced"), sdk.After(time.Hour))
	require.NoError(t, err)
	again, err := greet.Add(ctx, d, Job{Step: 101}, sdk.Key("replaced"))
	require.NoError(t, err)
	assert.Equal(t, sdk.AlreadyScheduled, again.Disposition())
	replaced, err := greet.Replace(ctx, d, Job{Step: 102}, sdk.Key("replaced"))
	require.NoError(t, err)
	assert.Equal(t, sdk.Replaced, replaced.Disposition())
	assert.True(t, replaced.Due().Before(later.Due()))
	flakyEx, err := flaky.Add(ctx, d, Job{})
	require.NoError(t, err)
	failingEx, err := failing.Add(ctx, d, Job{})
	require.NoError(t, err)
	var serialEx []*sdk.Execution
	for i := range 4 {
		ex, err := serial.Add(ctx, d, Job{Customer: 7, Step: i})
		require.NoError(t, err)
		serialEx = append(serialEx, ex)
	}
	other, err := serial.Add(ctx, d, Job{Customer: 8})
	require.NoError(t, err)
	serialEx = append(serialEx, other)
	cooledEx, err := cooled.AddMany(ctx, d, []Job{{Customer: 1, Step: 1}, {Customer: 1, Step: 2}})
	require.NoError(t, err)
	var debouncedEx []*sdk.Execution
	for i := range 3 {
		ex, err := debounced.Add(ctx, d, Job{Step: i + 1})
		require.NoError(t, err)
		debouncedEx = append(debouncedEx, ex)
	}
	perpetualEx, err := perpetual.Add(ctx, d, Job{}, sdk.Key("perpetual"))
	require.NoError(t, err)
	progressEx, err := progress.Add(ctx, d, Job{}, sdk.After(300*time.Millisecond))
	require.NoError(t, err)
	events, err := progressEx.Watch(ctx)
	require.NoError(t, err)

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.New(d, worker.Options{Concurrency: 8, Lease: 3 * time.Second, PollInterval: 200 * time.Millisecond, DrainTimeout: 2 * time.Second}).Run(runCtx)
	}()
	stopped := false
	stopWorker := func() {
		if !stopped {
			stopped = true
			stop()
			assert.NoError(t, <-done)
		}
	}
	defer stopWorker()

	// A running task is in the snapshot, and a cancel reaches it: through
	// the worker's subscription, or at its next lease renewal if the event
	// is late (TestCancelReachesARunningTaskAtOnce checks the subscription
	// alone). Waiting for the subscription keeps to the first.
	waitSubscribed(t, admin, d.Name())
	blocked, err := blocker.Add(ctx, d, Job{}, sdk.Key("blocked"))
	require.NoError(t, err)
	waitUntil(t, blocked, "it ran", func(i sdk.Info) bool { return i.State == sdk.StateRunning })
	// Running in Redis from its claim, it may not have been called yet: a
	// cancel that comes first ends it unstarted (rightly), and its function,
	// never called, reports no cause. Cancel once it is called.
	select {
	case <-called:
	case <-time.After(30 * time.Second):
		t.Fatal("the running task's function was not called within 30s")
	}
	// A worker shows in Snapshot from its first heartbeat, which may come a
	// moment after its first claims (the first renewal runs beside them).
	var snap sdk.Snapshot
	deadline := time.Now().Add(30 * time.Second)
	for {
		snap, err = d.Snapshot(ctx)
		require.NoError(t, err)
		if len(snap.Workers) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling a real Redis
	}
	var running []string
	for _, r := range snap.Running {
		running = append(running, r.Key)
	}
	assert.Contains(t, running, "blocked")
	require.Len(t, snap.Workers, 1)
	assert.ElementsMatch(t, []string{"greet", "flaky", "failing", "serial", "cooled", "debounced", "blocker", "progress", "perpetual"}, snap.Workers[0].Tasks)
	require.NoError(t, d.Cancel(ctx, "blocked"))
	select {
	case err := <-cause:
		assert.ErrorIs(t, err, sdk.ErrCancelled)
	case <-time.After(30 * time.Second):
		t.Fatal("the running task was not cancelled within 30s")
	}
	assert.Equal(t, sdk.StateCancelled, waitFinished(t, blocked).State)
	assert.ErrorIs(t, d.Cancel(ctx, "blocked"), sdk.ErrNotFound)

	for _, ex := range many {
		assert.Equal(t, sdk.StateCompleted, waitFinished(t, ex).State)
	}
	assert.Equal(t, sdk.StateCompleted, waitFinished(t, d.Execution("replaced")).State)
	info := waitFinished(t, flakyEx)
	assert.Equal(t, sdk.StateCompleted, info.State)
	assert.Equal(t, 3, info.Attempt)
	info = waitFinished(t, failingEx)
	assert.Equal(t, sdk.StateFailed, info.State)
	assert.Equal(t, 2, info.Attempt)
	assert.Contains(t, info.Error, "always broken")
	for _, ex := range serialEx {
		assert.Equal(t, sdk.StateCompleted, waitFinished(t, ex).State)
	}
	assert.Equal(t, int32(1), maxSerial.Load(), "one run of customer 7 at a time")
	var outcomes []string
	for _, ex := range cooledEx {
		info := waitFinished(t, ex)
		outcomes = append(outcomes, string(info.State))
		if info.State == sdk.StateCancelled {
			assert.Contains(t, info.Error, "cooldown")
		}
	}
	assert.ElementsMatch(t, []string{"completed", "cancelled"}, outcomes, "the repeat within the window is dropped")
	assert.Equal(t, sdk.StateCompleted, waitFinished(t, debouncedEx[0]).State, "the burst's first submission runs")
	for _, ex := range debouncedEx[1:] {
		info := waitFinished(t, ex)
		assert.Equal(t, sdk.StateCancelled, info.State)
		assert.Contains(t, info.Error, "debounced")
	}
	waitFinished(t, perpetualEx)
	assert.Equal(t, int32(3), perpetualRuns.Load())

	var got []sdk.Event
	for ev := range events {
		got = append(got, ev)
	}
	require.NotEmpty(t, got)
	assert.Equal(t, sdk.StateCompleted, got[len(got)-1].State)
	sawProgress := false
	for _, ev := range got {
		sawProgress = sawProgress || ev.IsProgress
	}
	assert.True(t, sawProgress, "progress reports reach the watcher: %+v", got)
	info = waitFinished(t, progressEx)
	assert.Equal(t, sdk.ProgressInfo{Current: 3, Total: 3, Updated: info.Progress.Updated}, info.Progress)
	assert.False(t, info.Progress.Updated.IsZero())

	// Every run happened once (retries aside), with the right input.
	assert.Len(t, ranWith("greet"), len(jobs)+1)
	assert.Contains(t, ranWith("greet"), Job{Step: 102}, "the replacement's input")
	assert.NotContains(t, ranWith("greet"), Job{Step: 100})
	assert.Len(t, ranWith("flaky"), 3)
	assert.Len(t, ranWith("serial"), 5)
	assert.Len(t, ranWith("cooled"), 1)
	assert.Equal(t, []Job{{Step: 1}}, ranWith("debounced"))

	// Clear cancels what is scheduled, and nothing else.
	for i := range 5 {
		_, err := greet.Add(ctx, d, Job{Step: 200 + i}, sdk.Key(fmt.Sprint("cleared-", i)), sdk.After(time.Hour))
		require.NoError(t, err)
	}
	n, err := d.Clear(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	info, err = d.Execution("cleared-0").Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, sdk.StateCancelled, info.State)

	stopWorker()
	snap, err = d.Snapshot(ctx)
	require.NoError(t, err)
	assert.Empty(t, snap.Workers, "a stopped worker unregisters")
	assert.Zero(t, snap.TotalRunning+snap.TotalWaiting)
}
