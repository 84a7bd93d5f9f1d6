package worker

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// leaser keeps the tasks in hand this worker's: it renews their leases and
// the worker's heartbeat every Lease/3, cancels an attempt whose lease
// another worker took over (or whose task was cancelled), and fences those
// whose lease it could not renew in time.
type leaser struct {
	*conf
	lifecycle
	slots *slots
	// before runs before each renewal, on the leaser's goroutine: what the
	// worker must have done before it shows in Snapshot (see
	// upkeep.renewing).
	before func(context.Context)

	beat   sync.Once
	beaten chan struct{} // closed by the first heartbeat
}

func newLeaser(c *conf, s *slots, before func(context.Context)) *leaser {
	l := &leaser{conf: c, slots: s, before: before, beaten: make(chan struct{})}
	l.init()
	return l
}

// start renews at once, then every Lease/3, and starts the fence.
func (l *leaser) start() {
	l.spawn(l.renewLoop)
	l.spawn(l.fenceLoop)
}

// ready is closed once the worker has heartbeaten: it shows in Snapshot.
func (l *leaser) ready() <-chan struct{} { return l.beaten }

func (l *leaser) renewLoop() {
	started := time.Now()
	interval := l.opts.Lease / 3
	hb := store.Heartbeat{ID: l.w.id, TTL: l.opts.Lease}
	var retry backoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-timer.C:
		}
		l.before(l.ctx)
		held, attempts := l.slots.held()
		hb.Description = l.description(started)
		sent := l.clock()
		lost, err := l.store.Renew(l.ctx, hb, l.opts.Lease, held)
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			wait := min(retry.wait(), interval)
			l.log.Warn("cannot renew leases; retrying", "err", err, "tasks", len(held), "in", wait)
			timer.Reset(wait)
			continue
		}
		if retry.failing() {
			l.log.Info("renewing leases again")
			retry.reset()
		}
		l.renewed(held, attempts, lost, sent)
		l.beat.Do(func() { close(l.beaten) })
		timer.Reset(interval)
	}
}

// renewed takes in a renewal sent at sent: the attempts whose leases it
// renewed are leased from then, and those it lost are stopped.
func (l *leaser) renewed(held []store.Held, attempts []*attempt, lost []store.Lost, sent time.Duration) {
	renewed := make([]bool, len(attempts))
	for i := range renewed {
		renewed[i] = true
	}
	for _, x := range lost {
		// A run its key drains may take its grace to wind down: its fence
		// waits as the drain does (see store.Lost).
		renewed[x.Index] = x.Draining
	}
	for i, a := range attempts {
		if renewed[i] {
			a.leased.Store(int64(sent))
		}
	}
	for _, x := range lost {
		a := attempts[x.Index]
		if a.settled.Load() {
			continue // its outcome was being recorded meanwhile: nothing is lost
		}
		if x.Cancelled { // and the cancel event is late
			l.slots.stop(a, sdk.ErrCancelled)
			continue
		}
		l.log.Warn("lost the lease of a task; stopping it", "key", held[x.Index].Key, "task", a.msg.Name)
		l.slots.stop(a, sdk.ErrLeaseLost)
	}
}

// description is what Snapshot shows of this worker.
func (l *leaser) description(started time.Time) []byte {
	host, _ := os.Hostname()
	var names []string
	for _, t := range l.w.c.Tasks() {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	b, _ := json.Marshal(sdk.WorkerInfo{
		ID: l.w.id, Host: host, PID: os.Getpid(), Tasks: names,
		Concurrency: l.opts.Concurrency, Started: started,
	})
	return b
}

// fenceLoop stops every attempt whose lease this worker could not renew in
// time, before another worker can take the task over: when Redis stalls or
// this worker is cut off from it, renewals fail, the lease lapses in Redis,
// and another worker claims the task. An attempt is cancelled (with
// sdk.ErrLeaseLost) once Lease less fenceMargin has passed since the call
// that last set its lease was sent, by this worker's clock: the lease in
// Redis was set when that call ran, later. So two copies of a task never
// run at once, as long as tasks honour their context.
func (l *leaser) fenceLoop() {
	lease := l.opts.Lease
	limit := time.Duration(int64(lease) - int64(lease)/fenceMargin)
	tick := time.NewTicker(max(lease/fenceTicks, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-tick.C:
		}
		l.slots.releaseStale(lease / fenceTicks)
		now := l.clock()
		_, attempts := l.slots.held()
		for _, a := range attempts {
			if a.settled.Load() || now-time.Duration(a.leased.Load()) < limit {
				continue
			}
			l.log.Warn("could not renew the lease of a task in time; stopping it before another worker takes it over",
				"key", a.msg.Key, "task", a.msg.Name, "unrenewed_for", now-time.Duration(a.leased.Load()))
			l.slots.stop(a, sdk.ErrLeaseLost)
		}
	}
}

// An attempt whose lease went unrenewed for more than Lease - Lease/fenceMargin
// is stopped; the fence looks every Lease/fenceTicks, so it stops it within
// Lease - Lease/fenceMargin + Lease/fenceTicks: 0.9 of the lease.
const (
	fenceMargin = 5
	fenceTicks  = 10
)
