package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

// A cancel reaches a running task through the worker's subscription, at the
// instant it is made: not at the next lease renewal, an hour of fake time
// away, which would tell it ErrCancelled too.
func TestCancelReachesARunningTaskAtOnce(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		type stop struct {
			at    time.Time
			cause error
		}
		stopped := make(chan stop, 1)
		task := sdk.NewTask("waits", func(ctx context.Context, in Greeting) error {
			<-ctx.Done()
			stopped <- stop{time.Now(), context.Cause(ctx)}
			return ctx.Err()
		})
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), Greeting{"x"})
		require.NoError(t, err)
		env.Advance(time.Second) // it runs
		cancelled := env.Now()
		require.NoError(t, env.Docket().Cancel(t.Context(), ex.Key()))
		env.RunUntilIdle()
		got := <-stopped
		assert.ErrorIs(t, got.cause, sdk.ErrCancelled)
		assert.Equal(t, cancelled, got.at, "the event, not a renewal, stopped it")
	}, testsuite.WithWorkerOptions(worker.Options{Lease: 3 * time.Hour}))
}

// A context derived in a task (with a value, a cancel of its own, a
// timeout) still carries the attempt (sdk.Current) and ends with the
// task's, with its cause, when the task is cancelled; the task's own
// cancel of it ends it alone.
func TestAContextDerivedInATaskCarriesItsAttemptAndEndsWithIt(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		type seen struct {
			key, ownKey string
			own, cause  error
		}
		saw := make(chan seen, 1)
		type k struct{}
		task := sdk.NewTask("derives", func(ctx context.Context, in Greeting) error {
			own, cancelOwn := context.WithCancel(ctx)
			cancelOwn()
			derived, cancel := context.WithTimeout(context.WithValue(ctx, k{}, "v"), time.Hour)
			defer cancel()
			<-derived.Done()
			saw <- seen{sdk.Current(derived).Key(), sdk.Current(own).Key(), context.Cause(own), context.Cause(derived)}
			return ctx.Err()
		})
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), Greeting{"x"}, sdk.Key("d"))
		require.NoError(t, err)
		env.Advance(time.Second) // it runs
		require.NoError(t, env.Docket().Cancel(t.Context(), ex.Key()))
		env.RunUntilIdle()
		got := <-saw
		assert.Equal(t, "d", got.key)
		assert.Equal(t, "d", got.ownKey)
		assert.ErrorIs(t, got.own, context.Canceled, "its own cancel")
		assert.ErrorIs(t, got.cause, sdk.ErrCancelled, "the task's cancel, not the hour")
	})
}
