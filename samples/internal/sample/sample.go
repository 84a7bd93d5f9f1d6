// Package sample holds what the sample programs share: opening their
// docket, running a worker for a while, and printing whole lines.
package sample

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// Open opens a sample's docket: on DOCKET_URL if set, else in memory.
// Warnings (Redis out of reach, a failed task) go to stderr.
func Open(ctx context.Context, name string, opts ...sdk.Option) (*sdk.Docket, error) {
	url := os.Getenv("DOCKET_URL")
	if url == "" {
		url = "memory://" + name
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return sdk.Open(ctx, url, append([]sdk.Option{sdk.WithName(name), sdk.WithLogger(logger)}, opts...)...)
}

// RunWorker runs a worker until ctx ends or, if runFor > 0, for runFor.
func RunWorker(ctx context.Context, d *sdk.Docket, runFor time.Duration) error {
	if runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, runFor)
		defer cancel()
	}
	return worker.New(d, worker.Options{}).Run(ctx)
}

// Printer prints whole lines to out, one at a time: tasks run
// concurrently.
func Printer(out io.Writer) func(format string, args ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
}

// Output collects what a sample prints, for its tests; safe for concurrent
// use.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// Lines returns the lines written so far.
func (o *Output) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Split(strings.TrimSuffix(o.buf.String(), "\n"), "\n")
}
