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
		if err := prepare(r.bgCtx); err != nil && r.bgCtx.Err() == nil {
			r.log.Warn("cannot start automatic tasks; trying again at the next renewal", "err", err)
		} else {
			prepared = true
		}
		held, attempts := r.held()
		hb.Description = r.description(started)
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
