package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/chaos/internal/tasks"
	"github.com/docket-go/docket/sdk"
)

// mode is the size of a run.
type mode struct {
	duration  time.Duration // of the chaos: producers add, workers die, Redis restarts
	tasks     int           // added over the duration, about
	workers   int
	producers int
	kills     int // kill events, spread over the duration
	killBatch int // workers killed at once, at most
	restarts  int // Redis restarts, spread over the duration
	maxDown   time.Duration
	// Redis stalls, spread over the duration: half shorter than the lease,
	// half from the lease to maxStall; half CLIENT PAUSE, half DEBUG SLEEP.
	stalls   int
	maxStall time.Duration
	// Partitions, spread over the duration, each cutting 1 to cutBatch
	// workers off from Redis: half shorter than the lease, half from the
	// lease to maxCut; a third each refused, black-holed and frozen.
	partitions int
	cutBatch   int
	maxCut     time.Duration
	drain      time.Duration // deadline for the queue to empty once the chaos ends
}

var modes = map[string]mode{
	"short": {duration: 60 * time.Second, tasks: 3000, workers: 10, producers: 5,
		kills: 15, killBatch: 1, restarts: 3, maxDown: 2 * time.Second,
		stalls: 4, maxStall: 5 * time.Second, partitions: 6, cutBatch: 1, maxCut: 6 * time.Second,
		drain: 45 * time.Second},
	"long": {duration: 20 * time.Minute, tasks: 60000, workers: 10, producers: 5,
		kills: 400, killBatch: 3, restarts: 30, maxDown: 4 * time.Second,
		stalls: 40, maxStall: 6 * time.Second, partitions: 60, cutBatch: 3, maxCut: 10 * time.Second,
		drain: 3 * time.Minute},
}

// Worker settings: a short lease, so a killed worker's tasks are redelivered
// within seconds, and room for many deliveries of one attempt, so a task
// whose workers keep dying (an exiter, or bad luck) is not dead-lettered.
const (
	docketName    = "chaos"
	lease         = 2 * time.Second
	maxDeliveries = 50
	retention     = 2 * time.Hour // outlives any run: a missing record is a loss
	workerDrain   = 10 * time.Second
)

func main() { os.Exit(run()) }

