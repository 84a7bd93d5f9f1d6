package main

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// starts lists the starts of the runs under key, after t0.
func starts(runs []testsuite.Attempt, key string, t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range runs {
		if r.Key == key {
			out = append(out, r.Start.Sub(t0))
		}
	}
	return out
}

// Each deployment is checked every 30 seconds until it finishes; then the
// monitor notifies, cancels itself, and never runs again, however long
// the worker goes on.
func TestMonitorStopsWhenTheDeploymentFinishes(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		task := monitorDeployment(&out, 30*time.Second, newDeployments().status)
		env.Register(task)
		t0 := env.Now() // 2000-01-01 00:00:00 UTC
		web, err := task.Add(t.Context(), env.Docket(), Deployment{ID: "web-42"}, sdk.Key("deploy:web-42"))
		require.NoError(t, err)
		api, err := task.Add(t.Context(), env.Docket(), Deployment{ID: "api-7"}, sdk.Key("deploy:api-7"), sdk.After(15*time.Second))
		require.NoError(t, err)

		env.Advance(time.Hour)

		assert.Equal(t, []string{
			"00:00:00 deployment web-42 status: queued",
			"00:00:15 deployment api-7 status: queued",
			"00:00:30 deployment web-42 status: building",
			"00:00:45 deployment api-7 status: building",
			"00:01:00 deployment web-42 status: building",
			"00:01:15 deployment api-7 failed: notified #deploys, monitoring stops",
			"00:01:30 deployment web-42 status: rolling out",
			"00:02:00 deployment web-42 status: rolling out",
			"00:02:30 deployment web-42 completed: notified #deploys, monitoring stops",
		}, out.Lines())

		runs := env.Runs("monitor_deployment")
		s := time.Second
		assert.Equal(t, []time.Duration{0, 30 * s, 60 * s, 90 * s, 120 * s, 150 * s}, starts(runs, "deploy:web-42", t0))
		assert.Equal(t, []time.Duration{15 * s, 45 * s, 75 * s}, starts(runs, "deploy:api-7", t0))
		assert.Len(t, runs, 9, "no run after either deployment finished")

		for ex, finished := range map[*sdk.Execution]time.Duration{web: 150 * s, api: 75 * s} {
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateCompleted, info.State, ex.Key())
			assert.Equal(t, t0.Add(finished), info.Finished, ex.Key())
		}
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		assert.Zero(t, snap.TotalWaiting, "nothing left scheduled")
		assert.Zero(t, snap.TotalRunning)
	}, testsuite.WithDocketOptions(sdk.WithRetention(24*time.Hour)))
}

// A check that fails (the status service is down) is a failed run, not the
// end of the chain: the next check comes 30 seconds later as usual.
func TestMonitorKeepsGoingThroughFailedChecks(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		sim := newDeployments()
		calls := 0
		flaky := func(ctx context.Context, id string) (string, error) {
			calls++
			if calls == 2 {
				return "", errors.New("status service unavailable")
			}
			return sim.status(ctx, id)
		}
		task := monitorDeployment(&out, 30*time.Second, flaky)
		env.Register(task)
		t0 := env.Now()
		_, err := task.Add(t.Context(), env.Docket(), Deployment{ID: "api-7"}, sdk.Key("deploy:api-7"))
		require.NoError(t, err)
		env.Advance(time.Hour)

		assert.Equal(t, []string{
			"00:00:00 deployment api-7 status: queued",
			"00:01:00 deployment api-7 status: building",
			"00:01:30 deployment api-7 failed: notified #deploys, monitoring stops",
		}, out.Lines())
		runs := env.Runs("monitor_deployment")
		s := time.Second
		assert.Equal(t, []time.Duration{0, 30 * s, 60 * s, 90 * s}, starts(runs, "deploy:api-7", t0))
		require.Len(t, runs, 4)
		assert.ErrorContains(t, runs[1].Err, "status service unavailable")
	})
}

// The program itself, on the embedded backend, for four minutes of fake
// time: both deployments finish and their monitors stop.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, 30*time.Second, 4*time.Minute))
		assert.Equal(t, []string{
			"00:00:00 deployment web-42 status: queued",
			"00:00:15 deployment api-7 status: queued",
			"00:00:30 deployment web-42 status: building",
			"00:00:45 deployment api-7 status: building",
			"00:01:00 deployment web-42 status: building",
			"00:01:15 deployment api-7 failed: notified #deploys, monitoring stops",
			"00:01:30 deployment web-42 status: rolling out",
			"00:02:00 deployment web-42 status: rolling out",
			"00:02:30 deployment web-42 completed: notified #deploys, monitoring stops",
			"deploy:web-42: completed after its check at 00:02:30 UTC",
			"deploy:api-7: completed after its check at 00:01:15 UTC",
		}, out.Lines())
	})
}

// Stopped early, the program says which monitors are still going.
func TestRunStoppedEarly(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, 30*time.Second, 50*time.Second))
		assert.Equal(t, []string{
			"00:00:00 deployment web-42 status: queued",
			"00:00:15 deployment api-7 status: queued",
			"00:00:30 deployment web-42 status: building",
			"00:00:45 deployment api-7 status: building",
			"deploy:web-42: still monitoring, next check at 00:01:00 UTC",
			"deploy:api-7: still monitoring, next check at 00:01:15 UTC",
		}, out.Lines())
	})
}
