// Package tasks holds the tasks of the chaos driver, shared by the driver
// (which adds them) and the worker binary (which runs them), and the keys of
// their external record: Redis keys outside the docket, written by the tasks
// themselves, that the driver reads at the end to judge the run.
//
// Every write to the record is retried until it succeeds (or the task's
// context ends), so a Redis restart in the middle of a task delays it rather
// than leaving the record half-written. A write whose reply was lost may be
// applied twice: the record is built so that this only ever over-counts
// completions (a duplicate), never a concurrency violation.
//
// The tasks honour their context, as Docket asks: once it ends, a task
// starts nothing new and returns at once, even from a write to the record
// that Redis has not answered (see record.do). Each run is also logged, by
// the worker process, in a RunLog, from which the driver tells whether two
// runs of one key overlapped.
//
// The order workflow and its part children (workflow.go) record what their
// steps, sleep and signal did, and check some of it as they run.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
)

// Task names.
const (
	NamePlain   = "plain"
	NameLimited = "limited"
	NamePanic   = "panicky"
	NameTimeout = "sleepy"
	NameExit    = "exiter"
	NameSlow    = "slow"
	NameTick    = "tick"
	NameTock    = "tock"
)

// Limit is the concurrency limit of the limited task per value of its
// "value" field, and Values how many values the producers spread it over.
const (
	Limit  = 2
	Values = 10
)

// SlowWork is the longest a slow task works, and LongLimited the longest a
// long run of the limited task does: longer than the workers' lease (2s),
// so that a worker stalled or cut off from Redis for longer than the lease
// is likely to hold such a run, which another worker then takes over, and
// which, were it not stopped in time, would run beside the copy that took
// it over.
const (
	SlowWork    = 4 * time.Second
	LongLimited = 3 * time.Second
)

// FirstTimeout is the timeout of the sleepy task, whose first attempt
// always overruns it.
const FirstTimeout = 300 * time.Millisecond

// Perpetual intervals of the automatic tasks.
const (
	TickEvery = 500 * time.Millisecond
	TockEvery = 2 * time.Second
)

// ExitCode is what a worker process exits with when an exiter task ends it
// on its first delivery: the driver tells it from a crash by this code.
const ExitCode = 3

// retries is the retry policy of every non-perpetual task: an attempt that
// fails because Redis is away (or on purpose) is tried again, many times.
var retries = policy.Retry(50, 100*time.Millisecond)

// Record keys, outside the docket's "docket:{name}:" prefix.
const (
	// Done is a hash: task key -> number of runs that completed it.
	Done = "chaos:done"
	// Violations is a list of descriptions of moments a value of the
	// limited task had more runs at once than its limit.
	Violations = "chaos:violations"
	// Peak is a sorted set: value -> the most runs seen at once.
	Peak = "chaos:peak"
	// Exited is a set of the exiter tasks that have ended a process.
	Exited = "chaos:exited"
)

// Running is the set of the keys of the limited task's runs in progress
// for one value.
func Running(value int) string { return "chaos:running:" + strconv.Itoa(value) }

// Runs is the list of the due times (unix µs) of an automatic task's runs.
func Runs(task string) string { return "chaos:runs:" + task }

// Inputs of the tasks. N only makes each input distinct.
type (
	Plain struct {
		N int `json:"n"`
	}
	Limited struct {
		Value int `json:"value"`
		N     int `json:"n"`
	}
	Auto struct{}
)

// Set is every task of the chaos run.
type Set struct {
	Plain   *sdk.Task[Plain]                    // records its completion
	Limited *sdk.Task[Limited]                  // at most Limit at once per value, checked by the record
	Panic   *sdk.Task[Plain]                    // panics on its first attempt
	Timeout *sdk.Task[Plain]                    // overruns its timeout on its first attempt
	Exit    *sdk.Task[Plain]                    // exits its process on its first delivery
	Slow    *sdk.Task[Plain]                    // works longer than a lease, at times
	Tick    *sdk.Task[Auto]                     // automatic, perpetual
	Tock    *sdk.Task[Auto]                     // automatic, perpetual
	Order   *sdk.ResultTask[Order, OrderResult] // a workflow: see workflow.go
	Part    *sdk.ResultTask[Part, int]          // the order's child
}

