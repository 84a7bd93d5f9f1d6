package core

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// Attempt is the state of one running attempt, reachable from its context.
type Attempt struct {
	Key        string
	Task       string
	Number     int  // 1-based
	Last       bool // the retry policy will not retry a failure of this attempt
	Deliveries int
	Due        time.Time

	// Deadline is nil for a task without a Timeout policy.
	Deadline *Deadline

	// Input is the task's input type, for Perpetuate's check.
	Input reflect.Type

	// Schedule is nil for a task without a Perpetual or Cron policy.
	Schedule *Schedule

	// Progress reports the run's progress.
	Progress *Progress

	// Flow is the run's workflow state.
	Flow *Flow

	// Claimed is the Redis clock's reading when the task was claimed, and
	// Received this worker's when the claim's reply came: Now estimates the
	// Redis clock's reading from them. (A field of type func() time.Time,
	// set to a method value, allocated a closure per attempt.)
	Claimed, Received time.Time

	// Hooks observe the run, for the testsuite.
	Hooks *Hooks

	// Added counts n tasks called task that the run added (a workflow's
	// children) in the docket's metrics; nil counts nothing.
	Added func(ctx context.Context, task string, n int)
}

// Now estimates the Redis clock's reading: the worker's own clock only
// measures the time since the claim.
func (a *Attempt) Now() time.Time { return a.Claimed.Add(time.Since(a.Received)) }

// Progress reports a run's progress to the store, and remembers what it
// last saw. The run is its flow's (the store, the key and the generation,
// held once for both: see NewAttempt).
type Progress struct {
	run  *Flow
	mu   sync.Mutex
	last store.ProgressState
}

// NewAttempt returns the state a, with the progress reporter and the
// workflow state of its run (of a.Key, holding gen, whose steps' outputs
// may have up to maxOutput bytes of JSON) set, all three in one
// allocation: this is on every task's hot path, and most tasks use
// neither. (Of 368 bytes, an allocation of 384: the reporter finds the run
// in the flow.)
func NewAttempt(a Attempt, s *store.Store, gen string, maxOutput int) *Attempt {
	all := &struct {
		attempt  Attempt
		progress Progress
		flow     Flow
	}{attempt: a}
	all.progress.run = &all.flow
	all.flow.Store, all.flow.Key, all.flow.Gen, all.flow.MaxOutput = s, a.Key, gen, maxOutput
	all.attempt.Progress, all.attempt.Flow = &all.progress, &all.flow
	return &all.attempt
}

// Do applies one operation (see store.ProgressTotal and the others) and
// remembers the resulting progress. A run that no longer holds its task
// changes nothing.
func (p *Progress) Do(ctx context.Context, op, value string) error {
	state, _, err := p.run.Store.Progress(ctx, p.run.Key, p.run.Gen, op, value)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = state
	return nil
}

// Last is the progress as of the last operation.
func (p *Progress) Last() store.ProgressState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Schedule is what a perpetual or cron task's run decides about the next
// one.
type Schedule struct {
	mu        sync.Mutex
	cron      bool
	every     time.Duration
	next      []byte
	cancelled bool
}

// NewSchedule starts a run's schedule: every for a perpetual task, zero for
// a cron task.
func NewSchedule(every time.Duration, cron bool) *Schedule {
	return &Schedule{every: every, cron: cron}
}

// Cancel ends the chain after this run.
func (s *Schedule) Cancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled = true
}

// SetEvery changes the interval from the next run on. It reports false for
// a cron task, whose next run the expression decides.
func (s *Schedule) SetEvery(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron || d <= 0 {
		return false
	}
	s.every = d
	return true
}

// SetNext sets the next run's input.
func (s *Schedule) SetNext(input []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = input
}

// State reads the decisions: whether the chain continues, the interval
// (zero for cron), and the next input (nil to keep this run's).
func (s *Schedule) State() (continues bool, every time.Duration, next []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.cancelled, s.every, s.next
}

type attemptKey struct{}

