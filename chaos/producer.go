package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/docket-go/docket/chaos/internal/tasks"
	"github.com/docket-go/docket/sdk"
)

// kind is a kind of task a producer adds, with its weight in the mix.
type kind struct {
	name   string
	weight int
	add    func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error)
}

var kinds = []kind{
	{tasks.NamePlain, 40, func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error) {
		return ts.Plain.Add(ctx, d, tasks.Plain{N: n}, opts...)
	}},
	{tasks.NameLimited, 33, func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error) {
		return ts.Limited.Add(ctx, d, tasks.Limited{Value: n % tasks.Values, N: n}, opts...)
	}},
	{tasks.NamePanic, 8, func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error) {
		return ts.Panic.Add(ctx, d, tasks.Plain{N: n}, opts...)
	}},
	{tasks.NameTimeout, 8, func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error) {
		return ts.Timeout.Add(ctx, d, tasks.Plain{N: n}, opts...)
	}},
	{tasks.NameExit, 1, func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error) {
		return ts.Exit.Add(ctx, d, tasks.Plain{N: n}, opts...)
	}},
	{tasks.NameSlow, 10, func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error) {
		return ts.Slow.Add(ctx, d, tasks.Plain{N: n}, opts...)
	}},
}

func pick(rng *rand.Rand) kind {
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	n := rng.IntN(total)
	for _, k := range kinds {
		if n < k.weight {
			return k
		}
		n -= k.weight
	}
	return kinds[0]
}

// added is a key whose Add succeeded.
type added struct {
	key, kind string
}

// producer adds tasks at random intervals, each under a new key, retrying
// an Add that fails (Redis away) until it succeeds. It keeps the keys whose
// Add succeeded: those must all run.
type producer struct {
	id  int
	d   *sdk.Docket
	ts  tasks.Set
	rng *rand.Rand

	added     []added
	retries   int      // failed tries of an Add, later retried
	ambiguous int      // an Add that reported AlreadyScheduled: an earlier, failed try had added it
	gaveUp    []string // keys never added before the hard deadline
	count     *atomic.Int64
}

// run adds tasks every mean interval on average until stop closes. An Add
// in progress then goes on until it succeeds or hard ends.
func (p *producer) run(stop <-chan struct{}, hard context.Context, mean time.Duration) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for n := 0; ; n++ {
		timer.Reset(time.Duration(p.rng.ExpFloat64() * float64(mean)))
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		p.addOne(hard, n)
	}
}

func (p *producer) addOne(ctx context.Context, n int) {
	k := pick(p.rng)
	key := fmt.Sprintf("%s-p%d-%05d", k.name, p.id, n)
	var opts []sdk.AddOption
	opts = append(opts, sdk.Key(key))
	if p.rng.IntN(5) == 0 { // a fifth are due later, by the Redis clock
		opts = append(opts, sdk.After(time.Duration(p.rng.Int64N(int64(2*time.Second)))))
	}
	wait := 20 * time.Millisecond
	for {
		ex, err := k.add(ctx, p.d, p.ts, n, opts...)
		if err == nil {
			if ex.Disposition() == sdk.AlreadyScheduled {
				p.ambiguous++
			}
			p.added = append(p.added, added{key: key, kind: k.name})
			p.count.Add(1)
			return
		}
		p.retries++
		select {
		case <-ctx.Done():
			p.gaveUp = append(p.gaveUp, fmt.Sprintf("%s: %v", key, err))
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}
