package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// The workflow benchmark (-only workflow) measures what the workflow
// package promises about its cost, on the same redis-server and with one
// worker.Worker, at each concurrency of -concurrency:
//
//   - fan-out/fan-in: one parent that starts -workflow-children no-op
//     children with workflow.StartMany and waits for them with
//     workflow.All, from the parent's Add until its result is available,
//     against as many independent no-op tasks (AddMany, then run until the
//     task function has run for each); target: at most 2×;
//   - round trips per step: the Redis calls made inside the Step calls of a
//     workflow of -workflow-steps no-op steps, on its first run and on a
//     run that finds every step done; target: at most one per step, none
//     for a done step;
//   - a parked workflow's cost: -workflow-parked workflows parked on
//     workflow.WaitSignal (no timeout): Redis used_memory per workflow, and
//     the process's goroutines, which must not grow with the parked count;
//     then each is signalled and must complete.
//
// Each measurement runs -workflow-runs times, interleaved (the two cases of
// the fan-out comparison alternate which goes first), on a flushed Redis,
// with a fresh docket and worker; medians and [min..max] are printed.

// wfSettings are the workflow benchmark's flags.
type wfSettings struct {
	Children int // children of the fan-out, and independent tasks it is compared with
	Steps    int // steps of the round-trip measurement
	Parked   int // workflows parked at once
	Runs     int // of each measurement
}

const (
	wfName    = "wf" // the docket's name: one docket per measurement, Redis flushed between
	signalers = 8    // concurrent Docket.Signal callers
	// parkPoll is how often the driver looks whether the workflows have
	// parked: it reads a Snapshot, through a client the counted worker
	// does not use.
	parkPoll = 20 * time.Millisecond
)

// fanCase is one of the two sides of the fan-out comparison.
type fanCase int

const (
	independent fanCase = iota
	fanOutIn
)

func (c fanCase) String() string {
	if c == independent {
		return "independent"
	}
	return "workflow"
}

// fanResult is one fan-out measurement: independent tasks, or a workflow.
type fanResult struct {
	Elapsed time.Duration // AddMany to the last task's run; or the parent's Add to its result
	Cost    cost
	// Phases of the workflow, from its Add, for where the time goes.
	FirstRun   time.Duration // the parent's first run starts
	StartMany  time.Duration // StartMany's own time, in that run
	LastChild  time.Duration // the last child has run
	SecondRun  time.Duration // the parent's run that aggregates starts
	Aggregate  time.Duration // that run's own time (the flow's read, All)
	ParentRuns int
}

// stepsResult is one round-trip measurement: the Redis calls made inside
// the workflow's Step calls on its first run and on its re-run (every step
// done), by command, and every call the worker's client made while the
// workflow ran, claims and outcomes included.
type stepsResult struct {
	InSteps [2]map[string]int
	Worker  [2]map[string]int
}

// parkedResult is one parked-workflow measurement.
type parkedResult struct {
	MemBefore, MemParked  int64
	GoroutinesBefore      int // the worker idle, nothing parked
	GoroutinesPeak        int // the most seen while the workflows ran and parked
	GoroutinesParked      int // all of them parked
	GoroutinesAfter       int // all of them completed
	Park, Signal, Resume  time.Duration
	Completed, Mismatched int
	Left                  int // tasks still live, parked or not, once they all reported completion
	RecordBytes           int64
	FlowBytes             int64
}

func (r parkedResult) bytesPerParked(n int) float64 {
	return float64(r.MemParked-r.MemBefore) / float64(n)
}

