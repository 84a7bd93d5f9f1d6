package worker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

type Call struct {
	URL string `json:"url"`
}

// A day of exponential backoff: every attempt starts at its exact instant,
// and the whole day takes milliseconds of wall time.
func TestExponentialRetryOverADay(t *testing.T) {
	wall := time.Now()
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var seen []int
		task := sdk.NewTask("call_api", func(ctx context.Context, in Call) error {
			n := sdk.Current(ctx).Attempt()
			seen = append(seen, n)
			if n < 12 {
				return fmt.Errorf("attempt %d: service unavailable", n)
			}
			return nil
		}, policy.ExponentialRetry(policy.Unlimited, time.Minute, 4*time.Hour))
		env.Register(task)

		t0 := env.Now()
		ex, err := task.Add(t.Context(), env.Docket(), Call{URL: "https://example.com"})
		require.NoError(t, err)
		env.Advance(24 * time.Hour)

		// 1, 2, 4, … 128 minutes, then capped at 240.
		want := []time.Time{t0}
		delay, at := time.Minute, t0
		for len(want) < 12 {
			at = at.Add(delay)
			want = append(want, at)
			delay = min(2*delay, 4*time.Hour)
		}
		runs := env.Runs("call_api")
		require.Len(t, runs, 12)
		for i, r := range runs {
			assert.Equal(t, want[i], r.Start, "attempt %d", i+1)
			assert.Equal(t, i+1, r.Attempt)
			if i < 11 {
				assert.ErrorContains(t, r.Err, "service unavailable")
			} else {
				assert.NoError(t, r.Err)
			}
		}
		assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, seen)

		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Equal(t, 12, info.Attempt)
		assert.Equal(t, t0.Add(975*time.Minute), info.Finished)
	}, testsuite.WithDocketOptions(sdk.WithRetention(48*time.Hour)))
	t.Logf("a day of retries took %v of wall time", time.Since(wall))
}

func TestRetryGivesUpAfterAttempts(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		boom := errors.New("boom")
		task := sdk.NewTask("flaky", func(ctx context.Context, in struct{}) error { return boom },
			policy.Retry(3, 10*time.Second))
		env.Register(task)
		t0 := env.Now()
		ex, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.Advance(time.Hour)

		runs := env.Runs("flaky")
		require.Len(t, runs, 3, "attempts counts the first run")
		for i, r := range runs {
			assert.Equal(t, t0.Add(time.Duration(i)*10*time.Second), r.Start)
			assert.ErrorIs(t, r.Err, boom)
		}
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, 3, info.Attempt)
		assert.Equal(t, "boom", info.Error)
	}, testsuite.WithDocketOptions(sdk.WithRetention(48*time.Hour)))
}

func TestNoRetryPolicyFailsAtOnce(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("once", func(ctx context.Context, in struct{}) error { return errors.New("nope") })
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.RunUntilIdle()
		require.Len(t, env.Runs("once"), 1)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, "nope", info.Error)
	})
}

func TestUnlimitedFixedRetry(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("critical_sync", func(ctx context.Context, in struct{}) error {
			if sdk.Current(ctx).Attempt() < 50 {
				return errors.New("not yet")
			}
			return nil
		}, policy.Retry(policy.Unlimited, 5*time.Minute))
		env.Register(task)
		t0 := env.Now()
		_, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.Advance(5 * time.Hour)
		runs := env.Runs("critical_sync")
		require.Len(t, runs, 50)
		assert.Equal(t, t0.Add(49*5*time.Minute), runs[49].Start)
		assert.NoError(t, runs[49].Err)
	})
}
