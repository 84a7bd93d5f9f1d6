package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/chaos/internal/tasks"
	"github.com/docket-go/docket/sdk"
)

// workflowReport is what the checks of the order workflows found.
type workflowReport struct {
	orders    int // added
	completed int // completed, with the right result and no problem found
	long      int // with steps of 1–3s
	parts     int // children expected
	partsDone int // completed with the right result, by the record and Execution.Info
	partDups  int // completions of parts beyond the first

	steps      int   // expected: 4 per order
	stepRuns   int64 // runs of step functions that had their effect
	rerunSteps int   // steps whose function ran more than once (no run of it had completed)

	napClosest time.Duration // the least an order slept beyond its cool-off
	napKey     string

	approvals   int // delivered
	beforeWake  int // delivered before the order woke from its cool-off: waited for the order
	afterWake   int // delivered after: likely resumed an order parked at its wait
	notFound    int // refused: the order had ended (after an earlier try that applied)
	timedOut    int
	seenByRuns  int // violations the workflows' runs recorded themselves
	partStarted int // distinct (part, attempt) pairs seen by the runs
}

// partKeys lists the children of the orders added, as added keys of kind
// part: they must run to completion, and are judged by the run logs like
// the rest.
func partKeys(keys []added) []added {
	var parts []added
	for _, a := range keys {
		if a.kind != tasks.NameOrder {
			continue
		}
		o := tasks.NewOrder(a.n)
		for i := range o.Parts {
			parts = append(parts, added{key: o.PartKey(a.key, i), kind: tasks.NamePart, n: i})
		}
	}
	return parts
}

// checkWorkflows judges the order workflows once the workers have stopped:
//   - each completed (check judged that, by the record and Execution.Info)
//     with the right result: the sum of its parts, the approval the
//     producer sent — or a timeout, but only if the approval could not have
//     been delivered before the wait's deadline;
//   - each part completed with its value, by the record and by
//     Execution.Info, and the library's view of the order lists them all
//     completed;
//   - every step had its effect at least once (StepRuns ≥ 1), and no run of
//     its function came after the run that completed it: the output saved
//     is the number of that run, and the count of runs must equal it; every
//     run of the order got that same output back (StepDone), and no run of
//     a step's function found its output saved (the runs check both, and
//     say so in WorkflowViolations);
//   - the durable sleep lasted at least its cool-off, by the Redis clock.
func (r *report) checkWorkflows(ctx context.Context, d *sdk.Docket, keys []added, signals map[string]signalled) {
	rec := d.Redis()
	w := &workflowReport{napClosest: -1}
	var orders []added
	for _, a := range keys {
		if a.kind == tasks.NameOrder {
			orders = append(orders, a)
		}
	}
	w.orders = len(orders)
	if w.orders == 0 {
		return
	}
	r.wf = w

	var mu sync.Mutex
	var problems []string
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, a := range orders {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r.checkOrder(ctx, d, a, signals, w, &mu, problem)
		})
	}
	wg.Wait()

	seen, err := rec.LRange(ctx, tasks.WorkflowViolations, 0, -1).Result()
	if err != nil {
		problem("cannot read the workflows' violations record: %v", err)
	}
	w.seenByRuns = len(seen)
	problems = append(problems, seen...)
	w.partStarted = int(rec.HLen(ctx, tasks.PartDue).Val())
	r.violateList("workflow", problems)
}