// runWorkflow runs the workflow benchmark and prints its figures.
func runWorkflow(ctx context.Context, srv *server, o options, started time.Time) error {
	s := o.wf
	if s.Children <= 0 || s.Steps <= 0 || s.Parked <= 0 || s.Runs <= 0 {
		return fmt.Errorf("bad settings: -workflow-children, -workflow-steps, -workflow-parked and -workflow-runs must be positive")
	}
	fmt.Printf("\nWorkflow: one worker.Worker at concurrency %v; %d runs of each measurement, interleaved; median [min..max]\n", o.concurrencies, s.Runs)
	fmt.Printf("  fan-out: %d no-op children started with workflow.StartMany and awaited with workflow.All, from the parent's Add to its result (sdk.Result),\n", s.Children)
	fmt.Printf("           against %d independent no-op tasks (the same task), from AddMany to the last one's run; the worker is started (and idle) before either\n", s.Children)
	fmt.Printf("  steps:   a workflow of %d no-op steps that then waits for a signal; the signal makes it run again, every step done\n", s.Steps)
	fmt.Printf("  parked:  %d workflows parked in workflow.WaitSignal (no timeout), then signalled\n", s.Parked)
	fmt.Println("  default retention (completed records kept 15 min): a workflow's result is read from its record")

	// A warm-up of each measurement, not reported. Without it the first
	// would pay for the Go runtime's start and for loading the scripts into
	// this redis-server: go-redis calls a script by its hash (EVALSHA), and
	// the first call of each on a server that does not have it yet fails
	// with NOSCRIPT and is sent again with its source (EVAL), two round
	// trips instead of one, once per script and server.
	conc := o.concurrencies[0]
	for _, c := range []fanCase{independent, fanOutIn} {
		if _, err := measureFan(ctx, srv, o, conc, c); err != nil {
			return fmt.Errorf("warm-up (fan-out, %s): %w", c, err)
		}
	}
	if _, err := measureSteps(ctx, srv, o, conc); err != nil {
		return fmt.Errorf("warm-up (steps): %w", err)
	}
	if _, err := measureParked(ctx, srv, o, conc); err != nil {
		return fmt.Errorf("warm-up (parked): %w", err)
	}

	fan := map[int]map[fanCase][]fanResult{}
	steps := map[int][]stepsResult{}
	parked := map[int][]parkedResult{}
	for _, conc := range o.concurrencies {
		fan[conc] = map[fanCase][]fanResult{}
	}
	for r := range s.Runs {
		for _, conc := range o.concurrencies {
			order := []fanCase{independent, fanOutIn}
			if r%2 == 1 {
				order = []fanCase{fanOutIn, independent}
			}
			for _, c := range order {
				res, err := measureFan(ctx, srv, o, conc, c)
				if err != nil {
					return fmt.Errorf("fan-out (%s), run %d, concurrency %d: %w", c, r+1, conc, err)
				}
				fan[conc][c] = append(fan[conc][c], res)
				line := fmt.Sprintf("  run %d c=%-4d fan-out %-11s %7.3fs  redis CPU %5.1fµs/task, client CPU %5.1fµs/task", r+1, conc, c,
					res.Elapsed.Seconds(), res.Cost.RedisCPU*1e6/float64(s.Children), res.Cost.ClientCPU*1e6/float64(s.Children))
				if c == fanOutIn {
					line += fmt.Sprintf("  (from Add: first run %.1f ms, StartMany %.1f ms, last child %.1f ms, second run %.1f ms, which took %.1f ms; %d parent runs)",
						ms(res.FirstRun), ms(res.StartMany), ms(res.LastChild), ms(res.SecondRun), ms(res.Aggregate), res.ParentRuns)
				}
				fmt.Println(line)
				if r == 0 && (o.verbose || conc == o.concurrencies[0]) {
					printCommands(fmt.Sprintf("%s c=%d", c, conc), res.Cost, s.Children, o.verbose)
				}
			}
			st, err := measureSteps(ctx, srv, o, conc)
			if err != nil {
				return fmt.Errorf("steps, run %d, concurrency %d: %w", r+1, conc, err)
			}
			steps[conc] = append(steps[conc], st)
			fmt.Printf("  run %d c=%-4d steps   inside the steps: first run %s; re-run %s; the worker's client, Add to parked: %s; signal to completed: %s\n",
				r+1, conc, calls(st.InSteps[0]), calls(st.InSteps[1]), calls(st.Worker[0]), calls(st.Worker[1]))
			pk, err := measureParked(ctx, srv, o, conc)
			if err != nil {
				return fmt.Errorf("parked, run %d, concurrency %d: %w", r+1, conc, err)
			}
			parked[conc] = append(parked[conc], pk)
			fmt.Printf("  run %d c=%-4d parked  %6.0f B/workflow (record %d B, flow %d B); goroutines %d idle, %d peak, %d with %d parked, %d after; parked in %.2fs, signalled in %.2fs, all completed %.2fs after the first signal; %d/%d completed%s\n",
				r+1, conc, pk.bytesPerParked(s.Parked), pk.RecordBytes, pk.FlowBytes, pk.GoroutinesBefore, pk.GoroutinesPeak, pk.GoroutinesParked, s.Parked,
				pk.GoroutinesAfter, pk.Park.Seconds(), pk.Signal.Seconds(), pk.Resume.Seconds(), pk.Completed, s.Parked, pk.notes())
		}
	}
	fmt.Println()
	printWorkflow(o, fan, steps, parked)
	fmt.Printf("\nTotal time: %v; load average at the end: %s\n", time.Since(started).Round(time.Second), loadAverage())
	return nil
}

