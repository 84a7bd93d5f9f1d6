package worker

import (
	"context"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// claimLoop claims as many due tasks as there are free slots, starts them,
// and sleeps until the next due task, a wake-up from a producer, or a free
// slot. With untilIdle it returns once nothing is due or running.
func (r *run) claimLoop(ctx context.Context, untilIdle bool) {
	idle := &r.w.c.Idle
	var retry backoff
	timer := time.NewTimer(0)
	defer timer.Stop()
	// With a backlog, claiming for each slot as it frees would carry one
	// or two tasks per round trip: the loop waits a moment for half the
	// slots, so that claims (and then acknowledgements) travel in batches.
	var backlog bool
	var gathering time.Time
	for ctx.Err() == nil {
		wait := r.opts.PollInterval
		before := r.counts()
		free := r.opts.Concurrency - before.busy
		if backlog && free > 0 && free < (r.opts.Concurrency+1)/2 {
			if gathering.IsZero() {
				gathering = time.Now()
			}
			if left := coalesceWindow - time.Since(gathering); left > 0 {
				sleep(ctx, timer, left, r.wake)
				continue
			}
		}
		gathering = time.Time{}
		if free > 0 {
			round := idle.Round()
			claim, err := r.store.Claim(ctx, r.w.id, free, r.opts.Lease, r.w.c.Retention, r.rules(), r.opts.MaxDeliveries)
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil:
				wait = retry.wait()
				r.log.Warn("cannot claim tasks; retrying", "err", err, "in", wait)
			default:
				if retry.failing() {
					r.log.Info("claiming tasks again")
					retry.reset()
				}
				for _, m := range claim.Messages {
					r.start(m, claim.Now)
				}
				r.dropped(claim.Dropped)
				for _, err := range claim.Malformed {
					r.log.Error("claimed a task that cannot be decoded; it will be redelivered, then dead-lettered", "err", err)
				}
				backlog = len(claim.Messages) == free || claim.Wait == 0
				if backlog || len(claim.Dropped) > 0 {
					continue // there may be more
				}
				if len(claim.Messages) == 0 {
					// Idle only if nothing was in hand, and no outcome was
					// recorded while the claim ran: a retry it scheduled may
					// be due already.
					if after := r.counts(); after.active == 0 && after.acked == before.acked {
						idle.Report(round)
						if untilIdle {
							return
						}
					}
				}
				if claim.Wait >= 0 && claim.Wait < wait {
					wait = claim.Wait
				}
			}
		}
		sleep(ctx, timer, wait, r.wake)
	}
}

// coalesceWindow is how long, with a backlog, the claim loop waits for half
// its slots to free before it claims for fewer.
const coalesceWindow = time.Millisecond

// sleep waits for d, a wake-up or the end of ctx.
func sleep(ctx context.Context, timer *time.Timer, d time.Duration, wake <-chan struct{}) {
	timer.Reset(d)
	select {
	case <-ctx.Done():
	case <-wake:
	case <-timer.C:
	}
}

// start runs a claimed task in its own goroutine.
func (r *run) start(m store.Message, claimed time.Time) {
	a := newAttempt(r, m, claimed)
	r.mu.Lock()
	r.active[heldKey{m.Key, m.Gen}] = a
	r.busy++
	r.mu.Unlock()
	go a.run()
}
