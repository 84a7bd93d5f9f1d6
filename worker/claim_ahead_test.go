package worker_test

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
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// claimCounter counts the worker's claim calls.
type claimCounter struct {
	claimHook
	n atomic.Int64
}

func (h *claimCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isClaim(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// overlap runs short tasks and tells the most that ran at once.
type overlap struct {
	mu        sync.Mutex
	now, most int
	done      chan struct{}
	left      atomic.Int64
	task      *sdk.Task[Order]
}

func newOverlap(n int) *overlap {
	o := &overlap{done: make(chan struct{})}
	o.left.Store(int64(n))
	o.task = sdk.NewTask("short", func(ctx context.Context, in Order) error {
		o.mu.Lock()
		o.now++
		o.most = max(o.most, o.now)
		o.mu.Unlock()
		time.Sleep(time.Microsecond) // a short task, that yields
		o.mu.Lock()
		o.now--
		o.mu.Unlock()
		if o.left.Add(-1) == 0 {
			close(o.done)
		}
		return nil
	})
	return o
}

func (o *overlap) add(t *testing.T, d *sdk.Docket, n int) {
	t.Helper()
	ins := make([]Order, n)
	for i := range ins {
		ins[i] = Order{ID: i}
	}
	_, err := o.task.AddMany(context.Background(), d, ins)
	require.NoError(t, err)
}

func (o *overlap) wait(t *testing.T) {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(time.Minute):
		t.Fatalf("short tasks left after a minute: %d", o.left.Load())
	}
}

// With short tasks, a worker claims ahead of its free slots: it claims
// more tasks per call than it has slots (a worker that claimed only for
// free slots could not), and still never runs more than Concurrency at
// once.
func TestClaimAheadWithShortTasks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		claims := &claimCounter{}
		d.Redis().AddHook(claims)
		const slots = 2
		n := 3000
		if b.Name == "memory" {
			n = 300 // the embedded server is slower with a long queue
		}
		o := newOverlap(n)
		require.NoError(t, d.Register(o.task))
		o.add(t, d, n)
		runWorker(t, worker.New(d, worker.Options{Concurrency: slots}))
		o.wait(t)
		assert.LessOrEqual(t, o.most, slots, "never more than Concurrency at once")
		perClaim := float64(n) / float64(claims.n.Load())
		assert.Greater(t, perClaim, float64(slots), "tasks per claim call: more than the slots, claimed ahead")
	})
}

// A worker with one slot, claiming ahead (the default), runs tasks added in
// order in that order, though it keeps two claims in flight, which may reach
// Redis, and come back, in either order: a later claim's tasks never start
// before an earlier one's. (Before, one run in two of 2,500 tasks started a
// block of tasks ahead of the thirty before it, on either backend.)
func TestOneSlotRunsClaimedAheadTasksInOrder(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		n := 2500
		if b.Name == "memory" {
			n = 600 // the embedded server is slower with a long queue, and its leak check with many records
		}
		for round := range 3 {
			d := openDocket(t, b.URL, sdk.WithCompletedRetention(0))
			var ran []int // one slot: one task at a time
			task := sdk.NewTask("step", func(ctx context.Context, in orderIn) error {
				ran = append(ran, in.N)
				return nil
			})
			require.NoError(t, d.Register(task))
			ins := make([]orderIn, n)
			for i := range ins {
				ins[i] = orderIn{N: i}
			}
			_, err := task.AddMany(context.Background(), d, ins)
			require.NoError(t, err)
			w := worker.New(d, worker.Options{Concurrency: 1})
			require.NoError(t, w.RunUntilIdle(context.Background()))
			require.Len(t, ran, len(ins))
			for i, n := range ran {
				if n != i {
					require.Failf(t, "out of order", "round %d: run %d was task %d; runs %d..%d: %v",
						round, i, n, max(i-5, 0), min(i+10, len(ran)), ran[max(i-5, 0):min(i+10, len(ran))])
				}
			}
		}
	})
}