// quiet drops go-redis's own log lines (failed dials while Redis is down):
// the driver reports outages itself.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func run() int {
	modeName := flag.String("mode", "short", "short (about 65s, CI) or long (about 20 minutes)")
	seed := flag.Uint64("seed", 0, "seed of the fault schedule and the task mix (0: from the clock)")
	keep := flag.Bool("keep", false, "keep the run's directory (Redis AOF, worker logs, run logs) even when it passes")
	workerBin := flag.String("worker", "", "a worker binary built from ./chaos/worker (default: build one)")
	duration := flag.Duration("duration", 0, "override the mode's chaos duration (tasks and faults scale with it)")
	workflows := flag.Bool("workflows", true, "mix order workflows (steps, children, a durable sleep, a signal) into the tasks")
	flag.Parse()
	m, ok := modes[*modeName]
	if !ok {
		fmt.Fprintf(os.Stderr, "chaos: unknown mode %q (short or long)\n", *modeName)
		return 2
	}
	if *duration > 0 {
		scale := float64(*duration) / float64(m.duration)
		m.tasks = max(1, int(float64(m.tasks)*scale))
		m.kills = max(1, int(float64(m.kills)*scale))
		m.restarts = max(1, int(float64(m.restarts)*scale))
		m.stalls = max(1, int(float64(m.stalls)*scale))
		m.partitions = max(1, int(float64(m.partitions)*scale))
		m.duration = *duration
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}

	redis.SetLogger(quiet{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dr := &driver{m: m, seed: *seed, t0: time.Now(), rng: rand.New(rand.NewPCG(*seed, 0x5eed)), faults: newFaults(), workflows: *workflows}
	dir, err := os.MkdirTemp("", "docket-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	dr.dir = dir
	code := dr.run(ctx, *workerBin)
	if code == 0 && !*keep {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Printf("chaos: the run's directory (redis AOF and log, worker logs, run logs) is kept: %s\n", dir)
	}
	return code
}

type driver struct {
	m         mode
	seed      uint64
	workflows bool
	t0        time.Time
	rng       *rand.Rand
	dir       string

	redis     *redisServer
	restarts  int
	proxies   []*proxy // by worker slot
	faults    *faults  // stalls and partitions
	fleet     *fleet
	producers []*producer
	addedN    atomic.Int64
	parked    parkedAtKills
}

func (dr *driver) logf(format string, args ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(dr.t0).Seconds(), fmt.Sprintf(format, args...))
}

// run returns 0 if every check passed, 1 on a violation, 2 if the run
// could not be carried out.
func (dr *driver) run(ctx context.Context, workerBin string) int {
	m := dr.m
	fmt.Printf("chaos: %v of faults, seed %d: %d workers (lease %v, max deliveries %d), %d producers adding ~%d tasks, %d kill events, %d Redis restarts, %d stalls, %d partitions\n",
		m.duration, dr.seed, m.workers, lease, maxDeliveries, m.producers, m.tasks, m.kills, m.restarts, m.stalls, m.partitions)

	if workerBin == "" {
		workerBin = filepath.Join(dr.dir, "chaos-worker")
		start := time.Now()
		build := exec.CommandContext(ctx, "go", "build", "-o", workerBin, "github.com/docket-go/docket/chaos/worker")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: build the worker (run from the module, or pass -worker): %v\n", err)
			return 2
		}
		dr.logf("built the worker in %v", time.Since(start).Round(100*time.Millisecond))
	}

	var err error
	if dr.redis, err = startRedis(dr.dir); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	defer dr.redis.kill()
	dr.logf("redis-server %s on %s, appendonly yes, appendfsync always, dir %s", dr.redis.version(), dr.redis.addr(), dr.dir)

	d, err := sdk.Open(ctx, dr.redis.url(), sdk.WithName(docketName), sdk.WithRetention(retention))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	defer d.Close()

	// Each worker slot reaches Redis through a proxy of its own, which a
	// partition cuts; the tasks' record goes straight to Redis.
	for slot := range m.workers {
		p, err := newProxy(slot, dr.redis.addr())
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
		defer p.close()
		dr.proxies = append(dr.proxies, p)
	}
	dr.fleet = newFleet(workerBin, dr.dir, func(slot int) []string {
		return []string{
			"-url", dr.proxies[slot].url(), "-record-url", dr.redis.url(), "-name", docketName,
			"-lease", lease.String(), "-drain", workerDrain.String(),
			"-max-deliveries", fmt.Sprint(maxDeliveries), "-retention", retention.String(),
		}
	}, dr.logf)
	if err := dr.fleet.start(m.workers); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		dr.fleet.abort()
		return 2
	}
	aborted := true
	defer func() {
		if aborted {
			dr.fleet.abort()
		}
	}()
	dr.logf("started %d workers, each through a proxy of its own", m.workers)

	// Producers, each with its own connection.
	stopProducers := make(chan struct{})
	hard, cancelHard := context.WithCancel(ctx)
	defer cancelHard()
	var pwg sync.WaitGroup
	mean := time.Duration(float64(m.duration) * float64(m.producers) / float64(m.tasks))
	ts := tasks.New(docketName, nil, nil)
	mix := kinds
	if dr.workflows {
		mix = append(slices.Clip(kinds), orders)
	}
	for i := range m.producers {
		pd, err := sdk.Open(ctx, dr.redis.url(), sdk.WithName(docketName), sdk.WithRetention(retention))
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
		defer pd.Close()
		p := &producer{id: i, d: pd, ts: ts, kinds: mix, rng: rand.New(rand.NewPCG(dr.seed, uint64(i+1))), count: &dr.addedN}
		dr.producers = append(dr.producers, p)
		pwg.Go(func() { p.run(stopProducers, hard, mean) })
	}

	if !dr.chaos(ctx, d) {
		close(stopProducers)
		cancelHard()
		pwg.Wait()
		fmt.Fprintln(os.Stderr, "chaos: interrupted, or a fault could not be carried out (see above)")
		return 2
	}

	// The end: producers finish the Add in hand (Redis is up for good now),
	// and send the approvals of the orders and the replacements they owe.
	close(stopProducers)
	producersDone := make(chan struct{})
	go func() {
		pwg.Wait()
		for _, p := range dr.producers {
			p.wait()
		}
		close(producersDone)
	}()
	select {
	case <-producersDone:
	case <-time.After(30 * time.Second):
		cancelHard()
		<-producersDone
	}
	var keys []added
	var addRetries, ambiguous int
	var replaced int64
	var gaveUp []string
	signals := map[string]signalled{}
	for _, p := range dr.producers {
		keys = append(keys, p.added...)
		addRetries += p.retries
		ambiguous += p.ambiguous
		replaced += p.replaced.Load()
		gaveUp = append(gaveUp, p.gaveUp...)
		maps.Copy(signals, p.signalled)
	}
	dr.logf("producers stopped: %d tasks added (%d failed tries retried)", len(keys), addRetries)

	drained, stuck := dr.drain(ctx, d)
	dr.logf("stopping the workers (SIGTERM: they drain and exit)")
	aborted = false
	dr.fleet.stop(workerDrain + 10*time.Second)

	r := check(ctx, d, keys)
	r.checkWorkflows(ctx, d, keys, signals)
	r.checkRuns(dr.fleet.processes(), append(slices.Clip(keys), partKeys(keys)...), dr.t0)
	if !drained {
		r.violateList("still live at the drain deadline", stuck)
	}
	r.violateList("Add never succeeded", gaveUp)
	r.violateList("worker", append(dr.fleet.crashes, dr.fleet.stuck...))
	dr.print(r, addRetries, ambiguous, replaced)
	if r.count > 0 {
		return 1
	}
	return 0
}

