package worker

import (
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// listener follows the docket's events channel and passes each event to
// the part it concerns: wake-ups to the claimer, cancellations of running
// tasks to their attempts, ended chains and workflows to the upkeep. After
// any interruption it pokes the claimer, in case a wake-up was missed
// meanwhile.
type listener struct {
	*conf
	lifecycle
	slots  *slots
	poke   func() // the claimer's
	upkeep *upkeep

	subscribe  sync.Once
	subscribed chan struct{} // closed once first subscribed, or refused
	refused    bool          // the user may not subscribe: said once (the listener's goroutine alone)
}

func newListener(c *conf, s *slots, poke func(), u *upkeep) *listener {
	l := &listener{conf: c, slots: s, poke: poke, upkeep: u, subscribed: make(chan struct{})}
	l.init()
	return l
}

func (l *listener) start() { l.spawn(l.listen) }

// ready is closed once the worker has subscribed: no event published later
// is missed.
func (l *listener) ready() <-chan struct{} { return l.subscribed }

func (l *listener) listen() {
	ps := l.store.Subscribe(l.ctx)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-l.ctx.Done():
		case <-stop:
		}
		_ = ps.Close() // unblocks Receive
	}()

	var retry backoff
	for l.ctx.Err() == nil {
		msg, err := ps.Receive(l.ctx)
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			wait := retry.wait()
			if isNoPerm(err) {
				// Not a passing drop: the user may not subscribe. The
				// worker runs on without events, later (polls, renewals),
				// and asks again now and then: the connection stays up,
				// subscribed to nothing, and an ACL granted meanwhile
				// takes effect at the next ask.
				if !l.refused {
					l.refused = true
					l.subscribe.Do(func() { close(l.subscribed) }) // nothing to wait for
					l.log.Warn("the Redis user may not subscribe to the docket's events channel: the worker notices new tasks, "+
						"cancellations and ended chains late (at its next poll or lease renewal), and watches fail; grant the "+
						"user the docket's channels (ACL: &docket:{NAME}:*)", "err", err, "channel", l.store.EventsChannel())
				}
				l.poke()
				pause(l.ctx, refusedRetry)
				if err := ps.Subscribe(l.ctx, l.store.EventsChannel()); err != nil && l.ctx.Err() == nil {
					l.log.Debug("cannot ask for the events channel again", "err", err)
				}
				continue
			}
			l.log.Debug("event subscription interrupted; resubscribing", "err", err, "in", wait)
			l.poke()
			pause(l.ctx, wait)
			continue
		}
		retry.reset()
		switch m := msg.(type) {
		case *redis.Subscription:
			l.subscribe.Do(func() { close(l.subscribed) })
			l.poke() // (re)subscribed: look for anything announced meanwhile
		case *redis.Message:
			l.handle(store.ParseEvent(m.Payload))
		}
	}
}

func (l *listener) handle(ev store.Event) {
	if ev.Wake {
		l.poke()
	}
	if ev.Reap {
		l.upkeep.reapSoon()
	}
	if ev.Strike {
		l.slots.releaseLine(errStruckInLine)
	}
	if ev.Chain != "" {
		l.upkeep.chainEnded(ev.Chain)
		return
	}
	if ev.Cancel == "" {
		return
	}
	if a := l.slots.find(ev.Cancel, ev.Gen); a != nil {
		l.log.Info("task cancelled while running", "key", ev.Cancel, "task", a.msg.Name)
		l.slots.stop(a, sdk.ErrCancelled)
	}
}

// refusedRetry is how often a worker whose user may not subscribe to the
// events channel asks again.
const refusedRetry = 10 * time.Second

// isNoPerm reports a refusal of Redis's ACL.
func isNoPerm(err error) bool { return strings.HasPrefix(err.Error(), "NOPERM") }
