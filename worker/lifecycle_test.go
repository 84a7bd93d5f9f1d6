package worker_test

import (
	"context"
	"errors"
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

func TestAddAtAndAfterRunAtTheirInstant(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("remind", func(ctx context.Context, in Greeting) error { return nil })
		env.Register(task)
		t0 := env.Now()
		d := env.Docket()
		_, err := task.Add(t.Context(), d, Greeting{"later"}, sdk.After(90*time.Minute))
		require.NoError(t, err)
		_, err = task.Add(t.Context(), d, Greeting{"at"}, sdk.At(t0.Add(30*time.Minute+1500*time.Microsecond)))
		require.NoError(t, err)
		_, err = task.Add(t.Context(), d, Greeting{"past"}, sdk.At(t0.Add(-time.Hour)))
		require.NoError(t, err)
		env.Advance(2 * time.Hour)

		runs := env.Runs("remind")
		require.Len(t, runs, 3)
		assert.JSONEq(t, `{"name":"past"}`, string(runs[0].Input))
		assert.Equal(t, t0, runs[0].Start, "a time in the past means now")
		assert.JSONEq(t, `{"name":"at"}`, string(runs[1].Input))
		assert.Equal(t, t0.Add(30*time.Minute+1500*time.Microsecond), runs[1].Start)
		assert.JSONEq(t, `{"name":"later"}`, string(runs[2].Input))
		assert.Equal(t, t0.Add(90*time.Minute), runs[2].Start)
	})
}

type Greeting struct {
	Name string `json:"name"`
}

func TestAddingALiveKeyDoesNothing(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		release := make(chan struct{})
		task := sdk.NewTask("greet", func(ctx context.Context, in Greeting) error {
			if in.Name == "block" {
				<-release
			}
			return nil
		})
		env.Register(task)
		d := env.Docket()
		t0 := env.Now()

		first, err := task.Add(t.Context(), d, Greeting{"one"}, sdk.Key("k"), sdk.After(time.Minute))
		require.NoError(t, err)
		assert.Equal(t, sdk.Scheduled, first.Disposition())
		assert.Equal(t, "k", first.Key())
		again, err := task.Add(t.Context(), d, Greeting{"two"}, sdk.Key("k"))
		require.NoError(t, err)
		assert.Equal(t, sdk.AlreadyScheduled, again.Disposition())
		assert.Equal(t, t0.Add(time.Minute), again.Due(), "the existing task's due time")

		env.Advance(time.Minute)
		runs := env.Runs("greet")
		require.Len(t, runs, 1)
		assert.JSONEq(t, `{"name":"one"}`, string(runs[0].Input))

		// Finished: the key is free again.
		third, err := task.Add(t.Context(), d, Greeting{"block"}, sdk.Key("k"))
		require.NoError(t, err)
		assert.Equal(t, sdk.Scheduled, third.Disposition())
		env.Advance(time.Second)
		info, err := third.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateRunning, info.State)
		fourth, err := task.Add(t.Context(), d, Greeting{"three"}, sdk.Key("k"))
		require.NoError(t, err)
		assert.Equal(t, sdk.AlreadyScheduled, fourth.Disposition(), "a running key is live too")
		close(release)
		env.RunUntilIdle()
		assert.Len(t, env.Runs("greet"), 2)
	})
}

func TestGeneratedKeysAreUUIDv7(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("greet", func(ctx context.Context, in Greeting) error { return nil })
		a, err := task.Add(t.Context(), env.Docket(), Greeting{"a"})
		require.NoError(t, err)
		b, err := task.Add(t.Context(), env.Docket(), Greeting{"b"})
		require.NoError(t, err)
		assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a.Key())
		assert.NotEqual(t, a.Key(), b.Key())
	})
}