// event is one fault at a moment of the chaos.
type event struct {
	at    time.Duration
	kind  faultKind
	dur   time.Duration // of a stall or a partition
	stall stallKind
	cut   cutKind
}

type faultKind int

const (
	killWorkers faultKind = iota
	restartRedis
	stallRedis
	partition
)

// schedule spreads the faults over the chaos, each kind one per equal
// segment, between 5% and 90% of it. Stalls and partitions take turns
// through their variants and through durations shorter and longer than
// the lease, in a random order, so that even a short run has each.
func (dr *driver) schedule() []event {
	var evs []event
	from, span := dr.m.duration/20, dr.m.duration*85/100
	spread := func(n int, fault func(i int) event) {
		seg := span / time.Duration(n)
		for i := range n {
			ev := fault(i)
			ev.at = from + time.Duration(i)*seg + time.Duration(dr.rng.Int64N(int64(seg)))
			evs = append(evs, ev)
		}
	}
	spread(dr.m.kills, func(int) event { return event{kind: killWorkers} })
	spread(dr.m.restarts, func(int) event { return event{kind: restartRedis} })
	// A duration shorter than the lease, or from the lease to longest.
	length := func(long bool, shortest, longest time.Duration) time.Duration {
		if long {
			return lease + time.Duration(dr.rng.Int64N(int64(longest-lease)))
		}
		return shortest + time.Duration(dr.rng.Int64N(int64(lease-shortest)))
	}
	turns := dr.rng.Perm(dr.m.stalls)
	spread(dr.m.stalls, func(i int) event {
		turn := turns[i]
		long := turn%2 == 1
		return event{kind: stallRedis, stall: stallKinds[turn/2%len(stallKinds)],
			dur: length(long, 100*time.Millisecond, dr.m.maxStall)}
	})
	turns = dr.rng.Perm(dr.m.partitions)
	spread(dr.m.partitions, func(i int) event {
		turn := turns[i]
		long := turn%2 == 1
		return event{kind: partition, cut: cutKinds[turn/2%len(cutKinds)],
			dur: length(long, 200*time.Millisecond, dr.m.maxCut)}
	})
	slices.SortStableFunc(evs, func(a, b event) int { return int(a.at - b.at) })
	return evs
}