// Carrier is a context that carries an attempt: its Context's, with the
// Attempt besides (see AttemptFrom). Kept in the worker's own state of an
// attempt, it needs no allocation of its own, as context.WithValue's
// context did, on every task's way through a busy worker. A context
// derived from it finds the Context's cancellation as it would the
// Context's own. (Kept beyond the run, by a goroutine the task started,
// it keeps the worker's state of the attempt, its input and result
// included, as long.)
type Carrier struct {
	context.Context
	Attempt *Attempt // nil until the task's function is called
}

// Value returns the Attempt for AttemptFrom, and the Context's values.
func (c *Carrier) Value(key any) any {
	if _, ok := key.(attemptKey); ok {
		return c.Attempt
	}
	return c.Context.Value(key)
}

// AttemptFrom returns the attempt ctx carries, or nil outside a task.
func AttemptFrom(ctx context.Context) *Attempt {
	if ctx == nil {
		return nil
	}
	a, _ := ctx.Value(attemptKey{}).(*Attempt)
	return a
}

// Deadline is an attempt's movable deadline: when it passes, expire runs
// once. Extending it before it passes moves it.
type Deadline struct {
	mu     sync.Mutex
	base   time.Duration
	start  time.Time
	at     time.Time
	timer  *time.Timer
	done   bool // passed or stopped: it moves no more
	passed bool
	expire func()
}

// NewDeadline starts a deadline base from now that calls expire when it
// passes.
func NewDeadline(base time.Duration, expire func()) *Deadline {
	now := time.Now()
	d := &Deadline{base: base, start: now, at: now.Add(base), expire: expire}
	d.timer = time.AfterFunc(base, d.fire)
	return d
}

func (d *Deadline) fire() {
	d.mu.Lock()
	if d.done {
		d.mu.Unlock()
		return
	}
	if left := time.Until(d.at); left > 0 { // extended while the timer fired
		d.timer.Reset(left)
		d.mu.Unlock()
		return
	}
	d.done, d.passed = true, true
	d.mu.Unlock()
	d.expire()
}

// Extend moves the deadline later by by. It does nothing once the deadline
// has passed, nor for a by that is not positive: a deadline only moves
// later.
func (d *Deadline) Extend(by time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done || by <= 0 {
		return
	}
	d.at = d.at.Add(by)
	d.timer.Reset(time.Until(d.at))
}

// ExtendByBase moves the deadline later by the base timeout (see Extend).
func (d *Deadline) ExtendByBase() { d.Extend(d.base) }

// Allowed is how long the attempt was given in all: the base timeout and
// every extension.
func (d *Deadline) Allowed() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.at.Sub(d.start)
}

// At is the deadline's instant, by this process's clock.
func (d *Deadline) At() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.at
}

// Remaining is the time left before the deadline; zero once it passed.
func (d *Deadline) Remaining() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return max(time.Until(d.at), 0)
}

// Passed reports whether the deadline passed (rather than being stopped).
func (d *Deadline) Passed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passed
}

// Stop disarms the deadline.
func (d *Deadline) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = true
	d.timer.Stop()
}

// WithDeadline returns ctx with d as its deadline, for the code a task
// calls: ctx.Deadline() reports d's instant as it is now, so that a call
// made after an Extend sees the later deadline (context.WithDeadline could
// not be moved); and once d has passed, ctx.Err() is
// context.DeadlineExceeded, as for any context whose deadline passed. ctx
// must be cancelled when d passes (the worker's expire function does it):
// Done and the cancellation cause are ctx's own.
func WithDeadline(ctx context.Context, d *Deadline) context.Context {
	return &deadlineContext{Context: ctx, d: d}
}

type deadlineContext struct {
	context.Context
	d *Deadline
}

func (c *deadlineContext) Deadline() (time.Time, bool) { return c.d.At(), true }

func (c *deadlineContext) Err() error {
	err := c.Context.Err()
	if err != nil && c.d.Passed() {
		return context.DeadlineExceeded
	}
	return err
}
