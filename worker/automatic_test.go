package worker_test

import (
	"context"
	"encoding/json"
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
	"github.com/docket-go/docket/testsuite"
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
		// The chain was seeded before the snapshot: within a minute after
		// 03:00 it may have been seeded for the 03:00 just passed.
		instants := []time.Time{nextNight}
		if last := nextNight.AddDate(0, 0, -1); snap.Now.Sub(last) < time.Minute {
			instants = append(instants, last)
		}
		for _, ts := range snap.Scheduled {
			if ts.Key == "nightly" {
				assert.Contains(t, instants, ts.Due.UTC(), "the cron chain waits for its instant")
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

// An automatic task registered after the worker started (the seed's
// pattern: one Register call per task) starts its chain at once: at the
// exact instant under the fake clock, and no cron instant is skipped.
func TestAutomaticTaskRegisteredLaterStartsAtOnce(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now() // midnight
		hourly := sdk.NewTask("hourly", func(ctx context.Context, in struct{}) error { return nil },
			policy.Cron("@hourly"))
		sweep := sdk.NewTask("sweep", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(10*time.Minute, policy.Automatic()))
		report := sdk.NewTask("report", func(ctx context.Context, in struct{}) error { return nil })
		env.Register(report)
		env.Advance(30 * time.Minute)
		env.Register(hourly)
		env.Register(sweep)
		env.Advance(2 * time.Hour)
		var hours, sweeps []time.Duration
		for _, r := range env.Runs("hourly") {
			hours = append(hours, r.Start.Sub(t0))
		}
		for _, r := range env.Runs("sweep") {
			sweeps = append(sweeps, r.Start.Sub(t0))
		}
		assert.Equal(t, []time.Duration{time.Hour, 2 * time.Hour}, hours)
		require.NotEmpty(t, sweeps)
		assert.Equal(t, 30*time.Minute, sweeps[0], "started at its registration")
		assert.Len(t, sweeps, 13, "every 10 minutes from 30m to 2h30")
	})
}

// On a real worker too, a later registration starts the chain at once, not
// at the next lease renewal.
func TestAutomaticTaskRegisteredWhileRunning(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		require.NoError(t, d.Register(sdk.NewTask("other", func(ctx context.Context, in struct{}) error { return nil })))
		runWorker(t, worker.New(d, worker.Options{Lease: time.Hour})) // no renewal within the test
		require.Eventually(t, func() bool {
			snap, err := d.Snapshot(context.Background())
			return err == nil && len(snap.Workers) == 1
		}, time.Minute, time.Millisecond)

		ran := make(chan string, 10)
		heartbeat := sdk.NewTask("heartbeat", func(ctx context.Context, in struct{}) error {
			ran <- sdk.Current(ctx).Key()
			return nil
		}, policy.Perpetual(time.Hour, policy.Automatic()))
		require.NoError(t, d.Register(heartbeat))
		assert.Equal(t, []string{"heartbeat"}, waitFor(t, ran, 1))
	})
}

// An automatic task added by hand, without a key, is its one chain: the Add
// reports AlreadyScheduled while the chain lives, rather than starting a
// second chain that would run it twice per period.
func TestAddingAnAutomaticTaskAddsItsChain(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		beat := sdk.NewTask("beat", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(time.Hour, policy.Automatic()))
		ex, err := beat.Add(t.Context(), env.Docket(), struct{}{}) // before any worker: it starts the chain
		require.NoError(t, err)
		assert.Equal(t, "beat", ex.Key())
		assert.Equal(t, sdk.Scheduled, ex.Disposition())
		env.Register(beat)
		env.Advance(time.Minute)
		again, err := beat.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		assert.Equal(t, sdk.AlreadyScheduled, again.Disposition())
		env.Advance(3 * time.Hour)
		assert.Len(t, env.Runs("beat"), 4, "one chain: at 0, 1h, 2h, 3h")

		byName, err := env.Docket().AddByName(t.Context(), "beat", json.RawMessage(`{}`))
		require.NoError(t, err)
		assert.Equal(t, "beat", byName.Key())
		assert.Equal(t, sdk.AlreadyScheduled, byName.Disposition())
		many, err := beat.AddMany(t.Context(), env.Docket(), []struct{}{{}, {}})
		require.NoError(t, err)
		for _, ex := range many {
			assert.Equal(t, "beat", ex.Key())
			assert.Equal(t, sdk.AlreadyScheduled, ex.Disposition())
		}
		_, err = beat.Replace(t.Context(), env.Docket(), struct{}{})
		assert.ErrorIs(t, err, sdk.ErrBadKey, "Replace still needs a key")
		env.Advance(time.Hour)
		assert.Len(t, env.Runs("beat"), 5, "still one chain")

		other, err := beat.Add(t.Context(), env.Docket(), struct{}{}, sdk.Key("by-hand"))
		require.NoError(t, err)
		assert.Equal(t, "by-hand", other.Key(), "a key given is kept")
		require.NoError(t, env.Docket().Cancel(t.Context(), "by-hand"))
	})
}
