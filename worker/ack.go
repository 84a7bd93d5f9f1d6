package worker

import (
	"context"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// acker takes the outcomes of settled attempts (each attempt's out) to
// Redis. While the worker runs, the claimer collects them and carries them
// with its claims; once the claim loop has stopped, the acker's own loop
// records them, during the drain.
type acker struct {
	*conf
	lifecycle
	// ch holds the outcomes until they are collected. It has room for
	// every attempt the worker may hold, in its slots and in line
	// (Concurrency and ClaimAhead): all may settle before the claim loop
	// next collects, and none then waits for it to hand its outcome on.
	// With room for Concurrency only, a busy worker claiming ahead had
	// attempts wait there for the loop in every cycle, and the scheduler
	// park and wake their goroutines: at concurrency 200, the execution
	// tracer counted 0.4 to 3 s of such goroutines made ready to run again
	// by the loop's collect in bench runs of 1.2 to 2.4 s.
	ch chan *attempt
}

func newAcker(c *conf) *acker {
	k := &acker{conf: c, ch: make(chan *attempt, c.opts.Concurrency+max(c.opts.ClaimAhead, 0))}
	k.init()
	return k
}

// send hands a settled attempt's outcome on. Once the acker has stopped,
// the outcome is dropped: its task is redelivered when the lease lapses.
func (k *acker) send(a *attempt) {
	select {
	case k.ch <- a:
	case <-k.ctx.Done():
	}
}

// start records outcomes from now on, beginning with those the claim loop
// left.
func (k *acker) start(pending []*attempt) { k.spawn(func() { k.loop(pending) }) }

// loop records in batches: whatever accumulated while the previous batch
// was in flight goes in the next call. When Redis is unavailable it keeps
// the outcomes and retries.
func (k *acker) loop(pending []*attempt) {
	var retry backoff
	var outcomes outcomeBuffer
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
		if err := k.flush(pending[:n], &outcomes); err != nil {
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
func (k *acker) await(pending []*attempt, d time.Duration) []*attempt {
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
func (k *acker) collect(pending []*attempt) []*attempt {
	for {
		select {
		case a := <-k.ch:
			pending = append(pending, a)
		default:
			return pending
		}
	}
}

func (k *acker) flush(batch []*attempt, outcomes *outcomeBuffer) error {
	ctx, cancel := context.WithTimeout(k.ctx, 30*time.Second)
	defer cancel()
	applied, err := k.store.Finish(ctx, k.w.c.Retention, outcomes.of(batch))
	outcomes.clear()
	if err != nil {
		return err
	}
	k.recorded(batch, applied)
	return nil
}

// outcomeBuffer holds the outcomes of a batch of settled attempts for
// one call, and again for the next: one of its own for each goroutine that
// makes the calls. (A slice made for each call was a tenth of the bytes a
// busy worker allocated a task, and the garbage collector's work grows
// with them.)
type outcomeBuffer struct{ buf []store.Outcome }

// of returns the outcomes of batch, in order, in the buffer.
func (b *outcomeBuffer) of(batch []*attempt) []store.Outcome {
	b.buf = b.buf[:0]
	for _, a := range batch {
		b.buf = append(b.buf, a.out)
	}
	return b.buf
}

// clear drops the buffer's references once the call is over (a result may
// be large), keeping its room.
func (b *outcomeBuffer) clear() { clear(b.buf) }

// recorded forgets the attempts whose outcomes Redis took: applied, or
// stale because the store moved on meanwhile.
func (k *acker) recorded(batch []*attempt, applied []bool) {
	for i, a := range batch {
		if i < len(applied) && !applied[i] {
			k.log.Debug("outcome not recorded: the task was cancelled, replaced or redelivered meanwhile",
				"key", a.out.Key, "task", a.msg.Name)
		}
		a.forget()
	}
}
