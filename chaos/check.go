package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/chaos/internal/tasks"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// report is what the checks found.
type report struct {
	added      int
	byKind     map[string]int
	completed  int // added keys with at least one recorded completion and state completed
	duplicates int // completions beyond the first, of added keys
	extra      int // completions of keys no producer saw added (an Add that failed yet applied)
	runs       runReport
	peak       int // most runs of one value of the limited task at once, by the record
	// recordFlags counts the moments the record counted more runs of a
	// value than its limit (see checkLimit).
	recordFlags int
	chains      []string
	leaks       int
	wf          *workflowReport // nil without workflows
	violations  []string        // as printed: a long list is cut short
	count       int             // violations, each item of a list counted
}

func (r *report) violate(format string, args ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
	r.count++
}

// violateList adds one violation per item, the first few in full.
func (r *report) violateList(what string, items []string) {
	if len(items) == 0 {
		return
	}
	sort.Strings(items)
	const show = 15
	for _, it := range items[:min(len(items), show)] {
		r.violate("%s: %s", what, it)
	}
	if len(items) > show {
		r.violations = append(r.violations, fmt.Sprintf("%s: … and %d more", what, len(items)-show))
		r.count += len(items) - show
	}
}

// check judges the run once the workers have stopped.
func check(ctx context.Context, d *sdk.Docket, keys []added) *report {
	rec := d.Redis()
	r := &report{added: len(keys), byKind: map[string]int{}}

	// Every key whose Add succeeded ran to completion: the record says so,
	// and so does the execution's own state (the retention outlives the
	// run, so a missing record is a loss too).
	done, err := rec.HGetAll(ctx, tasks.Done).Result()
	if err != nil {
		r.violate("cannot read the completion record: %v", err)
		return r
	}
	counts := make(map[string]int, len(done))
	for k, v := range done {
		counts[k], _ = strconv.Atoi(v)
	}
	seen := map[string]bool{}
	var notRun []string
	var states []string
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, a := range keys {
		r.byKind[a.kind]++
		if seen[a.key] {
			r.violate("key %s was added twice by the producers (a driver bug)", a.key)
			continue
		}
		seen[a.key] = true
		n := counts[a.key]
		if n == 0 {
			notRun = append(notRun, a.key)
		} else {
			r.duplicates += n - 1
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			info, err := d.Execution(a.key).Info(ctx)
			var bad string
			switch {
			case errors.Is(err, sdk.ErrNotFound):
				bad = a.key + ": no execution record (retention is 2h: it was lost)"
			case err != nil:
				bad = a.key + ": " + err.Error()
			case info.State != sdk.StateCompleted:
				bad = fmt.Sprintf("%s: state %s, attempt %d, deliveries %d, error %q", a.key, info.State, info.Attempt, info.Deliveries, firstLine(info.Error))
			}
			mu.Lock()
			defer mu.Unlock()
			if bad != "" {
				states = append(states, bad)
			} else if n > 0 {
				r.completed++
			}
		})
	}
	wg.Wait()
	for _, a := range partKeys(keys) {
		seen[a.key] = true // judged by checkWorkflows
	}
	for k, n := range counts {
		if !seen[k] {
			r.extra += n
		}
	}
	r.violateList("added but never completed (record)", notRun)
	r.violateList("added but not completed (Execution.Info)", states)

	// No value of the limited task ever had more runs than its limit, and
	// every run left the record.
	violations, err := rec.LRange(ctx, tasks.Violations, 0, -1).Result()
	if err != nil {
		r.violate("cannot read the violations record: %v", err)
	}
	// The record's flags are checked against the run logs (checkLimit),
	// which say what ran when: a flag they do not bear out is counted, not
	// a violation.
	r.recordFlags = len(violations)
	for v := range tasks.Values {
		if n := rec.SCard(ctx, tasks.Running(v)).Val(); n > 0 {
			members := rec.SMembers(ctx, tasks.Running(v)).Val()
			r.violate("value %d: %d runs never left the record after the drain: %v", v, n, members)
		}
	}
	for _, z := range rec.ZRangeWithScores(ctx, tasks.Peak, 0, -1).Val() {
		r.peak = max(r.peak, int(z.Score))
	}

	snap, err := d.Snapshot(ctx, sdk.Limit(10000))
	if err != nil {
		r.violate("cannot take the final snapshot: %v", err)
		return r
	}
	for _, t := range snap.DeadLetters {
		r.violate("dead-lettered: %s (%s): %s", t.Key, t.Task, firstLine(t.Error))
	}
	if len(snap.Limits) > 0 {
		for _, l := range snap.Limits {
			r.violate("limit %s still in use after the drain: holders %v, waiting %v", l.ID, l.InUse, l.Waiting)
		}
	}

	r.checkChains(ctx, d, snap)
	r.checkLeaks(ctx, d.Name(), rec)
	r.checkStoreLeaks(ctx, d.Name(), rec)
	return r
}

