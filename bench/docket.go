package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// noop is the input of every no-op task, of every contender: {"i":n}.
type noop struct {
	I int `json:"i"`
}

// timed is the input of a task scheduled for a future instant.
type timed struct {
	Due int64 `json:"due"` // unix nanoseconds
}

// docketContender is this project, through its public API only. As
// "docket" it deletes completed tasks at once, as the peers here do
// (asynq by default, BullMQ with removeOnComplete); as "docket-keep" it
// keeps their records for the default retention, 15 minutes.
type docketContender struct{ keep bool }

func (c docketContender) Name() string {
	if c.keep {
		return "docket-keep"
	}
	return "docket"
}

func (c docketContender) Describe(cfg config) string {
	completed := "completed tasks deleted at once (WithCompletedRetention(0))"
	if c.keep {
		completed = "completed tasks kept for the default retention (15 min)"
	}
	return fmt.Sprintf("enqueue: Task.AddMany, %d tasks per call, %d concurrent caller(s); process: one worker.Worker, Concurrency %d; %s",
		cfg.Batch, cfg.Producers, cfg.Concurrency, completed)
}

func (c docketContender) open(ctx context.Context, s *server, name string) (*sdk.Docket, error) {
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []sdk.Option{sdk.WithName(name), sdk.WithLogger(quiet)}
	if !c.keep {
		opts = append(opts, sdk.WithCompletedRetention(0))
	}
	return sdk.Open(ctx, "redis://"+s.addr()+"/0", opts...)
}

func (c docketContender) Throughput(ctx context.Context, s *server, cfg config, prof profiles) (throughputResult, error) {
	if cfg.Warmup > 0 {
		if _, err := c.round(ctx, s, cfg, "warmup", cfg.Warmup, profiles{}); err != nil {
			return throughputResult{}, fmt.Errorf("warm-up: %w", err)
		}
		if err := s.flush(ctx); err != nil {
			return throughputResult{}, err
		}
	}
	return c.round(ctx, s, cfg, "bench", cfg.N, prof)
}

func (c docketContender) round(ctx context.Context, s *server, cfg config, name string, n int, prof profiles) (res throughputResult, err error) {
	d, err := c.open(ctx, s, name)
	if err != nil {
		return res, err
	}
	defer d.Close()

	var ran atomic.Int64
	finished := make(chan time.Time, 1)
	task := sdk.NewTask("noop", func(ctx context.Context, in noop) error {
		if ran.Add(1) == int64(n) {
			finished <- time.Now()
		}
		return nil
	})
	if err := d.Register(task); err != nil {
		return res, err
	}
	inputs := make([]noop, n)
	for i := range inputs {
		inputs[i] = noop{I: i}
	}

	// Enqueue.
	res.N = n
	if res.MemBefore, err = s.usedMemory(ctx); err != nil {
		return res, err
	}
	m, err := s.startMeter(ctx)
	if err != nil {
		return res, err
	}
	stopProfile := prof.start(prof.Enqueue)
	start := time.Now()
	err = inChunks(ctx, n, cfg.Batch, cfg.Producers, func(from, to int) error {
		_, err := task.AddMany(ctx, d, inputs[from:to])
		return err
	})
	res.Enqueue = time.Since(start)
	stopProfile()
	if err != nil {
		return res, fmt.Errorf("enqueue: %w", err)
	}
	if res.EnqueueCost, err = m.stop(ctx); err != nil {
		return res, err
	}
	if res.MemAfter, err = s.usedMemory(ctx); err != nil {
		return res, err
	}
	snap, err := d.Snapshot(ctx, sdk.Limit(0))
	if err != nil {
		return res, err
	}
	res.Queued = snap.TotalWaiting

	// Process.
	if m, err = s.startMeter(ctx); err != nil {
		return res, err
	}
	trips := newRoundTrips()
	d.Redis().AddHook(trips)
	w := worker.New(d, worker.Options{Concurrency: cfg.Concurrency})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	stopProfile = prof.start(prof.Process)
	start = time.Now()
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	select {
	case end := <-finished:
		res.Process = end.Sub(start)
	case err := <-done:
		stopProfile()
		return res, fmt.Errorf("worker stopped early (ran %d of %d): %v", ran.Load(), n, err)
	case <-time.After(cfg.Timeout):
		stopProfile()
		return res, fmt.Errorf("process: timed out after %v with %d of %d run", cfg.Timeout, ran.Load(), n)
	}
	stopProfile()
	if res.ProcessCost, err = m.stop(ctx); err != nil {
		return res, err
	}
	res.RoundTrips = trips.String()
	stop()
	if err := <-done; err != nil {
		return res, err
	}
	res.Ran = int(ran.Load())
	if res.MemFinal, err = s.usedMemory(ctx); err != nil {
		return res, err
	}
	snap, err = d.Snapshot(ctx, sdk.Limit(0))
	if err != nil {
		return res, err
	}
	if snap.TotalWaiting+snap.TotalRunning != 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d tasks left after the run", snap.TotalWaiting+snap.TotalRunning))
	}
	return res, nil
}

func (c docketContender) Latency(ctx context.Context, s *server, cfg config, loadRate float64) (res latencyResult, err error) {
	d, err := c.open(ctx, s, "bench")
	if err != nil {
		return res, err
	}
	defer d.Close()

	var mu sync.Mutex
	lateness := make([]float64, 0, cfg.LatencyCount)
	finished := make(chan struct{})
	var loadRan atomic.Int64
	timedTask := sdk.NewTask("timed", func(ctx context.Context, in timed) error {
		late := ms(time.Since(time.Unix(0, in.Due)))
		mu.Lock()
		lateness = append(lateness, late)
		if len(lateness) == cfg.LatencyCount {
			close(finished)
		}
		mu.Unlock()
		return nil
	})
	loadTask := sdk.NewTask("noop", func(ctx context.Context, in noop) error {
		loadRan.Add(1)
		return nil
	})
	if err := d.Register(timedTask, loadTask); err != nil {
		return res, err
	}

	w := worker.New(d, worker.Options{Concurrency: cfg.Concurrency})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()

	load := startLoad(ctx, loadRate, func(n int) error {
		_, err := loadTask.AddMany(ctx, d, make([]noop, n))
		return err
	})
	time.Sleep(settle) // the worker is up, idle or busy with the load

	base := time.Now()
	err = inChunks(ctx, cfg.LatencyCount, 1, schedulers, func(i, _ int) error {
		due := base.Add(cfg.dueOffset(i))
		_, err := timedTask.Add(ctx, d, timed{Due: due.UnixNano()}, sdk.At(due))
		return err
	})
	res.ScheduledWithin = time.Since(base)
	if err != nil {
		load.stop()
		return res, fmt.Errorf("schedule: %w", err)
	}
	select {
	case <-finished:
	case <-time.After(cfg.SpreadTo + latencyGrace):
		res.Notes = append(res.Notes, "timed out waiting for the scheduled tasks")
	}
	res.Load = load.stop()
	res.Load.Ran = int(loadRan.Load())
	stop()
	if err := <-done; err != nil {
		return res, err
	}
	mu.Lock()
	res.Lateness = lateness
	mu.Unlock()
	res.Count = cfg.LatencyCount
	return res, nil
}

// profiles names the CPU profiles to write of this project's phases; empty
// names write none.
type profiles struct {
	Enqueue, Process string
}

// start starts a CPU profile written to path, if path is not empty, and
// returns what stops it.
func (profiles) start(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
