package worker

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
)

// run is the claim loop: it claims as many due tasks as there are free
// slots and starts them; the outcomes of finished attempts travel with the
// claims (see Store.Exchange). Between claims it waits for the next due
// task, a wake-up from a producer, or a free slot.
//
// Up to maxInFlight exchanges are in flight at once, each for slots of its
// own: while Redis serves one, the tasks another brought run here, so
// neither side waits for the other. It returns when ctx ends, or as stop
// says once the worker is idle. It returns the outcomes it had no chance to
// record. A claimer runs once.
func (l *claimer) run(ctx context.Context, stop until) (unrecorded []*attempt, reached bool) {
	l.ctx = ctx
	l.timer = time.NewTimer(l.opts.PollInterval)
	l.deadline = time.Now().Add(l.opts.PollInterval)
	defer l.timer.Stop()
	for range maxInFlight {
		go l.exchanger()
	}
	defer close(l.requests) // none is in flight when the loop returns
	stopping := ctx.Done()
	registered := l.w.c.Changed() // a registration: claim with its rules (see introduce)
	for {
		if ctx.Err() == nil {
			l.send()
		} else if l.inFlight == 0 {
			return l.acks.collect(l.pending), false
		}
		select {
		case ex := <-l.done:
			l.arrive(ex)
		case <-l.wake:
			l.look = true
		case <-registered:
			registered = l.w.c.Changed()
			l.look = true
		case <-l.timer.C:
			l.deadline = time.Time{}
			l.look = true
		case <-stopping:
			stopping = nil // wait for the exchanges in flight
		}
		for ex, ok := l.next(); ok; ex, ok = l.next() {
			if l.receive(ex) && (stop == untilIdle || stop == untilFinished && l.finished()) {
				return l.acks.collect(l.pending), true
			}
		}
	}
}

// finished reports, once the worker is idle, whether the docket holds no
// work but the future runs of chains (see RunUntilFinished). When it does,
// the loop goes on: the next due task, a wake-up or the poll brings it back.
func (l *claimer) finished() bool {
	pending, _, _, err := l.store.Pending(l.ctx, l.w.c.Chains())
	if err != nil {
		if l.ctx.Err() == nil {
			l.log.Warn("cannot tell whether every task has finished; looking again", "err", err)
			l.lookWithin(l.retry.wait())
		}
		return false
	}
	return !pending
}

// maxInFlight is how many exchanges a worker keeps in flight.
const maxInFlight = 2

// claimer claims tasks and starts them: the claim loop and its state. The
// other parts reach it only through poke; its state (the fields after
// wake, up to introducing) is the claim loop's alone, read and written on
// its goroutine: the exchangers take requests and hand back replies, over
// channels, and before a claim that carries newly registered tasks, make
// due the tasks of theirs handed back (see introduce).
type claimer struct {
	*conf
	slots *slots // where claimed tasks run, and how many slots are free
	acks  *acker // the outcomes it carries with its claims
	start func(m store.Message, claimed, received time.Time, leased time.Duration, reg core.Registry) *attempt
	idle  *core.Idle
	wake  chan struct{} // any reason to look again: see poke

	ctx      context.Context // the worker's Run: exchanges end with it
	requests chan exchange   // to the exchangers
	done     chan exchange   // from the exchangers
	timer    *time.Timer
	deadline time.Time  // when the timer fires; zero once it has
	pending  []*attempt // settled attempts whose outcomes are not yet sent
	inFlight int        // sent, and not yet come back
	reserved int        // slots asked for by the exchanges not yet received
	look     bool       // whether to claim: woken, due, or more may be due
	// backlog is set when the last claim left due tasks behind; then the
	// loop waits a moment (coalesceWindow) for half the slots before it
	// claims, so that claims and outcomes travel in batches rather than
	// one or two at a time.
	backlog   bool
	gathering time.Time
	retry     backoff
	notBefore time.Time // after a failure: the next try
	// Since no exchange was last in flight: the latest idle round of the
	// exchanges that found nothing to do, and whether any found something
	// (or failed). Replies may come back in any order, so the worker is
	// idle only if all of them were quiet, and then as of the latest round.
	quiet   uint64
	stirred bool

	// rtt is how long exchanges take, on average lately (see ahead), and
	// aheadN what ahead worked out at aheadAt.
	rtt     ewma
	aheadAt time.Time
	aheadN  int

	// The admission rules as last encoded (see rules), and the registry
	// they were encoded from.
	cachedRules store.Rules
	rulesOf     core.Registry
	rulesBuilt  bool

	// Exchanges are numbered as they are sent (sent is the last number);
	// flying holds the numbers of those not yet come back that claim
	// tasks, and early those come back and not yet received, in the order
	// their claims ran (see arrive).
	sent   uint64
	flying []uint64
	early  []exchange

	// sentWith is the registry of the last exchange sent.
	sentWith core.Registry
	// alone is set while the first exchange with newly registered rules
	// (the one carrying the hand-backs) is in flight: no other goes
	// beside it, since the exchangers may run them in either order.
	alone bool

	// introduced is the registry whose tasks the exchangers last made due
	// where workers without them had handed them back (see introduce); its
	// lock is the exchangers', and the claim loop never takes it.
	introducing sync.Mutex
	introduced  core.Registry
}

