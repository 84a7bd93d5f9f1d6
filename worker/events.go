package worker

import (
	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// listen follows the docket's events channel: wake-ups from producers, and
// cancellations of running tasks. After any interruption it pokes the claim
// loop, in case a wake-up was missed meanwhile.
func (r *run) listen() {
	ps := r.store.Subscribe(r.bgCtx)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-r.bgCtx.Done():
		case <-stop:
		}
		_ = ps.Close() // unblocks Receive
	}()

	var retry backoff
	for r.bgCtx.Err() == nil {
		msg, err := ps.Receive(r.bgCtx)
		if err != nil {
			if r.bgCtx.Err() != nil {
				return
			}
			wait := retry.wait()
			r.log.Debug("event subscription interrupted; resubscribing", "err", err, "in", wait)
			r.poke()
			pause(r.bgCtx, wait)
			continue
		}
		retry.reset()
		switch m := msg.(type) {
		case *redis.Subscription:
			r.ready.subscribe.Do(func() { close(r.ready.subscribed) })
			r.poke() // (re)subscribed: look for anything announced meanwhile
		case *redis.Message:
			r.handle(store.ParseEvent(m.Payload))
		}
	}
}

func (r *run) handle(ev store.Event) {
	if ev.Wake {
		r.poke()
	}
	if ev.Reap {
		select {
		case r.reap <- struct{}{}:
		default: // one is coming
		}
	}
	if ev.Chain != "" {
		if def := r.w.c.Task(ev.Chain); def != nil && def.Policies.Automatic() {
			select {
			case r.reseed <- struct{}{}:
			default: // one is coming
			}
		}
		return
	}
	if ev.Cancel == "" {
		return
	}
	r.mu.Lock()
	a := r.active[heldKey{ev.Cancel, ev.Gen}]
	r.mu.Unlock()
	if a != nil {
		r.log.Info("task cancelled while running", "key", ev.Cancel, "task", a.msg.Name)
		a.cancel(sdk.ErrCancelled)
	}
}
