package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// clear asks first: "n" cancels nothing, no answer is an error, "yes"
// cancels every waiting task; --yes does not ask.
func TestClear(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scheduledTasks(t, f, "a", "b", "c")
	prompt := fmt.Sprintf("Cancel 3 tasks scheduled, queued, parked or held in docket %q? Running tasks are left to finish. [y/N] ", f.name)
	states := func() []sdk.State {
		return []sdk.State{state(t, f, "a"), state(t, f, "b"), state(t, f, "c")}
	}
	scheduled := []sdk.State{sdk.StateScheduled, sdk.StateScheduled, sdk.StateScheduled}

	assert.Equal(t, result{code: 0, stdout: "Nothing cancelled.\n", stderr: prompt}, f.run("n\n", "clear"))
	assert.Equal(t, scheduled, states())
	assert.Equal(t, result{code: 0, stdout: "Nothing cancelled.\n", stderr: prompt}, f.run("\n", "clear"), "no is the default")
	assert.Equal(t, scheduled, states())

	r := f.run("", "clear")
	assert.Equal(t, result{code: 1, stderr: prompt + "\ndocket: clear: no answer on stdin; nothing cancelled (use --yes to clear without asking)\n"}, r)
	assert.Equal(t, scheduled, states())

	assert.Equal(t, result{code: 0, stdout: "Cancelled 3 tasks.\n", stderr: prompt}, f.run("YES\n", "clear"))
	assert.Equal(t, []sdk.State{sdk.StateCancelled, sdk.StateCancelled, sdk.StateCancelled}, states())

	assert.Equal(t, result{code: 0, stdout: fmt.Sprintf("No scheduled, queued, parked or held tasks in docket %q; nothing to cancel.\n", f.name)},
		f.run("", "clear"), "nothing to ask about")
}

func TestClearYes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scheduledTasks(t, f, "a", "b")
	assert.Equal(t, result{code: 0, stdout: "Cancelled 2 tasks.\n"}, f.run("", "clear", "--yes"))
	assert.Equal(t, sdk.StateCancelled, state(t, f, "a"))
	assert.Equal(t, sdk.StateCancelled, state(t, f, "b"))
}

// Running tasks are left to finish.
func TestClearLeavesRunningTasks(t *testing.T) {
	t.Parallel()
	f, _ := busyDocket(t)
	assert.Equal(t, result{code: 0, stdout: "Cancelled 2 tasks.\n"}, f.run("", "clear", "--yes"))
	assert.Equal(t, sdk.StateRunning, state(t, f, "run-1"))
	assert.Equal(t, sdk.StateCancelled, state(t, f, "wait-1"))
	assert.Equal(t, sdk.StateCancelled, state(t, f, "later-1"))
}

// An interrupt while clear waits for an answer cancels nothing.
func TestClearInterrupted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scheduledTasks(t, f, "a")
	stdin, answer := io.Pipe()
	t.Cleanup(func() { _ = answer.Close() }) // ends the abandoned read
	stderr := newNotifyBuffer()
	var stdout bytes.Buffer
	p := f.program("", &stdout, stderr)
	p.Stdin = stdin
	ctx, interrupt := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- p.Run(ctx, f.args("clear")) }()
	receive(t, stderr.wrote, "the prompt")
	interrupt()
	assert.Equal(t, 1, receive(t, code, "the exit code"))
	assert.Empty(t, stdout.String())
	assert.True(t, strings.HasSuffix(stderr.String(), "[y/N] \ndocket: clear: interrupted; nothing cancelled\n"), stderr.String())
	assert.Equal(t, sdk.StateScheduled, state(t, f, "a"))
}

// clear asks about, and cancels, tasks a strike holds: they are not
// scheduled or queued, but clear cancels them too.
func TestClearAsksAboutHeldTasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	due := sdk.NewTask("due", func(ctx context.Context, in Import) error { return nil })
	require.NoError(t, f.d.Register(due))
	for _, k := range []string{"held-1", "held-2"} {
		_, err := due.Add(ctx, f.d, Import{}, sdk.Key(k))
		require.NoError(t, err)
	}
	require.NoError(t, f.d.Strike(ctx, "due", "", "", nil))
	f.startWorker(worker.Options{})
	require.Eventually(t, func() bool {
		return state(t, f, "held-1") == sdk.StateStruck && state(t, f, "held-2") == sdk.StateStruck
	}, time.Minute, time.Millisecond)

	snap := f.run("", "snapshot")
	assert.Contains(t, snap.stdout, "0 parked, 2 held", "snapshot counts them")
	_, cols := rowOf(t, snap.stdout, 1, "held-1")
	assert.Equal(t, []string{"struck", "held-1", "due"}, cols[:3], "and lists them")
	snap = f.run("", "snapshot", "--limit", "1")
	assert.Contains(t, snap.stdout, "0 parked, 2 held", "the total, beyond the listing limit")
	assert.Contains(t, snap.stdout, "and 1 task more")

	prompt := fmt.Sprintf("Cancel 2 tasks scheduled, queued, parked or held in docket %q? Running tasks are left to finish. [y/N] ", f.name)
	assert.Equal(t, result{code: 0, stdout: "Cancelled 2 tasks.\n", stderr: prompt}, f.run("y\n", "clear"))
	assert.Equal(t, sdk.StateCancelled, state(t, f, "held-1"))
}

// clear's question counts every held task, beyond a snapshot's listing
// limit (1000): it counted those listed.
func TestClearCountsEveryHeldTask(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	due := sdk.NewTask("due", func(ctx context.Context, in Import) error { return nil })
	require.NoError(t, f.d.Register(due))
	_, err := due.AddMany(ctx, f.d, make([]Import, 1001))
	require.NoError(t, err)
	require.NoError(t, f.d.Strike(ctx, "due", "", "", nil))
	f.startWorker(worker.Options{})
	require.Eventually(t, func() bool {
		snap, err := f.d.Snapshot(ctx, sdk.Limit(0))
		return err == nil && snap.TotalHeld == 1001
	}, time.Minute, time.Millisecond)

	prompt := fmt.Sprintf("Cancel 1001 tasks scheduled, queued, parked or held in docket %q? Running tasks are left to finish. [y/N] ", f.name)
	assert.Equal(t, result{code: 0, stdout: "Cancelled 1001 tasks.\n", stderr: prompt}, f.run("y\n", "clear"))
}
