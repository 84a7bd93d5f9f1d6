package main

import (
	"context"
	"encoding/json"
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

const endpoint = "https://api.example.com/v1/search"

// offsets are the runs' starts after t0.
func offsets(runs []testsuite.Attempt, t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range runs {
		out = append(out, r.Start.Sub(t0))
	}
	return out
}

// inputs are the rates the runs were given.
func inputs(t *testing.T, runs []testsuite.Attempt) []int {
	t.Helper()
	var out []int
	for _, r := range runs {
		var in Limit
		require.NoError(t, json.Unmarshal(r.Input, &in))
		require.Equal(t, endpoint, in.Endpoint)
		out = append(out, in.RequestsPerMinute)
	}
	return out
}

// As the load rises the checks come every 30 seconds and the rate falls
// (not below 30); as it eases they come every minute and the rate rises.
// Each run gets the rate the one before it set.
func TestRateAndIntervalFollowTheLoad(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		task := adaptiveRateLimiter(&out, time.Minute, newMeter().load)
		env.Register(task)
		t0 := env.Now() // 2000-01-01 00:00:00 UTC
		ex, err := task.Add(t.Context(), env.Docket(), Limit{Endpoint: endpoint, RequestsPerMinute: 60}, sdk.Key("rate:search"))
		require.NoError(t, err)
		env.Advance(6 * time.Minute)

		e := "on " + endpoint
		assert.Equal(t, []string{
			"00:00:00 normal load (42%) " + e + ": 60 → 65 req/min, next check in 1m0s",
			"00:01:00 normal load (55%) " + e + ": 65 → 70 req/min, next check in 1m0s",
			"00:02:00 high load (91%) " + e + ": 70 → 60 req/min, next check in 30s",
			"00:02:30 high load (88%) " + e + ": 60 → 50 req/min, next check in 30s",
			"00:03:00 high load (95%) " + e + ": 50 → 40 req/min, next check in 30s",
			"00:03:30 high load (97%) " + e + ": 40 → 30 req/min, next check in 30s",
			"00:04:00 high load (99%) " + e + ": 30 → 30 req/min, next check in 30s",
			"00:04:30 normal load (63%) " + e + ": 30 → 35 req/min, next check in 1m0s",
			"00:05:30 normal load (35%) " + e + ": 35 → 40 req/min, next check in 1m0s",
		}, out.Lines())

		runs := env.Runs("adaptive_rate_limiter")
		s := time.Second
		assert.Equal(t, []time.Duration{0, 60 * s, 120 * s, 150 * s, 180 * s, 210 * s, 240 * s, 270 * s, 330 * s}, offsets(runs, t0),
			"60s apart, 30s under high load, 60s again")
		assert.Equal(t, []int{60, 65, 70, 60, 50, 40, 30, 30, 35}, inputs(t, runs))
		for _, r := range runs {
			assert.Equal(t, "rate:search", r.Key)
			assert.NoError(t, r.Err, "Perpetuate accepted the next input")
		}

		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State)
		assert.Equal(t, t0.Add(390*time.Second), info.Due)
		assert.JSONEq(t, `{"endpoint":"`+endpoint+`","requests_per_minute":40}`, string(info.Input))
	})
}

// The rate never goes above 120.
func TestRateStopsAt120(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		calm := func(context.Context, string) (float64, error) { return 0.1, nil }
		task := adaptiveRateLimiter(&out, time.Minute, calm)
		env.Register(task)
		t0 := env.Now()
		_, err := task.Add(t.Context(), env.Docket(), Limit{Endpoint: endpoint, RequestsPerMinute: 110})
		require.NoError(t, err)
		env.Advance(4 * time.Minute)

		runs := env.Runs("adaptive_rate_limiter")
		assert.Equal(t, []int{110, 115, 120, 120, 120}, inputs(t, runs))
		assert.Equal(t, []time.Duration{0, time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute}, offsets(runs, t0))
	})
}

// A failed reading is a failed run; the chain goes on after the policy's
// interval, a minute, with the same rate.
func TestFailedReadingKeepsTheRate(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		readings := []float64{0.9, -1, 0.2}
		n := 0
		load := func(context.Context, string) (float64, error) {
			l := readings[min(n, len(readings)-1)]
			n++
			if l < 0 {
				return 0, errors.New("metrics unavailable")
			}
			return l, nil
		}
		task := adaptiveRateLimiter(&out, time.Minute, load)
		env.Register(task)
		t0 := env.Now()
		_, err := task.Add(t.Context(), env.Docket(), Limit{Endpoint: endpoint, RequestsPerMinute: 60})
		require.NoError(t, err)
		env.Advance(2 * time.Minute)

		runs := env.Runs("adaptive_rate_limiter")
		assert.Equal(t, []time.Duration{0, 30 * time.Second, 90 * time.Second}, offsets(runs, t0))
		assert.Equal(t, []int{60, 50, 50}, inputs(t, runs))
		require.Len(t, runs, 3)
		assert.ErrorContains(t, runs[1].Err, "metrics unavailable")
	})
}

// The program itself, on the embedded backend, for 5m45s of fake time.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, endpoint, time.Minute, 5*time.Minute+45*time.Second))
		lines := out.Lines()
		require.Len(t, lines, 10)
		assert.Equal(t, "00:00:00 normal load (42%) on "+endpoint+": 60 → 65 req/min, next check in 1m0s", lines[0])
		assert.Equal(t, "00:04:00 high load (99%) on "+endpoint+": 30 → 30 req/min, next check in 30s", lines[6])
		assert.Equal(t, "00:05:30 normal load (35%) on "+endpoint+": 35 → 40 req/min, next check in 1m0s", lines[8])
		assert.Equal(t, "stopped; next check at 00:06:30 UTC with 40 req/min", lines[9])
	})
}
