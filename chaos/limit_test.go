package main

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/docket-go/docket/chaos/internal/tasks"
)

// The limit check reads the run logs: runs of one value that ran at once
// beyond the limit are a violation; a fenced run counts until it returned,
// not until its key left the record.
func TestCheckLimitByTheRunLogs(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	p := &proc{cmd: &exec.Cmd{Process: &os.Process{Pid: 1}}, runs: "w00-0001.log"}
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	run := func(key string, from, to float64, cause string) logged {
		return logged{&tasks.Run{Key: key, Task: tasks.NameLimited, Attempt: 1, Start: at(from), End: at(to), Ended: true, Cause: cause}, p}
	}
	keys := []added{{key: "a", kind: tasks.NameLimited, n: 0}, {key: "b", kind: tasks.NameLimited, n: 10},
		{key: "c", kind: tasks.NameLimited, n: 20}, {key: "d", kind: tasks.NameLimited, n: 1}}

	// a is fenced at 2s and taken over at 5s; b and c run between: never
	// more than 2 of value 0 at once. d is of another value.
	judge := func(runs map[string][]logged, violations, peak int) {
		t.Helper()
		r := &report{}
		r.checkLimit(runs, keys, t0)
		if r.count != violations || r.runs.peak != peak {
			t.Fatalf("want %d violations and a peak of %d; got %d violations %v, peak %d", violations, peak, r.count, r.violations, r.runs.peak)
		}
	}
	judge(map[string][]logged{
		"a": {run("a", 0, 2, tasks.CauseLeaseLost), run("a", 5, 6, "")},
		"b": {run("b", 1, 4, "")},
		"c": {run("c", 2.5, 5, "")},
		"d": {run("d", 0, 6, "")},
	}, 0, 2)

	// c starts while a and b run: three at once.
	judge(map[string][]logged{
		"a": {run("a", 0, 2, "")},
		"b": {run("b", 1, 4, "")},
		"c": {run("c", 1.5, 5, "")},
	}, 1, 3)
}
