package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// A report scheduled for tonight, run now instead: the same execution,
// due at once.
func ExampleDocket_RunNow() {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://example-run-now", sdk.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	report := sdk.NewTask("report", func(context.Context, struct{}) error {
		fmt.Println("the report runs")
		return nil
	})
	if err := d.Register(report); err != nil {
		panic(err)
	}
	ex, err := report.Add(ctx, d, struct{}{}, sdk.Key("nightly-report"), sdk.After(12*time.Hour))
	if err != nil {
		panic(err)
	}
	if err := d.RunNow(ctx, ex.Key()); err != nil {
		panic(err)
	}
	if err := worker.New(d, worker.Options{Logger: quiet}).RunUntilIdle(ctx); err != nil {
		panic(err)
	}
	info, err := ex.Info(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(info.State)
	// Output:
	// the report runs
	// completed
}

// A charge that failed for good, retried once the card was fixed: it runs
// again from its first attempt, with its input.
func ExampleDocket_Retry() {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://example-retry", sdk.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	defer d.Close()
	cardFixed := false
	charge := sdk.NewTask("charge", func(ctx context.Context, in struct {
		Amount int `json:"amount"`
	}) error {
		if !cardFixed {
			return sdk.Permanent(errors.New("card declined"))
		}
		fmt.Println("charged", in.Amount)
		return nil
	})
	if err := d.Register(charge); err != nil {
		panic(err)
	}
	w := worker.New(d, worker.Options{Logger: quiet})
	ex, err := charge.Add(ctx, d, struct {
		Amount int `json:"amount"`
	}{Amount: 42}, sdk.Key("order-7"))
	if err != nil {
		panic(err)
	}
	if err := w.RunUntilIdle(ctx); err != nil {
		panic(err)
	}
	info, _ := ex.Info(ctx)
	fmt.Println(info.State, info.Error)

	cardFixed = true
	if err := d.Retry(ctx, ex.Key()); err != nil {
		panic(err)
	}
	if err := w.RunUntilIdle(ctx); err != nil {
		panic(err)
	}
	info, _ = ex.Info(ctx)
	fmt.Println(info.State, "on attempt", info.Attempt)
	// Output:
	// failed card declined
	// charged 42
	// completed on attempt 1
}
