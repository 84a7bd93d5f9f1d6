package testsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// Env is a docket on an embedded Redis with a running worker, under fake
// time.
type Env struct {
	t       *testing.T
	docket  *sdk.Docket
	store   *store.Store
	core    *core.Docket
	began   time.Time // fake time when the environment started
	idle    *core.Idle
	stop    context.CancelFunc
	stopped chan struct{}
	begin   sync.Once // starts the worker
	launch  func()

	mu       sync.Mutex
	runs     []Attempt
	steps    []StepRun
	calls    int           // task functions running, abandoned ones included
	returned chan struct{} // signalled when one returns
}

// StepRun is one run of a workflow step's function (see workflow.Step): a
// step found done in a later run of its workflow does not run, and is not
// listed again.
type StepRun struct {
	Workflow string    // the workflow's key
	Name     string    // the step's name
	Start    time.Time // when its function was called, in fake time
	End      time.Time // when it returned, or panicked
	Err      error     // what it returned; for a panic, an error that says so
}

// Attempt is one attempt that ran a task's function.
type Attempt struct {
	Key     string          // the execution's key
	Task    string          // the task's name
	Attempt int             // the attempt's number, 1-based
	Start   time.Time       // when the function was called, in fake time
	End     time.Time       // when it returned, or when it was abandoned at its deadline
	Input   json.RawMessage // the input it was called with
	Err     error           // what it returned; sdk.ErrTimeout (wrapped) when it timed out
}

// Option adjusts the environment.
type Option func(*config)

type config struct {
	docket []sdk.Option
	worker worker.Options
}

// WithDocketOptions passes options to the docket, after the testsuite's
// own: the docket is named "test", and logs to the test's output (shown
// with -v or when the test fails); options given here override those.
func WithDocketOptions(opts ...sdk.Option) Option {
	return func(c *config) { c.docket = append(c.docket, opts...) }
}

// WithWorkerOptions sets the worker's options. Unset fields take the
// testsuite's defaults: a week for the lease and the poll interval (nothing
// crashes here, and wake-ups are never lost), so a year of fake time passes
// in few steps; the name "testsuite". Other fields take the worker
// package's defaults (Concurrency 10, say). A later call replaces the whole
// Options of an earlier one. An automatic task's chain that ends is started
// again at once, as on a real worker.
func WithWorkerOptions(o worker.Options) Option {
	return func(c *config) { c.worker = o }
}

const week = 7 * 24 * time.Hour

// Run runs fn in a synctest bubble with a fresh Env. When fn returns, the
// worker stops (letting running tasks finish), and the test fails if the
// docket left a Redis key without a TTL that no live task needs.
func Run(t *testing.T, fn func(t *testing.T, env *Env), opts ...Option) {
	t.Helper()
	if r, bubble := runBubble(t, fn, opts); r != nil {
		leftBehind(t, r, bubble) // here, for the failure to name the caller's line
	}
}

// runBubble runs fn in its bubble, and returns what synctest panicked
// with, if it did, and the bubble's name (see bubbleName).
func runBubble(t *testing.T, fn func(t *testing.T, env *Env), opts []Option) (panicked any, bubble string) {
	defer func() { panicked = recover() }()
	synctest.Test(t, func(t *testing.T) {
		bubble = bubbleName()
		cfg := config{}
		for _, o := range opts {
			o(&cfg)
		}
		env := start(t, cfg)
		// Registered first, so run last: after the test's own cleanups,
		// which may be what releases a task that ignored its context.
		t.Cleanup(env.awaitAbandoned)
		defer env.close()
		fn(t, env)
	})
	return nil, bubble
}

// leftBehind fails the test for the goroutines its bubble left behind,
// showing their stacks, rather than end the test binary: synctest panics
// when the bubble's main goroutine exits while others remain blocked, which
// is how a test ends whose task function never returns (it ignores its
// context: Run gave up on it after a week of fake time, see
// awaitAbandoned), or that leaked a goroutine of its own. They stay blocked
// for good (time in the bubble stopped), and the other tests go on. Any
// other panic goes on up.
func leftBehind(t *testing.T, r any, bubble string) {
	t.Helper()
	err, ok := r.(error)
	if !ok || !strings.Contains(err.Error(), "main bubble goroutine has exited but blocked goroutines remain") {
		panic(r)
	}
	t.Errorf("testsuite: the test ended with goroutines of its bubble still blocked (%v); they stay blocked for good, "+
		"and the other tests go on. Their stacks:\n\n%s", err, stacksOf(bubble))
	t.FailNow() // as synctest.Test does when its test failed
}