func (r parkedResult) notes() string {
	var notes []string
	if r.Mismatched > 0 {
		notes = append(notes, fmt.Sprintf("%d received another workflow's signal", r.Mismatched))
	}
	if r.Left > 0 {
		notes = append(notes, fmt.Sprintf("%d tasks still live", r.Left))
	}
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}

// wfDockets opens the two dockets of a measurement on a flushed Redis: the
// worker's, whose calls the round-trip hook counts, and the driver's (Add,
// Signal, Snapshot, Result), whose calls it must not count.
func wfDockets(ctx context.Context, srv *server) (workerSide, driver *sdk.Docket, err error) {
	if err := srv.flush(ctx); err != nil {
		return nil, nil, err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	workerSide, err = sdk.Open(ctx, "redis://"+srv.addr()+"/0", sdk.WithName(wfName), sdk.WithLogger(quiet))
	if err != nil {
		return nil, nil, err
	}
	driver, err = sdk.Open(ctx, "redis://"+srv.addr()+"/0", sdk.WithName(wfName), sdk.WithLogger(quiet))
	if err != nil {
		_ = workerSide.Close()
		return nil, nil, err
	}
	return workerSide, driver, nil
}

// startWorker runs one worker on d until the returned stop is called, and
// gives it settle to start: its start-up calls are then over before a
// measurement begins.
func startWorker(ctx context.Context, d *sdk.Docket, conc int) (stop func() error, done <-chan error) {
	w := worker.New(d, worker.Options{Concurrency: conc})
	runCtx, cancel := context.WithCancel(ctx)
	ch := make(chan error, 1)
	go func() { ch <- w.Run(runCtx) }()
	time.Sleep(settle)
	return func() error { cancel(); return <-ch }, ch
}

// fanIn is the fan-out parent's input: how many children.
type fanIn struct {
	N int `json:"n"`
}

// measureFan times one case of the fan-out comparison.
func measureFan(ctx context.Context, srv *server, o options, conc int, c fanCase) (res fanResult, err error) {
	n := o.wf.Children
	wd, dd, err := wfDockets(ctx, srv)
	if err != nil {
		return res, err
	}
	defer dd.Close()
	defer wd.Close()

	var ran atomic.Int64
	lastChild := make(chan time.Time, 1)
	child := sdk.NewResultTask("noop", func(ctx context.Context, in noop) (int, error) {
		if ran.Add(1) == int64(n) {
			lastChild <- time.Now()
		}
		return in.I, nil
	})
	inputs := make([]noop, n)
	for i := range inputs {
		inputs[i] = noop{I: i}
	}
	type parentRun struct {
		start, end time.Time
		manyTook   time.Duration
	}
	var mu sync.Mutex
	var runs []parentRun
	parent := sdk.NewResultTask("fanout", func(ctx context.Context, in fanIn) (int, error) {
		pr := parentRun{start: time.Now()}
		defer func() {
			pr.end = time.Now()
			mu.Lock()
			runs = append(runs, pr)
			mu.Unlock()
		}()
		t := time.Now()
		children, err := workflow.StartMany(ctx, child, "c", inputs[:in.N])
		pr.manyTook = time.Since(t)
		if err != nil {
			return 0, err
		}
		results, err := workflow.All(ctx, children)
		if err != nil {
			return 0, err
		}
		sum := 0
		for _, r := range results {
			sum += r
		}
		return sum, nil
	})
	for _, d := range []*sdk.Docket{wd, dd} {
		if err := d.Register(child, parent); err != nil {
			return res, err
		}
	}
	stop, done := startWorker(ctx, wd, conc)
	defer func() {
		if serr := stop(); err == nil {
			err = serr
		}
	}()

	m, err := srv.startMeter(ctx)
	if err != nil {
		return res, err
	}
	waitCtx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	start := time.Now()
	switch c {
	case independent:
		if _, err := child.AddMany(waitCtx, dd, inputs); err != nil {
			return res, fmt.Errorf("AddMany: %w", err)
		}
		select {
		case end := <-lastChild:
			res.Elapsed = end.Sub(start)
		case err := <-done:
			return res, fmt.Errorf("worker stopped early (ran %d of %d): %v", ran.Load(), n, err)
		case <-waitCtx.Done():
			return res, fmt.Errorf("timed out after %v with %d of %d run", o.cfg.Timeout, ran.Load(), n)
		}
	case fanOutIn:
		ex, err := parent.Add(waitCtx, dd, fanIn{N: n}, sdk.Key("fan"))
		if err != nil {
			return res, err
		}
		sum, err := parent.Result(waitCtx, ex)
		res.Elapsed = time.Since(start)
		if err != nil {
			return res, fmt.Errorf("result (%d of %d children ran): %w", ran.Load(), n, err)
		}
		if want := n * (n - 1) / 2; sum != want {
			return res, fmt.Errorf("the parent summed %d, not %d: a child's result was lost or counted twice", sum, want)
		}
		select {
		case end := <-lastChild:
			res.LastChild = end.Sub(start)
		default:
		}
		mu.Lock()
		res.ParentRuns = len(runs)
		if len(runs) > 0 {
			res.FirstRun = runs[0].start.Sub(start)
			res.StartMany = runs[0].manyTook
			last := runs[len(runs)-1]
			res.SecondRun = last.start.Sub(start)
			res.Aggregate = last.end.Sub(last.start)
		}
		mu.Unlock()
	}
	if res.Cost, err = m.stop(ctx); err != nil {
		return res, err
	}
	if got := ran.Load(); got != int64(n) {
		return res, fmt.Errorf("the child task ran %d times for %d tasks", got, n)
	}
	return res, nil
}

// callCount counts Redis calls by command; a pipeline is one call
// ("pipeline"), whatever it carries.
type callCount struct {
	mu sync.Mutex
	by map[string]int
}

func (c *callCount) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]int{}
	}
	c.by[name]++
}

