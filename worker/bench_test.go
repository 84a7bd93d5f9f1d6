package worker_test

import (
	"context"
	"testing"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// BenchmarkNoop measures a worker's own cost per task: b.N no-op tasks,
// added in one call, run by one worker (Concurrency 50) until idle, on a
// real redis-server. Allocations are the worker's and the client's; the
// time includes Redis, which runs on the same machine.
//
//	go test ./worker -run '^$' -bench Noop -benchmem -benchtime 50000x
func BenchmarkNoop(b *testing.B) {
	srv := redistest.NewServer(b, "--appendonly", "no", "--save", "")
	ctx := context.Background()
	d, err := sdk.Open(ctx, srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	type in struct{ I int }
	task := sdk.NewTask("noop", func(context.Context, in) error { return nil })
	if err := d.Register(task); err != nil {
		b.Fatal(err)
	}
	inputs := make([]in, b.N)
	for i := range inputs {
		inputs[i] = in{I: i}
	}
	if _, err := task.AddMany(ctx, d, inputs); err != nil {
		b.Fatal(err)
	}
	w := worker.New(d, worker.Options{Concurrency: 50})
	b.ReportAllocs()
	b.ResetTimer()
	if err := w.RunUntilIdle(ctx); err != nil {
		b.Fatal(err)
	}
}