// checkOrder checks one order: see checkWorkflows.
func (r *report) checkOrder(ctx context.Context, d *sdk.Docket, a added, signals map[string]signalled, w *workflowReport, mu *sync.Mutex, problem func(string, ...any)) {
	rec := d.Redis()
	in := tasks.NewOrder(a.n)
	bad := false // a problem of this order's
	report := problem
	problem = func(format string, args ...any) {
		bad = true
		report(format, args...)
	}
	count := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	count(func() {
		w.parts += in.Parts
		w.steps += len(tasks.OrderSteps)
		if in.Long {
			w.long++
		}
	})

	// Its parts, first: they ran whether or not the order completed.
	partKeys := make([]string, in.Parts)
	for i := range partKeys {
		partKeys[i] = in.PartKey(a.key, i)
	}
	done, err := rec.HMGet(ctx, tasks.Done, partKeys...).Result()
	if err != nil {
		problem("%s: cannot read its parts' record: %v", a.key, err)
		return
	}
	for i, pk := range partKeys {
		n, _ := strconv.Atoi(fmt.Sprint(done[i]))
		info, err := d.Execution(pk).Info(ctx)
		switch {
		case err != nil:
			problem("%s: part %s: %v", a.key, pk, err)
		case info.State != sdk.StateCompleted:
			problem("%s: part %s is %s (attempt %d, deliveries %d): %s", a.key, pk, info.State, info.Attempt, info.Deliveries, firstLine(info.Error))
		case string(info.Result) != strconv.Itoa(tasks.Part{I: i, Seed: in.Seed}.Value()):
			problem("%s: part %s returned %s, want %d", a.key, pk, info.Result, tasks.Part{I: i, Seed: in.Seed}.Value())
		case n == 0:
			problem("%s: part %s completed, but its record has no completion", a.key, pk)
		default:
			count(func() { w.partsDone++; w.partDups += n - 1 })
		}
	}

	// Its steps: each had its effect, and no run of its function came
	// after the one that completed it.
	var runs, stepDone []*redis.StringCmd
	var napStart, woke *redis.StringCmd
	if _, err := rec.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, st := range tasks.OrderSteps {
			runs = append(runs, p.Get(ctx, tasks.StepRuns(a.key, st)))
			stepDone = append(stepDone, p.Get(ctx, tasks.StepDone(a.key, st)))
		}
		napStart, woke = p.Get(ctx, tasks.NapStart(a.key)), p.Get(ctx, tasks.Woke(a.key))
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		problem("%s: cannot read its steps' record: %v", a.key, err)
		return
	}
	info, err := d.Execution(a.key).Info(ctx)
	if err != nil || info.State != sdk.StateCompleted {
		// check reported it; what its steps did is no less telling
		info = sdk.Info{}
	}
	var res tasks.OrderResult
	if info.State == sdk.StateCompleted {
		if err := json.Unmarshal(info.Result, &res); err != nil {
			problem("%s: its result %s does not decode: %v", a.key, info.Result, err)
			return
		}
	}
	for i, st := range tasks.OrderSteps {
		n, _ := runs[i].Int64()
		saved, err := stepDone[i].Int64()
		count(func() {
			w.stepRuns += n
			if n > 1 {
				w.rerunSteps++
			}
		})
		switch {
		case n == 0:
			problem("%s: step %s never had its effect", a.key, st)
		case err != nil && info.State == sdk.StateCompleted:
			problem("%s: step %s: no run of the order got its output back, yet it completed", a.key, st)
		case err != nil:
			// The order did not complete (reported): the step may not have.
		case n != saved:
			problem("%s: step %s: its function ran %d times, and the run that completed it was run %d: a completed step ran again", a.key, st, n, saved)
		case info.State == sdk.StateCompleted && res.Steps[st] != saved:
			problem("%s: step %s: the order's result says run %d completed it, its runs got run %d", a.key, st, res.Steps[st], saved)
		}
	}
	if info.State != sdk.StateCompleted {
		return
	}

	// Its result: the sum of its parts and the approval.
	if res.Sum != in.Sum() {
		problem("%s: sum of parts %d, want %d", a.key, res.Sum, in.Sum())
	}
	if lib := info.Workflow; lib == nil {
		problem("%s: Info.Workflow is nil for a workflow", a.key)
	} else {
		var ended []string
		for _, c := range lib.Children {
			if c.State == sdk.StateCompleted {
				ended = append(ended, c.Key)
			}
		}
		if !slices.Equal(ended, partKeys) {
			problem("%s: Info.Workflow lists %d children completed, want its %d parts", a.key, len(ended), in.Parts)
		}
		if len(lib.Steps) != len(tasks.OrderSteps) {
			problem("%s: Info.Workflow lists steps %v, want %v", a.key, lib.Steps, tasks.OrderSteps)
		}
	}
	sig, sent := signals[a.key]
	deadline := a.tried.Add(tasks.ApproveTimeout) // its wait cannot time out sooner
	want := tasks.ApprovalFor(a.key).By
	switch {
	case !res.TimedOut && res.Approved != want:
		problem("%s: approved by %q, the producer sent %q", a.key, res.Approved, want)
	case res.TimedOut && sent && sig.err == nil && sig.sent.Before(deadline):
		problem("%s: its wait for the approval timed out, though the approval was delivered %v after its first Add, before the wait could time out (%v)",
			a.key, sig.sent.Sub(a.tried).Round(time.Millisecond), tasks.ApproveTimeout)
	case res.TimedOut && sent && errors.Is(sig.err, sdk.ErrNotFound) && sig.sent.Before(deadline):
		problem("%s: it had ended %v after its first Add, before its wait for the approval could time out (%v)",
			a.key, sig.sent.Sub(a.tried).Round(time.Millisecond), tasks.ApproveTimeout)
	}
	if sent && sig.err != nil && !errors.Is(sig.err, sdk.ErrNotFound) {
		problem("%s: its approval was never delivered: %v", a.key, sig.err)
	}

	// Its durable sleep lasted its cool-off, by the Redis clock.
	from, err1 := napStart.Int64()
	to, err2 := woke.Int64()
	if err := errors.Join(err1, err2); err != nil {
		problem("%s: its sleep's record is missing: %v", a.key, err)
		return
	}
	slept := time.Duration(to-from) * time.Microsecond
	if slept < in.Nap() {
		problem("%s: slept %v, less than its cool-off of %v", a.key, slept, in.Nap())
	}
	count(func() {
		if !bad {
			w.completed++
		}
		if res.TimedOut {
			w.timedOut++
		}
		if sent && sig.err == nil {
			w.approvals++
			if sig.sent.Before(time.UnixMicro(to)) {
				w.beforeWake++
			} else {
				w.afterWake++
			}
		}
		if sent && errors.Is(sig.err, sdk.ErrNotFound) {
			w.notFound++
		}
		if over := slept - in.Nap(); w.napClosest < 0 || over < w.napClosest {
			w.napClosest, w.napKey = over, a.key
		}
	})
}
