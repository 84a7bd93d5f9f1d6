package cli_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/cli"
	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

type Import struct {
	File string `json:"file"`
}

// stepper is a task that reports progress at the test's pace: it signals
// when it starts, then waits for a step before each report: total 3 and a
// message, then three increments. With fail set it fails at the first step
// instead.
type stepper struct {
	started chan struct{}
	step    chan struct{}
	task    *sdk.Task[Import]
}

func newStepper(fail error) *stepper {
	s := &stepper{started: make(chan struct{}, 1), step: make(chan struct{})}
	s.task = sdk.NewTask("import", func(ctx context.Context, in Import) error {
		s.started <- struct{}{}
		wait := func() error {
			select {
			case <-s.step:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		p := sdk.Current(ctx).Progress()
		if err := wait(); err != nil {
			return err
		}
		if fail != nil {
			return fail
		}
		if err := p.SetTotal(ctx, 3); err != nil {
			return err
		}
		if err := p.SetMessage(ctx, "importing "+in.File); err != nil {
			return err
		}
		for range 3 {
			if err := wait(); err != nil {
				return err
			}
			if err := p.Increment(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	return s
}

// run starts the stepper's task under key and waits until it runs; the
// task is let go, if still waiting, before the worker stops.
func (s *stepper) run(t *testing.T, f *fixture, key string) {
	t.Helper()
	require.NoError(t, f.d.Register(s.task))
	f.startWorker(worker.Options{})
	t.Cleanup(func() { close(s.step) }) // runs before the worker stops
	_, err := s.task.Add(context.Background(), f.d, Import{File: "a.csv"}, sdk.Key(key))
	require.NoError(t, err)
	receive(t, s.started, "the task to start")
}

func (s *stepper) advance(t *testing.T) {
	t.Helper()
	select {
	case s.step <- struct{}{}:
	case <-time.After(wait):
		require.FailNow(t, "the task did not take its step")
	}
}

// Not on a terminal, watch prints a line per event, ends with the final
// state, and exits 0 when the task completed.
func TestWatchPlainCompleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	task := newStepper(nil)
	task.run(t, f, "import-1")

	clock := newFakeClock()
	p := f.program("", nil, io.Discard)
	p.Now = clock.Now
	w := start(t, p, f.args("watch", "import-1"))

	assert.Equal(t, "running  00:00", w.next(), "the state when the watch began")
	clock.Advance(time.Second)
	task.advance(t)
	assert.Equal(t, "running  0/3  0%  00:01", w.next())
	assert.Equal(t, "running  0/3  0%  importing a.csv  00:01", w.next())
	for i, pct := range []int{33, 66, 100} {
		clock.Advance(time.Second)
		task.advance(t)
		assert.Equal(t, fmt.Sprintf("running  %d/3  %d%%  importing a.csv  00:0%d", i+1, pct, i+2), w.next())
	}
	assert.Equal(t, "completed  3/3  100%  importing a.csv  00:04", w.next())
	assert.Equal(t, 0, w.exit())
}

// A task that fails: its last line says so, with the error, and the exit
// code is 1.
func TestWatchPlainFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	task := newStepper(errors.New("disk full\nat sector 7"))
	task.run(t, f, "import-1")

	p := f.program("", nil, io.Discard)
	p.Now = newFakeClock().Now
	w := start(t, p, f.args("watch", "import-1"))
	assert.Equal(t, "running  00:00", w.next())
	task.advance(t)
	assert.Equal(t, "failed  error: disk full …  00:00", w.next())
	assert.Equal(t, 1, w.exit())
}

// A running task cancelled with 'docket cancel' while watched: the watch
// ends with cancelled and exits 1.
func TestWatchCancelled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	task := newStepper(nil)
	task.run(t, f, "import-1")

	p := f.program("", nil, io.Discard)
	p.Now = newFakeClock().Now
	w := start(t, p, f.args("watch", "import-1"))
	assert.Equal(t, "running  00:00", w.next())

	cancel := f.run("", "cancel", "import-1")
	assert.Equal(t, result{code: 0, stdout: "cancelled import-1\n"}, cancel)
	last := w.next()
	assert.True(t, strings.HasPrefix(last, "cancelled  "), last)
	assert.Equal(t, 1, w.exit())
}

// On a terminal, watch redraws one line in place, with a progress bar, and
// ends the line after the final state.
func TestWatchTerminal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	task := newStepper(nil)
	task.run(t, f, "import-1")

	out := newNotifyBuffer()
	p := f.program("", out, io.Discard)
	p.IsTerminal = func(w io.Writer) bool { return w == out }
	p.Now = newFakeClock().Now
	code := make(chan int, 1)
	go func() { code <- p.Run(context.Background(), f.args("watch", "import-1")) }()
	receive(t, out.wrote, "the first frame") // watching: nothing will be missed
	for range 4 {
		task.advance(t)
	}
	assert.Equal(t, 0, receive(t, code, "the exit code"))

	got := out.String()
	require.True(t, strings.HasPrefix(got, "\r\x1b[K"), "every frame starts by going back and clearing the line: %q", got)
	require.True(t, strings.HasSuffix(got, "\n"), "the final frame ends the line: %q", got)
	var frames []string
	for _, frame := range strings.Split(got, "\r\x1b[K")[1:] {
		if len(frames) == 0 || frames[len(frames)-1] != frame { // the elapsed-time ticker may redraw a frame
			frames = append(frames, frame)
		}
	}
	assert.Equal(t, []string{
		"running  00:00",
		"running  [------------------------]  0/3  0%  00:00",
		"running  [------------------------]  0/3  0%  importing a.csv  00:00",
		"running  [########----------------]  1/3  33%  importing a.csv  00:00",
		"running  [################--------]  2/3  66%  importing a.csv  00:00",
		"running  [########################]  3/3  100%  importing a.csv  00:00",
		"completed  [########################]  3/3  100%  importing a.csv  00:00\n",
	}, frames)
}

// A finished task: its final state at once, and the exit code it calls for.
func TestWatchFinished(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	task := newStepper(nil)
	task.run(t, f, "import-1")
	for range 4 {
		task.advance(t)
	}
	require.Eventually(t, func() bool {
		info, err := f.d.Execution("import-1").Info(context.Background())
		return err == nil && info.State == sdk.StateCompleted
	}, wait, 5*time.Millisecond)

	p := f.program("", nil, nil)
	p.Now = newFakeClock().Now
	r := runProgram(t, p, f.args("watch", "import-1"))
	assert.Equal(t, result{code: 0, stdout: "completed  3/3  100%  importing a.csv  00:00\n"}, r)
}

// Watching a key no task has is an error: one line, exit 1.
func TestWatchMissing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.run("", "watch", "no-such-key")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, fmt.Sprintf("docket: watch: docket %q has no task with the key \"no-such-key\" (never added, or finished longer ago than the retention)\n", f.name), r.stderr)
}

