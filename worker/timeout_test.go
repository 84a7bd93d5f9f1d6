package worker_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

func TestTimeoutCancelsAtTheDeadline(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var cause error
		var ended time.Time
		task := sdk.NewTask("slow", func(ctx context.Context, in struct{}) error {
			<-ctx.Done()
			cause, ended = context.Cause(ctx), time.Now()
			return ctx.Err()
		}, policy.Timeout(10*time.Minute))
		env.Register(task)
		t0 := env.Now()
		ex, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.Advance(time.Hour)

		assert.ErrorIs(t, cause, sdk.ErrTimeout)
		assert.Equal(t, t0.Add(10*time.Minute), ended)
		runs := env.Runs("slow")
		require.Len(t, runs, 1)
		assert.ErrorIs(t, runs[0].Err, sdk.ErrTimeout)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Contains(t, info.Error, "timed out after 10m0s")
	}, testsuite.WithDocketOptions(sdk.WithRetention(24*time.Hour)))
}

func TestTimeoutExtend(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var remaining []time.Duration
		var ended time.Time
		task := sdk.NewTask("phases", func(ctx context.Context, in struct{}) error {
			tc := sdk.Current(ctx).Timeout()
			time.Sleep(time.Minute) // phase one
			left, _ := tc.Remaining()
			remaining = append(remaining, left)
			tc.Extend() // by the base: two more minutes
			left, _ = tc.Remaining()
			remaining = append(remaining, left)
			tc.Extend(5 * time.Minute)
			left, _ = tc.Remaining()
			remaining = append(remaining, left)
			// A deadline only moves later: these move nothing.
			tc.Extend(0)
			tc.Extend(-30 * time.Second)
			tc.Extend(30*time.Second, -30*time.Second)
			left, _ = tc.Remaining()
			remaining = append(remaining, left)
			<-ctx.Done()
			ended = time.Now()
			return ctx.Err()
		}, policy.Timeout(2*time.Minute))
		env.Register(task)
		t0 := env.Now()
		ex, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.Advance(time.Hour)
		assert.Equal(t, []time.Duration{time.Minute, 3 * time.Minute, 8 * time.Minute, 8 * time.Minute}, remaining)
		assert.Equal(t, t0.Add(9*time.Minute), ended, "2m + 2m + 5m after the start")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Contains(t, info.Error, "timed out after 9m0s", "the time it was given, extensions included")
	}, testsuite.WithDocketOptions(sdk.WithRetention(24*time.Hour)))
}

// Extend's durations are added up without wrapping round: two halves of
// the longest duration moved nothing (their sum wrapped to a negative).
func TestTimeoutExtendByHugeDurations(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var left time.Duration
		task := sdk.NewTask("huge", func(ctx context.Context, in struct{}) error {
			half := time.Duration(math.MaxInt64/2 + 1)
			sdk.Current(ctx).Timeout().Extend(half, half)
			left, _ = sdk.Current(ctx).Timeout().Remaining()
			return nil
		}, policy.Timeout(time.Minute))
		env.Register(task)
		_, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.Greater(t, left, 100*365*24*time.Hour)
	})
}

