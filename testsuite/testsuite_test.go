package testsuite_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type Nap struct {
	For time.Duration `json:"for"`
}

// Tasks that sleep end at their exact instant; Advance returns with
// everything due by then done.
func TestAdvanceRunsEverythingAtItsInstant(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		nap := sdk.NewTask("nap", func(ctx context.Context, in Nap) error {
			time.Sleep(in.For)
			return nil
		})
		env.Register(nap)
		t0 := env.Now()
		for _, at := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour} {
			_, err := nap.Add(t.Context(), env.Docket(), Nap{For: 10 * time.Minute}, sdk.After(at))
			require.NoError(t, err)
		}
		env.Advance(2*time.Hour + 10*time.Minute)
		assert.Equal(t, t0.Add(2*time.Hour+10*time.Minute), env.Now())
		runs := env.Runs("nap")
		require.Len(t, runs, 2, "the third is not due yet")
		for i, r := range runs {
			start := t0.Add(time.Duration(i+1) * time.Hour)
			assert.Equal(t, start, r.Start)
			assert.Equal(t, start.Add(10*time.Minute), r.End)
		}
	})
}

// RunUntilIdle moves time as far as running tasks need, and no further.
func TestRunUntilIdleWaitsForRunningTasks(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		nap := sdk.NewTask("nap", func(ctx context.Context, in Nap) error {
			time.Sleep(in.For)
			return nil
		})
		env.Register(nap)
		t0 := env.Now()
		_, err := nap.Add(t.Context(), env.Docket(), Nap{For: time.Hour})
		require.NoError(t, err)
		_, err = nap.Add(t.Context(), env.Docket(), Nap{For: 90 * time.Minute})
		require.NoError(t, err)
		later, err := nap.Add(t.Context(), env.Docket(), Nap{}, sdk.After(24*time.Hour))
		require.NoError(t, err)

		env.RunUntilIdle()
		assert.Equal(t, t0.Add(90*time.Minute), env.Now())
		assert.Len(t, env.Runs("nap"), 2)
		info, err := later.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State)

		env.RunUntilIdle() // nothing to do: returns at once
		assert.Equal(t, t0.Add(90*time.Minute), env.Now())
	})
}

func TestRunsFiltersByTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		a := sdk.NewTask("a", func(ctx context.Context, in Nap) error { return nil })
		b := sdk.NewTask("b", func(ctx context.Context, in Nap) error { return nil })
		env.Register(a, b)
		_, _ = a.Add(t.Context(), env.Docket(), Nap{})
		_, _ = b.Add(t.Context(), env.Docket(), Nap{})
		_, _ = b.Add(t.Context(), env.Docket(), Nap{})
		env.RunUntilIdle()
		assert.Len(t, env.Runs("a"), 1)
		assert.Len(t, env.Runs("b"), 2)
		assert.Len(t, env.Runs(""), 3)
		assert.Empty(t, env.Runs("c"))
	})
}