// A task lost with Redis's data while it was watched (a restart without
// persistence): watch says so in one line on stderr and exits 1. It never
// takes the vanished record for a completion.
func TestWatchLost(t *testing.T) {
	t.Parallel()
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	name := redistest.Name(t)
	ctx := context.Background()
	d, err := sdk.Open(ctx, srv.URL(), sdk.WithName(name))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	task := sdk.NewTask("import", func(context.Context, Import) error { return nil })
	_, err = task.Add(ctx, d, Import{File: "a.csv"}, sdk.Key("import-1"), sdk.After(time.Hour))
	require.NoError(t, err)

	stderr := newNotifyBuffer()
	p := &cli.Program{
		Getenv:     func(string) string { return "" },
		Stderr:     stderr,
		IsTerminal: func(io.Writer) bool { return false },
		Now:        newFakeClock().Now,
	}
	w := start(t, p, []string{"--url", srv.URL(), "--name", name, "watch", "import-1"})
	assert.Equal(t, "scheduled  00:00", w.next())

	srv.Restart(t) // an empty dataset
	assert.Equal(t, 1, w.exit(), "a lost task is no success")
	assert.Equal(t, `docket: watch: task lost: the record of "import-1" vanished while it was scheduled`+
		` (Redis lost it: a restart without persistence, an eviction, a flush); whether it ran is unknown`+"\n", stderr.String())
}
