package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/cli"
	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// wait bounds every wait for something another goroutine does: generous,
// since it is only reached when the test is failing.
const wait = 30 * time.Second

// fixture is a docket on its own memory:// server, which the CLI under test
// opens too (every Open of one memory URL in the process shares a server).
type fixture struct {
	t    *testing.T
	url  string
	name string
	d    *sdk.Docket
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	name := redistest.Name(t)
	url := "memory://" + name
	d, err := sdk.Open(context.Background(), url, sdk.WithName(name))
	require.NoError(t, err)
	// Cleanups run last-registered first: workers stop, then the leak
	// check, then the docket closes.
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, d.Redis(), name)
	return &fixture{t: t, url: url, name: name, d: d}
}

// startWorker runs a worker on the docket until the test ends.
func (f *fixture) startWorker(opts worker.Options) *worker.Worker {
	f.t.Helper()
	w := worker.New(f.d, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		require.NoError(f.t, <-done)
	})
	return w
}

// workersLive waits until the docket shows n live workers.
func (f *fixture) workersLive(n int) {
	f.t.Helper()
	require.Eventually(f.t, func() bool {
		snap, err := f.d.Snapshot(context.Background())
		return err == nil && len(snap.Workers) == n
	}, wait, 5*time.Millisecond, "%d workers never showed in the snapshot", n)
}

// program is the CLI with no environment, stdin as given, and output into
// stdout and a buffer for stderr; never a terminal.
func (f *fixture) program(stdin string, stdout io.Writer, stderr io.Writer) *cli.Program {
	return &cli.Program{
		Getenv:     func(string) string { return "" },
		Stdin:      strings.NewReader(stdin),
		Stdout:     stdout,
		Stderr:     stderr,
		IsTerminal: func(io.Writer) bool { return false },
	}
}

// args puts the global flags that name the fixture's docket before args.
func (f *fixture) args(args ...string) []string {
	return append([]string{"--url", f.url, "--name", f.name}, args...)
}

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the CLI to the end with stdin, against the fixture's docket.
func (f *fixture) run(stdin string, args ...string) result {
	f.t.Helper()
	return runProgram(f.t, f.program(stdin, nil, nil), f.args(args...))
}

// runProgram runs p to the end with args, capturing its output into
// buffers (whatever p's Stdout and Stderr were).
func runProgram(t *testing.T, p *cli.Program, args []string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	p.Stdout, p.Stderr = &stdout, &stderr
	code := p.Run(context.Background(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// lines splits output into its lines, without the final newline.
func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

var cellGap = regexp.MustCompile(` {2,}`)

// cells splits a table row (tabwriter, two spaces at least between
// columns) into its cells.
func cells(row string) []string {
	return cellGap.Split(strings.TrimSpace(row), -1)
}

// rowOf finds the row of a table whose cell at column col is value, and
// returns its index among the output's lines and its cells.
func rowOf(t *testing.T, out string, col int, value string) (int, []string) {
	t.Helper()
	for i, line := range lines(out) {
		c := cells(line)
		if len(c) > col && c[col] == value {
			return i, c
		}
	}
	require.Failf(t, "no such row", "no row with %q in column %d in:\n%s", value, col, out)
	return 0, nil
}

// receive waits for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		require.FailNow(t, "timed out waiting for "+what)
		panic("unreachable")
	}
}

// fakeClock is the clock watch measures elapsed time with: it moves only
// when the test moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// running is a CLI run in progress, whose stdout the test reads line by
// line as it comes.
type running struct {
	t     *testing.T
	lines chan string
	code  chan int
}

// start runs p with args in the background; the test reads its stdout with
// next and its exit code with exit. It is stopped, if still running, when
// the test ends.
func start(t *testing.T, p *cli.Program, args []string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p.Stdout = pw
	r := &running{t: t, lines: make(chan string, 100), code: make(chan int, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		code := p.Run(ctx, args)
		_ = pw.Close()
		r.code <- code
	}()
	go func() {
		defer close(r.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = pr.Close()
		<-done
	})
	return r
}

// next returns the next line of output.
func (r *running) next() string {
	r.t.Helper()
	select {
	case line, ok := <-r.lines:
		require.True(r.t, ok, "the output ended")
		return line
	case <-time.After(wait):
		require.FailNow(r.t, "timed out waiting for a line of output")
		return ""
	}
}

// exit returns the exit code, once the output has ended.
func (r *running) exit() int {
	r.t.Helper()
	select {
	case line, ok := <-r.lines:
		require.False(r.t, ok, "more output: %q", line)
	case <-time.After(wait):
		require.FailNow(r.t, "timed out waiting for the end of the output")
	}
	return receive(r.t, r.code, "the exit code")
}

// notifyBuffer is a buffer safe for concurrent use that signals each write.
type notifyBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func newNotifyBuffer() *notifyBuffer {
	return &notifyBuffer{wrote: make(chan struct{}, 1)}
}

func (b *notifyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (b *notifyBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