// checkChains: each automatic task has exactly one live execution, keyed by
// its name and scheduled; and its runs' due times are at least its interval
// apart (each run is due an interval after the previous one's start, so
// two chains would show as runs closer than that).
func (r *report) checkChains(ctx context.Context, d *sdk.Docket, snap sdk.Snapshot) {
	auto := tasks.Automatic()
	names := make([]string, 0, len(auto))
	for n := range auto {
		names = append(names, n)
	}
	sort.Strings(names)
	live := map[string][]sdk.TaskSummary{}
	for _, list := range [][]sdk.TaskSummary{snap.Running, snap.Queued, snap.Scheduled, snap.Parked} {
		for _, t := range list {
			if _, ok := auto[t.Task]; ok {
				live[t.Task] = append(live[t.Task], t)
			} else {
				r.violate("task %s (%s) is still %s after the drain", t.Key, t.Task, t.State)
			}
		}
	}
	for _, name := range names {
		every := auto[name]
		chain := live[name]
		switch {
		case len(chain) != 1:
			r.violate("automatic task %s: %d live executions, want exactly 1", name, len(chain))
		case chain[0].Key != name:
			r.violate("automatic task %s: live under key %q, want %q", name, chain[0].Key, name)
		case chain[0].State == sdk.StateRunning:
			r.violate("automatic task %s: running after every worker stopped", name)
		}
		if info, err := d.Execution(name).Info(ctx); err != nil {
			r.violate("automatic task %s: %v", name, err)
		} else if info.State != sdk.StateScheduled && info.State != sdk.StateQueued {
			r.violate("automatic task %s: state %s, want scheduled", name, info.State)
		}

		raw, err := d.Redis().LRange(ctx, tasks.Runs(name), 0, -1).Result()
		if err != nil {
			r.violate("automatic task %s: cannot read its runs: %v", name, err)
			continue
		}
		dues := make([]int64, 0, len(raw))
		for _, s := range raw {
			n, _ := strconv.ParseInt(s, 10, 64)
			dues = append(dues, n)
		}
		slices.Sort(dues)
		runs := len(dues)
		dues = slices.Compact(dues) // a redelivered run has the same due time
		longest := time.Duration(0)
		for i := 1; i < len(dues); i++ {
			gap := time.Duration(dues[i]-dues[i-1]) * time.Microsecond
			longest = max(longest, gap)
			if gap < every-time.Millisecond {
				r.violate("automatic task %s: runs due %s and %s, %v apart (< %v): a second chain",
					name, time.UnixMicro(dues[i-1]).UTC().Format("15:04:05.000000"),
					time.UnixMicro(dues[i]).UTC().Format("15:04:05.000000"), gap, every)
			}
		}
		if len(dues) == 0 {
			r.violate("automatic task %s never ran", name)
		}
		r.chains = append(r.chains, fmt.Sprintf("%s: %d live, %d runs (%d redelivered), longest gap %v",
			name, len(chain), len(dues), runs-len(dues), longest.Round(time.Millisecond)))
	}
}

// checkLeaks: every key of the docket without a TTL is the ready list, the schedule, the
// running set, or the record of a live task; and every live task has a
// record without a TTL. (The library's own leak check is internal; this
// one reads the key layout from the README.)
func (r *report) checkLeaks(ctx context.Context, name string, rec redis.UniversalClient) {
	prefix := "docket:{" + name + "}:"
	ready, scheduled, running := prefix+"ready", prefix+"scheduled", prefix+"running"
	live := map[string]bool{}
	// The ready list, the schedule and the running set hold the live tasks.
	for _, read := range []*redis.StringSliceCmd{rec.LRange(ctx, ready, 0, -1), rec.ZRange(ctx, scheduled, 0, -1), rec.ZRange(ctx, running, 0, -1)} {
		members, err := read.Result()
		if err != nil {
			r.violate("leak check: %v", err)
			return
		}
		for _, m := range members {
			live[m] = true
		}
	}
	var problems []string
	iter := rec.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	present := map[string]bool{}
	for iter.Next(ctx) {
		k := iter.Val()
		ttl, err := rec.PTTL(ctx, k).Result()
		if err != nil {
			r.violate("leak check: PTTL %s: %v", k, err)
			return
		}
		if ttl == -2 {
			continue // gone since the scan
		}
		forever := ttl == -1
		task, isTask := strings.CutPrefix(k, prefix+"task:")
		if isTask {
			present[task] = true
		}
		switch {
		case isTask && live[task] && !forever:
			problems = append(problems, fmt.Sprintf("%s: live task's record has a TTL (%v)", k, ttl))
		case !forever:
		case k == ready || k == scheduled || k == running:
		case isTask && live[task]:
		default:
			problems = append(problems, k+": no TTL, and no live task needs it")
		}
	}
	if err := iter.Err(); err != nil {
		r.violate("leak check: scan: %v", err)
	}
	for k := range live {
		if !present[k] {
			problems = append(problems, fmt.Sprintf("task %q is live but has no record", k))
		}
	}
	r.leaks = len(problems)
	r.violateList("leaked key", problems)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// checkStoreLeaks runs the library's own leak check (the one its tests
// run), which knows what checkLeaks reads from the README and more: the
// flows of workflows (no TTL while their workflow is live, one after), the
// parked set, the concurrency slots and their registry.
func (r *report) checkStoreLeaks(ctx context.Context, name string, rec redis.UniversalClient) {
	s, err := store.New(rec, name)
	if err == nil {
		err = s.CheckLeaks(ctx)
	}
	if err == nil {
		return
	}
	msg := err.Error()
	head, list, found := strings.Cut(msg, ":\n")
	if !found || !strings.Contains(head, "leaked") {
		r.violate("store.CheckLeaks: %s", msg)
		return
	}
	var problems []string
	for _, line := range strings.Split(list, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			problems = append(problems, line)
		}
	}
	r.leaks += len(problems)
	r.violateList("leaked key (store.CheckLeaks)", problems)
}
