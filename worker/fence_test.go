package worker_test

import (
	"context"
	"net/url"
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

// span is one run of a task, by the test's clock.
type span struct {
	key        string
	start, end time.Time
	cause      error
}

// A worker cut off from Redis for longer than the lease (a network
// partition) cannot renew its leases; in Redis they lapse, and another
// worker takes the task over. The first worker's copy must have stopped by
// then: leases are fences. Under TaskConcurrency(1), no two runs overlap.
func TestPartitionedWorkerStopsItsTasksBeforeTheyAreTakenOver(t *testing.T) {
	backend := redistest.Redis(t)
	name := redistest.Name(t)
	ctx := context.Background()
	d, err := sdk.Open(ctx, backend.URL, sdk.WithName(name))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, d.Redis(), name)
	u, err := url.Parse(backend.URL)
	require.NoError(t, err)
	proxy := redistest.NewProxy(t, u.Host)
	cutOff, err := sdk.Open(ctx, "redis://"+proxy.Addr+"/0", sdk.WithName(name))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cutOff.Close() })

	var mu sync.Mutex
	var runs []span
	started := make(chan string, 10)
	exclusive := sdk.NewTask("exclusive", func(ctx context.Context, in Order) error {
		s := span{key: sdk.Current(ctx).Key(), start: time.Now()}
		mu.Lock()
		// The first copy is long enough to outlive the partition; the
		// rescuer's is short, so that a busy machine's late renewal cannot
		// fence it as well.
		run := 300 * time.Millisecond
		if len(runs) == 0 {
			run = 10 * time.Second
		}
		mu.Unlock()
		started <- s.key
		select {
		case <-ctx.Done(): // a fenced copy stops here
		case <-time.After(run):
		}
		s.end, s.cause = time.Now(), context.Cause(ctx)
		mu.Lock()
		runs = append(runs, s)
		mu.Unlock()
		return ctx.Err()
	}, policy.TaskConcurrency(1))
	require.NoError(t, cutOff.Register(exclusive))
	require.NoError(t, d.Register(exclusive))
	ex, err := exclusive.Add(ctx, d, Order{ID: 1})
	require.NoError(t, err)
	// The fence stops the cut-off copy at 0.8–0.9 of its lease, Redis hands
	// the task over at 1.0: a lease of 4 s leaves the copy's goroutine
	// 0.4 s to notice on a busy machine (a 1 s lease left 0.1 s, and a run
	// under load used 85 ms of it).
	runWorker(t, worker.New(cutOff, worker.Options{Name: "cut-off", Lease: 4 * time.Second}))
	waitFor(t, started, 1)
	proxy.Cut() // for good: the cut-off worker hands nothing back
	runWorker(t, worker.New(d, worker.Options{Name: "rescuer", Lease: time.Second}))

	require.Eventually(t, func() bool {
		info, err := ex.Info(ctx)
		return err == nil && info.State.Finished()
	}, time.Minute, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, runs, 2, "the cut-off copy stopped, and the task ran again")
	assert.ErrorIs(t, runs[0].cause, sdk.ErrLeaseLost, "the cut-off copy was fenced")
	assert.True(t, runs[0].end.Before(runs[1].start), "the copies do not overlap: %v–%v, then %v–%v",
		runs[0].start, runs[0].end, runs[1].start, runs[1].end)
}

// After Redis stalls past the lease, the copy that ran through the stall
// is fenced, and the task runs once more, to its end: the claim that
// brings it back, sent during the stall, came back with its lease (by this
// worker's clock, from the sending) nearly spent, and the attempt it
// started was fenced at once, a second delivery lost for nothing (with
// MaxDeliveries 3, a single stall dead-lettered the task). Now such a
// claim hands the task back undelivered, and the next claim runs it.
func TestTaskRunsOnceMoreAfterAStall(t *testing.T) {
	backend := redistest.Redis(t)
	d := openDocket(t, backend.URL)
	var mu sync.Mutex
	var causes []error
	var runs int
	started := make(chan struct{}, 10)
	fenced := sdk.NewTask("fenced", func(ctx context.Context, in Order) error {
		mu.Lock()
		runs++
		// The first copy runs through the stall. A later one takes longer
		// than the fence needs to stop a copy started with its lease spent
		// (a tenth of the lease), and far less than a lease, so that a busy
		// machine's late renewal does not fence it too.
		run := 300 * time.Millisecond
		if runs == 1 {
			run = 10 * time.Second
		}
		mu.Unlock()
		started <- struct{}{}
		select {
		case <-time.After(run):
			return nil
		case <-ctx.Done():
			mu.Lock()
			causes = append(causes, context.Cause(ctx))
			mu.Unlock()
			return context.Cause(ctx)
		}
	}, policy.Retry(3, 10*time.Millisecond))
	require.NoError(t, d.Register(fenced))
	opts := worker.Options{Concurrency: 2, Lease: time.Second, PollInterval: 50 * time.Millisecond, MaxDeliveries: 3}
	runWorker(t, worker.New(d, opts))
	runWorker(t, worker.New(d, opts))
	ex, err := fenced.Add(context.Background(), d, Order{ID: 1})
	require.NoError(t, err)
	waitFor(t, started, 1)
	require.NoError(t, d.Redis().Do(context.Background(), "CLIENT", "PAUSE", "1800", "ALL").Err())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = sdk.Result[struct{}](ctx, ex)
	require.NoError(t, err)
	info, err := ex.Info(ctx)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, causes, 1, "one copy fenced, the one the stall caught: %v", causes)
	assert.ErrorIs(t, causes[0], sdk.ErrLeaseLost)
	assert.Equal(t, 2, info.Deliveries, "the fenced copy's delivery and the one that completed")
}
