package worker

import (
	"context"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// ack is an attempt's outcome on its way to Redis.
type ack struct {
	attempt *attempt
	outcome store.Outcome
}

// ackLoop records outcomes once the claim loop, which carries them while
// the worker runs, has stopped: during the drain. It starts with those the
// claim loop left, and records in batches: whatever accumulated while the
// previous batch was in flight goes in the next call. When Redis is
// unavailable it keeps the outcomes and retries.
func (r *run) ackLoop(pending []ack) {
	var retry backoff
	for {
		if len(pending) == 0 {
			select {
			case a := <-r.acks:
				pending = append(pending, a)
			case <-r.bgCtx.Done():
				return
			}
		}
		pending = r.collect(pending)
		n := min(len(pending), store.MaxBatch)
		if err := r.flush(pending[:n]); err != nil {
			wait := retry.wait()
			r.log.Warn("cannot record task outcomes; retrying", "err", err, "tasks", len(pending), "in", wait)
			if pending = r.await(pending, wait); pending == nil {
				return
			}
			continue
		}
		if retry.failing() {
			r.log.Info("recording task outcomes again")
			retry.reset()
		}
		pending = pending[n:]
	}
}

// await waits before a retry, still taking in outcomes so that tasks
// finishing meanwhile are not held up. It returns nil when the worker stops.
func (r *run) await(pending []ack, d time.Duration) []ack {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case a := <-r.acks:
			pending = append(pending, a)
		case <-timer.C:
			return pending
		case <-r.bgCtx.Done():
			return nil
		}
	}
}

// collect adds the outcomes already waiting, without blocking.
func (r *run) collect(pending []ack) []ack {
	for {
		select {
		case a := <-r.acks:
			pending = append(pending, a)
		default:
			return pending
		}
	}
}

func (r *run) flush(batch []ack) error {
	ctx, cancel := context.WithTimeout(r.bgCtx, 30*time.Second)
	defer cancel()
	applied, err := r.store.Finish(ctx, r.w.c.Retention, outcomesOf(batch))
	if err != nil {
		return err
	}
	r.recorded(batch, applied)
	return nil
}

func outcomesOf(batch []ack) []store.Outcome {
	if len(batch) == 0 {
		return nil
	}
	outcomes := make([]store.Outcome, len(batch))
	for i, a := range batch {
		outcomes[i] = a.outcome
	}
	return outcomes
}

// recorded forgets the attempts whose outcomes Redis took: applied, or
// stale because the store moved on meanwhile.
func (r *run) recorded(batch []ack, applied []bool) {
	for i, a := range batch {
		if i < len(applied) && !applied[i] {
			r.log.Debug("outcome not recorded: the task was cancelled, replaced or redelivered meanwhile",
				"key", a.outcome.Key, "task", a.attempt.msg.Name)
		}
		a.attempt.forget()
	}
}