// NoClaimAhead claims only for free slots.
func TestNoClaimAhead(t *testing.T) {
	d := openDocket(t, redistest.Redis(t).URL)
	claims := &claimCounter{}
	d.Redis().AddHook(claims)
	const n, slots = 600, 2
	o := newOverlap(n)
	require.NoError(t, d.Register(o.task))
	o.add(t, d, n)
	runWorker(t, worker.New(d, worker.Options{Concurrency: slots, ClaimAhead: worker.NoClaimAhead}))
	o.wait(t)
	assert.LessOrEqual(t, o.most, slots)
	assert.GreaterOrEqual(t, claims.n.Load(), int64(n/slots), "at most a slot's worth per free slot in each claim")
}

// A task claimed ahead that waits in line behind a task that turned out
// long shows as running on its worker, and is handed back after Lease/10,
// for another worker, which runs it while the long task still runs. (A
// lease of 3 s: short enough for a quick hand-back, long enough that a busy
// machine's late renewal does not fence the long task.)
func TestClaimedAheadIsHandedBackWhenItWaits(t *testing.T) {
	d := openDocket(t, redistest.Redis(t).URL)
	o := newOverlap(200 + 20)
	long, release := blockingTask()
	require.NoError(t, d.Register(o.task))
	require.NoError(t, d.Register(long))
	first := worker.New(d, worker.Options{Concurrency: 1, Lease: 3 * time.Second, Name: "first"})
	runWorker(t, first)
	defer close(release)

	o.add(t, d, 200) // the worker learns that tasks are short
	require.Eventually(t, func() bool { return o.left.Load() == 20 }, time.Minute, time.Millisecond)
	// The long task and three short ones due at one instant, the long one
	// first (same instant: by key): one claim takes them all. The four adds
	// must be done by then: 300 ms was too little on a busy machine (the
	// long task was claimed alone).
	due := time.Now().Add(2 * time.Second)
	ex, err := long.Add(context.Background(), d, Order{ID: -1}, sdk.Key("a-long"), sdk.At(due))
	require.NoError(t, err)
	var lined []*sdk.Execution
	for i := range 3 {
		e, err := o.task.Add(context.Background(), d, Order{ID: 1000 + i}, sdk.Key(fmt.Sprint("b-short-", i)), sdk.At(due))
		require.NoError(t, err)
		lined = append(lined, e)
	}

	// Claimed ahead: running on the first worker, though its only slot is
	// the long task's.
	sawLined := false
	deadline := time.Now().Add(time.Minute)
	for !sawLined {
		require.True(t, time.Now().Before(deadline), "no task claimed ahead showed running on the first worker")
		for _, e := range lined {
			info, err := e.Info(context.Background())
			require.NoError(t, err)
			if info.State == sdk.StateRunning && info.Worker == first.ID() {
				sawLined = true
			}
		}
	}
	// Handed back, they run on a second worker.
	o.left.Store(int64(len(lined)))
	runWorker(t, worker.New(d, worker.Options{Concurrency: 4, Name: "second"}))
	o.wait(t)
	info, err := ex.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sdk.StateRunning, info.State, "the long task still runs")
	for _, e := range lined {
		info, err := e.Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "second", info.Worker[:len("second")], "ran on the second worker")
		assert.Equal(t, 1, info.Deliveries, "handed back undone: the hand-back is not a delivery")
	}
}

// blockingTask is a task whose runs last until release is closed, or their
// context ends.
func blockingTask() (*sdk.Task[Order], chan struct{}) {
	release := make(chan struct{})
	return sdk.NewTask("long", func(ctx context.Context, in Order) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}), release
}

// ClaimAhead out of range is an error naming the field.
func TestClaimAheadOption(t *testing.T) {
	for _, v := range []int{-2, worker.MaxClaimAhead + 1} {
		err := worker.Options{ClaimAhead: v}.Validate()
		require.True(t, errors.Is(err, worker.ErrBadOption), "%d: %v", v, err)
		assert.Contains(t, err.Error(), "ClaimAhead")
	}
	for _, v := range []int{0, 1, worker.NoClaimAhead, worker.MaxClaimAhead} {
		assert.NoError(t, worker.Options{ClaimAhead: v}.Validate())
	}
}

