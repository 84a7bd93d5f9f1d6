package worker_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

type Service struct {
	URL string `json:"url"`
}

// Every five minutes for a day: exactly 288 runs, each at its exact instant.
func TestPerpetualEveryFiveMinutesForADay(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		tick := sdk.NewTask("tick", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(5*time.Minute, policy.Automatic()))
		t0 := env.Now()
		env.Register(tick)
		env.Advance(24*time.Hour - time.Nanosecond)

		runs := env.Runs("tick")
		require.Len(t, runs, 288)
		for i, r := range runs {
			require.Equal(t, t0.Add(time.Duration(i)*5*time.Minute), r.Start, "run %d", i)
			require.Equal(t, "tick", r.Key, "an automatic task is keyed by its name")
		}
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Scheduled, 1, "one chain")
		assert.Equal(t, t0.Add(24*time.Hour), snap.Scheduled[0].Due, "with its next due time")
	})
}

// Errors and panics do not break the chain, and a retry policy runs first.
func TestPerpetualSurvivesErrorsAndPanics(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		n := 0
		sync := sdk.NewTask("resilient_sync", func(ctx context.Context, in Service) error {
			n++
			switch n {
			case 1:
				return errors.New("source down")
			case 2:
				panic("corrupt data")
			case 3, 4:
				return errors.New("retried failure")
			}
			return nil
		}, policy.Perpetual(15*time.Minute), policy.Retry(2, time.Minute))
		env.Register(sync)
		t0 := env.Now()
		ex, err := sync.Add(t.Context(), env.Docket(), Service{URL: "https://source"}, sdk.Key("sync"))
		require.NoError(t, err)
		env.Advance(time.Hour)

		var starts []time.Duration
		for _, r := range env.Runs("resilient_sync") {
			starts = append(starts, r.Start.Sub(t0))
		}
		// Run 1 fails, retried at +1m (panics: retries exhausted), the chain
		// goes on 15m after that attempt's start; run 3 fails, retried once,
		// fails again; the chain goes on again; run 5 succeeds.
		assert.Equal(t, []time.Duration{0, time.Minute, 16 * time.Minute, 17 * time.Minute, 32 * time.Minute, 47 * time.Minute}, starts)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State)
		assert.Equal(t, t0.Add(62*time.Minute), info.Due)
		assert.Equal(t, 1, info.Attempt, "each run starts at attempt 1")
	})
}

type Deployment struct {
	ID string `json:"id"`
}

// A perpetual task can end its own chain.
func TestPerpetualCancelsItself(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		checks := 0
		monitor := sdk.NewTask("monitor_deployment", func(ctx context.Context, in Deployment) error {
			checks++
			if checks == 4 {
				sdk.Current(ctx).Perpetual().Cancel()
			}
			return nil
		}, policy.Perpetual(30*time.Second))
		env.Register(monitor)
		ex, err := monitor.Add(t.Context(), env.Docket(), Deployment{ID: "d1"})
		require.NoError(t, err)
		env.Advance(time.Hour)
		assert.Equal(t, 4, checks)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	}, testsuite.WithDocketOptions(sdk.WithRetention(24*time.Hour)))
}

type Rate struct {
	Endpoint string `json:"endpoint"`
	PerMin   int    `json:"per_min"`
}

// SetEvery and Perpetuate change the interval and the input of the next
// run.
func TestPerpetualNewIntervalAndInput(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var perpetuateErr, wrongTypeErr error
		limiter := sdk.NewTask("adaptive_rate", func(ctx context.Context, in Rate) error {
			p := sdk.Current(ctx).Perpetual()
			if in.PerMin >= 70 {
				p.SetEvery(30 * time.Second)
			}
			perpetuateErr = sdk.Perpetuate(ctx, Rate{Endpoint: in.Endpoint, PerMin: in.PerMin + 5})
			wrongTypeErr = sdk.Perpetuate(ctx, Service{})
			return nil
		}, policy.Perpetual(time.Minute))
		env.Register(limiter)
		t0 := env.Now()
		_, err := limiter.Add(t.Context(), env.Docket(), Rate{Endpoint: "api", PerMin: 60})
		require.NoError(t, err)
		env.Advance(4 * time.Minute)

		require.NoError(t, perpetuateErr)
		assert.ErrorIs(t, wrongTypeErr, sdk.ErrBadInput)
		runs := env.Runs("adaptive_rate")
		var starts []time.Duration
		var rates []string
		for _, r := range runs {
			starts = append(starts, r.Start.Sub(t0))
			rates = append(rates, string(r.Input))
		}
		assert.Equal(t, []time.Duration{0, time.Minute, 2 * time.Minute, 150 * time.Second, 3 * time.Minute, 210 * time.Second, 4 * time.Minute}, starts)
		assert.Equal(t, `{"endpoint":"api","per_min":60}`, rates[0])
		assert.Equal(t, `{"endpoint":"api","per_min":65}`, rates[1])
		assert.Equal(t, `{"endpoint":"api","per_min":70}`, rates[2])
		assert.Equal(t, `{"endpoint":"api","per_min":75}`, rates[3])
	})
}