// bubbleName is how the runtime names, in goroutine stacks, the synctest
// bubble of the goroutine that calls it: "synctest bubble 3"; empty if it
// cannot tell.
func bubbleName() string {
	buf := make([]byte, 512)
	header, _, _ := strings.Cut(string(buf[:runtime.Stack(buf, false)]), "\n")
	i := strings.Index(header, "synctest bubble ")
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(header[i:], "]:")
}

// stacksOf returns the stacks of the goroutines of bubble (see
// bubbleName), or every goroutine's when bubble is empty.
func stacksOf(bubble string) string {
	buf := make([]byte, 1<<20)
	all := string(buf[:runtime.Stack(buf, true)])
	if bubble == "" {
		return all
	}
	var out []string
	for _, g := range strings.Split(all, "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		if strings.Contains(header, ", "+bubble+"]") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// watchFor is how long a watch registration lasts under the testsuite
// (core.Docket.WatchFor): renewed every 20 minutes of fake time rather
// than every 10 seconds, a Call of a workflow that sleeps 30 days makes
// 2,160 round trips to Redis, not 260,000. (A record lost while watched
// is noticed at a renewal: within 20 minutes.)
const watchFor = time.Hour

func start(t *testing.T, cfg config) *Env {
	rdb, closeRedis := store.Embedded()
	logger := slog.New(slog.NewTextHandler(t.Output(), nil)) // shown with -v or when the test fails
	defaults := []sdk.Option{sdk.WithName("test"), sdk.WithLogger(logger)}
	d, err := sdk.OpenClient(rdb, append(defaults, cfg.docket...)...)
	if err != nil {
		_ = closeRedis()
		t.Fatal(err)
	}
	c := core.Unwrap(d)
	env := &Env{t: t, docket: d, store: c.Store, core: c, began: time.Now(), idle: &c.Idle, stopped: make(chan struct{}),
		returned: make(chan struct{}, 1)}
	c.WatchFor = watchFor
	c.Hooks.AttemptDone = env.record
	c.Hooks.StepDone = env.recordStep
	c.Hooks.Calls = env.count
	// A caller that waits for a task (Watch, Result, Call) starts the
	// worker, if nothing has yet: tasks registered on the docket itself
	// (env.Docket().Register), as a program does, would otherwise wait,
	// moving fake time, for a worker that never starts. (Registering on the
	// docket does not start it: a test may run a worker of its own.)
	c.Hooks.Watching = env.launchWorker

	wo := cfg.worker
	if wo.Lease == 0 {
		wo.Lease = week
	}
	if wo.PollInterval == 0 {
		wo.PollInterval = week
	}
	if wo.Name == "" {
		wo.Name = "testsuite"
	}
	w := worker.New(d, wo)
	ctx, cancel := context.WithCancel(context.Background())
	env.stop = func() {
		cancel()
		<-env.stopped
		if err := env.store.CheckLeaks(context.Background()); err != nil {
			t.Error(err)
		}
		_ = d.Close()
		_ = closeRedis()
	}
	env.launch = func() {
		go func() {
			defer close(env.stopped)
			_ = w.Run(ctx)
		}()
	}
	return env
}

// startWorker starts the worker on first use, once tasks are registered,
// and lets it settle: for the calls that drive the env, from the test's
// goroutine.
func (e *Env) startWorker() {
	e.begin.Do(e.launch)
	synctest.Wait()
}

// launchWorker starts the worker if nothing has yet, without waiting for
// it to settle: for a caller that waits for a task (Watch, Result, Call),
// which may be any goroutine of the test (synctest.Wait, from two at once,
// or under the Once while another waits for it, would hang the bubble).
func (e *Env) launchWorker() { e.begin.Do(e.launch) }

func (e *Env) close() {
	e.launchWorker() // so that stopping it finds it started
	e.stop()
}

// count counts the task functions running (see core.Hooks.Calls).
func (e *Env) count(delta int) {
	e.mu.Lock()
	e.calls += delta
	e.mu.Unlock()
	if delta < 0 {
		select {
		case e.returned <- struct{}{}:
		default:
		}
	}
}

// awaitAbandoned waits, moving fake time, for the task functions that the
// stopped worker abandoned (they ignored their context, and sleep past
// their deadline, say) to return: the bubble cannot end while they run.
// It runs after the test's cleanups. It gives up after a week of fake
// time, failing the test (a function blocked on anything but time never
// returns: synctest then reports it as blocked).
func (e *Env) awaitAbandoned() {
	limit := time.NewTimer(week)
	defer limit.Stop()
	for {
		e.mu.Lock()
		n := e.calls
		e.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-e.returned:
		case <-limit.C:
			e.t.Errorf("testsuite: %d task function(s) that ignore their context still ran a week of fake time after the test ended: a task must return when its context ends", n)
			return
		}
	}
}

