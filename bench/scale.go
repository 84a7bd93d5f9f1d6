package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"time"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/ui"
	"github.com/docket-go/docket/worker"
)

// scaleSettings are the scale benchmark's (-only scale).
type scaleSettings struct {
	N           int           // tasks queued at once
	Concurrency int           // of the one worker that processes them
	Step        int           // tasks per reported segment of the processing
	Reads       int           // Snapshot and overview calls measured, at the peak
	Timeout     time.Duration // the longest the processing may take
}

// runScale queues N no-op tasks at once, measures what a Snapshot and the
// dashboard's overview cost with all of them queued, then processes them
// with one worker and reports the rate of each Step tasks, so that a rate
// that degrades as the backlog shrinks (or grows with it) shows; and Redis
// memory before, at the peak and after.
func runScale(ctx context.Context, srv *server, o options) error {
	st := o.scale
	if st.N <= 0 || st.Step <= 0 || st.Concurrency <= 0 || st.Reads <= 0 {
		return fmt.Errorf("bad settings: -scale-n, -scale-step, -scale-concurrency and -scale-reads must be positive")
	}
	d, err := docketContender{}.open(ctx, srv, "scale")
	if err != nil {
		return err
	}
	defer d.Close()
	var ran atomic.Int64
	task := sdk.NewTask("noop", func(ctx context.Context, in noop) error {
		ran.Add(1)
		return nil
	})
	if err := d.Register(task); err != nil {
		return err
	}

	fmt.Printf("Scale: %d no-op tasks queued at once, then processed by one worker at concurrency %d (completed records deleted)\n", st.N, st.Concurrency)
	before, err := srv.usedMemory(ctx)
	if err != nil {
		return err
	}
	inputs := make([]noop, o.cfg.Batch)
	start := time.Now()
	err = inChunks(ctx, st.N, o.cfg.Batch, o.cfg.Producers, func(from, to int) error {
		_, err := task.AddMany(ctx, d, inputs[:to-from])
		return err
	})
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	enqueue := time.Since(start)
	peak, err := srv.usedMemory(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("  enqueue         %d tasks in %.2fs: %.0f tasks/s\n", st.N, enqueue.Seconds(), float64(st.N)/enqueue.Seconds())
	fmt.Printf("  redis memory    before %s, queued %s (%.0f B/task)\n", mib(before), mib(peak), float64(peak-before)/float64(st.N))

	if err := measureReads(ctx, srv, d, st.Reads); err != nil {
		return err
	}

	trace, err := processAll(ctx, d, st, &ran)
	if err != nil {
		return err
	}
	after, err := srv.usedMemory(ctx)
	if err != nil {
		return err
	}
	printSegments(trace, st)
	fmt.Printf("  redis memory    after processing %s (%+.0f B/task against before)\n", mib(after), float64(after-before)/float64(st.N))
	return nil
}

// measureReads times Snapshot and the dashboard's overview page, each
// reads times: end to end, and the CPU Redis spent meanwhile (INFO cpu;
// the meter's own INFO calls included, a few tens of µs). Commandstats
// would count the commands a script calls twice, in the script's time
// and in their own.
func measureReads(ctx context.Context, srv *server, d *sdk.Docket, reads int) error {
	h, err := ui.New(d, ui.Options{})
	if err != nil {
		return err
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Snapshot", func() error { _, err := d.Snapshot(ctx); return err }},
		{"overview", func() error {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil))
			if rec.Code != http.StatusOK {
				return fmt.Errorf("overview: HTTP %d: %s", rec.Code, rec.Body.String())
			}
			return nil
		}},
	}
	for _, c := range calls {
		var wall, redis []float64
		for range reads {
			m, err := srv.startMeter(ctx)
			if err != nil {
				return err
			}
			start := time.Now()
			if err := c.call(); err != nil {
				return err
			}
			wall = append(wall, ms(time.Since(start)))
			spent, err := m.stop(ctx)
			if err != nil {
				return err
			}
			redis = append(redis, spent.RedisCPU*1000)
		}
		fmt.Printf("  %-15s with all queued, median [min..max] of %d: %.2f ms [%.2f..%.2f] end to end, Redis CPU %.2f ms [%.2f..%.2f]\n",
			c.name, reads, median(wall), slices.Min(wall), slices.Max(wall), median(redis), slices.Min(redis), slices.Max(redis))
	}
	return nil
}

// mark is how many tasks had run at an instant.
type mark struct {
	at  time.Duration
	ran int64
}

// processAll runs one worker until every task has run, sampling the count
// every few milliseconds.
func processAll(ctx context.Context, d *sdk.Docket, st scaleSettings, ran *atomic.Int64) ([]mark, error) {
	w := worker.New(d, worker.Options{Concurrency: st.Concurrency})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- w.Run(runCtx) }()
	trace := []mark{{}}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(st.Timeout)
	for trace[len(trace)-1].ran < int64(st.N) {
		select {
		case <-tick.C:
			trace = append(trace, mark{at: time.Since(start), ran: ran.Load()})
		case err := <-done:
			return nil, fmt.Errorf("the worker stopped: %v", err)
		case <-deadline:
			return nil, fmt.Errorf("%d of %d tasks ran in %v", ran.Load(), st.N, st.Timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	stop()
	return trace, <-done
}

// printSegments prints the rate of each Step tasks of the processing.
func printSegments(trace []mark, st scaleSettings) {
	end := trace[len(trace)-1]
	fmt.Printf("  process         %d tasks in %.2fs: %.0f tasks/s overall\n", st.N, end.at.Seconds(), float64(st.N)/end.at.Seconds())
	var rates []float64
	from := trace[0]
	next := int64(st.Step)
	for _, m := range trace[1:] {
		if m.ran < next && m.ran < int64(st.N) {
			continue
		}
		rate := float64(m.ran-from.ran) / (m.at - from.at).Seconds()
		rates = append(rates, rate)
		fmt.Printf("    tasks %7d..%7d  %6.2fs..%6.2fs  %7.0f tasks/s\n", from.ran, m.ran, from.at.Seconds(), m.at.Seconds(), rate)
		from = m
		next = m.ran + int64(st.Step)
	}
	if len(rates) > 1 {
		fmt.Printf("  segments        median %.0f tasks/s [%.0f..%.0f]; last / first %.2f\n",
			median(rates), slices.Min(rates), slices.Max(rates), rates[len(rates)-1]/rates[0])
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
