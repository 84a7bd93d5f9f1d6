package workflow_test

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
	"github.com/docket-go/docket/workflow"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A step runs once for the execution: when the workflow is retried, the
// charge that completed is not made again.
func ExampleStep() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-step", sdk.WithLogger(quiet))
	defer d.Close()
	tries := 0
	checkout := sdk.NewResultTask("checkout", func(ctx context.Context, in Order) (string, error) {
		receipt, err := workflow.Step(ctx, "charge", func(ctx context.Context) (string, error) {
			fmt.Println("charging", in.Amount, "with idempotency key", workflow.StepKey(ctx))
			return "receipt-1", nil
		})
		if err != nil {
			return "", err
		}
		if err := workflow.Do(ctx, "ship", func(ctx context.Context) error {
			if tries++; tries == 1 {
				fmt.Println("carrier down")
				return errors.New("carrier down")
			}
			fmt.Println("shipped")
			return nil
		}); err != nil {
			return "", err
		}
		return receipt, nil
	}, policy.Retry(3, 0))
	_ = d.Register(checkout)
	ex, _ := checkout.Add(ctx, d, Order{ID: 1, Amount: 2500}, sdk.Key("order-1"))
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	fmt.Println(checkout.Result(ctx, ex))
	// Output:
	// charging 2500 with idempotency key order-1/charge
	// carrier down
	// shipped
	// receipt-1 <nil>
}

// Fan-out and fan-in: a workflow starts a child per input and parks, holding
// no worker, until they have all ended; then it runs again and aggregates.
func ExampleStartMany() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-fan-out", sdk.WithLogger(quiet))
	defer d.Close()
	square := sdk.NewResultTask("square", func(ctx context.Context, in N) (int, error) { return in.N * in.N, nil })
	sum := sdk.NewResultTask("sum", func(ctx context.Context, in N) (int, error) {
		ins := make([]N, in.N)
		for i := range ins {
			ins[i] = N{N: i + 1}
		}
		children, err := workflow.StartMany(ctx, square, "square", ins)
		if err != nil {
			return 0, err
		}
		squares, err := workflow.All(ctx, children)
		if err != nil {
			return 0, err // workflow.ErrParked the first time: the run parks
		}
		total := 0
		for _, s := range squares {
			total += s
		}
		return total, nil
	})
	_ = d.Register(square)
	_ = d.Register(sum)
	ex, _ := sum.Add(ctx, d, N{N: 100}, sdk.Key("sum"))
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	total, err := sum.Result(ctx, ex)
	fmt.Println(total, err)
	info, _ := d.Execution("sum/square/99").Info(ctx)
	fmt.Println(info.Parent, info.ChildName, string(info.Result))
	// Output:
	// 338350 <nil>
	// sum square/99 10000
}

// A workflow waits for a signal; one sent before it reaches the wait is
// kept for it.
func ExampleWaitSignal() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-signal", sdk.WithLogger(quiet))
	defer d.Close()
	type Decision struct {
		Approved bool   `json:"approved"`
		By       string `json:"by"`
	}
	expense := sdk.NewResultTask("expense", func(ctx context.Context, in Order) (string, error) {
		decision, err := workflow.WaitSignal[Decision](ctx, "decision", 48*time.Hour)
		if errors.Is(err, workflow.ErrSignalTimeout) {
			return "escalated", nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("approved=%v by %s", decision.Approved, decision.By), nil
	})
	_ = d.Register(expense)
	ex, _ := expense.Add(ctx, d, Order{ID: 7}, sdk.Key("expense-7"))
	fmt.Println(d.Signal(ctx, "expense-7", "decision", Decision{Approved: true, By: "ada"}))
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	fmt.Println(expense.Result(ctx, ex))
	// Output:
	// <nil>
	// approved=true by ada <nil>
}

// A durable sleep parks the workflow until its instant: no worker waits,
// and the instant survives restarts.
func ExampleSleep() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-sleep", sdk.WithLogger(quiet))
	defer d.Close()
	runs := 0
	remind := sdk.NewTask("remind", func(ctx context.Context, in Order) error {
		runs++
		if err := workflow.Sleep(ctx, "a-moment", 20*time.Millisecond); err != nil {
			return err
		}
		fmt.Println("reminded, on run", runs)
		return nil
	})
	_ = d.Register(remind)
	ex, _ := remind.Add(ctx, d, Order{ID: 1})
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	info, _ := ex.Info(ctx)
	fmt.Println(info.State)
	// Output:
	// reminded, on run 2
	// completed
}

