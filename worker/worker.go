package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
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
	running atomic.Bool
}

// ErrRunning reports a second Run of a worker that is already running.
var ErrRunning = errors.New("docket: worker is already running")

// New returns a worker for the tasks registered on d, now or later.
func New(d *sdk.Docket, opts Options) *Worker {
	c := core.Unwrap(d)
	invalid := opts.Validate()
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
	return &Worker{c: c, opts: opts, invalid: invalid, id: id, log: log.With("worker", id), metrics: telemetry.NewMetrics()}
}

// ID identifies the worker in Redis and in Snapshot.
func (w *Worker) ID() string { return w.id }

// Run executes tasks until ctx ends. Then it stops claiming, gives running
// tasks up to Options.DrainTimeout to finish, hands back those that do not,
// and returns nil. Connection errors never end Run: the worker logs them,
// backs off and carries on when Redis is back.
//
// Run returns an error for any other reason it stops, or refuses to start:
// options out of range (ErrBadOption), a second Run of the same worker
// (ErrRunning), or the docket closed (sdk.ErrClosed: Close stops the
// workers promptly, handing their running tasks back).
func (w *Worker) Run(ctx context.Context) error {
	return w.run(ctx, untilStopped)
}

// RunUntilIdle executes tasks until none is due and none is running, then
// stops as Run does. Tasks scheduled for later are left for later, retries
// included: to wait for those too, use RunUntilFinished.
func (w *Worker) RunUntilIdle(ctx context.Context) error {
	return w.run(ctx, untilIdle)
}

// RunUntilFinished executes tasks until every task added has finished, then
// stops as Run does: it waits through retry delays, snoozes, debounce
// settling and waits for concurrency slots, and for tasks running on other
// workers; it does not wait for the future runs of perpetual and cron
// chains (of the tasks registered on this worker), which are left
// scheduled. A task that retries or snoozes forever keeps it running:
// bound it with ctx.
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

func (w *Worker) run(ctx context.Context, stop until) error {
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
	leave := w.c.Idle.Join(r.poke)
	defer leave()

	changed := w.c.Changed() // before the first seeding: no registration is missed
	var bg sync.WaitGroup
	bg.Go(r.renewLoop)
	bg.Go(r.listen)
	bg.Go(func() { r.followRegistry(changed) })
	bg.Go(r.fenceLoop)

	r.awaitReady(ctx)
	unrecorded := r.claimLoop(ctx, stop)
	// From here on no claim carries outcomes: they go on their own.
	bg.Go(func() { r.ackLoop(unrecorded) })
	closed := errors.Is(context.Cause(ctx), sdk.ErrClosed)
	r.drain(closed)
	r.stopBackground()
	bg.Wait()
	r.unregister()
	if closed {
		return fmt.Errorf("docket: worker %s stopped: %w", w.id, sdk.ErrClosed)
	}
	return nil
}

// run is the state of one Run call.
type run struct {
	w     *Worker
	store *store.Store
	log   *slog.Logger
	opts  Options

	// bgCtx ends the background loops (acks, renewals, events) after the
	// drain.
	bgCtx    context.Context
	cancelBg context.CancelFunc

	epoch  time.Time     // the run's start: run.clock counts from it
	wake   chan struct{} // any reason for the claim loop to look again
	reseed chan struct{} // an automatic task's chain ended
	reap   chan struct{} // ended workflows have children to cancel

	mu      sync.Mutex
	active  map[heldKey]*attempt // claimed and not yet acknowledged
	busy    int                  // attempts not yet settled: they hold a slot
	calls   int                  // task functions running, abandoned ones included
	settled chan struct{}        // signalled when any of these drops

	acks chan ack

	ready readiness

	// The claim loop's cache of the admission rules (see rules).
	cachedRules  store.Rules
	rulesVersion uint64
	rulesBuilt   bool
}

type heldKey struct{ key, gen string }

func newRun(w *Worker) *run {
	r := &run{
		w:       w,
		store:   w.c.Store,
		log:     w.log,
		opts:    w.opts,
		epoch:   time.Now(),
		wake:    make(chan struct{}, 1),
		reseed:  make(chan struct{}, 1),
		reap:    make(chan struct{}, 1),
		active:  map[heldKey]*attempt{},
		settled: make(chan struct{}, 1),
		acks:    make(chan ack, w.opts.Concurrency),
	}
	r.ready = readiness{subscribed: make(chan struct{}), beaten: make(chan struct{})}
	r.bgCtx, r.cancelBg = context.WithCancel(context.Background())
	return r
}

