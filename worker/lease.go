package worker

import (
	"time"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// renewLoop renews the leases of the tasks this worker holds, and its
// heartbeat, every Lease/3, and starts automatic tasks whose chain is
// missing. A task whose lease another worker took over (or that was
// cancelled) has its context cancelled.
func (r *run) renewLoop() {
	started := time.Now()
	interval := r.opts.Lease / 3
	hb := store.Heartbeat{ID: r.w.id, TTL: r.opts.Lease}
	var retry backoff
	prepared := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-r.bgCtx.Done():
			return
		case <-timer.C:
		}
		// Seeding first: once this worker shows in Snapshot, it has seeded.
		// The first time, it also makes due the tasks that waited for a
		// worker that knows them.
		prepare := r.seed
		if !prepared {
			prepare = r.prepare
		}
		select { // the children of ended workflows, should an "r" event have been missed
		case r.reap <- struct{}{}:
		default:
		}
		if err := prepare(r.bgCtx); err != nil && r.bgCtx.Err() == nil {
			r.log.Warn("cannot start automatic tasks; trying again at the next renewal", "err", err)
		} else {
			prepared = true
		}
		held, attempts := r.held()
		hb.Description = r.description(started)
		sent := r.clock()
		lost, err := r.store.Renew(r.bgCtx, hb, r.opts.Lease, held)
		if err != nil {
			if r.bgCtx.Err() != nil {
				return
			}
			wait := min(retry.wait(), interval)
			r.log.Warn("cannot renew leases; retrying", "err", err, "tasks", len(held), "in", wait)
			timer.Reset(wait)
			continue
		}
		if retry.failing() {
			r.log.Info("renewing leases again")
			retry.reset()
		}
		renewed := make([]bool, len(attempts))
		for i := range renewed {
			renewed[i] = true
		}
		for _, l := range lost {
			renewed[l.Index] = false
		}
		for i, a := range attempts {
			if renewed[i] {
				a.leased.Store(int64(sent))
			}
		}
		for _, l := range lost {
			a := attempts[l.Index]
			if a.settled.Load() {
				continue // its outcome was being recorded meanwhile: nothing is lost
			}
			if l.Cancelled { // and the cancel event is late
				a.cancel(sdk.ErrCancelled)
				continue
			}
			r.log.Warn("lost the lease of a task; stopping it", "key", held[l.Index].Key, "task", a.msg.Name)
			a.cancel(sdk.ErrLeaseLost)
		}
		r.ready.beat.Do(func() { close(r.ready.beaten) })
		timer.Reset(interval)
	}
}

// held lists the tasks this worker holds leases on.
func (r *run) held() ([]store.Held, []*attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	held := make([]store.Held, 0, len(r.active))
	attempts := make([]*attempt, 0, len(r.active))
	for k, a := range r.active {
		held = append(held, store.Held{Key: k.key, Gen: k.gen})
		attempts = append(attempts, a)
	}
	return held, attempts
}

// clock reads the run's own clock: the time since it started, monotonic.
func (r *run) clock() time.Duration { return time.Since(r.epoch) }

// fenceLoop stops every attempt whose lease this worker could not renew in
// time, before another worker can take the task over: when Redis stalls or
// this worker is cut off from it, renewals fail, the lease lapses in Redis,
// and another worker claims the task. An attempt is cancelled (with
// sdk.ErrLeaseLost) once Lease less fenceMargin has passed since the call
// that last set its lease was sent, by this worker's clock: the lease in
// Redis was set when that call ran, later. So two copies of a task never
// run at once, as long as tasks honour their context.
func (r *run) fenceLoop() {
	lease := r.opts.Lease
	limit := time.Duration(int64(lease) - int64(lease)/fenceMargin)
	tick := time.NewTicker(max(lease/fenceTicks, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-r.bgCtx.Done():
			return
		case <-tick.C:
		}
		now := r.clock()
		_, attempts := r.held()
		for _, a := range attempts {
			if a.settled.Load() || now-time.Duration(a.leased.Load()) < limit {
				continue
			}
			r.log.Warn("could not renew the lease of a task in time; stopping it before another worker takes it over",
				"key", a.msg.Key, "task", a.msg.Name, "unrenewed_for", now-time.Duration(a.leased.Load()))
			a.cancel(sdk.ErrLeaseLost)
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
