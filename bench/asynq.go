package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

// asynqContender is github.com/hibiken/asynq v0.26.0, in its default
// configuration apart from Concurrency and the log level.
//
// asynq has no public batch enqueue and no pipelining through its Client:
// each Client.Enqueue is one round trip running one script. Its fastest
// public path is many concurrent Enqueue calls, on a connection pool at
// least as large.
type asynqContender struct{}

func (asynqContender) Name() string { return "asynq" }

func (asynqContender) Describe(cfg config) string {
	return fmt.Sprintf("enqueue: Client.Enqueue (no batch API), %d concurrent caller(s); process: one asynq.Server, Concurrency %d",
		asynqProducers(cfg), cfg.Concurrency)
}

// asynqProducers is how many goroutines call Enqueue.
func asynqProducers(cfg config) int { return max(cfg.AsynqProducers, 1) }

func (asynqContender) redisOpt(s *server, cfg config) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: s.addr(), PoolSize: max(asynqProducers(cfg)+cfg.Concurrency, 20)}
}

func (c asynqContender) server(s *server, cfg config) *asynq.Server {
	return asynq.NewServer(c.redisOpt(s, cfg), asynq.Config{
		Concurrency: cfg.Concurrency,
		LogLevel:    asynq.WarnLevel,
		// Everything else is asynq's default: TaskCheckInterval 1s (the
		// processor's sleep when the queues are empty) and
		// DelayedTaskCheckInterval 5s (how often scheduled tasks are
		// forwarded to their queue).
	})
}

func (c asynqContender) Throughput(ctx context.Context, s *server, cfg config, _ profiles) (throughputResult, error) {
	if cfg.Warmup > 0 {
		if _, err := c.round(ctx, s, cfg, cfg.Warmup); err != nil {
			return throughputResult{}, fmt.Errorf("warm-up: %w", err)
		}
		if err := s.flush(ctx); err != nil {
			return throughputResult{}, err
		}
	}
	return c.round(ctx, s, cfg, cfg.N)
}

func (c asynqContender) round(ctx context.Context, s *server, cfg config, n int) (res throughputResult, err error) {
	client := asynq.NewClient(c.redisOpt(s, cfg))
	defer client.Close()

	// Enqueue.
	res.N = n
	if res.MemBefore, err = s.usedMemory(ctx); err != nil {
		return res, err
	}
	m, err := s.startMeter(ctx)
	if err != nil {
		return res, err
	}
	start := time.Now()
	err = inChunks(ctx, n, 1, asynqProducers(cfg), func(i, _ int) error {
		payload, err := json.Marshal(noop{I: i})
		if err != nil {
			return err
		}
		_, err = client.EnqueueContext(ctx, asynq.NewTask("noop", payload))
		return err
	})
	res.Enqueue = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("enqueue: %w", err)
	}
	if res.EnqueueCost, err = m.stop(ctx); err != nil {
		return res, err
	}
	if res.MemAfter, err = s.usedMemory(ctx); err != nil {
		return res, err
	}
	insp := asynq.NewInspector(c.redisOpt(s, cfg))
	defer insp.Close()
	if q, err := insp.GetQueueInfo("default"); err == nil {
		res.Queued = q.Pending
	}

	// Process.
	var ran atomic.Int64
	finished := make(chan time.Time, 1)
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(ctx context.Context, t *asynq.Task) error {
		if ran.Add(1) == int64(n) {
			finished <- time.Now()
		}
		return nil
	})
	if m, err = s.startMeter(ctx); err != nil {
		return res, err
	}
	srv := c.server(s, cfg)
	start = time.Now()
	if err := srv.Start(mux); err != nil {
		return res, err
	}
	select {
	case end := <-finished:
		res.Process = end.Sub(start)
	case <-time.After(cfg.Timeout):
		srv.Shutdown()
		return res, fmt.Errorf("process: timed out after %v with %d of %d run", cfg.Timeout, ran.Load(), n)
	}
	if res.ProcessCost, err = m.stop(ctx); err != nil {
		return res, err
	}
	srv.Shutdown()
	res.Ran = int(ran.Load())
	if res.MemFinal, err = s.usedMemory(ctx); err != nil {
		return res, err
	}
	if q, err := insp.GetQueueInfo("default"); err == nil && q.Size != 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d tasks left after the run", q.Size))
	}
	return res, nil
}

func (c asynqContender) Latency(ctx context.Context, s *server, cfg config, loadRate float64) (res latencyResult, err error) {
	client := asynq.NewClient(c.redisOpt(s, cfg))
	defer client.Close()

	var mu sync.Mutex
	lateness := make([]float64, 0, cfg.LatencyCount)
	finished := make(chan struct{})
	var loadRan atomic.Int64
	mux := asynq.NewServeMux()
	mux.HandleFunc("timed", func(ctx context.Context, t *asynq.Task) error {
		var in timed
		if err := json.Unmarshal(t.Payload(), &in); err != nil {
			return err
		}
		late := ms(time.Since(time.Unix(0, in.Due)))
		mu.Lock()
		lateness = append(lateness, late)
		if len(lateness) == cfg.LatencyCount {
			close(finished)
		}
		mu.Unlock()
		return nil
	})
	mux.HandleFunc("noop", func(ctx context.Context, t *asynq.Task) error {
		loadRan.Add(1)
		return nil
	})
	srv := c.server(s, cfg)
	if err := srv.Start(mux); err != nil {
		return res, err
	}
	defer srv.Shutdown()

	// The load: each tick's tasks are enqueued by concurrent callers, as
	// in the throughput measurement.
	var seq atomic.Int64
	load := startLoad(ctx, loadRate, func(n int) error {
		return inChunks(ctx, n, 1, asynqProducers(cfg), func(int, int) error {
			payload, err := json.Marshal(noop{I: int(seq.Add(1))})
			if err != nil {
				return err
			}
			_, err = client.EnqueueContext(ctx, asynq.NewTask("noop", payload))
			return err
		})
	})
	time.Sleep(settle)

	base := time.Now()
	err = inChunks(ctx, cfg.LatencyCount, 1, schedulers, func(i, _ int) error {
		due := base.Add(cfg.dueOffset(i))
		payload, err := json.Marshal(timed{Due: due.UnixNano()})
		if err != nil {
			return err
		}
		_, err = client.EnqueueContext(ctx, asynq.NewTask("timed", payload), asynq.ProcessAt(due))
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
	mu.Lock()
	res.Lateness = lateness
	mu.Unlock()
	res.Count = cfg.LatencyCount
	return res, nil
}
