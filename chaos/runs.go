package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/docket-go/docket/chaos/internal/tasks"
)

// runReport is what the run logs of the worker processes tell.
type runReport struct {
	runs        int
	died        int // runs whose process died under them (SIGKILL, an exiter)
	fenced      int // runs stopped because their worker lost the lease (sdk.ErrLeaseLost)
	cancelled   int // runs stopped because their execution was replaced (sdk.ErrCancelled)
	slowest     time.Duration
	slowestRun  string
	closest     time.Duration // the shortest time from a fenced run's return to the next run of its key
	closestRun  string
	takenOver   int // fenced runs after which their key ran again
	overlapKeys int // keys that ran twice at once: violations
	peak        int // most runs of one value of the limited task at once
	reruns      int // runs of added keys beyond the planned ones, one after another: at least once
	rerunKeys   int
	byTask      map[string]*taskRuns
}

// taskRuns counts the runs of one task.
type taskRuns struct {
	runs, died, fenced int
	keys               int // keys that ran
}

// logged is a run and the process it ran in.
type logged struct {
	*tasks.Run
	p *proc
}

func (l logged) String(t0 time.Time) string {
	s := fmt.Sprintf("%s attempt %d on worker %d (pid %d, %s) from %.3fs to %.3fs",
		l.Task, l.Attempt, l.p.slot, l.p.cmd.Process.Pid, filepath.Base(l.p.runs),
		l.Start.Sub(t0).Seconds(), l.End.Sub(t0).Seconds())
	switch {
	case !l.Ended:
		s += " (its process died)"
	case l.Cause != "":
		s += fmt.Sprintf(" (%s, %s %.3fs, returned %v later)", l.Result, l.Cause,
			l.Cancelled.Sub(t0).Seconds(), l.CancelledToReturn.Round(time.Microsecond))
	default:
		s += " (" + l.Result + ")"
	}
	return s
}

// checkRuns reads the run log of every worker process, once all have
// ended, and checks that no two runs of one key overlapped: a worker that
// cannot renew a lease stops the run before another worker can take the
// task over, and the chaos tasks honour their context. Runs of one key one
// after another are allowed (delivery is at least once) and counted.
func (r *report) checkRuns(procs []*proc, keys []added, t0 time.Time) {
	byKey := map[string][]logged{}
	r.runs.byTask = map[string]*taskRuns{}
	var unreadable []string
	for _, p := range procs {
		f, err := os.Open(p.runs)
		if errors.Is(err, fs.ErrNotExist) {
			continue // died before it opened the docket
		}
		if err != nil {
			unreadable = append(unreadable, err.Error())
			continue
		}
		runs, err := tasks.ReadRuns(f)
		_ = f.Close()
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("%s: %v", p.runs, err))
			continue
		}
		for _, run := range runs {
			if !run.Ended {
				// It ran until its process died, as far as anyone can tell.
				run.End = p.died
				if run.End.IsZero() {
					run.End = time.Now()
				}
				r.runs.died++
			}
			if run.Cause == tasks.CauseLeaseLost {
				r.runs.fenced++
			}
			if run.Cause == tasks.CauseCancelled {
				r.runs.cancelled++
			}
			if run.CancelledToReturn > r.runs.slowest {
				r.runs.slowest = run.CancelledToReturn
				r.runs.slowestRun = fmt.Sprintf("%s: %s", run.Key, logged{run, p}.String(t0))
			}
			r.runs.runs++
			t := r.runs.byTask[run.Task]
			if t == nil {
				t = &taskRuns{}
				r.runs.byTask[run.Task] = t
			}
			t.runs++
			if !run.Ended {
				t.died++
			}
			if run.Cause == tasks.CauseLeaseLost {
				t.fenced++
			}
			if len(byKey[run.Key]) == 0 {
				t.keys++
			}
			byKey[run.Key] = append(byKey[run.Key], logged{run, p})
		}
	}
	r.violateList("run log unreadable (overlaps cannot be judged)", unreadable)

	var overlaps []string
	for key, runs := range byKey {
		slices.SortFunc(runs, func(a, b logged) int { return a.Start.Compare(b.Start) })
		last := runs[0] // of the runs so far, the one that ended last
		overlapped := false
		for _, run := range runs[1:] {
			if run.Start.Before(last.End) {
				overlapped = true
				overlaps = append(overlaps, fmt.Sprintf("%s: %s; and %s", key, last.String(t0), run.String(t0)))
			} else if last.Cause == tasks.CauseLeaseLost {
				// How much room the fence left: the margin it keeps is a
				// fifth of the lease, less its tick.
				gap := run.Start.Sub(last.End)
				if r.runs.takenOver == 0 || gap < r.runs.closest {
					r.runs.closest = gap
					r.runs.closestRun = fmt.Sprintf("%s: %s; then %s", key, last.String(t0), run.String(t0))
				}
				r.runs.takenOver++
			}
			if run.End.After(last.End) {
				last = run
			}
		}
		if overlapped {
			r.runs.overlapKeys++
		}
	}
	r.violateList("ran twice at once", overlaps)
	r.checkLimit(byKey, keys, t0)

	for _, a := range keys {
		planned := tasks.PlannedRuns(a.kind)
		if planned == 0 {
			continue // a workflow: no number of runs is planned
		}
		if extra := len(byKey[a.key]) - planned; extra > 0 {
			r.runs.reruns += extra
			r.runs.rerunKeys++
		}
	}
}

// checkLimit checks, from the run logs, that no value of the limited task
// ever had more runs at once than its limit: runs as their functions ran,
// a fenced run until it returned, one whose process died until it died.
// The record the runs keep as they go (report.recordFlags) can over-count:
// a fenced run leaves its key there for the run that takes its task over,
// and a task taken over but handed back unstarted (claimed ahead, or by a
// worker stopping) frees its slot with the key still there.
func (r *report) checkLimit(byKey map[string][]logged, keys []added, t0 time.Time) {
	type edge struct {
		at    time.Time
		delta int
		run   logged
	}
	byValue := map[int][]edge{}
	for _, a := range keys {
		if a.kind != tasks.NameLimited {
			continue
		}
		v := a.n % tasks.Values
		for _, run := range byKey[a.key] {
			byValue[v] = append(byValue[v], edge{run.Start, +1, run}, edge{run.End, -1, run})
		}
	}
	var over []string
	for v, edges := range byValue {
		// Ends before starts at one instant: a slot freed is taken after.
		slices.SortFunc(edges, func(a, b edge) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return a.delta - b.delta
		})
		running := map[*tasks.Run]logged{}
		for _, e := range edges {
			if e.delta < 0 {
				delete(running, e.run.Run)
				continue
			}
			running[e.run.Run] = e.run
			r.runs.peak = max(r.runs.peak, len(running))
			if len(running) > tasks.Limit {
				var at []string
				for _, l := range running {
					at = append(at, l.Key+": "+l.String(t0))
				}
				slices.Sort(at)
				over = append(over, fmt.Sprintf("value %d: %d runs at once (limit %d): %v", v, len(running), tasks.Limit, at))
			}
		}
	}
	r.violateList("concurrency limit exceeded", over)
}