func (e *Env) record(r core.AttemptRecord) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs = append(e.runs, Attempt{
		Key: r.Key, Task: r.Task, Attempt: r.Attempt, Start: r.Start, End: r.End,
		Input: json.RawMessage(r.Input), Err: r.Err,
	})
}

func (e *Env) recordStep(r core.StepRecord) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.steps = append(e.steps, StepRun(r))
}

// Steps lists the runs of the steps of the workflow with key, in the order
// they ended; those of every workflow when key is empty.
func (e *Env) Steps(key string) []StepRun {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []StepRun
	for _, s := range e.steps {
		if key == "" || s.Workflow == key {
			out = append(out, s)
		}
	}
	return out
}

// Signal sends the workflow with key a signal (see sdk.Docket.Signal),
// failing the test on error, and lets what it wakes run as far as it can
// without time passing.
func (e *Env) Signal(key, name string, payload any) {
	e.t.Helper()
	e.startWorker()
	if err := e.docket.Signal(context.Background(), key, name, payload); err != nil {
		e.t.Fatal(err)
	}
	synctest.Wait()
}

// Docket is the environment's docket: add tasks to it.
func (e *Env) Docket() *sdk.Docket { return e.docket }

// Register registers tasks on the docket, failing the test on error. The
// first call starts the worker, unless Advance or a RunUntil call started
// it already; a later one is taken in at once, as by a real worker: the
// chains of automatic tasks start then, and tasks of the names registered
// that were waiting for a worker that has them are due, in their places in
// line (a cooldown or a debounce judges them before those added since).
// Call it once for all tasks or once per task, as you like. Registering on
// Docket() instead does not start the worker (a test may run one of its
// own); waiting for a task's end (Watch, Result, Call) does.
func (e *Env) Register(tasks ...sdk.Registrable) {
	e.t.Helper()
	if err := e.docket.Register(tasks...); err != nil {
		e.t.Fatal(err)
	}
	e.startWorker()
	synctest.Wait()
}

// Now is the fake clock's current time.
func (e *Env) Now() time.Time { return time.Now() }

// Advance moves fake time forward by d, starting the worker if Register has
// not: tasks added meanwhile whose task is not registered yet wait for it
// as for a worker that has it (see Register). Every task and timer that
// falls due meanwhile runs at its exact instant, in order; when Advance
// returns, everything due at the new instant has run as far as it can
// without time passing.
func (e *Env) Advance(d time.Duration) {
	e.startWorker()
	time.Sleep(d)
	synctest.Wait()
}

// RunUntilIdle lets the worker run until nothing is due and nothing is
// running, moving fake time as far as running tasks need (a task that
// sleeps an hour moves it an hour). Tasks scheduled for later stay
// scheduled, retries included: RunUntilFinished waits for those too. It
// fails the test when the worker stays busy for 30 days of fake time
// without an attempt ending: a task function that ignores its context and
// never returns (without a Timeout policy, nothing abandons it) would
// otherwise hang the test.
func (e *Env) RunUntilIdle() {
	e.t.Helper()
	e.startWorker()
	e.awaitIdle()
	synctest.Wait()
}