func newClaimer(c *conf, s *slots, acks *acker, start func(store.Message, time.Time, time.Time, time.Duration, core.Registry) *attempt) *claimer {
	return &claimer{conf: c, slots: s, acks: acks, start: start, idle: &c.w.c.Idle,
		wake: make(chan struct{}, 1), look: true,
		requests: make(chan exchange, maxInFlight), done: make(chan exchange, maxInFlight)}
}

// poke asks the claim loop to look for work again: a producer's wake-up, a
// freed slot, a missed event, an Idle waiter. It never blocks, and any
// goroutine may call it.
func (l *claimer) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// exchange is one call of Store.Exchange, and what came of it.
type exchange struct {
	asked    int
	open     int           // of asked, how many slots are free for (see store.Want)
	reported []*attempt    // settled attempts whose outcomes it carries
	registry core.Registry // the tasks registered as it was sent: its rules', and where its tasks are found
	rules    store.Rules   // the admission rules of registry's tasks
	round    uint64        // the idle round it began in
	seq      uint64        // its number, in the order sent
	waits    uint64        // once come back: the last number sent then (see arrive)
	arrived  time.Time     // when it came back, by this worker's clock
	claim    store.Claim
	err      error
	sent     time.Duration // when it was sent, by the run's clock: its leases run from then at the latest
}

// exchanger makes the calls the claim loop asks for; the loop keeps
// maxInFlight of them for as long as it runs. (A goroutine per call showed in
// profiles growing its stack to the depth of a Redis call each time; there
// is one call per batch of tasks, so either way costs little.)
func (l *claimer) exchanger() {
	var outcomes outcomeBuffer
	for ex := range l.requests {
		l.introduce(ex.registry)
		ex.claim, ex.err = l.store.Exchange(l.ctx, outcomes.of(ex.reported), l.w.id, store.Want{N: ex.asked, Free: ex.open}, l.opts.Lease,
			l.w.c.Retention, ex.rules, l.opts.MaxDeliveries)
		outcomes.clear()
		ex.arrived = time.Now()
		l.done <- ex
	}
}

