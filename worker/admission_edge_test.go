package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

type Transfer struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Two limits of one scope, taken in opposite orders by different tasks
// (transfers 1→2 and 2→1), cannot deadlock: slots are taken in one order.
func TestOppositeLimitsDoNotDeadlock(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex
		busy := map[int]bool{}
		var overlap bool
		transfer := sdk.NewTask("transfer", func(ctx context.Context, in Transfer) error {
			mu.Lock()
			overlap = overlap || busy[in.From] || busy[in.To]
			busy[in.From], busy[in.To] = true, true
			mu.Unlock()
			time.Sleep(time.Minute)
			mu.Lock()
			busy[in.From], busy[in.To] = false, false
			mu.Unlock()
			return nil
		}, policy.Concurrency("from", 1, policy.Scope("account")), policy.Concurrency("to", 1, policy.Scope("account")))
		env.Register(transfer)
		t0 := env.Now()
		for i, in := range []Transfer{{1, 2}, {1, 2}, {2, 1}, {1, 2}, {2, 1}} {
			_, err := transfer.Add(t.Context(), env.Docket(), in, sdk.After(time.Duration(i)*time.Millisecond))
			require.NoError(t, err)
		}
		env.RunUntilIdle()
		assert.Len(t, env.Runs("transfer"), 5, "every transfer ran")
		assert.False(t, overlap, "never two transfers on one account at once")
		assert.Equal(t, t0.Add(5*time.Minute), env.Now(), "one after the other")
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 10}))
}

// A key added again after its debounced submission was cancelled starts a
// new burst: it waits to settle like any first submission.
func TestDebounceOfAKeyAddedAgain(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("settle", func(ctx context.Context, in Customer) error { return nil },
			policy.TaskDebounce(5*time.Second))
		env.Register(task)
		t0 := env.Now()
		d := env.Docket()
		_, err := task.Add(t.Context(), d, Customer{1}, sdk.Key("x"))
		require.NoError(t, err)
		env.Advance(time.Second)
		require.NoError(t, d.Cancel(t.Context(), "x"))
		env.Advance(9 * time.Second)
		_, err = task.Add(t.Context(), d, Customer{2}, sdk.Key("x"))
		require.NoError(t, err)
		env.Advance(time.Minute)
		runs := env.Runs("settle")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(15*time.Second), runs[0].Start)
	})
}

type Keyed struct {
	K string `json:"k"`
}

// A task waiting for its burst to settle holds no slot, even one handed to
// it while it waited for a slot.
func TestSettlingTaskHoldsNoSlot(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("both", func(ctx context.Context, in Keyed) error {
			time.Sleep(10 * time.Second)
			return nil
		}, policy.TaskConcurrency(1), policy.Debounce("k", 5*time.Second))
		env.Register(task)
		t0 := env.Now()
		d := env.Docket()
		add := func(k string) {
			_, err := task.Add(t.Context(), d, Keyed{k})
			require.NoError(t, err)
		}
		add("a") // settles at 5s, runs 5s–15s
		env.Advance(time.Second)
		add("x") // settles at 6s, waits for the slot
		add("z") // settles at 6s, waits behind x
		env.Advance(11 * time.Second)
		add("x") // t=12s: x's burst goes on, so x must settle again, until 17s
		env.Advance(time.Minute)
		assert.Equal(t, map[string]time.Duration{
			`{"k":"a"}`: 5 * time.Second,
			`{"k":"z"}`: 15 * time.Second, // x got the slot at 15s, but x is still settling: z runs
			`{"k":"x"}`: 25 * time.Second, // settled at 17s, then the slot after z
		}, offsets(env, "both", t0))
	})
}

// A fallback interrupted by the end of the drain hands its task back, like
// any task.
func TestFallbackInterruptedByShutdownHandsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		ex, err := d.AddByName(t.Context(), "legacy", json.RawMessage(`{}`))
		require.NoError(t, err)
		fallback := func(ctx context.Context, task string, input json.RawMessage) error {
			<-ctx.Done()
			return ctx.Err()
		}
		w := worker.New(d, worker.Options{DrainTimeout: time.Second, Fallback: fallback})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		time.Sleep(time.Second)
		cancel()
		require.NoError(t, <-done)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State, "handed back, not failed")
		require.NoError(t, d.Cancel(t.Context(), ex.Key()))
	})
}

// At the end of the drain, a task whose function winds down after its
// context ends is handed back only once the function returned: another
// worker never runs it while this copy still does.
func TestShutdownHandsBackOnlyWhenTheFunctionReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		var returned time.Time
		slowToStop := sdk.NewTask("slow_to_stop", func(ctx context.Context, in Order) error {
			<-ctx.Done()
			time.Sleep(2 * time.Second) // cleaning up
			returned = time.Now()
			return ctx.Err()
		})
		require.NoError(t, d.Register(slowToStop))
		ex, err := slowToStop.Add(t.Context(), d, Order{})
		require.NoError(t, err)
		w := worker.New(d, worker.Options{DrainTimeout: time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		time.Sleep(time.Second)
		t0 := time.Now()
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, t0.Add(3*time.Second), returned, "1s drain, then 2s to stop")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State)
		assert.Equal(t, fmt.Sprint(0), fmt.Sprint(info.Deliveries))
		require.NoError(t, d.Cancel(t.Context(), ex.Key()))
	})
}
