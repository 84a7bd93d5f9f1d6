package worker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// These tests hold or fail the claim script's calls through a go-redis hook
// to force orders that races produce only now and then: two exchanges in
// flight coming back in either order, or failing together.

type orderIn struct{ N int }

// isClaim says whether cmd runs the claim script: the only one with two keys.
func isClaim(cmd redis.Cmder) bool {
	args := cmd.Args()
	if len(args) <= 2 {
		return false
	}
	k, _ := args[2].(int)
	return k == 2
}

// claimHook passes dials and pipelines through; the hooks below embed it and
// act on single commands.
type claimHook struct{}

func (claimHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (claimHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// pairHook, once armed, holds the first claim call until the second has
// its reply: Redis runs the two exchanges in the opposite order of their
// sending.
type pairHook struct {
	claimHook
	mu     sync.Mutex
	armed  bool
	n      int
	sent1  chan struct{}
	e2done chan struct{}
}

func (h *pairHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isClaim(cmd) {
			h.mu.Lock()
			n := 0
			if h.armed {
				h.n++
				n = h.n
			}
			h.mu.Unlock()
			switch n {
			case 1:
				close(h.sent1)
				<-h.e2done
			case 2:
				err := next(ctx, cmd)
				close(h.e2done)
				return err
			}
		}
		return next(ctx, cmd)
	}
}

// An exchange sent before Idle.Wait began comes back last, after a quiet
// one sent since: the worker reports idle as of the later round, at once,
// rather than leaving the waiter to the next timer (a week of fake time, in
// which the task due in an hour would run).
func TestIdleReportAfterExchangesOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rdb, closeRedis := store.Embedded()
		defer closeRedis()
		h := &pairHook{sent1: make(chan struct{}), e2done: make(chan struct{})}
		rdb.(*redis.Client).AddHook(h)
		d, err := sdk.OpenClient(rdb, sdk.WithName("order"))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close() // before the client: it stops the depth gauge
		gate := make(chan struct{})
		defer close(gate)
		var mu sync.Mutex
		var ran []int
		task := sdk.NewTask("t", func(ctx context.Context, in orderIn) error {
			mu.Lock()
			ran = append(ran, in.N)
			mu.Unlock()
			if in.N == 0 {
				<-gate // ignores its context
			}
			return nil
		})
		if err := d.Register(task); err != nil {
			t.Fatal(err)
		}
		w := worker.New(d, worker.Options{Concurrency: 2, PollInterval: 7 * 24 * time.Hour, Lease: 7 * 24 * time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = w.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()
		ex0, err := task.Add(context.Background(), d, orderIn{0})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // T0 running
		h.mu.Lock()
		h.armed = true
		h.mu.Unlock()
		if _, err := task.Add(context.Background(), d, orderIn{1}, sdk.After(time.Hour)); err != nil {
			t.Fatal(err)
		}
		<-h.sent1 // E1 in flight (its wake came from the add)
		synctest.Wait()
		start := time.Now()
		idle := make(chan struct{})
		go func() { _ = core.Unwrap(d).Idle.Wait(context.Background()); close(idle) }()
		synctest.Wait()
		if err := d.Cancel(context.Background(), ex0.Key()); err != nil {
			t.Fatal(err)
		}
		<-idle
		mu.Lock()
		defer mu.Unlock()
		if el := time.Since(start); el > time.Minute || len(ran) != 1 {
			t.Fatalf("idle reported after %v of fake time; ran %v (the task due in an hour ran)", el, ran)
		}
	})
}

// failHook fails the next `left` claim calls; the first waits for the
// second, so that both exchanges are in flight together.
type failHook struct {
	claimHook
	mu     sync.Mutex
	left   int
	second chan struct{}
	calls  int
}

func (h *failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isClaim(cmd) {
			h.mu.Lock()
			h.calls++
			if h.left > 0 {
				h.left--
				first := h.left == 1
				ch := h.second
				if !first {
					close(ch)
				}
				h.mu.Unlock()
				if first {
					select {
					case <-ch:
					case <-time.After(2 * time.Second):
					}
				}
				err := errors.New("BUSY injected by the test")
				cmd.SetErr(err)
				return err
			}
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

// Two exchanges in flight fail together: the worker retries after its
// backoff, though the timer fired for the earlier of the two retries, and
// runs the tasks. (A failure that leaves pub/sub working brings no other
// wake-up: a BUSY script, OOM, READONLY.)
func TestRetryAfterTwoFailedExchanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rdb, closeRedis := store.Embedded()
		defer closeRedis()
		h := &failHook{second: make(chan struct{})}
		rdb.(*redis.Client).AddHook(h)
		d, err := sdk.OpenClient(rdb, sdk.WithName("order"))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close() // before the client: it stops the depth gauge
		ran := make(chan int, 10)
		gate := make(chan struct{})
		task := sdk.NewTask("t", func(ctx context.Context, in orderIn) error {
			if in.N == 0 {
				<-gate
			}
			ran <- in.N
			return nil
		})
		if err := d.Register(task); err != nil {
			t.Fatal(err)
		}
		w := worker.New(d, worker.Options{Concurrency: 2, PollInterval: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = w.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		if _, err := task.Add(context.Background(), d, orderIn{0}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		h.mu.Lock()
		h.left = 2
		h.mu.Unlock()
		if _, err := task.Add(context.Background(), d, orderIn{1}, sdk.After(time.Second)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		close(gate)
		for i := 0; i < 2; i++ {
			select {
			case <-ran:
			case <-time.After(5 * time.Second):
				h.mu.Lock()
				t.Fatalf("task %d did not run within 5s of fake time (claim calls %d, failures left %d)", i, h.calls, h.left)
			}
		}
	})
}
