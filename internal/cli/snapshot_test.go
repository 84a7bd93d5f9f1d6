package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// busyDocket holds one task of each kind: run-1 running, wait-1 queued for
// the slot run-1 holds (task concurrency 1), later-1 scheduled in an hour;
// and one worker. The tasks are let go before the worker stops.
func busyDocket(t *testing.T) (*fixture, *worker.Worker) {
	t.Helper()
	f := newFixture(t)
	started := make(chan string, 2)
	release := make(chan struct{})
	slow := sdk.NewTask("slow", func(ctx context.Context, in Import) error {
		started <- sdk.Current(ctx).Key()
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}, policy.TaskConcurrency(1))
	require.NoError(t, f.d.Register(slow))
	w := f.startWorker(worker.Options{Name: "snap", Concurrency: 4})
	t.Cleanup(func() { close(release) })

	ctx := context.Background()
	_, err := slow.Add(ctx, f.d, Import{File: "a"}, sdk.Key("run-1"))
	require.NoError(t, err)
	assert.Equal(t, "run-1", receive(t, started, "run-1 to start"))
	_, err = slow.Add(ctx, f.d, Import{File: "b"}, sdk.Key("wait-1"))
	require.NoError(t, err)
	_, err = slow.Add(ctx, f.d, Import{File: "c"}, sdk.Key("later-1"), sdk.After(time.Hour))
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the worker tried wait-1 and put it in the limit's line
		snap, err := f.d.Snapshot(ctx)
		return err == nil && len(snap.Workers) == 1 && len(snap.Limits) == 1 && len(snap.Limits[0].Waiting) == 1
	}, wait, 5*time.Millisecond)
	return f, w
}

// The table lists running, then queued, then scheduled tasks, each with
// its due time, start, worker and the limit it waits for; then the limits
// and the workers.
func TestSnapshotTable(t *testing.T) {
	t.Parallel()
	f, w := busyDocket(t)
	r := f.run("", "snapshot")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	out := r.stdout
	t.Log("\n" + out)

	assert.Regexp(t, fmt.Sprintf(`^docket %q at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: 1 running, 2 waiting, 0 parked, 0 held, 1 worker\n`, f.name), out)
	header, cols := rowOf(t, out, 0, "STATE")
	assert.Equal(t, []string{"STATE", "KEY", "TASK", "ATTEMPT", "DUE", "STARTED", "WORKER", "WAITING FOR"}, cols)

	run, cols := rowOf(t, out, 1, "run-1")
	assert.Equal(t, []string{"running", "run-1", "slow", "1", "-"}, cols[:5])
	assert.Regexp(t, `^(now|\d+s ago)$`, cols[5])
	assert.Equal(t, []string{w.ID(), "-"}, cols[6:])

	queued, cols := rowOf(t, out, 1, "wait-1")
	assert.Equal(t, []string{"queued", "wait-1", "slow", "1"}, cols[:4])
	assert.Regexp(t, `^(now|\d+s ago)$`, cols[4])
	assert.Equal(t, []string{"-", "-", "t:slow::"}, cols[5:])

	scheduled, cols := rowOf(t, out, 1, "later-1")
	assert.Equal(t, []string{"scheduled", "later-1", "slow", "1"}, cols[:4])
	assert.Regexp(t, `^in (1h|59m\d+s)$`, cols[4])
	assert.Equal(t, []string{"-", "-", "-"}, cols[5:])
	assert.Equal(t, []int{header + 1, header + 2, header + 3}, []int{run, queued, scheduled}, "running, queued, scheduled")

	limitHeader, cols := rowOf(t, out, 0, "LIMIT")
	assert.Equal(t, []string{"LIMIT", "IN USE", "WAITING"}, cols)
	limit, cols := rowOf(t, out, 0, "t:slow::")
	assert.Equal(t, []string{"t:slow::", "1", "1"}, cols)
	assert.Equal(t, limitHeader+1, limit)

	_, cols = rowOf(t, out, 0, w.ID())
	assert.Equal(t, "4", cols[3], "concurrency")
	assert.Equal(t, "1", cols[4], "running")
}

