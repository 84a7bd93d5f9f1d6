// Reports shows cron tasks: tasks that run at wall-clock instants given by
// a cron expression, in UTC or in a time zone of their own, across
// daylight-saving changes. Cron tasks are automatic: they are registered,
// never added, and start themselves when a worker starts, keyed by their
// names, each first due at its expression's next instant.
//
//   - weekly_report: "0 9 * * 1", Mondays at 09:00 UTC
//   - morning_standup: "0 9 * * 1-5" in America/Los_Angeles, weekdays at
//     09:00 there (17:00 UTC in winter, 16:00 UTC in summer)
//   - tokyo_report: "30 17 * * *" in Asia/Tokyo, 17:30 there (08:30 UTC)
//   - daily_cleanup: "@daily", midnight UTC
//
// Each run prints its instant in UTC and in the task's zone. The worker
// runs for -for (3s by default; 0 runs it until Ctrl-C), after which the
// program prints when each task is next due:
//
//	go run ./samples/reports
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/reports
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
	_ "time/tzdata" // the zones load even on a machine without a zone database

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
)

// stamp is how a run prints its instant.
const stamp = "Mon 2006-01-02 15:04 MST"

// reportTasks builds the cron tasks. Being automatic, they take no input:
// their input struct has no fields.
func reportTasks(out io.Writer) ([]sdk.Registrable, error) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		return nil, err
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return nil, err
	}
	say := sample.Printer(out)
	// cronTask is a task that prints what it did, at its due instant in
	// UTC and in loc.
	cronTask := func(name, expr string, loc *time.Location, what string) sdk.Registrable {
		return sdk.NewTask(name, func(ctx context.Context, _ struct{}) error {
			due := sdk.Current(ctx).Due()
			say("%s  %-15s %s (%s)", due.UTC().Format(stamp), name, what, due.In(loc).Format(stamp))
			return nil
		}, policy.Cron(expr, policy.In(loc)))
	}
	return []sdk.Registrable{
		cronTask("weekly_report", "0 9 * * 1", time.UTC, "weekly report generated and sent"),
		cronTask("morning_standup", "0 9 * * 1-5", la, "standup reminder sent"),
		cronTask("tokyo_report", "30 17 * * *", tokyo, "daily report for Tokyo"),
		cronTask("daily_cleanup", "@daily", time.UTC, "old records cleaned up"),
	}, nil
}

func main() {
	runFor := flag.Duration("for", 3*time.Second, "how long to run the worker; 0 runs it until Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, runFor time.Duration) error {
	d, err := sample.Open(ctx, "reports")
	if err != nil {
		return err
	}
	defer d.Close()

	tasks, err := reportTasks(out)
	if err != nil {
		return err
	}
	// No Add: the worker starts each cron task at its next instant.
	if err := d.Register(tasks...); err != nil {
		return err
	}
	if err := sample.RunWorker(ctx, d, runFor); err != nil {
		return err
	}

	for _, t := range tasks {
		info, err := d.Execution(t.Name()).Info(context.WithoutCancel(ctx))
		if errors.Is(err, sdk.ErrNotFound) {
			fmt.Fprintf(out, "next %-15s not started: the worker stopped first\n", t.Name())
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "next %-15s %s\n", t.Name(), info.Due.UTC().Format(stamp))
	}
	return nil
}
