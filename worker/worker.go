package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
)

// Worker executes the tasks registered on a docket.
type Worker struct {
	c       *core.Docket
	opts    Options
	invalid error // from Options.Validate: Run refuses
	id      string
	log     *slog.Logger
	metrics *telemetry.Metrics
	added   func(ctx context.Context, task string, n int) // counts tasks a run added (core.Attempt.Added)
	running atomic.Bool
}

// ErrRunning reports a second Run of a worker that is already running.
var ErrRunning = errors.New("docket: worker is already running")

// New returns a worker for the tasks registered on d, now or later.
func New(d *sdk.Docket, opts Options) *Worker {
	var c *core.Docket
	if d != nil {
		c = core.Unwrap(d)
	}
	invalid := opts.Validate()
	if c == nil {
		// Run says so; the rest of the worker needs a docket.
		c = &core.Docket{Logger: slog.Default()}
		invalid = fmt.Errorf("%w: the *sdk.Docket is nil (open one with sdk.Open)", sdk.ErrNilArgument)
	}
	opts = opts.withDefaults()
	name := opts.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	id := fmt.Sprintf("%s-%d-%s", name, os.Getpid(), hex.EncodeToString(suffix))
	log := opts.Logger
	if log == nil {
		log = c.Logger
	}
	w := &Worker{c: c, opts: opts, invalid: invalid, id: id, log: log.With("worker", id), metrics: telemetry.NewMetrics()}
	// Made once, not per attempt: a closure per attempt would cost the hot
	// path an allocation.
	w.added = func(ctx context.Context, task string, n int) {
		w.metrics.Added.Add(ctx, int64(n), w.metrics.Task(w.c.Name, task).Add...)
	}
	return w
}

// ID identifies the worker in Redis and in Snapshot; empty for a nil
// Worker.
func (w *Worker) ID() string {
	if w == nil {
		return ""
	}
	return w.id
}

// errNoWorker is the error of a nil Worker's Run, or of one not made by New
// (a zero Worker has no docket).
var errNoWorker = fmt.Errorf("%w: the *worker.Worker is nil or zero (make one with worker.New)", sdk.ErrNilArgument)

// Run executes tasks until ctx ends. Then it stops claiming, gives running
// tasks up to Options.DrainTimeout to finish, hands back those that do not,
// and returns nil. Connection errors never end Run: the worker logs them,
// backs off and carries on when Redis is back.
//
// Run returns an error for any other reason it stops, or refuses to start:
// a nil context or docket, or a nil or zero Worker (sdk.ErrNilArgument:
// make workers with New), options out of range (ErrBadOption), a second Run
// of the same worker (ErrRunning), or the docket closed (sdk.ErrClosed:
// Close stops the workers promptly, handing their running tasks back).
func (w *Worker) Run(ctx context.Context) error {
	return w.run(ctx, untilStopped)
}

// RunUntilIdle executes tasks until none is due and none is running on
// this worker (tasks other workers run are theirs to finish), then stops
// as Run does. Tasks scheduled for later are left for later, retries
// included: to wait for those too, use RunUntilFinished. If ctx ends first,
// it stops as Run does and returns an error wrapping ctx's cause
// (context.Canceled, context.DeadlineExceeded…).
func (w *Worker) RunUntilIdle(ctx context.Context) error {
	return w.run(ctx, untilIdle)
}

// RunUntilFinished executes tasks until every task added has finished, then
// stops as Run does: it waits through retry delays, snoozes, debounce
// settling and waits for concurrency slots, and for tasks running on other
// workers; it does not wait for the future runs of perpetual and cron
// chains (of the tasks registered on this worker), which are left
// scheduled. A task that retries or snoozes forever keeps it running:
// bound it with ctx. If ctx ends first, it stops as Run does and returns
// an error wrapping ctx's cause (context.Canceled,
// context.DeadlineExceeded…), so that a caller can tell.
func (w *Worker) RunUntilFinished(ctx context.Context) error {
	return w.run(ctx, untilFinished)
}

// until says when a run stops of its own accord.
type until int

const (
	untilStopped  until = iota // only when its context ends (Run)
	untilIdle                  // nothing due, nothing running (RunUntilIdle)
	untilFinished              // nothing left but future runs of chains (RunUntilFinished)
)

// String says what a run waits for, for errors.
func (u until) String() string {
	switch u {
	case untilIdle:
		return "the docket was idle"
	case untilFinished:
		return "every task had finished"
	}
	return "its context ended"
}

