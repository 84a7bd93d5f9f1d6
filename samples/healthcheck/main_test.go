package main

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// Half an hour of checks: one every five minutes, each at its exact
// instant, under one key; the chain goes on through the outage.
func TestHealthCheckEveryFiveMinutes(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		task := healthCheck(&out, 5*time.Minute, newFlakyService().check)
		env.Register(task)
		t0 := env.Now() // 2000-01-01 00:00:00 UTC
		ex, err := task.Add(t.Context(), env.Docket(), Service{URL: "https://api.example.com"}, sdk.Key("health:api"))
		require.NoError(t, err)
		again, err := task.Add(t.Context(), env.Docket(), Service{URL: "https://api.example.com"}, sdk.Key("health:api"))
		require.NoError(t, err)
		assert.Equal(t, sdk.AlreadyScheduled, again.Disposition(), "one chain per key")

		env.Advance(30*time.Minute - time.Nanosecond)

		assert.Equal(t, []string{
			"00:00:00 ✓ https://api.example.com is healthy",
			"00:05:00 ✓ https://api.example.com is healthy",
			"00:10:00 ✗ https://api.example.com failed health check: GET https://api.example.com/health: 503 Service Unavailable",
			"00:10:00 ALERT: service https://api.example.com is down",
			"00:15:00 ✗ https://api.example.com failed health check: GET https://api.example.com/health: 503 Service Unavailable",
			"00:15:00 ALERT: service https://api.example.com is down",
			"00:20:00 ✓ https://api.example.com is healthy",
			"00:25:00 ✓ https://api.example.com is healthy",
		}, out.Lines())

		runs := env.Runs("health_check")
		require.Len(t, runs, 6)
		for i, r := range runs {
			assert.Equal(t, t0.Add(time.Duration(i)*5*time.Minute), r.Start, "run %d", i)
			assert.Equal(t, "health:api", r.Key)
			assert.Equal(t, 1, r.Attempt)
			assert.JSONEq(t, `{"url":"https://api.example.com"}`, string(r.Input))
			assert.NoError(t, r.Err)
		}

		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State, "a perpetual task never ends by itself")
		assert.Equal(t, t0.Add(30*time.Minute), info.Due)
	})
}

// A day of checks: 288 of them, the chain never breaks.
func TestHealthCheckForADay(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		task := healthCheck(&out, 5*time.Minute, func(context.Context, string) error { return nil })
		env.Register(task)
		t0 := env.Now()
		_, err := task.Add(t.Context(), env.Docket(), Service{URL: "https://db.internal"}, sdk.Key("health:db"))
		require.NoError(t, err)
		env.Advance(24 * time.Hour)

		runs := env.Runs("health_check")
		require.Len(t, runs, 289, "at 00:00, every five minutes, and at 24:00")
		assert.Equal(t, t0.Add(24*time.Hour), runs[288].Start)
		lines := out.Lines()
		assert.Equal(t, "23:55:00 ✓ https://db.internal is healthy", lines[287])
	})
}

// The program itself, on the embedded backend, for twelve minutes of fake
// time: checks at 00:00, 00:05 and 00:10, then the worker stops.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, "https://api.example.com", 5*time.Minute, 12*time.Minute))
		assert.Equal(t, []string{
			"watching https://api.example.com every 5m0s: scheduled",
			"00:00:00 ✓ https://api.example.com is healthy",
			"00:05:00 ✓ https://api.example.com is healthy",
			"00:10:00 ✗ https://api.example.com failed health check: GET https://api.example.com/health: 503 Service Unavailable",
			"00:10:00 ALERT: service https://api.example.com is down",
			"stopped; health:https://api.example.com is scheduled, next check at 00:15:00 UTC",
		}, out.Lines())
	})
}
