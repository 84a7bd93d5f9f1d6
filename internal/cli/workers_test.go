package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// workers lists each live worker; the docket is found from DOCKET_URL and
// DOCKET_NAME.
func TestWorkers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	noop := sdk.NewTask("noop", func(ctx context.Context, in Import) error { return nil })
	other := sdk.NewTask("another", func(ctx context.Context, in Import) error { return nil })
	require.NoError(t, f.d.Register(noop, other))
	w := f.startWorker(worker.Options{Name: "cli", Concurrency: 3})
	f.workersLive(1)

	r := f.runFromEnv("workers")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	out := lines(r.stdout)
	require.Len(t, out, 2, r.stdout)
	assert.Equal(t, []string{"WORKER", "HOST", "PID", "CONCURRENCY", "RUNNING", "STARTED", "LIVE UNTIL", "TASKS"}, cells(out[0]))
	host, err := os.Hostname()
	require.NoError(t, err)
	row := cells(out[1])
	require.Len(t, row, 8, out[1])
	assert.Equal(t, []string{w.ID(), host, strconv.Itoa(os.Getpid()), "3", "0"}, row[:5])
	assert.Regexp(t, `^(now|\d+s ago)$`, row[5])
	assert.Regexp(t, `^in \d+s$`, row[6])
	assert.Equal(t, "another,noop", row[7])

	r = f.runFromEnv("workers", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var got struct {
		Docket  string           `json:"docket"`
		Workers []map[string]any `json:"workers"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	assert.Equal(t, f.name, got.Docket)
	require.Len(t, got.Workers, 1)
	wk := got.Workers[0]
	assert.ElementsMatch(t, []string{"id", "host", "pid", "concurrency", "running", "tasks", "started", "live_until"}, keys(wk))
	assert.Equal(t, w.ID(), wk["id"])
	assert.Equal(t, host, wk["host"])
	assert.EqualValues(t, os.Getpid(), wk["pid"])
	assert.EqualValues(t, 3, wk["concurrency"])
	assert.Equal(t, []any{"another", "noop"}, wk["tasks"])
}

// Without a worker, workers says there is none.
func TestWorkersNone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	assert.Equal(t, result{code: 0, stdout: "No live workers.\n"}, f.run("", "workers"))
}

// A worker's name is task data too: workers shows it escaped, on its row.
func TestWorkersEscapesNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	require.NoError(t, f.d.Register(sdk.NewTask("noop", func(ctx context.Context, in Import) error { return nil })))
	f.startWorker(worker.Options{Name: "evil\x1b[31m\nforged row"})
	f.workersLive(1)

	r := f.runFromEnv("workers")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "\x1b")
	assert.Len(t, lines(r.stdout), 2, r.stdout)
	assert.Contains(t, r.stdout, `evil\x1b[31m\nforged row`)
}

// runFromEnv runs the command with the docket found from DOCKET_URL and
// DOCKET_NAME, as a user's shell gives them, rather than from flags.
func (f *fixture) runFromEnv(args ...string) result {
	f.t.Helper()
	env := map[string]string{"DOCKET_URL": f.url, "DOCKET_NAME": f.name}
	p := f.program("", nil, nil)
	p.Getenv = func(k string) string { return env[k] }
	return runProgram(f.t, p, args)
}