// poke asks the claim loop to look for work again.
func (r *run) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// tally is what the worker has in hand.
type tally struct {
	busy   int // attempts holding a slot
	active int // attempts not yet acknowledged
	calls  int // task functions still running
}

func (r *run) counts() tally {
	r.mu.Lock()
	defer r.mu.Unlock()
	return tally{busy: r.busy, active: len(r.active), calls: r.calls}
}

// shutdownGrace is how long the functions of tasks cancelled at the end of
// the drain have to return before Run gives up on them.
const shutdownGrace = 5 * time.Second

// drain waits for running tasks, up to the drain timeout (not at all when
// the docket is closing); then cancels the rest, which hands them back;
// then waits for the outcomes to land, and for the functions of cancelled
// tasks to return.
func (r *run) drain(closing bool) {
	timeout := r.opts.DrainTimeout
	if closing {
		timeout = 0
	}
	if !r.waitFor(timeout, func(c tally) bool { return c.busy == 0 }) {
		if closing {
			r.log.Info("docket closed: handing back running tasks", "tasks", r.counts().busy)
		} else {
			r.log.Warn("drain timeout: handing back running tasks", "tasks", r.counts().busy, "timeout", r.opts.DrainTimeout)
		}
		r.cancelTasks(sdk.ErrShutdown)
		// Each settles when its function returns, or when shutdownGrace
		// has passed.
		r.waitFor(shutdownGrace+time.Second, func(c tally) bool { return c.busy == 0 })
	}
	if !r.waitFor(r.opts.DrainTimeout, func(c tally) bool { return c.active == 0 }) {
		r.log.Error("could not record the outcome of some tasks before stopping; they will be redelivered when their lease lapses",
			"tasks", r.counts().active)
	}
	if !r.waitFor(shutdownGrace, func(c tally) bool { return c.calls == 0 }) {
		r.log.Warn("task functions that ignore their context are still running; abandoning them", "tasks", r.counts().calls)
	}
}

// waitFor waits up to limit for done to hold.
func (r *run) waitFor(limit time.Duration, done func(tally) bool) bool {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		if done(r.counts()) {
			return true
		}
		select {
		case <-r.settled:
		case <-timer.C:
			return false
		}
	}
}

// changed signals that a count of the tally dropped, and has the claim
// loop look again: a slot may be free.
func (r *run) changed() {
	r.signal()
	r.poke()
}

// signal tells waitFor that a count of the tally dropped.
func (r *run) signal() {
	select {
	case r.settled <- struct{}{}:
	default:
	}
}

// cancelTasks cancels every task in hand with cause. It runs once the
// claim loop has stopped, so no attempt starts after it. Task contexts are
// not children of Run's context, since tasks outlive it during the drain; and
// each is its own rather than the child of one shared parent, on whose lock
// a busy worker would contend to register and unregister every attempt.
func (r *run) cancelTasks(cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.active {
		a.cancel(cause)
	}
}

func (r *run) stopBackground() {
	r.cancelTasks(sdk.ErrShutdown)
	r.cancelBg()
}

func (r *run) unregister() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.store.Unregister(ctx, r.w.id); err != nil {
		r.log.Debug("could not unregister the worker; its entry expires on its own", "err", err)
	}
}

// description is what Snapshot shows of this worker.
func (r *run) description(started time.Time) []byte {
	host, _ := os.Hostname()
	var names []string
	for _, t := range r.w.c.Tasks() {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	b, _ := json.Marshal(sdk.WorkerInfo{
		ID: r.w.id, Host: host, PID: os.Getpid(), Tasks: names,
		Concurrency: r.opts.Concurrency, Started: started,
	})
	return b
}

// readiness is what a worker waits for before it claims: its subscription
// to the events channel (a cancellation published before it would be
// missed) and its first heartbeat (so that it shows in Snapshot while it
// runs tasks).
type readiness struct {
	subscribe, beat    sync.Once
	subscribed, beaten chan struct{}
}

// readyTimeout bounds the wait for readiness: with Redis out of reach, the
// worker goes on and its loops retry.
const readyTimeout = 5 * time.Second

func (r *run) awaitReady(ctx context.Context) {
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	for _, ch := range []chan struct{}{r.ready.subscribed, r.ready.beaten} {
		select {
		case <-ch:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