// All lists the tasks, to register them.
func (s Set) All() []sdk.Registrable {
	return []sdk.Registrable{s.Plain, s.Limited, s.Panic, s.Timeout, s.Exit, s.Slow, s.Tick, s.Tock, s.Order, s.Part}
}

// PlannedRuns is how many runs a task of the named kind takes when nothing
// goes wrong: the panicky and sleepy tasks fail their first attempt on
// purpose, and an exiter's first delivery ends its process. Zero for the
// order workflow, whose runs are as many as its waits that found what they
// wait for not there yet: not a number planned.
func PlannedRuns(name string) int {
	switch name {
	case NamePanic, NameTimeout, NameExit:
		return 2
	case NameOrder:
		return 0
	}
	return 1
}

// Automatic lists the automatic tasks' names and intervals.
func Automatic() map[string]time.Duration {
	return map[string]time.Duration{NameTick: TickEvery, NameTock: TockEvery}
}

// New builds the tasks of the docket name over a record client, logging
// their runs in runs. A producer that only adds tasks may pass nil for both.
func New(name string, rec redis.UniversalClient, runs *RunLog) Set {
	flows, err := store.New(rec, name)
	if err != nil {
		panic(err) // the driver's own constant: a bad name is a bug
	}
	r := record{rec, flows}
	part := sdk.NewResultTask(NamePart, trackResult(runs, r.part), retries)
	return Set{
		Order: sdk.NewResultTask(NameOrder, trackResult(runs, r.order(part)), retries),
		Part:  part,

		Plain: sdk.NewTask(NamePlain, track(runs, func(ctx context.Context, in Plain) error {
			if err := work(ctx, 300*time.Millisecond); err != nil {
				return err
			}
			return r.complete(ctx)
		}), retries),

		Limited: sdk.NewTask(NameLimited, track(runs, r.limited), policy.Concurrency("value", Limit), retries),

		Panic: sdk.NewTask(NamePanic, track(runs, func(ctx context.Context, in Plain) error {
			if sdk.Current(ctx).Attempt() == 1 {
				panic(fmt.Sprintf("chaos: first attempt of %s panics on purpose", sdk.Current(ctx).Key()))
			}
			return r.complete(ctx)
		}), retries),

		Timeout: sdk.NewTask(NameTimeout, track(runs, func(ctx context.Context, in Plain) error {
			if sdk.Current(ctx).Attempt() == 1 {
				<-ctx.Done() // the timeout ends it
				return ctx.Err()
			}
			return r.complete(ctx)
		}), policy.Timeout(FirstTimeout), retries),

		Exit: sdk.NewTask(NameExit, track(runs, func(ctx context.Context, in Plain) error {
			key := sdk.Current(ctx).Key()
			var first int64
			if err := r.retry(ctx, func(ctx context.Context) (err error) {
				first, err = r.rec.SAdd(ctx, Exited, key).Result()
				return err
			}); err != nil {
				return err
			}
			if first == 1 {
				// The marker is in Redis (appendonly, fsync always): the
				// next delivery finds it and completes.
				fmt.Fprintf(os.Stderr, "chaos: %s exits this worker process on its first delivery\n", key)
				os.Exit(ExitCode)
			}
			return r.complete(ctx)
		}), retries),

		Slow: sdk.NewTask(NameSlow, track(runs, func(ctx context.Context, in Plain) error {
			if err := sleep(ctx, time.Second+rand.N(SlowWork-time.Second)); err != nil {
				return err
			}
			return r.complete(ctx)
		}), retries),

		Tick: sdk.NewTask(NameTick, track(runs, r.auto), policy.Perpetual(TickEvery, policy.Automatic())),
		Tock: sdk.NewTask(NameTock, track(runs, r.auto), policy.Perpetual(TockEvery, policy.Automatic())),
	}
}

type record struct {
	rec   redis.UniversalClient
	flows *store.Store // the workflows' flows, read through rec: see step
}

