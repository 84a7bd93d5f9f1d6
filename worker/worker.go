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
	return &Worker{c: c, opts: opts, id: id, log: log.With("worker", id), metrics: telemetry.NewMetrics()}
}

// ID identifies the worker in Redis and in Snapshot.
func (w *Worker) ID() string { return w.id }

// Run executes tasks until ctx ends. Then it stops claiming, gives running
// tasks up to Options.DrainTimeout to finish, hands back those that do not,
// and returns nil. Connection errors never end Run: the worker logs them,
// backs off and carries on when Redis is back.
func (w *Worker) Run(ctx context.Context) error {
	return w.run(ctx, false)
}

// RunUntilIdle executes tasks until none is due and none is running, then
// stops as Run does. Tasks scheduled for later are left for later.
func (w *Worker) RunUntilIdle(ctx context.Context) error {
	return w.run(ctx, true)
}

func (w *Worker) run(ctx context.Context, untilIdle bool) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer w.running.Store(false)
	if len(w.c.Tasks()) == 0 && w.opts.Fallback == nil {
		w.log.Warn("worker started with no task registered: every message it claims will fail as unknown")
	}

	r := newRun(w)
	leave := w.c.Idle.Join(r.poke)
	defer leave()

	var bg sync.WaitGroup
	bg.Go(r.renewLoop)
	bg.Go(r.listen)

	r.awaitReady(ctx)
	unrecorded := r.claimLoop(ctx, untilIdle)
	// From here on no claim carries outcomes: they go on their own.
	bg.Go(func() { r.ackLoop(unrecorded) })
	r.drain()
	r.stopBackground()
	bg.Wait()
	r.unregister()
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

	wake chan struct{} // any reason for the claim loop to look again

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
		wake:    make(chan struct{}, 1),
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

// drain waits for running tasks, up to the drain timeout; then cancels the
// rest, which hands them back; then waits for the outcomes to land, and for
// the functions of cancelled tasks to return.
func (r *run) drain() {
	if !r.waitFor(r.opts.DrainTimeout, func(c tally) bool { return c.busy == 0 }) {
		r.log.Warn("drain timeout: handing back running tasks", "tasks", r.counts().busy, "timeout", r.opts.DrainTimeout)
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