// The Timeout policy is the task context's deadline, as code called from
// the task (database/sql, net/http, gRPC) reads it: ctx.Deadline() reports
// it, moved by Extend; contexts derived from ctx inherit it; once it passes,
// ctx.Err() is context.DeadlineExceeded and the cause is sdk.ErrTimeout.
func TestTimeoutIsTheContextDeadline(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now()
		var deadlines []time.Time
		var derived time.Time
		var errAtEnd, causeAtEnd, childErr error
		task := sdk.NewTask("query", func(ctx context.Context, in struct{}) error {
			at, ok := ctx.Deadline()
			require.True(t, ok, "a task with a Timeout policy has a deadline")
			deadlines = append(deadlines, at)
			sdk.Current(ctx).Timeout().Extend(30 * time.Second)
			at, _ = ctx.Deadline()
			deadlines = append(deadlines, at)
			child, cancel := context.WithTimeout(ctx, time.Hour) // as database/sql or net/http do
			defer cancel()
			derived, _ = child.Deadline()
			<-ctx.Done()
			errAtEnd, causeAtEnd = ctx.Err(), context.Cause(ctx)
			childErr = context.Cause(child)
			return ctx.Err()
		}, policy.Timeout(time.Minute))
		plain := sdk.NewTask("plain", func(ctx context.Context, in struct{}) error {
			if _, ok := ctx.Deadline(); ok {
				return errors.New("a task without a Timeout policy has no deadline")
			}
			if _, ok := sdk.Current(ctx).Timeout().Remaining(); ok {
				return errors.New("Remaining reports a deadline without a Timeout policy")
			}
			return nil
		})
		env.Register(task)
		env.Register(plain)
		_, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		_, err = plain.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.Advance(time.Hour)

		assert.Equal(t, []time.Time{t0.Add(time.Minute), t0.Add(90 * time.Second)}, deadlines)
		assert.Equal(t, t0.Add(90*time.Second), derived, "a derived context keeps the earlier deadline")
		assert.ErrorIs(t, errAtEnd, context.DeadlineExceeded)
		assert.ErrorIs(t, causeAtEnd, sdk.ErrTimeout)
		assert.ErrorIs(t, causeAtEnd, context.DeadlineExceeded, "ErrTimeout is a deadline exceeded")
		assert.ErrorIs(t, childErr, context.DeadlineExceeded, "derived contexts end with the same cause")
		require.Len(t, env.Runs("plain"), 1)
		assert.NoError(t, env.Runs("plain")[0].Err)
		runs := env.Runs("query")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(90*time.Second), runs[0].End)
	})
}

func TestTimedOutAttemptIsRetriedWithAFreshTimeout(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("retry_slow", func(ctx context.Context, in struct{}) error {
			if sdk.Current(ctx).Attempt() < 3 {
				<-ctx.Done()
				return ctx.Err()
			}
			time.Sleep(50 * time.Second) // within a fresh 1m timeout
			return nil
		}, policy.Timeout(time.Minute), policy.Retry(3, 30*time.Second))
		env.Register(task)
		t0 := env.Now()
		_, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.Advance(time.Hour)
		runs := env.Runs("retry_slow")
		require.Len(t, runs, 3)
		assert.Equal(t, t0, runs[0].Start)
		assert.Equal(t, t0.Add(90*time.Second), runs[1].Start, "1m timeout + 30s delay")
		assert.Equal(t, t0.Add(180*time.Second), runs[2].Start)
		assert.ErrorIs(t, runs[0].Err, sdk.ErrTimeout)
		assert.ErrorIs(t, runs[1].Err, sdk.ErrTimeout)
		assert.NoError(t, runs[2].Err)
		assert.Equal(t, t0.Add(230*time.Second), runs[2].End)
	})
}

// A task that ignores its context is abandoned at the deadline: the worker
// records the timeout then and moves on; what the function returns later
// changes nothing.
func TestTaskIgnoringItsContextIsAbandoned(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		returned := make(chan struct{})
		task := sdk.NewTask("stubborn", func(ctx context.Context, in struct{}) error {
			defer close(returned)
			time.Sleep(time.Hour) // ignores ctx
			return nil
		}, policy.Timeout(time.Minute))
		env.Register(task)
		t0 := env.Now()
		ex, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)

		env.Advance(2 * time.Minute)
		runs := env.Runs("stubborn")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(time.Minute), runs[0].End)
		assert.ErrorIs(t, runs[0].Err, sdk.ErrTimeout)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)

		env.Advance(time.Hour)
		<-returned
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State, "the late success is ignored")
		assert.Len(t, env.Runs("stubborn"), 1)
	}, testsuite.WithDocketOptions(sdk.WithRetention(24*time.Hour)))
}
