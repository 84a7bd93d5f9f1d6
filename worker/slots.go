package worker

import (
	"sync"
	"time"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// slots are the attempts a run has in hand, and what the drain waits for.
// Its mutex is the one lock a task takes on its way through the worker (a
// few times: claimed, called, returned, settled, recorded); nothing else
// the hot path touches is behind a lock.
type slots struct {
	*conf
	mu      sync.Mutex
	active  map[heldKey]*attempt // claimed and not yet acknowledged
	busy    int                  // attempts not yet settled, those in line included
	unknown int                  // attempts of tasks this worker has not, being handed back (see attempt.handBack)
	calls   int                  // task functions running, abandoned ones included
	settled chan struct{}        // signalled when any of these drops

	// line holds the attempts claimed ahead (see claimer.ahead), in the
	// order claimed: each starts when a slot frees.
	line []*attempt
	// took is how long attempts take, from their start to their settling:
	// an average that follows the recent ones.
	took ewma
}

type heldKey struct{ key, gen string }

func newSlots(c *conf) *slots {
	return &slots{conf: c, active: map[heldKey]*attempt{}, settled: make(chan struct{}, 1)}
}

// launch takes a slot for a claimed attempt and runs it, on a goroutine of
// its own.
//
// Reusing goroutines across attempts was tried, and measured slower with
// many slots: an idle goroutine's stack is shrunk at each GC, and grown
// again (copied) by its next attempt, while a new goroutine starts with a
// stack of the average size the runtime has seen.
//
// An attempt claimed ahead of a free slot waits in line, and starts when
// one frees.
func (s *slots) launch(a *attempt) {
	a.decode() // here, lined or not: see attempt.decode
	s.mu.Lock()
	s.active[heldKey{a.msg.Key, a.msg.Gen}] = a
	s.busy++
	if a.unknown() {
		s.unknown++
	}
	// One being handed back starts at once, in no line: it takes a round
	// trip, and the first claim after a registration waits for it (see
	// claimer.send).
	if s.busy-len(s.line) > s.opts.Concurrency && !a.unknown() {
		s.line = append(s.line, a)
		s.mu.Unlock()
		return
	}
	// When its claim came back, a moment ago (a clock read costs: see
	// claimer.receive); for the later tasks of a large claim, before the
	// decoding and launching of those ahead of it, which their pace
	// (see pace) counts as theirs.
	a.started = a.claimedLocal
	s.mu.Unlock()
	go a.run()
}

// free gives back a settled attempt's slot: the next attempt in line, if
// any, takes it. The caller signals, once it has sent the outcome on.
func (s *slots) free(a *attempt) {
	var next *attempt
	now := a.ended // as it settles, its one reading of the clock
	if now.IsZero() {
		now = time.Now()
	}
	s.mu.Lock()
	s.busy--
	if a.carrier.Attempt != nil { // its function was called: a sample of how long tasks take
		s.took.add(now.Sub(a.started))
	}
	if len(s.line) > 0 && s.busy-len(s.line) < s.opts.Concurrency {
		next = s.popLine()
		next.started = now
	}
	s.mu.Unlock()
	if next != nil {
		go next.run()
	}
}

// handedBack counts out an attempt being handed back (see attempt.handBack)
// once its outcome is on its way to the claim loop (see claimer.send).
func (s *slots) handedBack(a *attempt) {
	if !a.unknown() {
		return
	}
	s.mu.Lock()
	s.unknown--
	s.mu.Unlock()
}

// popLine takes the first attempt of the line. The caller holds s.mu, and
// knows the line is not empty.
func (s *slots) popLine() *attempt {
	a := s.line[0]
	s.line[0] = nil
	s.line = s.line[1:]
	return a
}

// endInLine ends an attempt taken from the line, unstarted: its context
// ended with cause, it settles at once (see attempt.endUnstarted).
func endInLine(a *attempt, cause error) {
	a.cancel(cause)
	go a.run()
}

// stop cancels an attempt with cause; one waiting in line leaves it at once
// and settles without running (see attempt.run), rather than holding its
// place until a slot frees.
func (s *slots) stop(a *attempt, cause error) {
	s.mu.Lock()
	lined := s.unline(a)
	s.mu.Unlock()
	if lined {
		endInLine(a, cause)
	} else {
		a.cancel(cause)
	}
}

// unline takes a from the line, if it is there. The caller holds s.mu.
func (s *slots) unline(a *attempt) bool {
	if a.started.IsZero() {
		for i, b := range s.line {
			if b == a {
				s.line = append(s.line[:i], s.line[i+1:]...)
				return true
			}
		}
	}
	return false
}

// releaseLine hands back, undone, every attempt waiting in line, with
// cause: sdk.ErrShutdown from a worker stopping, which runs no task it had
// not started (see run.stop); errStruckInLine when a strike was placed,
// which the claim that takes them again applies. Each settles at once
// without running (see attempt.run).
func (s *slots) releaseLine(cause error) {
	s.mu.Lock()
	line := s.line
	s.line = nil
	s.mu.Unlock()
	for _, a := range line {
		endInLine(a, cause)
	}
}

// releaseStale hands back the attempts that waited in line longer than
// limit: claimed ahead while tasks were short, they wait behind tasks that
// turned out long, holding their leases and limits, which another worker
// could use. Each settles at once without running (see attempt.run).
func (s *slots) releaseStale(limit time.Duration) {
	var stale []*attempt
	s.mu.Lock()
	for len(s.line) > 0 && time.Since(s.line[0].claimedLocal) > limit { // in line since its claim came back
		// The tasks ahead of it took that long at least: the worker
		// claims no more ahead until short ones bring the average down.
		s.took.add(limit)
		stale = append(stale, s.popLine())
	}
	s.mu.Unlock()
	for _, a := range stale {
		endInLine(a, errReleased)
	}
}

// pace is how long attempts take, on average lately (zero before
// paceSamples have settled: a worker that ran a handful of tasks knows
// nothing of their pace), and how many of the running ones have run longer
// than stuckAfter times that: slots that will not free soon.
func (s *slots) pace() (took time.Duration, stuck int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.took.n < paceSamples || len(s.active) > maxPaceScan || s.took.value <= 0 {
		return 0, 0
	}
	took = s.took.value
	now := time.Now()
	limit := stuckAfter * took
	for _, a := range s.active {
		if !a.started.IsZero() && now.Sub(a.started) > limit && !a.settled.Load() {
			stuck++
		}
	}
	return took, stuck
}

// stuckAfter is how many times the average an attempt runs before its slot
// is not expected to free soon.
const stuckAfter = 8

// paceSamples is how many attempts settle before their pace is known.
const paceSamples = 64

// maxPaceScan bounds the attempts pace looks at under the slots' lock: a
// worker with more in hand (thousands of slots) claims batches big enough
// without claiming ahead.
const maxPaceScan = 2000

// forget drops an attempt whose outcome was recorded, or needs none.
func (s *slots) forget(a *attempt) {
	s.mu.Lock()
	delete(s.active, heldKey{a.msg.Key, a.msg.Gen})
	s.mu.Unlock()
}

// called counts a task function that starts running.
func (s *slots) called() {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
}

// returned counts a task function that returned. Only the drain waits for
// calls; slots free when attempts settle.
func (s *slots) returned() {
	s.mu.Lock()
	s.calls--
	s.mu.Unlock()
	s.signal()
}

// find returns the attempt in hand of a task's generation, or nil.
func (s *slots) find(key, gen string) *attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[heldKey{key, gen}]
}