// A worker's RUNNING counts the running tasks listed: when --limit lists
// fewer than run, the table says so under the workers, and --json marks
// the count partial. It was shown as the whole count.
func TestSnapshotSaysWhenRunningIsPartial(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	started := make(chan string, 2)
	release := make(chan struct{})
	slow := sdk.NewTask("slow", func(ctx context.Context, in Import) error {
		started <- sdk.Current(ctx).Key()
		<-release
		return nil
	})
	require.NoError(t, f.d.Register(slow))
	w := f.startWorker(worker.Options{Name: "snap", Concurrency: 4})
	t.Cleanup(func() { close(release) })
	for _, key := range []string{"run-1", "run-2"} {
		_, err := slow.Add(context.Background(), f.d, Import{}, sdk.Key(key))
		require.NoError(t, err)
		receive(t, started, key+" to start")
	}

	r := f.run("", "snapshot", "--limit", "1")
	require.Equal(t, 0, r.code, r.stderr)
	_, cols := rowOf(t, r.stdout, 0, w.ID())
	assert.Equal(t, "1", cols[4], "running, as listed")
	assert.Contains(t, r.stdout, "RUNNING counts the 1 running task listed, of 2 (--limit lists more).\n")

	r = f.run("", "snapshot", "--limit", "1", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	workers := list(t, got["workers"])
	require.Len(t, workers, 1)
	assert.Equal(t, true, workers[0]["running_partial"])

	r = f.run("", "snapshot")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "RUNNING counts", "all of them listed")
}

// --json has every list, with snake_case keys and RFC 3339 times.
func TestSnapshotJSON(t *testing.T) {
	t.Parallel()
	f, w := busyDocket(t)
	r := f.run("", "snapshot", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)

	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	assert.ElementsMatch(t, []string{"docket", "now", "total_running", "total_waiting", "total_parked", "total_held", "running", "queued", "scheduled", "parked", "held", "limits", "rate_limits", "total_rate_limits", "workers", "dead_letters"}, keys(got))
	assert.Equal(t, f.name, got["docket"])
	assert.EqualValues(t, 1, got["total_running"])
	assert.EqualValues(t, 2, got["total_waiting"])
	now := parseTime(t, got["now"])

	running := list(t, got["running"])
	require.Len(t, running, 1)
	assert.Equal(t, "run-1", running[0]["key"])
	assert.Equal(t, "slow", running[0]["task"])
	assert.Equal(t, "running", running[0]["state"])
	assert.Equal(t, w.ID(), running[0]["worker"])
	assert.EqualValues(t, 1, running[0]["attempt"])
	assert.True(t, parseTime(t, running[0]["lease_until"]).After(now), "the lease runs on")
	assert.NotContains(t, running[0], "waiting_for")

	queued := list(t, got["queued"])
	require.Len(t, queued, 1)
	assert.Equal(t, "wait-1", queued[0]["key"])
	assert.Equal(t, "queued", queued[0]["state"])
	assert.Equal(t, "t:slow::", queued[0]["waiting_for"])

	scheduled := list(t, got["scheduled"])
	require.Len(t, scheduled, 1)
	assert.Equal(t, "later-1", scheduled[0]["key"])
	assert.Equal(t, "scheduled", scheduled[0]["state"])
	assert.WithinDuration(t, now.Add(time.Hour), parseTime(t, scheduled[0]["due"]), time.Minute)

	limits := list(t, got["limits"])
	require.Len(t, limits, 1)
	assert.Equal(t, map[string]any{"id": "t:slow::", "in_use": []any{"run-1"}, "waiting": []any{"wait-1"},
		"total_in_use": float64(1), "total_waiting": float64(1)}, limits[0])

	workers := list(t, got["workers"])
	require.Len(t, workers, 1)
	assert.Equal(t, w.ID(), workers[0]["id"])
	assert.EqualValues(t, 4, workers[0]["concurrency"])
	assert.EqualValues(t, 1, workers[0]["running"])
	assert.Equal(t, []any{"slow"}, workers[0]["tasks"])
}

