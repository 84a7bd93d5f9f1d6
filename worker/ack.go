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

// acker takes the outcomes of settled attempts to Redis. While the worker
// runs, the claimer collects them and carries them with its claims; once
// the claim loop has stopped, the acker's own loop records them, during the
// drain.
type acker struct {
	*conf
	lifecycle
	ch chan ack
}

func newAcker(c *conf) *acker {
	k := &acker{conf: c, ch: make(chan ack, c.opts.Concurrency)}
	k.init()
	return k
}

// send hands an outcome on. Once the acker has stopped, the outcome is
// dropped: its task is redelivered when the lease lapses.
func (k *acker) send(a ack) {
	select {
	case k.ch <- a:
	case <-k.ctx.Done():
	}
}

// start records outcomes from now on, beginning with those the claim loop
// left.
func (k *acker) start(pending []ack) { k.spawn(func() { k.loop(pending) }) }

// loop records in batches: whatever accumulated while the previous batch
// was in flight goes in the next call. When Redis is unavailable it keeps
// the outcomes and retries.
func (k *acker) loop(pending []ack) {
	var retry backoff
	for {
		if len(pending) == 0 {
			select {
			case a := <-k.ch:
				pending = append(pending, a)
			case <-k.ctx.Done():
				return
			}
		}
		pending = k.collect(pending)
		n := min(len(pending), store.MaxBatch)
		if err := k.flush(pending[:n]); err != nil {
			wait := retry.wait()
			k.log.Warn("cannot record task outcomes; retrying", "err", err, "tasks", len(pending), "in", wait)
			if pending = k.await(pending, wait); pending == nil {
				return
			}
			continue
		}
		if retry.failing() {
			k.log.Info("recording task outcomes again")
			retry.reset()
		}
		pending = pending[n:]
	}
}

// await waits before a retry, still taking in outcomes so that tasks
// finishing meanwhile are not held up. It returns nil when the acker stops.
func (k *acker) await(pending []ack, d time.Duration) []ack {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case a := <-k.ch:
			pending = append(pending, a)
		case <-timer.C:
			return pending
		case <-k.ctx.Done():
			return nil
		}
	}
}

// collect adds the outcomes already waiting, without blocking.
func (k *acker) collect(pending []ack) []ack {
	for {
		select {
		case a := <-k.ch:
			pending = append(pending, a)
		default:
			return pending
		}
	}
}

func (k *acker) flush(batch []ack) error {
	ctx, cancel := context.WithTimeout(k.ctx, 30*time.Second)
	defer cancel()
	applied, err := k.store.Finish(ctx, k.w.c.Retention, outcomesOf(batch))
	if err != nil {
		return err
	}
	k.recorded(batch, applied)
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
func (k *acker) recorded(batch []ack, applied []bool) {
	for i, a := range batch {
		if i < len(applied) && !applied[i] {
			k.log.Debug("outcome not recorded: the task was cancelled, replaced or redelivered meanwhile",
				"key", a.outcome.Key, "task", a.attempt.msg.Name)
		}
		a.attempt.forget()
	}
}