// A worker whose slots are all held by tasks that run far longer than its
// recent pace claims nothing ahead: after thousands of short tasks, a task
// added while two long ones hold both slots stays queued, not shown running
// on a worker that cannot start it.
func TestNoClaimAheadBehindLongTasks(t *testing.T) {
	d := openDocket(t, redistest.Redis(t).URL)
	o := newOverlap(2000)
	long, release := blockingTask()
	require.NoError(t, d.Register(o.task))
	require.NoError(t, d.Register(long))
	runWorker(t, worker.New(d, worker.Options{Concurrency: 2}))
	defer close(release)
	o.add(t, d, 2000)
	o.wait(t)
	held, err := long.AddMany(context.Background(), d, []Order{{ID: 1}, {ID: 2}})
	require.NoError(t, err)
	for _, ex := range held {
		require.Eventually(t, func() bool {
			info, err := ex.Info(context.Background())
			return err == nil && info.State == sdk.StateRunning
		}, time.Minute, time.Millisecond)
	}
	// The long tasks have run far longer than the short ones' pace.
	time.Sleep(20 * time.Millisecond)
	third, err := long.Add(context.Background(), d, Order{ID: 3})
	require.NoError(t, err)
	assert.Never(t, func() bool {
		info, err := third.Info(context.Background())
		return err != nil || info.State != sdk.StateQueued
	}, 500*time.Millisecond, 5*time.Millisecond, "it stays queued while both slots are held")
}

// A worker that stops hands back, undone, the tasks it claimed ahead and
// had not started: the drain waits for running tasks only, and none
// starts after Run's context ended.
func TestClaimedAheadIsHandedBackAtShutdown(t *testing.T) {
	d := openDocket(t, redistest.Redis(t).URL)
	o := newOverlap(200)
	gate := make(chan struct{})
	var stopped atomic.Bool
	var startedAfterStop atomic.Int64
	long := sdk.NewTask("long", func(ctx context.Context, in Order) error {
		<-gate
		return nil
	})
	after := sdk.NewTask("after", func(ctx context.Context, in Order) error {
		if stopped.Load() {
			startedAfterStop.Add(1)
		}
		return nil
	})
	require.NoError(t, d.Register(o.task))
	require.NoError(t, d.Register(long))
	require.NoError(t, d.Register(after))
	// A long lease: a task in line is released as stale only after 6s.
	w := worker.New(d, worker.Options{Concurrency: 1, Lease: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	o.add(t, d, 200) // the worker learns that tasks are short
	o.wait(t)
	due := time.Now().Add(2 * time.Second) // the four adds done by then (see above)
	_, err := long.Add(context.Background(), d, Order{ID: -1}, sdk.Key("a-long"), sdk.At(due))
	require.NoError(t, err)
	var lined []*sdk.Execution
	for i := range 3 {
		e, err := after.Add(context.Background(), d, Order{ID: i}, sdk.Key(fmt.Sprint("b-after-", i)), sdk.At(due))
		require.NoError(t, err)
		lined = append(lined, e)
	}
	require.Eventually(t, func() bool {
		info, err := lined[0].Info(context.Background())
		return err == nil && info.State == sdk.StateRunning
	}, time.Minute, time.Millisecond, "claimed ahead")

	stopped.Store(true)
	cancel() // stop claiming, drain
	for _, e := range lined {
		require.Eventually(t, func() bool {
			info, err := e.Info(context.Background())
			return err == nil && info.State == sdk.StateQueued && info.Deliveries == 0
		}, 3*time.Second, time.Millisecond, "handed back undone at once (not as stale), the delivery not counted")
	}
	close(gate)
	require.NoError(t, <-done)
	assert.Zero(t, startedAfterStop.Load(), "no task claimed ahead started after Run's context ended")
	_, err = d.Clear(context.Background())
	require.NoError(t, err)
}