func (w *Worker) run(ctx context.Context, stop until) error {
	if w == nil || w.c == nil {
		return errNoWorker
	}
	if ctx == nil {
		return fmt.Errorf("%w: the context.Context is nil", sdk.ErrNilArgument)
	}
	if w.invalid != nil {
		w.log.Error("worker cannot run", "err", w.invalid)
		return w.invalid
	}
	if !w.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer w.running.Store(false)
	if err := w.c.BeginRun(); err != nil {
		return fmt.Errorf("docket: worker %s cannot run: %w", w.id, err)
	}
	defer w.c.EndRun()
	if len(w.c.Tasks()) == 0 && w.opts.Fallback == nil {
		w.log.Warn("worker started with no task registered: every message it claims will wait for a worker that has its task")
	}

	// The claim loop stops when ctx ends or the docket closes; only a close
	// hands running tasks back at once, without a drain.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	closing := w.c.Closing()
	go func() {
		select {
		case <-closing:
			cancel(sdk.ErrClosed)
		case <-ctx.Done():
		}
	}()

	r := newRun(w)
	leave := w.c.Idle.Join(r.claims.poke)
	defer leave()
	r.start(ctx)
	unrecorded, reached := r.claims.run(ctx, stop)
	cause := context.Cause(ctx)
	cutShort := r.stop(unrecorded, closing)
	closed := errors.Is(cause, sdk.ErrClosed) || cutShort
	switch {
	case closed:
		return fmt.Errorf("docket: worker %s stopped: %w", w.id, sdk.ErrClosed)
	case stop != untilStopped && !reached:
		return fmt.Errorf("docket: worker %s stopped before %s: %w", w.id, stop, cause)
	}
	return nil
}

// run is one Run call: a few parts, each with one job and one lifecycle,
// that talk through narrow methods (a poke, a send, a lookup) rather than
// shared fields. The slots hold the only state shared behind a mutex.
//
//   - slots: the attempts in hand and the tally of busy slots and running
//     functions; the drain waits on it.
//   - claimer: the claim loop; claims tasks into free slots, carries
//     outcomes with its claims, and tells the Idle waiters when it is idle
//     (RunUntilIdle, the testsuite): an Idle round read per exchange, a
//     report when idle, nothing per task. Its state is its own: others
//     only poke it.
//   - acker: the outcomes on their way to Redis; while the claimer runs it
//     takes them, and during the drain the acker records them itself.
//   - leaser: renews the leases and the heartbeat, and fences attempts whose
//     lease it could not renew in time.
//   - listener: the events channel: wake-ups, cancellations, ended chains.
//   - upkeep: automatic chains, handed-back tasks made due for this worker,
//     and the children of ended workflows.
//
// Start order: upkeep (it takes the registry's Changed channel before
// anything is prepared, so no registration is missed), leaser (its first
// renewal starts the automatic chains, then heartbeats: a worker that
// shows in Snapshot has started them), listener; the claimer waits until the
// listener has subscribed (no cancellation is missed) and the leaser has
// heartbeaten, then claims. Stop order: the claimer first (no attempt
// starts after it); then the acker starts, with what the claimer left
// unsent, and records outcomes while the slots drain; then the acker,
// listener, leaser and upkeep stop, the reverse of their start, so that
// each stops before the parts it uses (the listener and the leaser use
// the upkeep).
type run struct {
	*conf
	slots  *slots
	claims *claimer
	acks   *acker
	leases *leaser
	events *listener
	upkeep *upkeep
	fleet  *fleet

	// lateClaims are the keys handed back once for a claim that came back
	// late (see startAttempt), and when that was last logged: the claim
	// loop's alone.
	lateClaims map[string]bool
	lateLogged time.Time
}

// conf is what every part of a run reads and none writes.
type conf struct {
	w     *Worker
	store *store.Store
	log   *slog.Logger
	opts  Options
	epoch time.Time // the run's start: clock counts from it
}

// clock reads the run's own clock: the time since it started, monotonic.
func (c *conf) clock() time.Duration { return time.Since(c.epoch) }

// clockAt is the run's clock (see clock) at t, a reading of this worker's.
func (c *conf) clockAt(t time.Time) time.Duration { return t.Sub(c.epoch) }

func newRun(w *Worker) *run {
	c := &conf{w: w, store: w.c.Store, log: w.log, opts: w.opts, epoch: time.Now()}
	r := &run{conf: c}
	r.slots = newSlots(c)
	r.acks = newAcker(c)
	r.upkeep = newUpkeep(c)
	r.fleet = newFleet(c)
	r.claims = newClaimer(c, r.slots, r.acks, r.startAttempt)
	r.leases = newLeaser(c, r.slots, r.upkeep.renewing)
	r.events = newListener(c, r.slots, r.claims.poke, r.upkeep)
	return r
}