// chaos runs the fault schedule for the mode's duration, with a progress
// line every 10 seconds, then waits for the last stall and partition to
// end. It returns false if ctx ended or a fault could not be carried out.
func (dr *driver) chaos(ctx context.Context, d *sdk.Docket) bool {
	start := time.Now()
	evs := dr.schedule()
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	var reporting atomic.Bool
	var reports sync.WaitGroup
	defer reports.Wait() // no report after the chaos
	for {
		next := dr.m.duration
		if len(evs) > 0 {
			next = evs[0].at
		}
		timer := time.NewTimer(time.Until(start.Add(next)))
		select {
		case <-ctx.Done():
			timer.Stop()
			dr.faults.abort()
			return false
		case <-progress.C:
			timer.Stop()
			// Not in the way of the schedule: with Redis stalled, the
			// progress report waits for it.
			if reporting.CompareAndSwap(false, true) {
				reports.Go(func() { defer reporting.Store(false); dr.progress(ctx, d) })
			}
			continue
		case <-timer.C:
		}
		if err := dr.faults.failed(); err != nil {
			dr.logf("%v", err)
			dr.faults.abort()
			return false
		}
		if len(evs) == 0 {
			return dr.faults.wait(ctx, dr.logf)
		}
		ev := evs[0]
		evs = evs[1:]
		switch ev.kind {
		case killWorkers:
			dr.fleet.kill(dr.rng, 1+dr.rng.IntN(dr.m.killBatch))
			if dr.workflows {
				reports.Go(func() { dr.parked.sample(ctx, d) })
			}
		case stallRedis:
			dr.faults.stall(dr.redis, ev.stall, ev.dur, dr.logf)
		case partition:
			dr.faults.partition(dr.proxies, dr.rng, 1+dr.rng.IntN(dr.m.cutBatch), ev.cut, ev.dur, dr.logf)
		case restartRedis:
			down := 50*time.Millisecond + time.Duration(dr.rng.Int64N(int64(dr.m.maxDown)))
			dr.logf("SIGKILL redis-server, down for %v", down.Round(time.Millisecond))
			began := time.Now()
			if err := dr.redis.restart(down); err != nil {
				dr.logf("cannot restart redis-server: %v", err)
				dr.faults.abort()
				return false
			}
			dr.restarts++
			dr.logf("redis-server is back (%v after the kill)", time.Since(began).Round(time.Millisecond))
		}
	}
}

func (dr *driver) progress(ctx context.Context, d *sdk.Docket) {
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	done, err := d.Redis().HLen(c, tasks.Done).Result()
	snap, err2 := d.Snapshot(c, sdk.Limit(0))
	if err != nil || err2 != nil {
		dr.logf("progress: added %d; Redis unavailable", dr.addedN.Load())
		return
	}
	dr.logf("progress: added %d, completed %d (parts of orders included), running %d, waiting %d, parked %d; %d kills, %d exits, %d Redis restarts, %d stalls, %d partitions",
		dr.addedN.Load(), done, snap.TotalRunning, snap.TotalWaiting, snap.TotalParked, dr.fleet.kills.Load(), dr.fleet.exits.Load(), dr.restarts,
		dr.faults.stalled(), dr.faults.partitioned())
}

