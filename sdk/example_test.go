package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

type Invoice struct {
	ID     int    `json:"id"`
	Amount int    `json:"amount"`
	Email  string `json:"email"`
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A task is a function with a typed input, registered on a docket; a
// worker runs what producers add.
func Example() {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://example", sdk.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	defer d.Close()

	sendInvoice := sdk.NewTask("send_invoice", func(ctx context.Context, in Invoice) error {
		fmt.Printf("invoice %d: %d cents to %s\n", in.ID, in.Amount, in.Email)
		return nil
	}, policy.Retry(3, time.Second))
	if err := d.Register(sendInvoice); err != nil {
		panic(err)
	}

	ex, err := sendInvoice.Add(ctx, d, Invoice{ID: 7, Amount: 1250, Email: "ada@example.com"}, sdk.Key("invoice-7"))
	if err != nil {
		panic(err)
	}
	fmt.Println(ex.Key(), ex.Disposition())

	if err := worker.New(d, worker.Options{}).RunUntilIdle(ctx); err != nil {
		panic(err)
	}
	info, err := ex.Info(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(info.State, "after", info.Attempt, "attempt")
	// Output:
	// invoice-7 scheduled
	// invoice 7: 1250 cents to ada@example.com
	// completed after 1 attempt
}

// Adding a key that is already scheduled, queued or running does nothing.
func ExampleKey() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-key")
	defer d.Close()
	remind := sdk.NewTask("remind", func(ctx context.Context, in Invoice) error { return nil })

	first, _ := remind.Add(ctx, d, Invoice{ID: 1}, sdk.Key("remind-1"), sdk.After(time.Hour))
	second, _ := remind.Add(ctx, d, Invoice{ID: 1}, sdk.Key("remind-1"))
	fmt.Println(first.Disposition())
	fmt.Println(second.Disposition())
	// Output:
	// scheduled
	// already scheduled
}

// Inside a task, Current tells which attempt this is.
func ExampleCurrent() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-current", sdk.WithLogger(quiet))
	defer d.Close()
	flaky := sdk.NewTask("flaky", func(ctx context.Context, in Invoice) error {
		attempt := sdk.Current(ctx).Attempt()
		fmt.Println("attempt", attempt)
		if attempt < 3 {
			return errors.New("not yet")
		}
		return nil
	}, policy.Retry(5, 0))
	_ = d.Register(flaky)
	_, _ = flaky.Add(ctx, d, Invoice{ID: 1})
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilIdle(ctx)
	// Output:
	// attempt 1
	// attempt 2
	// attempt 3
}

// Cancel ends a scheduled task before it runs.
func ExampleDocket_Cancel() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-cancel")
	defer d.Close()
	remind := sdk.NewTask("remind", func(ctx context.Context, in Invoice) error { return nil })
	ex, _ := remind.Add(ctx, d, Invoice{ID: 1}, sdk.After(time.Hour))

	fmt.Println(d.Cancel(ctx, ex.Key()))
	info, _ := ex.Info(ctx)
	fmt.Println(info.State)
	fmt.Println(errors.Is(d.Cancel(ctx, ex.Key()), sdk.ErrNotFound))
	// Output:
	// <nil>
	// cancelled
	// true
}

// With a zero completed retention, a completed execution's record goes as
// soon as it completes; a failure is kept for the retention.
func ExampleWithCompletedRetention() {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://example-completed", sdk.WithLogger(quiet), sdk.WithCompletedRetention(0))
	if err != nil {
		panic(err)
	}
	defer d.Close()

	ping := sdk.NewTask("ping", func(ctx context.Context, in Invoice) error {
		if in.ID < 0 {
			return errors.New("no such invoice")
		}
		return nil
	})
	if err := d.Register(ping); err != nil {
		panic(err)
	}
	ok, _ := ping.Add(ctx, d, Invoice{ID: 1})
	bad, _ := ping.Add(ctx, d, Invoice{ID: -1})
	if err := worker.New(d, worker.Options{}).RunUntilIdle(ctx); err != nil {
		panic(err)
	}
	_, err = ok.Info(ctx)
	fmt.Println(errors.Is(err, sdk.ErrNotFound))
	info, _ := bad.Info(ctx)
	fmt.Println(info.State, info.Error)
	// Output:
	// true
	// failed no such invoice
}