// start starts the parts that run beside the claim loop, in order, and
// waits, within readyTimeout, until they are ready for it (see run).
func (r *run) start(ctx context.Context) {
	r.upkeep.start()
	r.leases.start()
	r.events.start()
	r.awaitReady(ctx)
}

// stop stops the parts once the claim loop has returned what it could not
// send (see run), and takes the worker out of Snapshot. It reports whether
// the docket's closing cut its drain short.
func (r *run) stop(unrecorded []*attempt, closing <-chan struct{}) (closed bool) {
	r.acks.start(unrecorded)
	r.slots.releaseLine(sdk.ErrShutdown) // what was not started is not started now
	closed = r.slots.drain(closing)
	r.slots.cancelAll(sdk.ErrShutdown)
	r.acks.stop()
	r.events.stop()
	r.leases.stop()
	r.upkeep.stop()
	r.unregister()
	return closed
}

// startAttempt runs a claimed task: an attempt in a slot of its own.
//
// Two are not started, and their outcome, returned, hands them back due
// when they were, without counting the delivery, for the claim loop to
// send with its next claim:
//   - one of a task registered since the claim was sent (reg, the registry
//     then, has not got it): the claim carried no admission rules for it (a
//     cooldown, a concurrency limit); the next claim carries them, and the
//     task is back in line before that claim takes any;
//   - one whose claim took more than a third of the lease to come back
//     (Redis stalled, say): by this worker's clock its lease runs from the
//     claim's sending, so the fence would stop it before the next renewal,
//     and the delivery would count towards the dead letter for nothing.
//     Once per key: a Redis that stays that slow would otherwise have it
//     handed back for ever, where started, it may finish.
func (r *run) startAttempt(m store.Message, claimed, received time.Time, leased time.Duration, reg core.Registry) *attempt {
	a := newAttempt(r, m, claimed, received)
	a.registry = reg
	late := reg.Task(m.Name) == nil && r.w.c.Task(m.Name) != nil
	if took := r.clockAt(received) - leased; late || took > r.opts.Lease/3 && r.firstLateClaim(m.Key, took) {
		a.settled.Store(true)
		a.newOutcome(store.Unstarted)
		return a
	}
	if len(r.lateClaims) > 0 {
		delete(r.lateClaims, m.Key)
	}
	a.leased.Store(int64(leased))
	r.slots.launch(a)
	return nil
}

// firstLateClaim reports whether key comes back late for the first time
// since it last started, and logs, now and then, that claims come back late.
func (r *run) firstLateClaim(key string, took time.Duration) bool {
	if r.lateClaims[key] {
		delete(r.lateClaims, key) // late again: it starts
		return false
	}
	if r.lateClaims == nil || len(r.lateClaims) >= maxLateClaims {
		r.lateClaims = map[string]bool{}
	}
	r.lateClaims[key] = true
	if time.Since(r.lateLogged) >= lateLogEvery {
		r.lateLogged = time.Now()
		r.log.Warn("a claim took more than a third of the lease to come back (Redis slow or stalled): its tasks are handed back undelivered, and claimed again",
			"took", took, "lease", r.opts.Lease)
	}
	return true
}

// maxLateClaims bounds the keys a run remembers handing back late;
// lateLogEvery is how often at most it says so.
const (
	maxLateClaims = 10_000
	lateLogEvery  = 10 * time.Second
)

func (r *run) unregister() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.store.Unregister(ctx, r.w.id); err != nil {
		r.log.Debug("could not unregister the worker; its entry expires on its own", "err", err)
	}
}

// readyTimeout bounds the wait for readiness: with Redis out of reach, the
// worker goes on and its loops retry.
const readyTimeout = 5 * time.Second

// awaitReady waits for the listener's subscription to the events channel
// (a cancellation published before it would be missed) and the leaser's
// first heartbeat (so that the worker shows in Snapshot while it runs
// tasks).
func (r *run) awaitReady(ctx context.Context) {
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	for _, ch := range []<-chan struct{}{r.events.ready(), r.leases.ready()} {
		select {
		case <-ch:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// lifecycle is a part's goroutines and their end: one per part, so that
// each part stops on its own, in the order run states.
type lifecycle struct {
	ctx    context.Context // ends when the part stops
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (l *lifecycle) init() { l.ctx, l.cancel = context.WithCancel(context.Background()) }

// spawn runs f on a goroutine of the part; f returns once ctx ends.
func (l *lifecycle) spawn(f func()) { l.wg.Go(f) }

// stop ends the part's goroutines and waits for them.
func (l *lifecycle) stop() {
	l.cancel()
	l.wg.Wait()
}
