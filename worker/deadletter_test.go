package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

// A task whose workers die every time is dead-lettered after MaxDeliveries
// deliveries, with the reason in its state and in Snapshot, instead of
// being redelivered forever.
func TestPoisonTaskIsDeadLettered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		ran := false
		poison := sdk.NewTask("poison", func(ctx context.Context, in Order) error { ran = true; return nil })
		require.NoError(t, d.Register(poison))
		ex, err := poison.Add(t.Context(), d, Order{ID: 13})
		require.NoError(t, err)

		// Five workers take it in turn and die: their leases lapse.
		s, err := store.New(d.Redis(), d.Name())
		require.NoError(t, err)
		for i := 1; i <= 5; i++ {
			c, err := s.Claim(t.Context(), fmt.Sprint("doomed-", i), 1, time.Minute, time.Hour, store.Rules{}, 5)
			require.NoError(t, err)
			require.Len(t, c.Messages, 1)
			assert.Equal(t, i, c.Messages[0].Deliveries)
			time.Sleep(time.Minute)
		}

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- worker.New(d, worker.Options{MaxDeliveries: 5}).Run(ctx) }()
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)

		assert.False(t, ran, "a sixth delivery never happens")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, "dead-lettered: delivered 5 times, and its worker stopped without finishing it each time", info.Error)
		snap, err := d.Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.DeadLetters, 1)
		assert.Equal(t, ex.Key(), snap.DeadLetters[0].Key)
		assert.Equal(t, info.Error, snap.DeadLetters[0].Error)
		assert.Empty(t, snap.Running)
	})
}

// The real thing: a task that kills its worker process every time.
func TestTaskThatKillsItsProcessIsDeadLettered(t *testing.T) {
	url := redistest.Redis(t).URL
	d := openDocket(t, url)
	ex, err := crasher.Add(context.Background(), d, Order{ID: 1})
	require.NoError(t, err)
	for i := 0; i < 2; i++ { // MaxDeliveries is 2 in the child
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), childEnv+"=crasher", "DOCKET_URL="+url, "DOCKET_NAME="+d.Name())
		out, err := child.CombinedOutput()
		require.Error(t, err, "the task exits its process: %s", out)
	}
	// A third worker finds it poisoned once the last lease lapses.
	runWorker(t, worker.New(d, worker.Options{MaxDeliveries: 2, Lease: crashLease}))
	require.Eventually(t, func() bool {
		info, err := ex.Info(context.Background())
		return err == nil && info.State == sdk.StateFailed
	}, 30*time.Second, 10*time.Millisecond)
	info, err := ex.Info(context.Background())
	require.NoError(t, err)
	assert.Contains(t, info.Error, "dead-lettered: delivered 2 times")
}

var crasher = sdk.NewTask("crasher", func(ctx context.Context, in Order) error {
	os.Exit(3) // the process dies mid-task
	return nil
})

// crasherWorker runs a worker until its task kills the process.
func crasherWorker() int {
	d, err := sdk.Open(context.Background(), os.Getenv("DOCKET_URL"), sdk.WithName(os.Getenv("DOCKET_NAME")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := d.Register(crasher); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_ = worker.New(d, worker.Options{MaxDeliveries: 2, Lease: crashLease}).Run(context.Background())
	return 0
}

// With MaxDeliveries 1, the first worker that dies dead-letters the task,
// and the reason says so in words.
func TestDeadLetteredAfterOneDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		poison := sdk.NewTask("poison", func(ctx context.Context, in Order) error { return nil })
		require.NoError(t, d.Register(poison))
		ex, err := poison.Add(t.Context(), d, Order{ID: 1})
		require.NoError(t, err)
		diedWith(t, d)

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- worker.New(d, worker.Options{MaxDeliveries: 1}).Run(ctx) }()
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "dead-lettered: delivered once, and its worker stopped without finishing it", info.Error)
	})
}

// A worker that lacks the task hands it back without undoing more than its
// own claim: the delivery to the worker that died still counts. The hand-back
// set deliveries to 0, so the task ran again where it was to be
// dead-lettered, for as long as workers without it took it in between (a
// rolling deploy).
func TestAHandBackByAWorkerWithoutTheTaskKeepsItsDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		ran := false
		poison := sdk.NewTask("poison", func(ctx context.Context, in Order) error { ran = true; return nil })
		require.NoError(t, d.Register(poison))
		ex, err := poison.Add(t.Context(), d, Order{ID: 1})
		require.NoError(t, err)
		diedWith(t, d) // its worker died: the lease lapses

		run := func(d *sdk.Docket, opts worker.Options) {
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- worker.New(d, opts).Run(ctx) }()
			time.Sleep(10 * time.Minute)
			cancel()
			require.NoError(t, <-done)
		}
		// A worker of another deploy, without the task, takes it and hands it back.
		other, err := sdk.OpenClient(d.Redis(), sdk.WithName(d.Name()))
		require.NoError(t, err)
		defer other.Close()
		require.NoError(t, other.Register(sdk.NewTask("bystander", func(ctx context.Context, in Order) error { return nil })))
		run(other, worker.Options{})
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		require.Equal(t, sdk.StateScheduled, info.State)
		require.Contains(t, info.Error, "registered", "the bystander handed it back")

		run(d, worker.Options{MaxDeliveries: 1})
		assert.False(t, ran, "a second delivery never happens")
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, "dead-lettered: delivered once, and its worker stopped without finishing it", info.Error)
	})
}

// diedWith claims the docket's one queued task for a worker that dies with
// it: its lease lapses, a minute later (in a synctest bubble).
func diedWith(t *testing.T, d *sdk.Docket) {
	t.Helper()
	s, err := store.New(d.Redis(), d.Name())
	require.NoError(t, err)
	c, err := s.Claim(t.Context(), "doomed", 1, time.Minute, time.Hour, store.Rules{}, 1)
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)
	time.Sleep(time.Minute)
}