// awaitIdle waits until the worker is idle (see RunUntilIdle), failing the
// test when no attempt has ended for maxBusy of fake time while it is
// busy: a task function blocked for ever would otherwise hang the test
// until go test's timeout. Work that goes on, however long, is waited for.
func (e *Env) awaitIdle() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idle := make(chan error, 1)
	go func() { idle <- e.idle.Wait(ctx) }()
	ended := e.attemptsEnded()
	timer := time.NewTimer(maxBusy)
	defer timer.Stop()
	for {
		select {
		case err := <-idle:
			if err != nil {
				e.t.Fatal(err)
			}
			return
		case <-timer.C:
			if n := e.attemptsEnded(); n != ended { // progress: wait on
				ended = n
				timer.Reset(maxBusy)
				continue
			}
			cancel()
			<-idle
			e.t.Fatalf("testsuite: the worker was busy for %v of fake time without an attempt ending: does a task's function block for ever? "+
				"(a task with a Timeout policy is abandoned at its deadline; one without runs until it returns)", maxBusy)
		}
	}
}

// attemptsEnded counts the attempts that have ended so far.
func (e *Env) attemptsEnded() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.runs)
}

// maxBusy bounds how long the worker may stay busy with no attempt ending:
// 30 days of fake time, far beyond any task a test runs.
const maxBusy = 30 * 24 * time.Hour

// RunUntilFinished lets the worker run until every task added has
// finished, moving fake time as far as that takes: through retry delays,
// snoozes, debounce settling and waits for concurrency slots. The future
// runs of perpetual and cron chains are not waited for; they stay
// scheduled. It fails the test when the work never finishes (a task that
// retries or snoozes forever): after a million wake-ups; and, as
// RunUntilIdle does, when the worker stays busy for 30 days of fake time
// without an attempt ending (a task function that never returns).
func (e *Env) RunUntilFinished() {
	e.t.Helper()
	e.startWorker()
	ctx := context.Background()
	for range maxFinishSteps {
		e.awaitIdle()
		synctest.Wait()
		pending, next, signal, err := e.store.Pending(ctx, e.core.Chains())
		if err != nil {
			e.t.Fatal(err)
		}
		if !pending {
			return
		}
		if signal {
			e.t.Fatalf("testsuite: the tasks cannot finish: what is left is held by a strike (Snapshot.Held: restore it) or workflows parked for what can no longer happen — a signal without a timeout (Env.Signal sends it) or children that will not end (Snapshot.Parked, Info.Workflow.WaitingFor)%s", e.stuck(ctx))
		}
		// Until the earliest unfinished task is due; a moment when the work
		// is running or due elsewhere.
		time.Sleep(max(time.Until(next), time.Millisecond))
	}
	e.t.Fatalf("testsuite: the tasks did not finish after %d wake-ups (%v of fake time): does one retry or snooze forever?",
		maxFinishSteps, time.Since(e.began))
}

// stuckListed is how many stuck tasks of each kind RunUntilFinished names.
const stuckListed = 10

// stuck names the tasks that keep RunUntilFinished from finishing: the
// workflows parked with what each waits for, and the tasks a strike holds.
func (e *Env) stuck(ctx context.Context) string {
	snap, err := e.docket.Snapshot(ctx, sdk.Limit(stuckListed))
	if err != nil {
		return fmt.Sprintf(" (reading them: %v)", err)
	}
	var b strings.Builder
	for _, p := range snap.Parked {
		fmt.Fprintf(&b, "\n  parked: %s (%s)", p.Key, p.Task)
		if info, err := e.docket.Execution(p.Key).Info(ctx); err == nil && info.Workflow != nil && info.Workflow.WaitingFor != "" {
			fmt.Fprintf(&b, ", waiting for %s", info.Workflow.WaitingFor)
		}
	}
	if n := snap.TotalParked - len(snap.Parked); n > 0 {
		fmt.Fprintf(&b, "\n  and %d more parked", n)
	}
	for _, h := range snap.Held {
		fmt.Fprintf(&b, "\n  held by a strike: %s (%s)", h.Key, h.Task)
	}
	if n := snap.TotalHeld - len(snap.Held); n > 0 {
		fmt.Fprintf(&b, "\n  and %d more held", n)
	}
	return b.String()
}

// maxFinishSteps bounds RunUntilFinished, so that work that never finishes
// fails the test rather than hanging it.
const maxFinishSteps = 1_000_000

// Runs lists the attempts that ran the named task's function, in the order
// they ended; all attempts of all tasks when name is empty.
func (e *Env) Runs(name string) []Attempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Attempt
	for _, r := range e.runs {
		if name == "" || r.Task == name {
			out = append(out, r)
		}
	}
	return out
}