// held lists the tasks this worker holds leases on.
func (s *slots) held() ([]store.Held, []*attempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make([]store.Held, 0, len(s.active))
	attempts := make([]*attempt, 0, len(s.active))
	for k, a := range s.active {
		held = append(held, store.Held{Key: k.key, Gen: k.gen})
		attempts = append(attempts, a)
	}
	return held, attempts
}

// tally is what the worker has in hand.
type tally struct {
	busy   int // attempts holding a slot or waiting in line for one
	active int // attempts not yet acknowledged
	calls  int // task functions still running
	// unknown counts the attempts of tasks this worker has not, being
	// handed back.
	unknown int
}

func (s *slots) counts() tally {
	s.mu.Lock()
	defer s.mu.Unlock()
	return tally{busy: s.busy, active: len(s.active), calls: s.calls, unknown: s.unknown}
}

// cancelAll cancels every task in hand with cause. It runs once the claim
// loop has stopped, so no attempt starts after it. Task contexts are not
// children of Run's context, since tasks outlive it during the drain; and
// each is its own rather than the child of one shared parent, on whose lock
// a busy worker would contend to register and unregister every attempt.
func (s *slots) cancelAll(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.active {
		a.cancel(cause)
	}
}

// signal tells waitFor that a count of the tally dropped.
func (s *slots) signal() {
	select {
	case s.settled <- struct{}{}:
	default:
	}
}

