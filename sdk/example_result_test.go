package sdk_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// Total is the result of the sum task.
type Total struct {
	Sum int `json:"sum"`
}

// A task that returns a result: Call adds it and waits for what it
// returned, whichever worker ran it; a failure comes back as the task
// ended, for errors.Is.
func ExampleNewResultTask() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-result", sdk.WithLogger(quiet))
	defer d.Close()
	type Numbers struct {
		Of []int `json:"of"`
	}
	sum := sdk.NewResultTask("sum", func(ctx context.Context, in Numbers) (Total, error) {
		if len(in.Of) == 0 {
			return Total{}, sdk.Permanent(errors.New("nothing to add"))
		}
		t := Total{}
		for _, n := range in.Of {
			t.Sum += n
		}
		return t, nil
	})
	_ = d.Register(sum)
	workers, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- worker.New(d, worker.Options{Logger: quiet}).Run(workers) }()

	total, err := sum.Call(ctx, d, Numbers{Of: []int{1, 2, 3}})
	fmt.Println(total.Sum, err)
	_, err = sum.Call(ctx, d, Numbers{})
	fmt.Println(errors.Is(err, sdk.ErrPermanent), err)

	stop()
	<-done
	// Output:
	// 6 <nil>
	// true nothing to add
}

// Watch follows an execution's states until it ends.
func ExampleExecution_Watch() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-watch", sdk.WithLogger(quiet))
	defer d.Close()
	report := sdk.NewTask("report", func(ctx context.Context, in Invoice) error { return nil })
	_ = d.Register(report)
	ex, _ := report.Add(ctx, d, Invoice{ID: 1})
	events, err := ex.Watch(ctx) // before the worker starts: nothing is missed
	if err != nil {
		panic(err)
	}
	go func() { _ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx) }()
	for ev := range events {
		fmt.Println(ev.State)
	}
	// Output:
	// queued
	// running
	// completed
}

// Result reads the result of an execution by its key alone: from another
// process, say, or after a restart, with no *Task at hand. It waits for the
// execution to end.
func ExampleResult() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-result-by-key", sdk.WithLogger(quiet))
	defer d.Close()
	total := sdk.NewResultTask("total", func(ctx context.Context, in Invoice) (Total, error) {
		return Total{Sum: in.ID * 100}, nil
	})
	_ = d.Register(total)
	_, _ = total.Add(ctx, d, Invoice{ID: 7}, sdk.Key("invoice-7-total"))
	_ = worker.New(d, worker.Options{Logger: quiet}).RunUntilFinished(ctx)

	t, err := sdk.Result[Total](ctx, d.Execution("invoice-7-total"))
	fmt.Println(t.Sum, err)
	_, err = sdk.Result[Total](ctx, d.Execution("no-such-key"))
	fmt.Println(errors.Is(err, sdk.ErrNotFound))
	// Output:
	// 700 <nil>
	// true
}
