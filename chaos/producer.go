package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
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

// orders is the kind of the order workflow, in the mix unless -workflows
// is off. Three in a hundred: each starts 5 to 12 children and runs 3 to 5
// times, so that the workflows add about as many runs as a third of the
// other tasks do, and a short run stays about as long as it was.
var orders = kind{tasks.NameOrder, 3, func(ctx context.Context, d *sdk.Docket, ts tasks.Set, n int, opts ...sdk.AddOption) (*sdk.Execution, error) {
	return ts.Order.Add(ctx, d, tasks.NewOrder(n), opts...)
}}

func pick(rng *rand.Rand, kinds []kind) kind {
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

// added is a key whose Add succeeded: the n-th of its producer.
type added struct {
	key, kind string
	n         int
	tried     time.Time // when its first Add was tried
}

// signalled is how the approval of an order went: sent (delivered) at a
// moment, or refused because the order had ended (sdk.ErrNotFound), or
// never sent (the hard deadline came first).
type signalled struct {
	err  error
	sent time.Time // when Signal returned nil, or ErrNotFound
}

// producer adds tasks at random intervals, each under a new key, retrying
// an Add that fails (Redis away) until it succeeds. It keeps the keys whose
// Add succeeded: those must all run.
type producer struct {
	id    int
	d     *sdk.Docket
	ts    tasks.Set
	kinds []kind
	rng   *rand.Rand

	added     []added
	retries   int      // failed tries of an Add, later retried
	ambiguous int      // an Add that reported AlreadyScheduled: an earlier, failed try had added it
	gaveUp    []string // keys never added before the hard deadline
	count     *atomic.Int64

	// The approvals of the orders, sent a while after their Add, and the
	// replacements of some limited tasks (see replace).
	followUps sync.WaitGroup
	replaced  atomic.Int64 // Replace calls that succeeded
	mu        sync.Mutex
	signalled map[string]signalled // by order key
}

// run adds tasks every mean interval on average until stop closes. An Add
// in progress then goes on until it succeeds or hard ends; so do the
// approvals of the orders added, which run returns without waiting for
// (see wait).
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

// wait waits for the approvals and replacements in flight.
func (p *producer) wait() { p.followUps.Wait() }

func (p *producer) addOne(ctx context.Context, n int) {
	k := pick(p.rng, p.kinds)
	key := fmt.Sprintf("%s-p%d-%05d", k.name, p.id, n)
	var opts []sdk.AddOption
	opts = append(opts, sdk.Key(key))
	if p.rng.IntN(5) == 0 { // a fifth are due later, by the Redis clock
		opts = append(opts, sdk.After(time.Duration(p.rng.Int64N(int64(2*time.Second)))))
	}
	var approveAfter, replaceAfter time.Duration
	if k.name == tasks.NameOrder {
		approveAfter = time.Duration(p.rng.Int64N(int64(approvalDelay)))
	}
	if k.name == tasks.NameLimited && p.rng.IntN(replaceOneIn) == 0 {
		replaceAfter = time.Millisecond + time.Duration(p.rng.Int64N(int64(replaceDelay)))
	}
	tried := time.Now()
	wait := 20 * time.Millisecond
	for {
		ex, err := k.add(ctx, p.d, p.ts, n, opts...)
		if err == nil {
			if ex.Disposition() == sdk.AlreadyScheduled {
				p.ambiguous++
			}
			p.added = append(p.added, added{key: key, kind: k.name, n: n, tried: tried})
			p.count.Add(1)
			if k.name == tasks.NameOrder {
				p.followUps.Go(func() { p.approve(ctx, key, approveAfter) })
			}
			if k.name == tasks.NameLimited && replaceAfter > 0 {
				p.followUps.Go(func() { p.replace(ctx, key, n, replaceAfter) })
			}
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

// replaceOneIn: one limited task in that many is replaced (with the same
// input) up to replaceDelay after its Add: often while it runs, when its run
// is cancelled and winds down (see tasks.Limited) while its replacement and
// the next task of its value wait for it; or while it waits for a slot, or
// after it ended, when it runs once more.
const (
	replaceOneIn = 8
	replaceDelay = 1500 * time.Millisecond
)

// replace replaces the limited task with key, the producer's n-th, after a
// while, retrying until Replace succeeds or ctx ends.
func (p *producer) replace(ctx context.Context, key string, n int, after time.Duration) {
	select {
	case <-time.After(after):
	case <-ctx.Done():
		return
	}
	wait := 20 * time.Millisecond
	for {
		_, err := p.ts.Limited.Replace(ctx, p.d, tasks.Limited{Value: n % tasks.Values, N: n}, sdk.Key(key))
		if err == nil {
			p.replaced.Add(1)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// approvalDelay bounds how long after its Add an order's approval is sent:
// some arrive before the order reaches its wait (they wait for it), some
// while it is parked waiting (they resume it).
const approvalDelay = 6 * time.Second

// approve sends the order with key its approval after a while, retrying
// until Signal succeeds, or says that the order has ended, or ctx ends.
func (p *producer) approve(ctx context.Context, key string, after time.Duration) {
	select {
	case <-time.After(after):
	case <-ctx.Done():
	}
	wait := 20 * time.Millisecond
	var err error
	for {
		err = p.d.Signal(ctx, key, tasks.SignalApprove, tasks.ApprovalFor(key))
		if err == nil || errors.Is(err, sdk.ErrNotFound) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.signalled == nil {
		p.signalled = map[string]signalled{}
	}
	p.signalled[key] = signalled{err: err, sent: time.Now()}
}