// Permanent fails the execution on this attempt, whatever the retry
// policy: a declined card will not be accepted on a retry.
func ExamplePermanent() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-permanent", sdk.WithLogger(quiet))
	defer d.Close()
	declined := errors.New("card declined")
	charge := sdk.NewTask("charge", func(ctx context.Context, in Invoice) error {
		fmt.Println("charging invoice", in.ID)
		return sdk.Permanent(fmt.Errorf("invoice %d: %w", in.ID, declined))
	}, policy.Retry(5, time.Second))
	_ = d.Register(charge)
	ex, _ := charge.Add(ctx, d, Invoice{ID: 7})
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	info, _ := ex.Info(ctx)
	fmt.Println(info.State, "after", info.Attempt, "attempt:", info.Error)
	// Output:
	// charging invoice 7
	// failed after 1 attempt: invoice 7: card declined
}

// Snooze runs the same attempt again later, without counting a failure:
// here, until the upstream report is ready.
func ExampleSnooze() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-snooze", sdk.WithLogger(quiet))
	defer d.Close()
	checks := 0
	fetch := sdk.NewTask("fetch_report", func(ctx context.Context, in Invoice) error {
		checks++
		if checks < 3 {
			fmt.Println("not ready; attempt", sdk.Current(ctx).Attempt())
			return sdk.Snooze(10 * time.Millisecond)
		}
		fmt.Println("fetched; attempt", sdk.Current(ctx).Attempt())
		return nil
	}, policy.Retry(1, 0)) // no retry at all: a snooze is no failure
	_ = d.Register(fetch)
	ex, _ := fetch.Add(ctx, d, Invoice{ID: 7})
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	info, _ := ex.Info(ctx)
	fmt.Println(info.State)
	// Output:
	// not ready; attempt 1
	// not ready; attempt 1
	// fetched; attempt 1
	// completed
}

// sendReceipt is a task declared once, in a package-level var: the value
// every Register and Add uses.
var sendReceipt = sdk.NewTask("send_receipt", receipt)

func receipt(ctx context.Context, in Invoice) error { return nil }

// A task is the value NewTask returns. Registering it again is harmless;
// another NewTask under the same name is another task, even with the same
// function, and the docket refuses it.
func ExampleDocket_Register() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-register")
	defer d.Close()

	fmt.Println(d.Register(sendReceipt, sendReceipt))
	fmt.Println(d.Register(sendReceipt))

	again := sdk.NewTask("send_receipt", receipt)
	err := d.Register(again)
	fmt.Println(errors.Is(err, sdk.ErrTaskConflict))
	fmt.Println(err)
	// Output:
	// <nil>
	// <nil>
	// true
	// docket: another task is registered under this name: "send_receipt" was registered by another sdk.NewTask call; each call makes a task of its own, even with the same function: declare the task once (say, in a package-level var) and register that value
}

// Keys gives the tasks of an AddMany their keys, so that making it again (a
// retry after an error, which returns the executions added before it) adds
// none twice.
func ExampleKeys() {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://example-keys")
	if err != nil {
		panic(err)
	}
	defer d.Close()
	remind := sdk.NewTask("remind", func(ctx context.Context, in Invoice) error { return nil })
	invoices := []Invoice{{ID: 1}, {ID: 2}, {ID: 3}}
	byID := sdk.Keys(func(i int) string { return fmt.Sprintf("remind-%d", invoices[i].ID) })

	// A first AddMany that got the first two through.
	if _, err := remind.AddMany(ctx, d, invoices[:2], byID); err != nil {
		panic(err)
	}
	// The retry, with every input and the same keys.
	exs, err := remind.AddMany(ctx, d, invoices, byID)
	if err != nil {
		panic(err)
	}
	for _, ex := range exs {
		fmt.Println(ex.Key(), ex.Disposition())
	}
	// Output:
	// remind-1 already scheduled
	// remind-2 already scheduled
	// remind-3 scheduled
}

