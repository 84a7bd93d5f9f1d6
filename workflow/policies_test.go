package workflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

// starts lists the start instants of a task's runs, from t0.
func starts(env *testsuite.Env, name string, t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range env.Runs(name) {
		out = append(out, r.Start.Sub(t0))
	}
	return out
}

// A Timeout bounds each run between parks: the time a workflow spends
// parked does not count.
func TestTimeoutDoesNotCountParkedTime(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			if err := workflow.Sleep(ctx, "a-day", 24*time.Hour); err != nil {
				return err
			}
			_, err := workflow.Step(ctx, "work", func(ctx context.Context) (int, error) {
				time.Sleep(30 * time.Second) // within the minute of this run
				return 1, nil
			})
			return err
		}, policy.Timeout(time.Minute))
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A parked workflow frees its concurrency slot: another runs meanwhile, and
// the first takes a slot again when it resumes.
func TestConcurrencyFreedWhileParked(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			if err := workflow.Sleep(ctx, "wait", time.Hour); err != nil {
				return err
			}
			time.Sleep(time.Minute)
			return nil
		}, policy.TaskConcurrency(1))
		env.Register(wf)
		t0 := env.Now()
		for i := range 2 {
			_, err := wf.Add(t.Context(), env.Docket(), N{N: i})
			require.NoError(t, err)
		}
		env.RunUntilFinished()
		assert.Equal(t, []time.Duration{0, 0, time.Hour, time.Hour + time.Minute}, starts(env, "wf", t0),
			"both park at once; at 1h one resumes, the other waits for its slot")
	})
}

// Cooldown and debounce judge submissions: a workflow resuming after it
// parked is no new submission, and is not dropped by its own window.
func TestCooldownAndDebounceDoNotDropAResumption(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		body := func(ctx context.Context, in N) error {
			return workflow.Sleep(ctx, "wait", 10*time.Minute)
		}
		cooled := sdk.NewTask("cooled", body, policy.TaskCooldown(time.Hour))
		settled := sdk.NewTask("settled", body, policy.TaskDebounce(time.Minute))
		env.Register(cooled)
		env.Register(settled)
		a, err := cooled.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		dropped, err := cooled.Add(t.Context(), env.Docket(), N{}, sdk.After(time.Minute))
		require.NoError(t, err)
		b, err := settled.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		for _, ex := range []*sdk.Execution{a, b} {
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateCompleted, info.State, ex.Key())
		}
		info, err := dropped.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCancelled, info.State, "a second submission within the window is dropped")
	})
}

// A perpetual workflow starts afresh with each run of its chain: its steps
// run in every run, each run's children are its own.
func TestPerpetualWorkflowRunsAfreshEachTime(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		child := sdk.NewResultTask("child", func(ctx context.Context, in N) (int, error) { return in.N, nil })
		steps := 0
		beat := sdk.NewTask("beat", func(ctx context.Context, in struct{}) error {
			if _, err := workflow.Step(ctx, "count", func(ctx context.Context) (int, error) {
				steps++
				return steps, nil
			}); err != nil {
				return err
			}
			c, err := workflow.Start(ctx, child, "c", N{N: steps})
			if err != nil {
				return err
			}
			_, err = c.Get(ctx)
			return err
		}, policy.Perpetual(time.Hour, policy.Automatic()))
		env.Register(child)
		env.Register(beat)
		t0 := env.Now()
		env.Advance(150 * time.Minute)
		assert.Equal(t, 3, steps, "the step ran in each of the 3 runs")
		assert.Len(t, env.Runs("child"), 3, "a child per run")
		var begun []time.Duration
		for _, r := range env.Runs("beat") {
			begun = append(begun, r.Start.Sub(t0))
		}
		assert.Equal(t, []time.Duration{0, 0, time.Hour, time.Hour, 2 * time.Hour, 2 * time.Hour}, begun,
			"each run parks for its child and resumes at once")
		for _, r := range env.Runs("child") {
			assert.Equal(t, "beat/c", r.Key, "the same name: a new child in each run, once the last ended")
		}
	})
}