func (c *callCount) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.by)
}

// countedKey marks a context whose Redis calls a callCount also counts:
// the task passes such a context to its Step calls, so that the calls made
// inside them are told apart from the worker's own (claims, outcomes).
type countedKey struct{}

// callHook counts every call of a client (all), and those made with a
// context marked with countedKey in that callCount too. go-redis hands a
// hook the context the call was made with, and the workflow package makes
// its calls with the context given to the primitive (or one derived from
// it), so the marked calls are exactly those the primitives made.
type callHook struct{ all *callCount }

var _ redis.Hook = callHook{}

func (h callHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h callHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.count(ctx, strings.ToLower(cmd.Name()))
		return next(ctx, cmd)
	}
}

func (h callHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.count(ctx, "pipeline")
		return next(ctx, cmds)
	}
}

func (h callHook) count(ctx context.Context, name string) {
	h.all.add(name)
	if c, ok := ctx.Value(countedKey{}).(*callCount); ok {
		c.add(name)
	}
}

// diff is what after counted beyond before.
func diff(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// calls prints a count by command: "101 (evalsha 100, hgetall 1)".
func calls(m map[string]int) string {
	names := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(names, func(a, b string) int { return m[b] - m[a] })
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return fmt.Sprintf("%d (%s)", total(m), strings.Join(parts, ", "))
}

// measureSteps counts the round trips of a workflow of o.wf.Steps no-op
// steps: its first run, which parks on a signal after the steps, and the
// run the signal brings, which finds every step done.
func measureSteps(ctx context.Context, srv *server, o options, conc int) (res stepsResult, err error) {
	n := o.wf.Steps
	wd, dd, err := wfDockets(ctx, srv)
	if err != nil {
		return res, err
	}
	defer dd.Close()
	defer wd.Close()
	all := &callCount{}
	wd.Redis().AddHook(callHook{all: all})

	var mu sync.Mutex
	var inSteps []map[string]int
	task := sdk.NewTask("steps", func(ctx context.Context, in noop) error {
		counted := &callCount{}
		sctx := context.WithValue(ctx, countedKey{}, counted)
		for i := range n {
			if _, err := workflow.Step(sctx, "s"+strconv.Itoa(i), func(context.Context) (int, error) { return i, nil }); err != nil {
				return err
			}
		}
		mu.Lock()
		inSteps = append(inSteps, counted.snapshot())
		mu.Unlock()
		_, err := workflow.WaitSignal[noop](ctx, "again", 0)
		return err
	})
	for _, d := range []*sdk.Docket{wd, dd} {
		if err := d.Register(task); err != nil {
			return res, err
		}
	}
	stop, _ := startWorker(ctx, wd, conc)
	defer func() {
		if serr := stop(); err == nil {
			err = serr
		}
	}()
	waitCtx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()

	before := all.snapshot()
	ex, err := task.Add(waitCtx, dd, noop{}, sdk.Key("steps"))
	if err != nil {
		return res, err
	}
	for {
		info, err := ex.Info(waitCtx)
		if err != nil {
			return res, err
		}
		if info.State == sdk.StateParked {
			break
		}
		if info.State != sdk.StateRunning && info.State != sdk.StateScheduled && info.State != sdk.StateQueued {
			return res, fmt.Errorf("the workflow ended %s before it parked: %s", info.State, info.Error)
		}
		time.Sleep(time.Millisecond) // a poll of the driver's client: not counted
	}
	parked := all.snapshot()
	if err := dd.Signal(waitCtx, "steps", "again", noop{}); err != nil {
		return res, err
	}
	if _, err := sdk.Result[struct{}](waitCtx, ex); err != nil {
		return res, err
	}
	res.Worker = [2]map[string]int{diff(before, parked), diff(parked, all.snapshot())}
	mu.Lock()
	defer mu.Unlock()
	if len(inSteps) != 2 {
		return res, fmt.Errorf("the workflow ran its steps %d times, not twice", len(inSteps))
	}
	res.InSteps = [2]map[string]int{inSteps[0], inSteps[1]}
	return res, nil
}

// measureParked parks o.wf.Parked workflows on a signal, measures what
// they cost while parked, then signals them all and checks that they all
// complete.
func measureParked(ctx context.Context, srv *server, o options, conc int) (res parkedResult, err error) {
	n := o.wf.Parked
	wd, dd, err := wfDockets(ctx, srv)
	if err != nil {
		return res, err
	}
	defer dd.Close()
	defer wd.Close()

	var completed, mismatched atomic.Int64
	allDone := make(chan time.Time, 1)
	task := sdk.NewTask("wait", func(ctx context.Context, in noop) error {
		got, err := workflow.WaitSignal[noop](ctx, "go", 0)
		if err != nil {
			return err // ErrParked, on the first run
		}
		if got.I != in.I {
			mismatched.Add(1)
		}
		if completed.Add(1) == int64(n) {
			allDone <- time.Now()
		}
		return nil
	})
	for _, d := range []*sdk.Docket{wd, dd} {
		if err := d.Register(task); err != nil {
			return res, err
		}
	}
	stop, done := startWorker(ctx, wd, conc)
	defer func() {
		if serr := stop(); err == nil {
			err = serr
		}
	}()
	waitCtx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()

	key := func(i int) string { return "w" + strconv.Itoa(i) }
	inputs := make([]noop, n)
	for i := range inputs {
		inputs[i] = noop{I: i}
	}
	res.GoroutinesBefore = runtime.NumGoroutine()
	res.GoroutinesPeak = res.GoroutinesBefore
	if res.MemBefore, err = srv.usedMemory(ctx); err != nil {
		return res, err
	}
	start := time.Now()
	if _, err := task.AddMany(waitCtx, dd, inputs, sdk.Keys(key)); err != nil {
		return res, fmt.Errorf("AddMany: %w", err)
	}
	for {
		res.GoroutinesPeak = max(res.GoroutinesPeak, runtime.NumGoroutine())
		snap, err := dd.Snapshot(waitCtx, sdk.Limit(0))
		if err != nil {
			return res, err
		}
		if snap.TotalParked == n && snap.TotalWaiting == 0 && snap.TotalRunning == 0 {
			break
		}
		select {
		case err := <-done:
			return res, fmt.Errorf("worker stopped early (%d of %d parked): %v", snap.TotalParked, n, err)
		case <-waitCtx.Done():
			return res, fmt.Errorf("timed out with %d of %d parked", snap.TotalParked, n)
		case <-time.After(parkPoll):
		}
	}
	res.Park = time.Since(start)
	// The goroutines of the last attempts end as their functions return,
	// before their outcomes are recorded; the worker's are back in their
	// idle waits once it has found nothing to claim. Give both a moment.
	time.Sleep(settle)
	res.GoroutinesParked = runtime.NumGoroutine()
	if res.MemParked, err = srv.usedMemory(ctx); err != nil {
		return res, err
	}
	// What one parked workflow holds, by key, for the README's "How it is
	// stored": its record and its flow hash (the rest is its entry in the
	// parked set).
	res.RecordBytes, _ = srv.admin.MemoryUsage(ctx, "docket:{"+wfName+"}:task:"+key(0), 0).Result()
	res.FlowBytes, _ = srv.admin.MemoryUsage(ctx, "docket:{"+wfName+"}:flow:"+key(0), 0).Result()

	start = time.Now()
	err = inChunks(waitCtx, n, 1, signalers, func(i, _ int) error {
		return dd.Signal(waitCtx, key(i), "go", noop{I: i})
	})
	res.Signal = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("signal: %w", err)
	}
	select {
	case end := <-allDone:
		res.Resume = end.Sub(start)
	case err := <-done:
		return res, fmt.Errorf("worker stopped early (%d of %d completed): %v", completed.Load(), n, err)
	case <-waitCtx.Done():
		return res, fmt.Errorf("timed out with %d of %d completed", completed.Load(), n)
	}
	res.Completed, res.Mismatched = int(completed.Load()), int(mismatched.Load())
	// The last outcomes are recorded just after the functions return.
	for range 100 {
		snap, err := dd.Snapshot(waitCtx, sdk.Limit(0))
		if err != nil {
			return res, err
		}
		res.Left = snap.TotalParked + snap.TotalWaiting + snap.TotalRunning
		if res.Left == 0 {
			break
		}
		time.Sleep(parkPoll)
	}
	time.Sleep(settle)
	res.GoroutinesAfter = runtime.NumGoroutine()
	if res.Left > 0 || res.Completed != n || res.Mismatched > 0 {
		return res, errors.New("not every parked workflow completed with its own signal" + res.notes())
	}
	return res, nil
}