// drain waits until nothing but the automatic chains is scheduled, queued,
// running or parked, or the mode's drain deadline passes; then it lists
// what is left.
func (dr *driver) drain(ctx context.Context, d *sdk.Docket) (bool, []string) {
	auto := tasks.Automatic()
	deadline := time.Now().Add(dr.m.drain)
	lastLog := time.Now()
	var left []string
	for {
		left = left[:0]
		snap, err := d.Snapshot(ctx, sdk.Limit(10000))
		if err == nil {
			listed := 0
			for _, list := range [][]sdk.TaskSummary{snap.Running, snap.Queued, snap.Scheduled, snap.Parked} {
				listed += len(list)
				for _, t := range list {
					if _, ok := auto[t.Task]; !ok {
						left = append(left, fmt.Sprintf("%s (%s): %s, attempt %d, deliveries %d, waiting for %q",
							t.Key, t.Task, t.State, t.Attempt, t.Deliveries, t.WaitingFor))
					}
				}
			}
			// A workflow asleep is in the schedule (TotalWaiting) and
			// listed as parked; one parked until a child or a signal
			// wakes it is in TotalParked alone.
			if len(left) == 0 && listed == snap.TotalRunning+snap.TotalWaiting+snap.TotalParked {
				dr.logf("drained: only the automatic chains are live")
				return true, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			dr.logf("drain deadline (%v) passed with %d tasks live", dr.m.drain, len(left))
			return false, left
		}
		if time.Since(lastLog) > 5*time.Second {
			dr.logf("draining: %d tasks live", len(left))
			lastLog = time.Now()
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (dr *driver) print(r *report, addRetries, ambiguous int, replaced int64) {
	var kinds []string
	for _, k := range []string{tasks.NamePlain, tasks.NameLimited, tasks.NamePanic, tasks.NameTimeout, tasks.NameExit, tasks.NameSlow, tasks.NameOrder} {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, r.byKind[k]))
	}
	fmt.Println("chaos: results")
	fmt.Printf("  added            %d (%s)\n", r.added, strings.Join(kinds, ", "))
	fmt.Printf("  add retries      %d failed tries, retried until they succeeded (%d had applied anyway)\n", addRetries, ambiguous)
	fmt.Printf("  replaced         %d limited tasks by their producer, many while they ran (the run winds down %v or more; its slot and its replacement wait)\n",
		replaced, tasks.WindDown)
	fmt.Printf("  completed        %d of %d (record and Execution.Info)\n", r.completed, r.added)
	fmt.Printf("  duplicates       %d extra completions of added keys (at least once, not exactly once)", r.duplicates)
	if r.extra > 0 {
		fmt.Printf("; %d of keys whose Add failed yet applied", r.extra)
	}
	fmt.Println()
	fmt.Printf("  re-runs          %d runs of %d keys beyond the planned ones, each after the one before had ended (redelivered after a worker died or lost the lease, retried after an outage)\n",
		r.runs.reruns, r.runs.rerunKeys)
	fmt.Printf("  overlaps         %d keys ran twice at once\n", r.runs.overlapKeys)
	fmt.Printf("  runs             %d logged: %d stopped for a lost lease (sdk.ErrLeaseLost), %d ended by their process's death, %d cancelled by a Replace\n",
		r.runs.runs, r.runs.fenced, r.runs.died, r.runs.cancelled)
	if r.runs.takenOver > 0 {
		fmt.Printf("  closest takeover %v after a run stopped for a lost lease returned (%d such runs ran again): %s\n",
			r.runs.closest.Round(time.Millisecond), r.runs.takenOver, r.runs.closestRun)
	}
	if r.runs.slowestRun != "" {
		fmt.Printf("  slowest stop     %v from a run's context ending to its return: %s\n", r.runs.slowest.Round(time.Microsecond), r.runs.slowestRun)
	}
	fmt.Printf("  kills            %d workers SIGKILLed, %d exited on an exiter's first delivery, %d processes started\n",
		dr.fleet.kills.Load(), dr.fleet.exits.Load(), dr.fleet.started.Load())
	fmt.Printf("  redis restarts   %d\n", dr.restarts)
	stalls, partitions := dr.faults.summary()
	fmt.Printf("  stalls           %s\n", stalls)
	fmt.Printf("  partitions       %s\n", partitions)
	fmt.Printf("  concurrency      peak %d of limit %d per value, by the run logs (the record kept as runs went: peak %d, over the limit %d times; the logs decide)\n",
		r.runs.peak, tasks.Limit, r.peak, r.recordFlags)
	for _, c := range r.chains {
		fmt.Printf("  chain            %s\n", c)
	}
	if w := r.wf; w != nil {
		dr.printWorkflows(r, w)
	}
	fmt.Printf("  leaked keys      %d\n", r.leaks)
	fmt.Printf("  violations       %d\n", r.count)
	for _, v := range r.violations {
		fmt.Printf("    - %s\n", v)
	}
	fmt.Printf("  wall time        %v\n", time.Since(dr.t0).Round(100*time.Millisecond))
	if r.count > 0 {
		fmt.Println("FAIL")
	} else {
		fmt.Println("PASS")
	}
}

// printWorkflows prints what the checks of the order workflows found.
func (dr *driver) printWorkflows(r *report, w *workflowReport) {
	runs := func(task string) string {
		t := r.runs.byTask[task]
		if t == nil {
			return "no run logged"
		}
		return fmt.Sprintf("%d runs of %d keys: %d ended by their process's death, %d stopped for a lost lease", t.runs, t.keys, t.died, t.fenced)
	}
	fmt.Printf("  workflows        %d of %d orders completed, right in every check (%d with steps longer than the lease, at times)\n",
		w.completed, w.orders, w.long)
	fmt.Printf("  order runs       %s\n", runs(tasks.NameOrder))
	fmt.Printf("  steps            %d steps, whose functions had their effect %d times: %d steps ran more than once (a run died, or was stopped, before the step's output was saved)\n",
		w.steps, w.stepRuns, w.rerunSteps)
	fmt.Printf("  parts            %d of %d children completed with their value (%d duplicate completions; %d attempts run, each of one execution); %s\n",
		w.partsDone, w.parts, w.partDups, w.partStarted, runs(tasks.NamePart))
	if w.napKey != "" {
		fmt.Printf("  durable sleep    the shortest sleep beyond its cool-off (1–2s, none may be shorter): %v, %s\n",
			w.napClosest.Round(time.Millisecond), w.napKey)
	}
	fmt.Printf("  approvals        %d delivered: %d before the order woke from its cool-off (waited for it), %d after (most resumed it); %d refused as the order had ended; %d waits timed out\n",
		w.approvals, w.beforeWake, w.afterWake, w.notFound, w.timedOut)
	dr.parked.mu.Lock()
	if k := dr.parked.kills; k > 0 {
		fmt.Printf("  kills, parked    %d of %d SIGKILL events sampled found orders parked (%.1f on average): held by no worker\n",
			dr.parked.with, k, float64(dr.parked.parked)/float64(k))
	}
	dr.parked.mu.Unlock()
	fmt.Printf("  seen by runs     %d violations recorded by the workflows' own runs\n", w.seenByRuns)
}

// parkedAtKills counts the workflows parked when workers were SIGKILLed: a
// parked workflow is held by no worker, and its resumption must not depend
// on the one that ran it last.
type parkedAtKills struct {
	mu     sync.Mutex
	kills  int // SIGKILL events sampled
	with   int // of which some workflow was parked
	parked int // parked workflows, summed over the samples
}

// sample counts the workflows parked now (asleep, or waiting for children
// or a signal), unless Redis does not answer within a second.
func (p *parkedAtKills) sample(ctx context.Context, d *sdk.Docket) {
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	snap, err := d.Snapshot(c, sdk.Limit(1000))
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.kills++
	p.parked += len(snap.Parked)
	if len(snap.Parked) > 0 {
		p.with++
	}
}