// send starts an exchange if one is called for and may go.
func (l *claimer) send() {
	if !l.look || l.inFlight == maxInFlight {
		return
	}
	if d := time.Until(l.notBefore); d > 0 {
		l.lookWithin(d) // the timer may have fired for an earlier look
		return
	}
	l.pending = l.acks.collect(l.pending)
	capacity := l.opts.Concurrency + l.ahead()
	busy := l.slots.counts().busy
	free := capacity - busy - l.reserved
	if free <= 0 && len(l.pending) == 0 {
		// A slot freeing wakes the loop. Slots reserved by an exchange in
		// flight free when it returns: then it looks again, since what
		// woke it may have come after that exchange ran.
		l.look = l.unreceived()
		return
	}
	if l.backlog && free > 0 && free < (capacity+1)/2 {
		if l.gathering.IsZero() {
			l.gathering = time.Now()
		}
		if left := coalesceWindow - time.Since(l.gathering); left > 0 {
			l.lookWithin(left)
			return
		}
	}
	reg := l.w.c.Registry()
	if l.alone && l.inFlight > 0 {
		return
	}
	if reg != l.sentWith && (l.unreceived() || l.slots.counts().unknown > 0) {
		// Tasks were registered: the exchanges in flight carry none of
		// their rules, and may bring tasks of theirs, handed back at once
		// (see run.startAttempt); tasks this worker is handing back for not
		// having them may be theirs. The first claim with the rules goes
		// after them, carrying those hand-backs (see released), so that the
		// tasks are back in line before it claims. (Their return and their
		// settling wake the loop.)
		return
	}
	if reg != l.sentWith {
		// Hand-backs settled since the collect above: an attempt leaves
		// the unknown count only once its outcome is in acks.
		l.pending = l.acks.collect(l.pending)
	}
	l.alone = reg != l.sentWith
	l.sentWith = reg
	l.gathering = time.Time{}
	l.look = false
	// Of those, the tasks that may take a slot when the claim comes back:
	// the others wait in line (see store.Want).
	open := l.opts.Concurrency - busy - l.reserved
	ex := exchange{asked: max(free, 0), open: max(min(open, free), 0), round: l.idle.Round(), sent: l.clock(), registry: reg}
	n := min(len(l.pending), store.MaxBatch)
	ex.reported = slices.Clone(l.pending[:n]) // its own: pending is appended to meanwhile
	l.pending = append(l.pending[:0], l.pending[n:]...)
	released(ex.reported, reg)
	l.inFlight++
	l.sent++
	ex.seq = l.sent
	if ex.asked > 0 { // one that claims none brings no task to order
		l.flying = append(l.flying, ex.seq)
	}
	l.reserved += ex.asked
	ex.rules = l.rules(reg)
	l.requests <- ex
}