func TestPerpetuateOutsideAPerpetualTask(t *testing.T) {
	assert.ErrorIs(t, sdk.Perpetuate(context.Background(), Rate{}), sdk.ErrNotPerpetual)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var err error
		once := sdk.NewTask("once", func(ctx context.Context, in Rate) error {
			err = sdk.Perpetuate(ctx, in)
			sdk.Current(ctx).Perpetual().Cancel() // does nothing
			return nil
		})
		env.Register(once)
		_, _ = once.Add(t.Context(), env.Docket(), Rate{})
		env.RunUntilIdle()
		assert.ErrorIs(t, err, sdk.ErrNotPerpetual)
	})
}

// A chain that is lost — here cancelled from outside — is started again at
// once by the workers that have the automatic task: the script that ended
// it tells them. (Should Redis lose it, they start it again at their next
// lease renewal, Lease/3.)
func TestLostAutomaticChainIsReseeded(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		cleanup := sdk.NewTask("cleanup", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(time.Hour, policy.Automatic()))
		nightly := sdk.NewTask("nightly", func(ctx context.Context, in struct{}) error { return nil },
			policy.Cron("0 3 * * *"))
		t0 := env.Now() // midnight
		env.Register(cleanup)
		env.Register(nightly)
		env.Advance(90 * time.Minute) // runs at 0 and 1h
		require.NoError(t, env.Docket().Cancel(t.Context(), "cleanup"))
		require.NoError(t, env.Docket().Cancel(t.Context(), "nightly"))
		env.Advance(3 * time.Hour)
		var starts []time.Duration
		for _, r := range env.Runs("cleanup") {
			starts = append(starts, r.Start.Sub(t0))
		}
		assert.Equal(t, []time.Duration{0, time.Hour, 90 * time.Minute, 150 * time.Minute, 210 * time.Minute, 270 * time.Minute}, starts,
			"started again at once when cancelled at 1h30")
		nights := env.Runs("nightly")
		require.Len(t, nights, 1, "the cron chain started again, at its next instant")
		assert.Equal(t, t0.Add(3*time.Hour), nights[0].Start)
	})
}

// An automatic task's run that cancels its chain does not stop it (the
// workers that register the task would start it again at once, in a loop):
// the chain goes on at its interval.
func TestAutomaticChainGoesOnWhenItsRunCancelsIt(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		sweep := sdk.NewTask("sweep", func(ctx context.Context, in struct{}) error {
			sdk.Current(ctx).Perpetual().Cancel()
			return nil
		}, policy.Perpetual(time.Hour, policy.Automatic()))
		t0 := env.Now()
		env.Register(sweep)
		env.Advance(150 * time.Minute)
		var starts []time.Duration
		for _, r := range env.Runs("sweep") {
			starts = append(starts, r.Start.Sub(t0))
		}
		assert.Equal(t, []time.Duration{0, time.Hour, 2 * time.Hour}, starts)
	})
}

// A crash before the run: the task was claimed by a worker that died at
// once. When its lease lapses the chain goes on, once.
func TestPerpetualClaimedByADeadWorkerContinues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := bubbleDocket(t)
		beat := sdk.NewTask("beat", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(10*time.Minute))
		require.NoError(t, d.Register(beat))
		_, err := beat.Add(t.Context(), d, struct{}{}, sdk.Key("beat"))
		require.NoError(t, err)
		s, err := store.New(d.Redis(), d.Name())
		require.NoError(t, err)
		claim, err := s.Claim(t.Context(), "dead-worker", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, claim.Messages, 1)
		t0 := time.Now()

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- worker.New(d, worker.Options{}).Run(ctx) }()
		time.Sleep(25 * time.Minute)
		snap, err := d.Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Scheduled, 1, "exactly one chain")
		assert.Equal(t, t0.Add(31*time.Minute), snap.Scheduled[0].Due,
			"redelivered when the lease lapsed at 1m, then run at 11m and 21m")
		assert.Empty(t, snap.Running)

		// The dead worker's late outcome changes nothing.
		applied, err := s.Finish(t.Context(), time.Minute, []store.Outcome{{Key: "beat", Gen: claim.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
		assert.Equal(t, []bool{false}, applied)
		cancel()
		require.NoError(t, <-done)
	})
}