// printWorkflow prints the workflow benchmark's summary and its targets.
func printWorkflow(o options, fan map[int]map[fanCase][]fanResult, steps map[int][]stepsResult, parked map[int][]parkedResult) {
	s := o.wf
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	secs := func(rs []fanResult, f func(fanResult) time.Duration) []float64 {
		out := make([]float64, len(rs))
		for i, r := range rs {
			out[i] = f(r).Seconds()
		}
		return out
	}
	fmt.Printf("Fan-out/fan-in of %d no-op children vs %d independent no-op tasks, seconds: median [min..max] of %d runs\n", s.Children, s.Children, s.Runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\tindependent s\tworkflow s\tratio of medians\tratio per run\ttasks/s indep | children/s\t")
	ratios := map[int]float64{}
	for _, conc := range o.concurrencies {
		ind, wf := fan[conc][independent], fan[conc][fanOutIn]
		elapsed := func(r fanResult) time.Duration { return r.Elapsed }
		per := make([]float64, len(ind))
		for i := range ind {
			per[i] = wf[i].Elapsed.Seconds() / ind[i].Elapsed.Seconds()
		}
		ratios[conc] = median(secs(wf, elapsed)) / median(secs(ind, elapsed))
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f×\t%s\t%.0f | %.0f\t\n", conc, secRange(secs(ind, elapsed)), secRange(secs(wf, elapsed)),
			ratios[conc], ratioRange(per), float64(s.Children)/median(secs(ind, elapsed)), float64(s.Children)/median(secs(wf, elapsed)))
	}
	_ = tw.Flush()
	fmt.Println("Where the workflow's time goes, ms from its Add (median [min..max]):")
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\tfirst run starts\tStartMany took\tlast child ran\tsecond run starts\tsecond run took\tresult read\t")
	for _, conc := range o.concurrencies {
		wf := fan[conc][fanOutIn]
		col := func(f func(fanResult) time.Duration) string {
			v := secs(wf, f)
			for i := range v {
				v[i] *= 1000
			}
			return msRange(v)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", conc,
			col(func(r fanResult) time.Duration { return r.FirstRun }),
			col(func(r fanResult) time.Duration { return r.StartMany }),
			col(func(r fanResult) time.Duration { return r.LastChild }),
			col(func(r fanResult) time.Duration { return r.SecondRun }),
			col(func(r fanResult) time.Duration { return r.Aggregate }),
			col(func(r fanResult) time.Duration { return r.Elapsed }))
	}
	_ = tw.Flush()

	fmt.Printf("\nRound trips of a workflow of %d no-op steps (calls made inside the Step calls; median [min..max] of %d runs)\n", s.Steps, s.Runs)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\tfirst run\tper step\tre-run, every step done\tper done step\tworker's client, whole first run | re-run\t")
	stepsOK := true
	for _, conc := range o.concurrencies {
		var first, again, whole1, whole2 []float64
		for _, r := range steps[conc] {
			first = append(first, float64(total(r.InSteps[0])))
			again = append(again, float64(total(r.InSteps[1])))
			whole1 = append(whole1, float64(total(r.Worker[0])))
			whole2 = append(whole2, float64(total(r.Worker[1])))
			// A step may cost its one script; the flow is read once per
			// run, at its first primitive, whatever the number of steps.
			reads := r.InSteps[0]["hgetall"]
			stepsOK = stepsOK && total(r.InSteps[0])-reads <= s.Steps && reads <= 1 &&
				total(r.InSteps[1])-r.InSteps[1]["hgetall"] == 0 && r.InSteps[1]["hgetall"] <= 1
		}
		perStep := func(xs []float64) []float64 {
			out := make([]float64, len(xs))
			for i, x := range xs {
				out[i] = x / float64(s.Steps)
			}
			return out
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s | %s\t\n", conc, countRange(first), ratioRange(perStep(first)), countRange(again),
			ratioRange(perStep(again)), countRange(whole1), countRange(whole2))
	}
	_ = tw.Flush()
	if rs := steps[o.concurrencies[0]]; len(rs) > 0 {
		fmt.Printf("  by command, first measurement: first run %s; re-run %s\n", calls(rs[0].InSteps[0]), calls(rs[0].InSteps[1]))
		fmt.Printf("  the worker's client, Add to parked: %s; signal to completed: %s\n", calls(rs[0].Worker[0]), calls(rs[0].Worker[1]))
	}

	fmt.Printf("\n%d workflows parked in WaitSignal (no timeout): median [min..max] of %d runs\n", s.Parked, s.Runs)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\tRedis B/parked workflow\tgoroutines idle\tpeak while parking\twith all parked\tafter\tparked/s\tsignal → all completed s\t")
	parkedOK := true
	for _, conc := range o.concurrencies {
		rs := parked[conc]
		col := func(f func(parkedResult) float64) []float64 {
			out := make([]float64, len(rs))
			for i, r := range rs {
				out[i] = f(r)
			}
			return out
		}
		for _, r := range rs {
			// Parked workflows hold no goroutine: with them all parked the
			// process has no more goroutines than with none.
			parkedOK = parkedOK && r.GoroutinesParked <= r.GoroutinesBefore && r.Completed == s.Parked
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", conc,
			withRange(col(func(r parkedResult) float64 { return r.bytesPerParked(s.Parked) })),
			countRange(col(func(r parkedResult) float64 { return float64(r.GoroutinesBefore) })),
			countRange(col(func(r parkedResult) float64 { return float64(r.GoroutinesPeak) })),
			countRange(col(func(r parkedResult) float64 { return float64(r.GoroutinesParked) })),
			countRange(col(func(r parkedResult) float64 { return float64(r.GoroutinesAfter) })),
			withRange(col(func(r parkedResult) float64 { return float64(s.Parked) / r.Park.Seconds() })),
			secRange(col(func(r parkedResult) float64 { return r.Resume.Seconds() })))
	}
	_ = tw.Flush()
	if rs := parked[o.concurrencies[0]]; len(rs) > 0 {
		fmt.Printf("  one parked workflow's keys (MEMORY USAGE): record %d B, flow hash %d B; the rest is its entry in the parked set\n", rs[0].RecordBytes, rs[0].FlowBytes)
	}

	fmt.Println("\nTargets (workflow):")
	for _, conc := range o.concurrencies {
		fmt.Printf("  fan-out/fan-in of %d children <= 2x %d independent tasks, concurrency %d: %.2fx (%s)\n", s.Children, s.Children, conc, ratios[conc], verdict(ratios[conc] <= 2))
	}
	fmt.Printf("  a step costs at most one round trip; a done step none (plus one flow read per run): %s\n", verdict(stepsOK))
	fmt.Printf("  a parked workflow costs Redis memory, not a goroutine; all %d complete when signalled: %s\n", s.Parked, verdict(parkedOK))
}

func secRange(xs []float64) string {
	lo, hi := spread(xs)
	if len(xs) == 1 {
		return fmt.Sprintf("%.3f", xs[0])
	}
	return fmt.Sprintf("%.3f [%.3f..%.3f]", median(xs), lo, hi)
}

func ratioRange(xs []float64) string {
	lo, hi := spread(xs)
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f", xs[0])
	}
	return fmt.Sprintf("%.2f [%.2f..%.2f]", median(xs), lo, hi)
}

func countRange(xs []float64) string {
	lo, hi := spread(xs)
	if lo == hi {
		return fmt.Sprintf("%.0f", lo)
	}
	return fmt.Sprintf("%.0f [%.0f..%.0f]", median(xs), lo, hi)
}