func TestStatesThroughAnExecution(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		release := make(chan struct{})
		task := sdk.NewTask("step", func(ctx context.Context, in Greeting) error { <-release; return nil })
		env.Register(task)
		d := env.Docket()
		t0 := env.Now()
		ex, err := task.Add(t.Context(), d, Greeting{"x"}, sdk.Key("s"), sdk.After(time.Hour))
		require.NoError(t, err)

		state := func() sdk.State {
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			return info.State
		}
		assert.Equal(t, sdk.StateScheduled, state())
		env.Advance(time.Hour)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateRunning, info.State)
		assert.Equal(t, t0.Add(time.Hour), info.Started)
		assert.Equal(t, t0, info.Created)
		assert.NotEmpty(t, info.Worker)

		snap, err := d.Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Running, 1)
		assert.Equal(t, "s", snap.Running[0].Key)
		require.Len(t, snap.Workers, 1)
		assert.Equal(t, []string{"step"}, snap.Workers[0].Tasks)

		close(release)
		env.RunUntilIdle()
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Equal(t, t0.Add(time.Hour), info.Finished)

		env.Advance(sdk.DefaultRetention - time.Second)
		assert.Equal(t, sdk.StateCompleted, state(), "kept for the retention")
		env.Advance(2 * time.Second)
		_, err = ex.Info(t.Context())
		assert.ErrorIs(t, err, sdk.ErrNotFound, "then it expires")
	})
}

func TestQueuedWhileWorkersAreBusy(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		release := make(chan struct{})
		task := sdk.NewTask("hold", func(ctx context.Context, in Greeting) error { <-release; return nil })
		env.Register(task)
		d := env.Docket()
		_, err := task.Add(t.Context(), d, Greeting{"1"}, sdk.Key("first"))
		require.NoError(t, err)
		env.Advance(0)
		second, err := task.Add(t.Context(), d, Greeting{"2"}, sdk.Key("second"))
		require.NoError(t, err)
		_, err = task.Add(t.Context(), d, Greeting{"3"}, sdk.Key("third"), sdk.After(time.Hour))
		require.NoError(t, err)
		env.Advance(time.Second)

		info, err := second.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State, "due, but the only slot is taken")
		snap, err := d.Snapshot(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, snap.TotalRunning)
		assert.Equal(t, 2, snap.TotalWaiting)
		require.Len(t, snap.Queued, 1)
		assert.Equal(t, "second", snap.Queued[0].Key)
		require.Len(t, snap.Scheduled, 1)
		assert.Equal(t, "third", snap.Scheduled[0].Key)
		close(release)
		env.RunUntilIdle()
		assert.Len(t, env.Runs("hold"), 2)
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1}))
}

func TestCancel(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var cause error
		task := sdk.NewTask("long", func(ctx context.Context, in Greeting) error {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		})
		env.Register(task)
		d := env.Docket()
		sched, err := task.Add(t.Context(), d, Greeting{"s"}, sdk.Key("scheduled"), sdk.After(time.Hour))
		require.NoError(t, err)
		running, err := task.Add(t.Context(), d, Greeting{"r"}, sdk.Key("running"))
		require.NoError(t, err)
		env.Advance(time.Second)

		require.NoError(t, d.Cancel(t.Context(), "scheduled"))
		require.NoError(t, d.Cancel(t.Context(), "running"))
		env.RunUntilIdle()
		assert.ErrorIs(t, cause, sdk.ErrCancelled, "the running task's context is cancelled")

		for _, ex := range []*sdk.Execution{sched, running} {
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateCancelled, info.State, ex.Key())
		}
		env.Advance(2 * time.Hour)
		runs := env.Runs("long")
		require.Len(t, runs, 1, "the cancelled scheduled task never runs")
		assert.ErrorIs(t, runs[0].Err, sdk.ErrCancelled)
		assert.ErrorIs(t, d.Cancel(t.Context(), "running"), sdk.ErrNotFound)
		assert.ErrorIs(t, d.Cancel(t.Context(), "never-added"), sdk.ErrNotFound)
	})
}

