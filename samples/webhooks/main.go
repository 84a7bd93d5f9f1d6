// Webhooks puts cooldown and debounce side by side. Two tasks receive the
// same bursts of webhook events, at the same instants:
//
//   - process_webhooks_cooldown, with policy.TaskCooldown: the first
//     submission runs at once and opens a window; submissions within the
//     window (measured from that run's start) are dropped. Good for
//     deduplicating rapid-fire events.
//   - process_webhooks_debounce, with policy.TaskDebounce: a burst of
//     submissions runs once, when the burst has settled (the settle time
//     after its last submission), with the burst's first submission's
//     input; the others are dropped. Good for batching a burst into one
//     action.
//
// A dropped submission ends in state cancelled, with the reason in its
// Info.Error. policy.Cooldown("customer_id", window) and
// policy.Debounce("customer_id", settle) do the same per value of an input
// field.
//
// The story is told in seconds (a 30s cooldown, a 5s settle time, events at
// 0s, 1s, 2s, 4s, 20s, 22s, 35s and 36s), played ten times faster so that
// it takes four seconds. The program prints each run as it happens, then,
// for each submission to each task, whether it ran and when, or why it was
// dropped:
//
//	go run ./samples/webhooks
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/webhooks
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
// On a Redis, cooldown windows outlive the program: run it again within
// three seconds of its end and the window opened by evt-7 drops the new
// evt-1 too.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// Webhook is the input of both tasks.
type Webhook struct {
	Event string `json:"event"`
}

// submission is an event and the instant it arrives, in seconds of the
// story.
type submission struct {
	At    int
	Event string
}

// The story's windows, in seconds, and its events: three bursts.
const (
	cooldownSeconds = 30
	settleSeconds   = 5
)

var events = []submission{
	{0, "evt-1"}, {1, "evt-2"}, {2, "evt-3"}, {4, "evt-4"}, // settles at 9s
	{20, "evt-5"}, {22, "evt-6"}, // settles at 27s
	{35, "evt-7"}, {36, "evt-8"}, // after the cooldown window of evt-1; settles at 41s
}

// tasks are the two tasks. second is how long a second of the story lasts.
type tasks struct {
	Cooldown *sdk.Task[Webhook]
	Debounce *sdk.Task[Webhook]
	second   time.Duration
}

// newTasks builds the tasks; each run prints the event it handles and its
// offset from t0, through say.
func newTasks(second time.Duration, t0 time.Time, say func(format string, args ...any)) tasks {
	handle := func(task string) func(context.Context, Webhook) error {
		return func(ctx context.Context, in Webhook) error {
			say("%8s  %s handles %s (run %s)", offset(time.Since(t0)), task, in.Event, sdk.Current(ctx).Key())
			return nil
		}
	}
	return tasks{
		Cooldown: sdk.NewTask("process_webhooks_cooldown", handle("process_webhooks_cooldown"),
			policy.TaskCooldown(cooldownSeconds*second)),
		Debounce: sdk.NewTask("process_webhooks_debounce", handle("process_webhooks_debounce"),
			policy.TaskDebounce(settleSeconds*second)),
		second: second,
	}
}

// sent is one event submitted to both tasks.
type sent struct {
	submission
	Cooldown, Debounce *sdk.Execution
}

// replay submits every event to both tasks at its instant: wait(d) lets d
// pass between two events (time.Sleep in the program, env.Advance in
// tests). Each submission's key names its task and event.
func replay(ctx context.Context, d *sdk.Docket, ts tasks, wait func(time.Duration)) ([]sent, error) {
	var out []sent
	at := 0
	for _, ev := range events {
		if ev.At > at {
			wait(time.Duration(ev.At-at) * ts.second)
			at = ev.At
		}
		c, err := ts.Cooldown.Add(ctx, d, Webhook{ev.Event}, sdk.Key("cooldown-"+ev.Event))
		if err != nil {
			return nil, err
		}
		b, err := ts.Debounce.Add(ctx, d, Webhook{ev.Event}, sdk.Key("debounce-"+ev.Event))
		if err != nil {
			return nil, err
		}
		out = append(out, sent{ev, c, b})
	}
	return out, nil
}

// report prints, for each task, what became of each submission: when it
// ran, or why it was dropped. Instants are offsets from t0 on the docket's
// clock (Redis's).
func report(ctx context.Context, out io.Writer, ts tasks, t0 time.Time, all []sent) error {
	for _, task := range []struct {
		name   string
		policy policy.Policy
		pick   func(sent) *sdk.Execution
	}{
		{ts.Cooldown.Name(), policy.TaskCooldown(cooldownSeconds * ts.second), func(s sent) *sdk.Execution { return s.Cooldown }},
		{ts.Debounce.Name(), policy.TaskDebounce(settleSeconds * ts.second), func(s sent) *sdk.Execution { return s.Debounce }},
	} {
		fmt.Fprintf(out, "%s, %s:\n", task.name, task.policy)
		for _, s := range all {
			info, err := task.pick(s).Info(ctx)
			if err != nil {
				return err
			}
			var fate string
			switch info.State {
			case sdk.StateCompleted:
				fate = "ran at " + offset(info.Started.Sub(t0))
			case sdk.StateCancelled:
				fate = "dropped: " + info.Error
			default:
				fate = fmt.Sprintf("%s (%s)", info.State, info.Error)
			}
			fmt.Fprintf(out, "  %s submitted at %-7s %s\n", s.Event, offset(info.Created.Sub(t0))+":", fate)
		}
	}
	return nil
}

// offset prints a duration from t0, rounded for the eye.
func offset(d time.Duration) string {
	return "+" + d.Round(10*time.Millisecond).String()
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// second is how long a second of the story lasts in the program.
const second = 100 * time.Millisecond

func run(ctx context.Context, out io.Writer) error {
	d, err := sample.Open(ctx, "webhooks")
	if err != nil {
		return err
	}
	defer d.Close()

	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}

	// t0 on the docket's clock, for the report, and on this process's
	// clock, for the runs as they print.
	snap, err := d.Snapshot(ctx)
	if err != nil {
		return err
	}
	t0 := snap.Now
	ts := newTasks(second, time.Now(), say)
	if err := d.Register(ts.Cooldown, ts.Debounce); err != nil {
		return err
	}

	// The worker runs while the events arrive.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	w := worker.New(d, worker.Options{Concurrency: 4})
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()

	// Sleep until each event's instant, measured from the start, so that
	// the time spent adding does not add up.
	start, elapsed := time.Now(), time.Duration(0)
	all, err := replay(ctx, d, ts, func(d time.Duration) {
		elapsed += d
		time.Sleep(time.Until(start.Add(elapsed)))
	})
	if err == nil {
		err = waitUntilEmpty(ctx, d)
	}
	stop()
	if werr := <-done; err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	return report(ctx, out, ts, t0, all)
}

// waitUntilEmpty waits until the docket holds no task: every submission has
// run or been dropped.
func waitUntilEmpty(ctx context.Context, d *sdk.Docket) error {
	for {
		snap, err := d.Snapshot(ctx)
		if err != nil {
			return err
		}
		if snap.TotalWaiting == 0 && snap.TotalRunning == 0 {
			return nil
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return errors.Join(ctx.Err(), fmt.Errorf("%d tasks left", snap.TotalWaiting+snap.TotalRunning))
		}
	}
}