// arrive takes in an exchange that came back.
//
// A worker with one slot receives exchanges (starts their tasks) in the
// order their claims ran in Redis, so that it runs tasks one at a time in
// the order claimed: tasks added in order run in order. The exchanges in
// flight may reach Redis in either order (two exchangers race for their
// calls) and come back in either order (a larger reply takes longer to
// read), so one that came back waits until every exchange sent before it
// came back has come back too (those sent since ran after it), and those
// in hand are received in the order of their claims' Redis times (then of
// sending). That order holds while the Redis clock moves forward (it is
// the wall clock: a step back, or a failover to a server whose clock is
// behind, may reverse two claims). One that brought no task (it failed, or
// claimed none) waits for none, and none waits for one that claims none.
// Nor does one wait longer than maxHold: a call that hangs (a half-open
// connection, a failover) would otherwise hold every task claimed since,
// their leases unrenewed.
//
// With more slots, tasks run at once and the wait would cost throughput
// (13% at Concurrency 200 in bench runs: claims come back later, and
// smaller): each is received as it comes back.
func (l *claimer) arrive(ex exchange) {
	l.inFlight--
	l.flying = slices.DeleteFunc(l.flying, func(seq uint64) bool { return seq == ex.seq })
	if l.opts.Concurrency == 1 && len(ex.claim.Messages) > 0 {
		ex.waits = l.sent
	} // else 0: it waits for none (numbers start at 1)
	i, _ := slices.BinarySearchFunc(l.early, ex, func(a, b exchange) int {
		if c := a.claim.Now.Compare(b.claim.Now); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	l.early = slices.Insert(l.early, i, ex)
}

// next returns the next exchange to receive, if it may be received now: the
// first of those in hand, once none sent before it came back is in flight.
// (A failed exchange claimed nothing: its zero time puts it first.)
func (l *claimer) next() (exchange, bool) {
	if len(l.early) == 0 {
		return exchange{}, false
	}
	first := l.early[0]
	if l.waiting(first) {
		if held := time.Since(first.arrived); held < l.maxHold() {
			l.lookWithin(l.maxHold() - held) // to receive it then, if it still waits
			return exchange{}, false
		}
	}
	l.early = slices.Delete(l.early, 0, 1)
	return first, true
}

// waiting reports whether an exchange that came back waits for one sent
// before it, still in flight, that claims tasks.
func (l *claimer) waiting(ex exchange) bool {
	for _, seq := range l.flying {
		if seq <= ex.waits {
			return true
		}
	}
	return false
}

// maxHold is the longest an exchange that came back waits for one sent
// before it (see arrive): a tenth of the lease, at most a second. Claims
// take milliseconds; one that takes this long has met trouble.
func (l *claimer) maxHold() time.Duration { return min(l.opts.Lease/10, time.Second) }

// unreceived reports whether any exchange sent is not yet received: in
// flight, or come back and waiting for its turn.
func (l *claimer) unreceived() bool { return l.inFlight > 0 || len(l.early) > 0 }

// receive takes in an exchange's result: it starts the claimed tasks, and
// reports whether the worker is idle.
func (l *claimer) receive(ex exchange) (idle bool) {
	defer func() { l.reserved -= ex.asked }() // once the claimed tasks hold their slots
	if ex.err != nil {
		l.pending = append(ex.reported, l.pending...) // to be sent again
		if l.ctx.Err() != nil {
			return false // stopping: the drain records them
		}
		wait := l.retry.wait()
		l.log.Warn("cannot claim tasks or record task outcomes; retrying", "err", ex.err, "outcomes", len(l.pending), "in", wait)
		l.notBefore = time.Now().Add(wait)
		l.lookWithin(wait)
		l.look = true
		l.idleAfter(ex.round, false)
		return false
	}
	if l.retry.failing() {
		l.log.Info("claiming tasks and recording task outcomes again")
		l.retry.reset()
	}
	c := ex.claim
	// One reading of this worker's clock for the whole claim, as it came
	// back (not as it is received, which may be later: see arrive): a
	// clock read costs a busy worker more than one would think (several
	// per task were 7% of its CPU in profiles on the development VM).
	received := ex.arrived
	l.rtt.add(l.clockAt(received) - ex.sent)
	l.acks.recorded(ex.reported, c.Applied)
	claimed := len(c.Messages)
	for _, m := range c.Messages {
		if late := l.start(m, c.Now, received, ex.sent, ex.registry); late != nil {
			l.pending = append(l.pending, late)
		}
	}
	c.Recycle() // each attempt has its copy
	l.dropped(c.Dropped)
	for _, err := range c.Malformed {
		l.log.Error("claimed a task that cannot be decoded; it will be redelivered, then dead-lettered", "err", err)
	}
	l.backlog = ex.asked > 0 && (claimed == ex.asked || c.Wait == 0)
	// Quiet if nothing was due. Outcomes are recorded before the claim in
	// the same script: a retry they scheduled that is due already shows in
	// its wait.
	quiet := claimed == 0 && len(c.Dropped) == 0 && c.Wait != 0
	if l.backlog || len(c.Dropped) > 0 || len(l.pending) > 0 {
		l.look = true // there may be more
		l.idleAfter(ex.round, false)
		return false
	}
	wait := l.opts.PollInterval
	if c.Wait >= 0 && c.Wait < wait {
		wait = c.Wait
		if wait > 2*warmUp {
			// Look once a little early: a machine that has been idle is
			// slow to wake (about 20ms on the development VM after a
			// second of sleep), and that look, not the one at the due
			// instant, pays for it.
			wait -= warmUp
		}
	}
	l.lookWithin(wait)
	return l.idleAfter(ex.round, quiet)
}

// warmUp is how long before the next due task an idle worker looks once.
// In interleaved bench runs, 25ms took the p99 lateness at idle from 6.5-9ms
// to about 4ms, where 2ms left it at 5-9ms.
const warmUp = 25 * time.Millisecond

// idleAfter takes note of whether an exchange of the given idle round was
// quiet, and once none is in flight, reports the worker idle if every
// exchange since the last report was quiet and nothing is in hand.
func (l *claimer) idleAfter(round uint64, quiet bool) bool {
	if quiet {
		l.quiet = max(l.quiet, round)
	} else {
		l.stirred = true
	}
	if l.unreceived() {
		return false
	}
	calm := len(l.pending) == 0 && l.slots.counts().active == 0
	idle := calm && !l.stirred
	if calm && l.stirred {
		// Nothing in hand, but some exchange found work: one more look,
		// quiet this time if nothing is left, reports idle. (With work in
		// hand, its end wakes the loop.)
		l.look = true
	}
	round, l.quiet, l.stirred = l.quiet, 0, false
	if idle {
		l.idle.Report(round)
	}
	return idle
}

// lookWithin has the loop look again within d at the latest. It never
// postpones an earlier look: exchanges in flight may come back in any
// order, and the wait an older one reports may be out of date.
func (l *claimer) lookWithin(d time.Duration) {
	at := time.Now().Add(d)
	if !l.deadline.IsZero() && !at.Before(l.deadline) {
		return
	}
	l.deadline = at
	l.timer.Reset(d)
}

// ahead is how many tasks to claim beyond the free slots: about as many as
// the slots start during aheadRoundTrips exchanges' round trips, at the
// pace attempts have settled lately, so that short tasks do not each wait
// for a claim, while long ones are not held back from other workers. Slots
// whose attempts have run far longer than that pace do not count: a task
// claimed ahead would wait for them. None before the pace and the round
// trip are measured, and none where the clock does not move during an
// exchange (the testsuite's fake clock).
func (l *claimer) ahead() int {
	if l.opts.ClaimAhead == NoClaimAhead {
		return 0
	}
	// Worked out at most once per aheadFor: it looks at every attempt in
	// hand, and a busy worker sends thousands of claims a second.
	now := time.Now()
	if now.Sub(l.aheadAt) < aheadFor {
		return l.aheadN
	}
	l.aheadAt, l.aheadN = now, l.workOutAhead()
	return l.aheadN
}

// aheadFor is how long ahead's answer is used before it is worked out again.
const aheadFor = 2 * time.Millisecond

// aheadRoundTrips is how many round trips the tasks claimed ahead cover.
// With maxInFlight exchanges in flight, the tasks of one claim must last
// until the next claim's come back, which may have waited for the other
// exchange at Redis first: two round trips, in theory. In practice the
// cycle is longer than the round trips measured (rtt): a reply waits for
// the worker's CPU, which Redis and the tasks share, and for the claim
// loop, which gathers freed slots for coalesceWindow. With one, in six
// interleaved pairs of bench runs at concurrency 10, claims carried 43–50
// tasks and the worker processed 34,600 tasks/s (median); with two, 61–68
// tasks and 38,400. With eight, in 14 interleaved runs of each at
// concurrency 10 (bench/README.md), 53,700 → 62,800 tasks/s (every run
// faster, by 6–21%), at 50 63,800 → 68,500, at 200 no change (ClaimAhead
// bounds it); sixteen did no better than eight. What is held from other
// workers is still bounded by the pace: about eight round trips' work, on
// average. Just after a stall, which raises the measured round trip, a
// worker claims more (up to ClaimAhead): those that then wait in line
// longer than Lease/10 are handed back.
const aheadRoundTrips = 8

func (l *claimer) workOutAhead() int {
	rtt := l.rtt.value
	if rtt <= 0 {
		return 0
	}
	took, stuck := l.slots.pace()
	if took <= 0 {
		return 0
	}
	n := aheadRoundTrips * int64(l.opts.Concurrency-stuck) * int64(rtt) / int64(took)
	return int(max(min(n, int64(l.opts.ClaimAhead)), 0))
}

// coalesceWindow is how long, with a backlog, the claim loop waits for half
// its slots to free before it claims for fewer.
const coalesceWindow = time.Millisecond

// released turns the hand-backs of tasks that reg has (registered while
// this worker was handing them back for not having them) into releases:
// due when they were, rather than after a backoff, behind the submissions
// added since.
func released(settled []*attempt, reg core.Registry) {
	for _, a := range settled {
		o := &a.out
		if o.Kind == store.Unknown && reg.Task(a.msg.Name) != nil {
			*o = store.Outcome{Key: o.Key, Gen: o.Gen, Kind: store.Unstarted}
		}
	}
}