// limited enters the record of its value, flags a violation if the value
// now has more runs than its limit, works, and leaves the record. It leaves
// before it returns, so before the worker frees its slot: the record never
// counts a run the limit no longer does. A run stopped for a lost lease
// returns without leaving: the task keeps its slot (see leaving).
func (r record) limited(ctx context.Context, in Limited) error {
	key := sdk.Current(ctx).Key()
	running := Running(in.Value)
	var card int64
	err := r.retry(ctx, func(ctx context.Context) error {
		var c *redis.IntCmd
		_, err := r.rec.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, running, key)
			c = p.SCard(ctx, running)
			return nil
		})
		card = c.Val()
		return err
	})
	if err == nil {
		if card > Limit {
			msg := fmt.Sprintf("value %d: %d runs at once (limit %d), entering: %s", in.Value, card, Limit, key)
			err = r.retry(ctx, func(ctx context.Context) error { return r.rec.RPush(ctx, Violations, msg).Err() })
		}
		if err == nil {
			err = r.retry(ctx, func(ctx context.Context) error {
				return r.rec.ZAddGT(ctx, Peak, redis.Z{Score: float64(card), Member: strconv.Itoa(in.Value)}).Err()
			})
		}
		if err == nil {
			if in.N/Values%10 == 0 { // one in ten works 1s to LongLimited: often longer than the lease
				err = sleep(ctx, time.Second+rand.N(LongLimited-time.Second))
			} else {
				err = work(ctx, 50*time.Millisecond+rand.N(350*time.Millisecond))
			}
		}
	}
	if errors.Is(context.Cause(ctx), sdk.ErrCancelled) {
		// Replaced while it ran: it honours its context, but winding down
		// takes a moment, during which it still holds its slot (and its
		// replacement must not start).
		time.Sleep(WindDown + rand.N(WindDown))
	}
	leave, cancel := leaving(ctx)
	defer cancel()
	if lerr := r.retry(leave, func(ctx context.Context) error { return r.rec.SRem(ctx, running, key).Err() }); lerr != nil {
		return errors.Join(err, lerr)
	}
	if err != nil {
		return err
	}
	return r.complete(ctx)
}

// WindDown is the least time a run of the limited task cancelled by a
// Replace takes to return (up to twice as long).
const WindDown = 100 * time.Millisecond

// leaving is the context in which a run of the limited task leaves the
// record. It outlives ctx (the SADD may have applied even if ctx ended
// before its reply), because the worker frees the run's slot once the
// function returns, and a run still in the record then could be counted
// beside the runs that take the slot: a made-up violation. But not past a
// lost lease: the worker then stopped the run so that another could take
// the task over, and a stopped run must not go on writing (with Redis
// stalled, it would wait for it past the takeover). Nothing is left behind
// for that: the task keeps its slot, and the run that takes it over enters
// the record under the same key, and leaves it for both.
func leaving(ctx context.Context) (context.Context, context.CancelFunc) {
	leave, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	if errors.Is(context.Cause(ctx), sdk.ErrLeaseLost) {
		cancel()
	}
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(context.Cause(ctx), sdk.ErrLeaseLost) {
			cancel()
		}
	})
	return leave, func() { stop(); cancel() }
}

// auto records the due time of an automatic task's run, and works a while
// (so that some kills land in the middle of a run).
func (r record) auto(ctx context.Context, _ Auto) error {
	cur := sdk.Current(ctx)
	due := strconv.FormatInt(cur.Due().UnixMicro(), 10)
	if err := r.retry(ctx, func(ctx context.Context) error { return r.rec.RPush(ctx, Runs(cur.Task()), due).Err() }); err != nil {
		return err
	}
	return work(ctx, 200*time.Millisecond)
}

// complete records that the running task completed.
func (r record) complete(ctx context.Context) error {
	key := sdk.Current(ctx).Key()
	return r.retry(ctx, func(ctx context.Context) error { return r.rec.HIncrBy(ctx, Done, key, 1).Err() })
}

// retry runs op until it succeeds or ctx ends, backing off from 20ms to
// 500ms: the record survives a Redis restart in the middle of a task.
func (r record) retry(ctx context.Context, op func(context.Context) error) error {
	wait := 20 * time.Millisecond
	for {
		err := do(ctx, op)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("chaos: record: %w (then %w)", err, ctx.Err())
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// do runs op, and returns when it does or when ctx ends, whichever comes
// first. go-redis does not end a call in progress when its context is
// cancelled: a call to a stalled Redis waits for the reply, or for the read
// timeout (3s, and its retries). A task that honours its context returns
// at once instead; a write already sent may still apply, which the record
// allows for (it over-counts, at worst).
func do(ctx context.Context, op func(context.Context) error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// work takes up to max, or until ctx ends.
func work(ctx context.Context, max time.Duration) error {
	return sleep(ctx, rand.N(max)+time.Millisecond)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
