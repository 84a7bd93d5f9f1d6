package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A worker runs the tasks registered on its docket; RunUntilFinished
// returns once every task added has finished, retries included.
func ExampleWorker_RunUntilFinished() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-worker", sdk.WithLogger(quiet))
	defer d.Close()
	upload := sdk.NewTask("upload", func(ctx context.Context, in struct{ File string }) error {
		attempt := sdk.Current(ctx).Attempt()
		fmt.Println("uploading", in.File, "attempt", attempt)
		if attempt < 2 {
			return errors.New("connection reset")
		}
		return nil
	}, policy.Retry(3, 20*time.Millisecond))
	_ = d.Register(upload)
	ex, _ := upload.Add(ctx, d, struct{ File string }{"a.csv"})

	w := worker.New(d, worker.Options{Concurrency: 4, Logger: quiet})
	if err := w.RunUntilFinished(ctx); err != nil {
		panic(err)
	}
	info, _ := ex.Info(ctx)
	fmt.Println(info.State)
	// Output:
	// uploading a.csv attempt 1
	// uploading a.csv attempt 2
	// completed
}

// Options out of range are an error naming the field; zero values are the
// defaults.
func ExampleOptions_Validate() {
	fmt.Println(worker.Options{}.Validate())
	err := worker.Options{Concurrency: -3}.Validate()
	fmt.Println(errors.Is(err, worker.ErrBadOption))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// docket: bad worker option: Concurrency is -3; want 1 to 100000, or 0 for the default (10)
}

// Closing the docket stops its workers: Run returns an error matching
// sdk.ErrClosed.
func ExampleWorker_Run() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-run", sdk.WithLogger(quiet))
	w := worker.New(d, worker.Options{Logger: quiet})
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	_ = d.Close() // whether Run has started yet or not

	fmt.Println(errors.Is(<-done, sdk.ErrClosed))
	// Output:
	// true
}

// Middleware wraps every attempt: here, a log line around each.
func ExampleMiddleware() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-middleware", sdk.WithLogger(quiet))
	defer d.Close()
	greet := sdk.NewTask("greet", func(ctx context.Context, in struct{ Name string }) error {
		fmt.Println("hello,", in.Name)
		return nil
	})
	_ = d.Register(greet)
	_, _ = greet.Add(ctx, d, struct{ Name string }{"ada"}, sdk.Key("greet-ada"))

	logged := func(ctx context.Context, a worker.AttemptInfo, next func(context.Context) error) error {
		fmt.Printf("start %s %s (attempt %d)\n", a.Task, a.Key, a.Attempt)
		err := next(ctx)
		fmt.Println("end", err)
		return err
	}
	w := worker.New(d, worker.Options{Logger: quiet, Middleware: []worker.Middleware{logged}})
	_ = w.RunUntilFinished(ctx)
	// Output:
	// start greet greet-ada (attempt 1)
	// hello, ada
	// end <nil>
}

// New makes a worker for a docket: it runs the tasks registered on the
// docket, and the zero Options are the defaults (Concurrency 10, a lease of
// 30 s). Its ID begins with its Name.
func ExampleNew() {
	ctx := context.Background()
	d, _ := sdk.Open(ctx, "memory://example-new", sdk.WithLogger(quiet))
	defer d.Close()
	greet := sdk.NewTask("greet", func(ctx context.Context, in struct{ Name string }) error {
		fmt.Println("hello", in.Name)
		return nil
	})
	_ = d.Register(greet)
	_, _ = greet.Add(ctx, d, struct{ Name string }{"ada"})

	w := worker.New(d, worker.Options{Name: "mailer"})
	fmt.Println(strings.HasPrefix(w.ID(), "mailer-"))
	if err := w.RunUntilIdle(ctx); err != nil {
		panic(err)
	}
	// Output:
	// true
	// hello ada
}
