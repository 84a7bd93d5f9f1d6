// Fan-out shows a workflow that fans out to 1,000 child tasks and fans
// their results back in: sum_of_squares starts one square child per item
// (workflow.StartMany, one round trip per thousand), waits for them all
// (workflow.All) and adds up their results.
//
// While its children run, the parent is parked: its first run ends when it
// has started them, and it holds no worker slot; the end of its last child
// makes it due again, and its second run finds the children started and
// ended, and aggregates. A child that does not complete fails the parent,
// which names it.
//
// The program follows the parent's states (Execution.Watch) and prints
// them, then the sum and how many times each task ran.
//
//	go run ./samples/fan-out
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/fan-out
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// Item is the input of square.
type Item struct {
	N int `json:"n"`
}

// Batch is the input of sum_of_squares: the items 1 to Items.
type Batch struct {
	Items int `json:"items"`
}

// tally counts the runs of each task, for the program and its tests.
type tally struct {
	mu      sync.Mutex
	parent  int
	squared map[int]int // item → runs of its child
}

func (t *tally) parentRun() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.parent++
}

// runs returns the runs of the parent and of the children.
func (t *tally) runs() (parent, children int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range t.squared {
		children += n
	}
	return t.parent, children
}

func (t *tally) squaredItem(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.squared[n]++
}

// tasks builds the child and the parent. Each child takes work time (fake
// time in the tests).
func tasks(counts *tally, work time.Duration) (*sdk.ResultTask[Item, int], *sdk.ResultTask[Batch, int]) {
	square := sdk.NewResultTask("square", func(ctx context.Context, in Item) (int, error) {
		select {
		case <-time.After(work):
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
		counts.squaredItem(in.N)
		return in.N * in.N, nil
	})
	sum := sdk.NewResultTask("sum_of_squares", func(ctx context.Context, in Batch) (int, error) {
		counts.parentRun()
		items := make([]Item, in.Items)
		for i := range items {
			items[i] = Item{N: i + 1}
		}
		// A later run finds these children started by the first, under
		// their names (item/0 … item/999), and starts none again.
		children, err := workflow.StartMany(ctx, square, "item", items)
		if err != nil {
			return 0, err
		}
		// The first run parks here (All returns workflow.ErrParked, which
		// the run returns: its worker slot frees); the run after the last
		// child ended gets their results.
		squares, err := workflow.All(ctx, children)
		if te, ok := errors.AsType[*sdk.TaskError](err); ok {
			// A child ended without completing. Retrying the parent would
			// not run it again (a child starts once per execution), and its
			// error is not the parent's own: returned as is, a child's
			// cancellation or timeout would read as the parent's. So the
			// parent fails for good, naming the child.
			return 0, sdk.Permanent(fmt.Errorf("%s %s: %s", te.Key, te.State, te.Message))
		}
		if err != nil {
			return 0, err
		}
		total := 0
		for _, s := range squares {
			total += s
		}
		return total, nil
	})
	return square, sum
}

func main() {
	if err := run(context.Background(), os.Stdout, 1000, 10*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, items int, work time.Duration) error {
	d, err := sample.Open(ctx, "fan-out")
	if err != nil {
		return err
	}
	defer d.Close()

	counts := &tally{squared: map[int]int{}}
	square, sum := tasks(counts, work)
	if err := d.Register(square, sum); err != nil {
		return err
	}
	ex, err := sum.Add(ctx, d, Batch{Items: items}, sdk.Key("squares"))
	if err != nil {
		return err
	}
	// Follow the parent's states from before the worker starts, so that
	// none is missed.
	events, err := ex.Watch(ctx)
	if err != nil {
		return err
	}
	worked := make(chan error, 1)
	go func() {
		worked <- worker.New(d, worker.Options{Concurrency: 50}).RunUntilFinished(ctx)
	}()
	say := sample.Printer(out)
	for ev := range events {
		if ev.State == sdk.StateParked {
			say("sum_of_squares is parked: it holds no worker while its children run")
			continue
		}
		say("sum_of_squares is %s", ev.State)
	}
	if err := <-worked; err != nil {
		return err
	}

	total, err := sum.Result(ctx, ex)
	if err != nil {
		return err
	}
	say("sum of the squares of 1..%d: %d", items, total)
	parent, children := counts.runs()
	say("sum_of_squares ran %d times, square %d times for %d items", parent, children, items)
	return nil
}