// A rate limit whose window holds a start is listed, in the table and in
// --json: how many of its starts it holds, its window, and when a full one
// lets the next start.
func TestSnapshotListsRateLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	started := make(chan string, 3)
	ping := sdk.NewTask("ping", func(ctx context.Context, in Import) error {
		started <- sdk.Current(ctx).Key()
		return nil
	}, policy.RateLimit("file", 1, time.Hour))
	require.NoError(t, f.d.Register(ping))
	f.startWorker(worker.Options{Name: "rated"})
	ctx := context.Background()
	for _, key := range []string{"a-1", "b-1"} {
		_, err := ping.Add(ctx, f.d, Import{File: key[:1]}, sdk.Key(key))
		require.NoError(t, err)
		receive(t, started, key+" to start")
	}

	r := f.run("", "snapshot")
	require.Equal(t, 0, r.code, r.stderr)
	t.Log("\n" + r.stdout)
	header, cols := rowOf(t, r.stdout, 0, "RATE LIMIT")
	assert.Equal(t, []string{"RATE LIMIT", "STARTED", "PER", "NEXT START"}, cols)
	row, cols := rowOf(t, r.stdout, 0, "t:ping:file:a")
	assert.Equal(t, []string{"t:ping:file:a", "1 of 1", "1h"}, cols[:3])
	assert.Regexp(t, `^in (1h|59m\d+s)$`, cols[3], "full: the next start when the first leaves the window")
	assert.Greater(t, row, header)

	r = f.run("", "snapshot", "--json", "--limit", "1")
	require.Equal(t, 0, r.code, r.stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	rates := list(t, got["rate_limits"])
	require.Len(t, rates, 1, "--limit 1")
	assert.EqualValues(t, 2, got["total_rate_limits"])
	assert.Contains(t, []any{"t:ping:file:a", "t:ping:file:b"}, rates[0]["id"])
	assert.EqualValues(t, 1, rates[0]["limit"])
	assert.EqualValues(t, 3_600_000, rates[0]["per_ms"])
	assert.EqualValues(t, 1, rates[0]["started"])
	next := parseTime(t, rates[0]["next"])
	assert.WithinDuration(t, parseTime(t, got["now"]).Add(time.Hour), next, time.Minute, "full: when the start leaves the window")
}

// An empty docket says so, and --json still has every list, empty.
func TestSnapshotEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.run("", "snapshot")
	require.Equal(t, 0, r.code, r.stderr)
	out := lines(r.stdout)
	require.Len(t, out, 7, r.stdout)
	assert.Equal(t, []string{"", "No running, queued, scheduled, parked or held tasks.", "", "No live workers.", "",
		fmt.Sprintf("Docket %q holds nothing, and no worker serves it: is that its name (--name, DOCKET_NAME)?", f.name)}, out[1:],
		"a mistyped name reads as an empty docket")

	r = f.run("", "snapshot", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	for _, k := range []string{"running", "queued", "scheduled", "parked", "held", "limits", "rate_limits", "workers"} {
		assert.Equal(t, []any{}, got[k], k)
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func list(t *testing.T, v any) []map[string]any {
	t.Helper()
	items, ok := v.([]any)
	require.True(t, ok, "not a list: %v", v)
	var out []map[string]any
	for _, it := range items {
		m, ok := it.(map[string]any)
		require.True(t, ok, "not an object: %v", it)
		out = append(out, m)
	}
	return out
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "not a string: %v", v)
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm
}

// snapshot lists the dead letters, in its table and in --json, with why
// they died.
func TestSnapshotListsDeadLetters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s, err := store.New(f.d.Redis(), f.name)
	require.NoError(t, err)
	_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "doomed\x1b-1", Name: "resize", Input: []byte(`{}`)}})
	require.NoError(t, err)
	c, err := s.Claim(ctx, "doomed", 1, time.Millisecond, time.Minute, store.Rules{}, 1)
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)
	require.Eventually(t, func() bool { // its worker "died": its lease lapses
		c, err := s.Claim(ctx, "rescuer", 1, time.Hour, time.Minute, store.Rules{}, 1)
		require.NoError(t, err)
		return len(c.Dropped) == 1
	}, wait, time.Millisecond)

	r := f.run("", "snapshot")
	require.Equal(t, 0, r.code, r.stderr)
	_, cols := rowOf(t, r.stdout, 0, `doomed\x1b-1`)
	assert.Equal(t, []string{`doomed\x1b-1`, "resize", "1"}, cols[:3])
	assert.Contains(t, r.stdout, "dead-lettered: delivered once")
	assert.NotContains(t, r.stdout, "maybe more dead letters")
	r = f.run("", "snapshot", "--limit", "1")
	assert.Contains(t, r.stdout, "… and maybe more dead letters (see --limit)")

	r = f.run("", "snapshot", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var got struct {
		DeadLetters []struct {
			Key   string `json:"key"`
			Error string `json:"error"`
		} `json:"dead_letters"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Len(t, got.DeadLetters, 1)
	assert.Equal(t, "doomed\x1b-1", got.DeadLetters[0].Key)
	assert.Contains(t, got.DeadLetters[0].Error, "dead-lettered")
}
