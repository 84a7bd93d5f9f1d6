// Cleanup shows an automatic perpetual task: it is only registered, never
// added. When a worker starts it starts the task itself, keyed by the
// task's name, and from then on the task runs every hour, deleting the
// records of an in-memory store that are older than a day. However many
// workers register it, there is one chain.
//
// The worker runs for -for (3s by default; 0 runs it until Ctrl-C), so you
// see the first cleanup and when the next one is due:
//
//	go run ./samples/cleanup
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/cleanup
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
// On a real Redis the chain outlives the program: a worker started again
// within the hour finds it and waits for its due time instead of starting
// another.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
)

// keep is how long a record is kept.
const keep = 24 * time.Hour

// backgroundCleanup is the automatic task: every hour, delete the records
// older than keep. An automatic task takes no input: its input struct has
// no fields.
func backgroundCleanup(out io.Writer, db *store) *sdk.Task[struct{}] {
	say := sample.Printer(out)
	return sdk.NewTask("background_cleanup", func(ctx context.Context, _ struct{}) error {
		now := time.Now()
		deleted, left := db.deleteOlderThan(now.Add(-keep))
		say("%s cleaned up %d old records, %d left", now.UTC().Format(time.TimeOnly), deleted, left)
		return nil
	}, policy.Perpetual(time.Hour, policy.Automatic()))
}

// store is a simulated table: the creation time of each record.
type store struct {
	mu      sync.Mutex
	created []time.Time
}

// newStore fills a store with a record written every ten minutes over the
// 30 hours before now, the newest 5 minutes old, so no record is exactly
// on a cleanup's cut-off: 180 records, of which 36 are already older than
// a day.
func newStore(now time.Time) *store {
	s := &store{}
	for k := range 180 {
		s.created = append(s.created, now.Add(-5*time.Minute-time.Duration(k)*10*time.Minute))
	}
	return s
}

// deleteOlderThan deletes the records created before cutoff, and tells how
// many went and how many are left.
func (s *store) deleteOlderThan(cutoff time.Time) (deleted, left int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.created[:0]
	for _, c := range s.created {
		if c.Before(cutoff) {
			deleted++
		} else {
			kept = append(kept, c)
		}
	}
	s.created = kept
	return deleted, len(kept)
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
	d, err := sample.Open(ctx, "cleanup")
	if err != nil {
		return err
	}
	defer d.Close()

	task := backgroundCleanup(out, newStore(time.Now()))
	// No Add: registering is enough, the worker starts the chain.
	if err := d.Register(task); err != nil {
		return err
	}
	if err := sample.RunWorker(ctx, d, runFor); err != nil {
		return err
	}

	info, err := d.Execution(task.Name()).Info(context.WithoutCancel(ctx))
	if errors.Is(err, sdk.ErrNotFound) {
		fmt.Fprintf(out, "stopped before the worker started %s\n", task.Name())
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "stopped; %s is %s, next cleanup at %s UTC\n", info.Key, info.State, info.Due.UTC().Format(time.TimeOnly))
	return nil
}
