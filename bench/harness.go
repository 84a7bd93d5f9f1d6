package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// config is one benchmark run's settings, the same for every contender.
type config struct {
	N           int // no-op tasks per throughput measurement
	Concurrency int // of the one worker/server of each contender
	Batch       int // tasks per batch-enqueue call
	Producers   int // concurrent batch-enqueue callers (docket, BullMQ)
	// AsynqProducers is how many goroutines call asynq's Client.Enqueue,
	// which has no batch form: concurrency is its only way to overlap
	// round trips.
	AsynqProducers int
	Warmup         int           // tasks enqueued and processed before each measurement, not timed
	Timeout        time.Duration // the longest one processing phase may take

	LatencyCount int           // tasks scheduled for a future instant
	SpreadFrom   time.Duration // the first is due this long after scheduling starts
	SpreadTo     time.Duration // the last just before this long after
}

// dueOffset is how long after scheduling started the i-th scheduled task is
// due: instants spread evenly over [SpreadFrom, SpreadTo).
func (c config) dueOffset(i int) time.Duration {
	return c.SpreadFrom + time.Duration(int64(c.SpreadTo-c.SpreadFrom)*int64(i)/int64(c.LatencyCount))
}

const (
	settle       = 300 * time.Millisecond // before scheduling: the worker is up, and the load is flowing
	schedulers   = 8                      // concurrent callers scheduling the timed tasks
	latencyGrace = 20 * time.Second       // how long past the last due instant to wait for stragglers
	loadTick     = 10 * time.Millisecond  // the load producer adds a batch this often
)

// throughputResult is one throughput measurement of one contender.
type throughputResult struct {
	N, Ran, Queued      int
	Enqueue, Process    time.Duration
	MemBefore, MemAfter int64 // Redis used_memory before and after the enqueue
	MemFinal            int64 // and after processing, once the worker stopped
	EnqueueCost         cost
	ProcessCost         cost
	RoundTrips          string // what the process phase's round trips carried, when known
	Notes               []string
}

func (r throughputResult) enqueueRate() float64 { return float64(r.N) / r.Enqueue.Seconds() }
func (r throughputResult) processRate() float64 { return float64(r.N) / r.Process.Seconds() }
func (r throughputResult) memPerTask() float64 {
	return float64(r.MemAfter-r.MemBefore) / float64(r.N)
}

// retainedPerTask is what each task still holds in Redis once processed.
func (r throughputResult) retainedPerTask() float64 {
	return float64(r.MemFinal-r.MemBefore) / float64(r.N)
}

// latencyResult is one lateness measurement of one contender.
type latencyResult struct {
	Count           int
	Lateness        []float64 // ms, start minus due, one per task that ran
	ScheduledWithin time.Duration
	Load            loadStats
	Notes           []string
}

// contender is one task queue under test.
type contender interface {
	Name() string
	Describe(config) string
	Throughput(ctx context.Context, s *server, cfg config, prof profiles) (throughputResult, error)
	// Latency schedules cfg.LatencyCount tasks due at instants spread over
	// [SpreadFrom, SpreadTo) from now, while no-op tasks are added at
	// loadRate a second (none when 0), and reports each one's lateness.
	Latency(ctx context.Context, s *server, cfg config, loadRate float64) (latencyResult, error)
}

// inChunks calls fn on [from, to) ranges of [0, n) of at most batch items,
// from the given number of concurrent callers, and returns the first error.
func inChunks(ctx context.Context, n, batch, callers int, fn func(from, to int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range max(callers, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				from := int(next.Add(int64(batch))) - batch
				if from >= n {
					return
				}
				if err := fn(from, min(from+batch, n)); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// loadStats is what a load producer did.
type loadStats struct {
	Rate    float64 // asked for, tasks a second
	Added   int
	Ran     int
	Seconds float64
	Err     error
}

// loader adds no-op tasks at a steady rate, in a batch every loadTick.
type loader struct {
	stats  loadStats
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}
}

// startLoad starts adding tasks at rate a second with add (called with how
// many to add); a zero rate adds none.
func startLoad(ctx context.Context, rate float64, add func(n int) error) *loader {
	ctx, cancel := context.WithCancel(ctx)
	l := &loader{stats: loadStats{Rate: rate}, start: time.Now(), cancel: cancel, done: make(chan struct{})}
	if rate <= 0 {
		close(l.done)
		return l
	}
	go func() {
		defer close(l.done)
		t := time.NewTicker(loadTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			want := int(rate*time.Since(l.start).Seconds()) - l.stats.Added
			if want <= 0 {
				continue
			}
			if err := add(want); err != nil {
				if ctx.Err() == nil {
					l.stats.Err = err
				}
				return
			}
			l.stats.Added += want
		}
	}()
	return l
}

// stop ends the load and reports it.
func (l *loader) stop() loadStats {
	l.cancel()
	<-l.done
	l.stats.Seconds = time.Since(l.start).Seconds()
	return l.stats
}
