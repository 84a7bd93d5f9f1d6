package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/chaos/internal/tasks"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

func main() {
	os.Exit(run())
}

func run() int {
	url := flag.String("url", "", "Redis URL of the docket")
	recordURL := flag.String("record-url", "", "Redis URL of the tasks' record (default: -url)")
	runsPath := flag.String("runs", "", "file to log each task run in (default: none)")
	name := flag.String("name", "chaos", "docket name")
	label := flag.String("label", "chaos", "worker name, in its ID")
	concurrency := flag.Int("concurrency", 10, "tasks at once")
	lease := flag.Duration("lease", 2*time.Second, "lease of a claimed task")
	drain := flag.Duration("drain", 10*time.Second, "drain timeout at shutdown")
	maxDeliveries := flag.Int("max-deliveries", 50, "deliveries of one attempt before it is dead-lettered")
	retention := flag.Duration("retention", 2*time.Hour, "how long finished executions stay inspectable")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// A replacement may start while Redis is down: keep trying.
	var d *sdk.Docket
	for {
		var err error
		d, err = sdk.Open(ctx, *url, sdk.WithName(*name), sdk.WithRetention(*retention), sdk.WithLogger(log))
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintln(os.Stderr, "chaos worker: open:", err)
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(100 * time.Millisecond):
		}
	}
	defer d.Close()
	if *recordURL == "" {
		*recordURL = *url
	}
	opt, err := redis.ParseURL(*recordURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker: -record-url:", err)
		return 2
	}
	// The tasks retry their writes themselves, and give up on one when
	// their context ends (see tasks.do); a write go-redis retried on its
	// own, later, would be a write of a task that has already stopped.
	opt.MaxRetries = -1
	rec := redis.NewClient(opt)
	defer rec.Close()
	var runs *tasks.RunLog
	if *runsPath != "" {
		f, err := os.OpenFile(*runsPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos worker:", err)
			return 2
		}
		defer f.Close()
		runs = tasks.NewRunLog(f)
	}
	if err := d.Register(tasks.New(*name, rec, runs).All()...); err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		return 2
	}
	w := worker.New(d, worker.Options{
		Concurrency:   *concurrency,
		Lease:         *lease,
		DrainTimeout:  *drain,
		MaxDeliveries: *maxDeliveries,
		Name:          *label,
	})
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos worker:", err)
		return 1
	}
	return 0
}
