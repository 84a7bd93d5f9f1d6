package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// logWatch is a slog handler that lets a test wait for a message.
type logWatch struct {
	mu      sync.Mutex
	seen    []string
	changed chan struct{}
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{}, 1)} }

func (l *logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (l *logWatch) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logWatch) WithGroup(string) slog.Handler            { return l }
func (l *logWatch) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.seen = append(l.seen, r.Message)
	l.mu.Unlock()
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return nil
}

// waitLog waits until a message containing s was logged.
func (l *logWatch) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		l.mu.Lock()
		for _, m := range l.seen {
			if strings.Contains(m, s) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("no log message containing %q within a minute", s)
		}
	}
}

// Redis dies while a worker runs: the worker logs, keeps the outcomes of
// the tasks that finished meanwhile, and when Redis is back it records them
// and finishes the queue. Run never returns during the outage.
func TestWorkerSurvivesRedisRestart(t *testing.T) {
	srv := redistest.NewServer(t)
	logs := newLogWatch()
	d := openDocket(t, srv.URL(), sdk.WithLogger(slog.New(logs)))

	gate := make(chan struct{})
	started := make(chan int, 20)
	task := sdk.NewTask("gated", func(ctx context.Context, in Order) error {
		started <- in.ID
		<-gate
		return nil
	})
	require.NoError(t, d.Register(task))
	var exs []*sdk.Execution
	for i := range 10 {
		ex, err := task.Add(context.Background(), d, Order{ID: i})
		require.NoError(t, err)
		exs = append(exs, ex)
	}
	w := worker.New(d, worker.Options{Concurrency: 2})
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	waitFor(t, started, 2) // two tasks running, eight queued
	srv.Stop()
	close(gate) // the running tasks finish while Redis is down
	logs.waitLog(t, "record task outcomes; retrying")
	select {
	case err := <-runErr:
		t.Fatalf("Run returned during the outage: %v", err)
	default:
	}
	srv.Restart(t)
	logs.waitLog(t, "recording task outcomes again")

	waitFor(t, started, 8)
	for _, ex := range exs {
		require.Eventually(t, func() bool {
			info, err := ex.Info(context.Background())
			return err == nil && info.State == sdk.StateCompleted
		}, 30*time.Second, 10*time.Millisecond, ex.Key())
	}
	cancel()
	assert.NoError(t, <-runErr)
}