// Spread spreads an AddMany over a window: reminders one every 20 minutes
// over the next hour.
func ExampleSpread() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-spread")
	defer d.Close()
	remind := sdk.NewTask("remind", func(ctx context.Context, in Invoice) error { return nil })
	exs, _ := remind.AddMany(ctx, d, []Invoice{{ID: 1}, {ID: 2}, {ID: 3}}, sdk.Spread(time.Hour))
	for _, ex := range exs[1:] {
		fmt.Println(ex.Due().Sub(exs[0].Due()))
	}
	// Output:
	// 20m0s
	// 40m0s
}

// A strike holds the tasks it matches until it is restored.
func ExampleDocket_Strike() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-strike", sdk.WithLogger(quiet))
	defer d.Close()
	bill := sdk.NewTask("bill", func(ctx context.Context, in Invoice) error {
		fmt.Println("billing invoice", in.ID)
		return nil
	})
	_ = d.Register(bill)
	_ = d.Strike(ctx, "bill", "amount", ">", 10_000) // large amounts wait for a human

	small, _ := bill.Add(ctx, d, Invoice{ID: 1, Amount: 500})
	large, _ := bill.Add(ctx, d, Invoice{ID: 2, Amount: 50_000})
	fmt.Println(small.Disposition(), large.Disposition())
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilIdle(ctx)
	// Output:
	// scheduled struck
	// billing invoice 1
}

// Replace overwrites a live task's input and due time under its key; a key
// with no live task is simply added.
func ExampleTask_Replace() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-replace", sdk.WithLogger(quiet))
	defer d.Close()
	remind := sdk.NewTask("remind", func(ctx context.Context, in Invoice) error {
		fmt.Println("reminding", in.Email)
		return nil
	})
	_ = d.Register(remind)

	first, _ := remind.Replace(ctx, d, Invoice{ID: 1, Email: "old@example.com"}, sdk.Key("remind-1"), sdk.After(time.Hour))
	second, _ := remind.Replace(ctx, d, Invoice{ID: 1, Email: "ada@example.com"}, sdk.Key("remind-1"))
	fmt.Println(first.Disposition())
	fmt.Println(second.Disposition())
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilIdle(ctx)
	// Output:
	// scheduled
	// replaced
	// reminding ada@example.com
}

// Snapshot lists what a docket holds at one instant of the Redis clock.
func ExampleDocket_Snapshot() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-snapshot")
	defer d.Close()
	remind := sdk.NewTask("remind", func(ctx context.Context, in Invoice) error { return nil })
	_, _ = remind.Add(ctx, d, Invoice{ID: 1}, sdk.Key("now"))
	_, _ = remind.Add(ctx, d, Invoice{ID: 2}, sdk.Key("later"), sdk.After(time.Hour))

	snap, err := d.Snapshot(ctx)
	if err != nil {
		panic(err)
	}
	for _, t := range snap.Queued {
		fmt.Println("queued:", t.Key)
	}
	for _, t := range snap.Scheduled {
		fmt.Println("scheduled:", t.Key, "due in", t.Due.Sub(snap.Now).Round(time.Minute))
	}
	fmt.Println("running:", snap.TotalRunning, "waiting:", snap.TotalWaiting)
	// Output:
	// queued: now
	// scheduled: later due in 1h0m0s
	// running: 0 waiting: 2
}

// Open connects to Redis (or, with memory://, to an embedded server) and
// checks its options: each error matches a sentinel to test with errors.Is.
func ExampleOpen() {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://example-open", sdk.WithName("billing"), sdk.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	fmt.Println(d.Name())

	_, err = sdk.Open(ctx, "memory://example-open", sdk.WithName("not a name"))
	fmt.Println(errors.Is(err, sdk.ErrBadOption), errors.Is(err, sdk.ErrBadName))
	_, err = sdk.Open(ctx, "http://localhost:6379")
	fmt.Println(errors.Is(err, sdk.ErrBadURL))
	// Output:
	// billing
	// true true
	// true
}
