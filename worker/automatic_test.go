package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// Workers that start at once, each with the same automatic tasks, start
// exactly one chain of each.
func TestWorkersStartingAtOnceLeaveOneChain(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		logs := newLogWatch()
		d := openDocket(t, b.URL, sdk.WithLogger(slog.New(logs)))
		runs := make(chan string, 100)
		heartbeat := sdk.NewTask("heartbeat", func(ctx context.Context, in struct{}) error {
			runs <- sdk.Current(ctx).Key()
			return nil
		}, policy.Perpetual(time.Hour, policy.Automatic()))
		nightly := sdk.NewTask("nightly", func(ctx context.Context, in struct{}) error { return nil },
			policy.Cron("0 3 * * *"))
		require.NoError(t, d.Register(heartbeat, nightly))

		var start sync.WaitGroup
		start.Add(1)
		for i := range 8 {
			w := worker.New(d, worker.Options{Name: fmt.Sprint("w", i)})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				start.Wait()
				done <- w.Run(ctx)
			}()
			t.Cleanup(func() { cancel(); assert.NoError(t, <-done) })
		}
		start.Done()

		require.Eventually(t, func() bool { // every worker has seeded by the time it shows
			snap, err := d.Snapshot(context.Background())
			return err == nil && len(snap.Workers) == 8
		}, 30*time.Second, 5*time.Millisecond)
		assert.Equal(t, []string{"heartbeat"}, waitFor(t, runs, 1))

		snap, err := d.Snapshot(context.Background())
		require.NoError(t, err)
		var keys []string
		for _, ts := range append(append(snap.Running, snap.Queued...), snap.Scheduled...) {
			keys = append(keys, ts.Key)
		}
		assert.ElementsMatch(t, []string{"heartbeat", "nightly"}, keys, "one chain each")
		nextNight := time.Date(snap.Now.Year(), snap.Now.Month(), snap.Now.Day(), 3, 0, 0, 0, time.UTC)
		if !nextNight.After(snap.Now) {
			nextNight = nextNight.AddDate(0, 0, 1)
		}
		for _, ts := range snap.Scheduled {
			if ts.Key == "nightly" {
				assert.Equal(t, nextNight, ts.Due.UTC(), "the cron chain waits for its instant")
			}
		}
		logs.mu.Lock()
		started := 0
		for _, m := range logs.seen {
			if strings.Contains(m, "started automatic task") {
				started++
			}
		}
		logs.mu.Unlock()
		assert.Equal(t, 2, started, "one worker started each chain; the others found it live")
		select {
		case k := <-runs:
			t.Fatalf("a second run of %s", k)
		default:
		}
	})
}