// A child's failure comes back to its workflow, which may compensate: here
// it refunds, in a step, and ends with a result that says so.
func ExampleStart() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-start", sdk.WithLogger(quiet))
	defer d.Close()
	ship := sdk.NewResultTask("ship", func(ctx context.Context, in Order) (string, error) {
		if in.Amount > 1000 {
			return "", sdk.Permanent(errors.New("too heavy"))
		}
		return fmt.Sprintf("parcel-%d", in.ID), nil
	})
	order := sdk.NewResultTask("order", func(ctx context.Context, in Order) (string, error) {
		shipment, err := workflow.Start(ctx, ship, "ship", in)
		if err != nil {
			return "", err
		}
		parcel, err := shipment.Get(ctx) // parks until the child ends
		if errors.Is(err, workflow.ErrChildFailed) {
			err = workflow.Do(ctx, "refund", func(ctx context.Context) error {
				fmt.Println("refunding order", in.ID)
				return nil
			})
			return "refunded", err
		}
		return parcel, err
	})
	_ = d.Register(ship)
	_ = d.Register(order)
	light, _ := order.Add(ctx, d, Order{ID: 1, Amount: 10}, sdk.Key("order-1"))
	heavy, _ := order.Add(ctx, d, Order{ID: 2, Amount: 5000}, sdk.Key("order-2"))
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	fmt.Println(order.Result(ctx, light))
	fmt.Println(order.Result(ctx, heavy))
	// Output:
	// refunding order 2
	// parcel-1 <nil>
	// refunded <nil>
}

// Children without a result, started with StartTask, and a fan-in with
// Wait, which parks until they have all ended; each one's Get then tells
// how it ended.
func ExampleWait() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-wait", sdk.WithLogger(quiet))
	defer d.Close()
	notify := sdk.NewTask("notify", func(ctx context.Context, in Order) error {
		if in.Amount < 0 {
			return sdk.Permanent(errors.New("no address"))
		}
		return nil
	})
	announce := sdk.NewTask("announce", func(ctx context.Context, in Order) error {
		email, err := workflow.StartTask(ctx, notify, "email", Order{ID: in.ID, Amount: 1})
		if err != nil {
			return err
		}
		post, err := workflow.StartTask(ctx, notify, "post", Order{ID: in.ID, Amount: -1})
		if err != nil {
			return err
		}
		if err := workflow.Wait(ctx, email, post); err != nil {
			return err // workflow.ErrParked until both have ended
		}
		for _, child := range []*workflow.Future[struct{}]{email, post} {
			_, err := child.Get(ctx) // at once: it has ended
			fmt.Println(child.Key(), "failed:", errors.Is(err, workflow.ErrChildFailed))
		}
		return nil
	})
	_ = d.Register(notify)
	_ = d.Register(announce)
	_, _ = announce.Add(ctx, d, Order{ID: 3}, sdk.Key("announce-3"))
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	// Output:
	// announce-3/email failed: false
	// announce-3/post failed: true
}

// SleepUntil parks until an instant. The instant must be the same in every
// run of the workflow, so this one is computed once, in a step, and read
// back by the run that resumes. (An instant already past, as it may be by
// the time a slow machine gets there, returns at once, without a park.)
func ExampleSleepUntil() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-sleep-until", sdk.WithLogger(quiet))
	defer d.Close()
	trial := sdk.NewTask("trial", func(ctx context.Context, in Order) error {
		ends, err := workflow.Step(ctx, "ends", func(ctx context.Context) (time.Time, error) {
			return time.Now().Add(20 * time.Millisecond), nil // a trial of 20 ms
		})
		if err != nil {
			return err
		}
		if err := workflow.SleepUntil(ctx, "trial-over", ends); err != nil {
			return err
		}
		fmt.Println("trial over:", !time.Now().Before(ends))
		return nil
	})
	_ = d.Register(trial)
	_, _ = trial.Add(ctx, d, Order{ID: 9})
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)
	// Output:
	// trial over: true
}