func TestReplace(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var causes []error
		task := sdk.NewTask("sync", func(ctx context.Context, in Greeting) error {
			if in.Name == "v1-running" {
				<-ctx.Done()
				causes = append(causes, context.Cause(ctx))
				return ctx.Err()
			}
			return nil
		})
		env.Register(task)
		d := env.Docket()
		t0 := env.Now()

		// A scheduled task: input and due time are overwritten.
		_, err := task.Add(t.Context(), d, Greeting{"v1"}, sdk.Key("a"), sdk.After(time.Hour))
		require.NoError(t, err)
		ex, err := task.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("a"), sdk.After(2*time.Hour))
		require.NoError(t, err)
		assert.Equal(t, sdk.Replaced, ex.Disposition())

		// A running task: the stale run is cancelled, the new one runs.
		_, err = task.Add(t.Context(), d, Greeting{"v1-running"}, sdk.Key("b"))
		require.NoError(t, err)
		env.Advance(time.Second)
		_, err = task.Replace(t.Context(), d, Greeting{"v2"}, sdk.Key("b"), sdk.After(time.Minute))
		require.NoError(t, err)

		// Replace of a key nobody has: plain scheduling.
		fresh, err := task.Replace(t.Context(), d, Greeting{"v1"}, sdk.Key("c"))
		require.NoError(t, err)
		assert.Equal(t, sdk.Scheduled, fresh.Disposition())

		env.Advance(3 * time.Hour)
		assert.Equal(t, []error{sdk.ErrCancelled}, causes)
		var a, b []testsuite.Attempt
		for _, r := range env.Runs("sync") {
			switch r.Key {
			case "a":
				a = append(a, r)
			case "b":
				b = append(b, r)
			}
		}
		require.Len(t, a, 1)
		assert.JSONEq(t, `{"name":"v2"}`, string(a[0].Input))
		assert.Equal(t, t0.Add(2*time.Hour), a[0].Start)
		require.Len(t, b, 2)
		assert.JSONEq(t, `{"name":"v2"}`, string(b[1].Input))
		assert.Equal(t, t0.Add(time.Second+time.Minute), b[1].Start)

		_, err = task.Replace(t.Context(), d, Greeting{"x"})
		assert.ErrorIs(t, err, sdk.ErrBadKey, "Replace needs a key")
	})
}

func TestAddManyInOneCall(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("bulk", func(ctx context.Context, in Order) error { return nil },
			policy.Retry(1, 0))
		env.Register(task)
		ins := make([]Order, 2500) // more than one script call's batch
		for i := range ins {
			ins[i] = Order{ID: i}
		}
		exs, err := task.AddMany(t.Context(), env.Docket(), ins, sdk.After(time.Minute))
		require.NoError(t, err)
		require.Len(t, exs, 2500)
		env.Advance(time.Minute)
		env.RunUntilIdle()
		runs := env.Runs("bulk")
		require.Len(t, runs, 2500)
		ids := map[string]bool{}
		for _, r := range runs {
			ids[string(r.Input)] = true
		}
		assert.Len(t, ids, 2500, "each input ran once")

		_, err = task.AddMany(t.Context(), env.Docket(), ins[:1], sdk.Key("k"))
		assert.ErrorIs(t, err, sdk.ErrBadKey)
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 100}))
}

func TestClear(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		release := make(chan struct{})
		task := sdk.NewTask("clearable", func(ctx context.Context, in Greeting) error { <-release; return nil },
			policy.TaskConcurrency(1))
		env.Register(task)
		d := env.Docket()
		running, _ := task.Add(t.Context(), d, Greeting{"running"})
		env.Advance(time.Second)
		waiting, _ := task.Add(t.Context(), d, Greeting{"waiting"})
		later, _ := task.Add(t.Context(), d, Greeting{"later"}, sdk.After(time.Hour))
		env.Advance(time.Second)

		n, err := d.Clear(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		for ex, want := range map[*sdk.Execution]sdk.State{running: sdk.StateRunning, waiting: sdk.StateCancelled, later: sdk.StateCancelled} {
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, want, info.State)
		}
		close(release)
		env.Advance(2 * time.Hour)
		assert.Len(t, env.Runs("clearable"), 1)
	})
}

// RunUntilFinished returns once every added task has finished, retries
// included, leaving the next run of a perpetual chain scheduled.
func TestRunUntilFinished(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		flaky := sdk.NewTask("flaky", func(ctx context.Context, in Order) error {
			if sdk.Current(ctx).Attempt() < 3 {
				return errors.New("not yet")
			}
			return nil
		}, policy.Retry(3, 100*time.Millisecond))
		poll := sdk.NewTask("poll", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(time.Hour, policy.Automatic()))
		require.NoError(t, d.Register(flaky))
		require.NoError(t, d.Register(poll))
		ex, err := flaky.Add(context.Background(), d, Order{ID: 1})
		require.NoError(t, err)
		require.NoError(t, worker.New(d, worker.Options{}).RunUntilFinished(context.Background()))
		info, err := ex.Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Equal(t, 3, info.Attempt)
		snap, err := d.Snapshot(context.Background())
		require.NoError(t, err)
		require.Len(t, snap.Scheduled, 1)
		assert.Equal(t, "poll", snap.Scheduled[0].Key)
		require.NoError(t, d.Cancel(context.Background(), "poll"))
	})
}