// shutdownGrace is how long the functions of tasks cancelled at the end of
// the drain have to return before Run gives up on them. (A task cancelled
// or replaced while it runs has store.CancelGrace.)
const shutdownGrace = 5 * time.Second

// drain waits for running tasks, up to the drain timeout, or until the
// docket closes (not at all if it has: Close is prompt, during a drain
// too); then cancels the rest, which hands them back; then waits for the
// outcomes to land, and for the functions of cancelled tasks to return. It
// reports whether the docket's closing cut the drain short.
func (s *slots) drain(closing <-chan struct{}) (closed bool) {
	if !s.waitFor(s.opts.DrainTimeout, closing, func(c tally) bool { return c.busy == 0 }) {
		if closed = isClosed(closing); closed {
			s.log.Info("docket closed: handing back running tasks", "tasks", s.counts().busy)
		} else {
			s.log.Warn("drain timeout: handing back running tasks", "tasks", s.counts().busy, "timeout", s.opts.DrainTimeout)
		}
		s.cancelAll(sdk.ErrShutdown)
		// Each settles when its function returns, or when shutdownGrace
		// has passed.
		s.waitFor(shutdownGrace+time.Second, nil, func(c tally) bool { return c.busy == 0 })
	}
	// The outcomes land in a round trip, however short the drain timeout
	// (a wait of 1ms would hand nothing back: the tasks would wait out
	// their leases, each counted as a lost delivery). With Redis out of
	// reach they do not land, and Run waits for them at most the drain
	// timeout or shutdownGrace, whichever is longer; a closing docket
	// (Close is prompt) at most shutdownGrace.
	landing := max(s.opts.DrainTimeout, shutdownGrace)
	if closed {
		landing = shutdownGrace
	}
	if !s.waitFor(landing, nil, func(c tally) bool { return c.active == 0 }) {
		s.log.Error("could not record the outcome of some tasks before stopping; they will be redelivered when their lease lapses",
			"tasks", s.counts().active)
	}
	if !s.waitFor(shutdownGrace, nil, func(c tally) bool { return c.calls == 0 }) {
		s.log.Warn("task functions that ignore their context are still running; abandoning them", "tasks", s.counts().calls)
	}
	return closed
}

// waitFor waits up to limit for done to hold, or until abort closes (nil:
// never).
func (s *slots) waitFor(limit time.Duration, abort <-chan struct{}, done func(tally) bool) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		if done(s.counts()) {
			return true
		}
		select {
		case <-s.settled:
		case <-abort:
			return done(s.counts())
		case <-timer.C:
			return false
		}
	}
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ewma is an exponentially weighted moving average of durations, which
// follows the latest eighth of its samples most.
type ewma struct {
	value time.Duration
	n     int // samples, counted up to paceSamples
}

func (e *ewma) add(d time.Duration) {
	if e.n == 0 {
		e.value = d
	} else {
		e.value += (d - e.value) / 8
	}
	e.n = min(e.n+1, paceSamples)
}
