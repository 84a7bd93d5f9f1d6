package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

// Quote is a step's output with a field JSON does not carry.
type Quote struct {
	Price  int    `json:"price"`
	Secret string `json:"-"`
}

// A step returns its output as saved, in the run that ran it as in every
// later run: the same value either way.
func TestStepReturnsItsOutputAsSaved(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var seen []Quote
		var kinds []string
		wf := sdk.NewTask("quote", func(ctx context.Context, in N) error {
			q, err := workflow.Step(ctx, "quote", func(ctx context.Context) (Quote, error) {
				return Quote{Price: 10, Secret: "s3cret"}, nil
			})
			if err != nil {
				return err
			}
			m, err := workflow.Step(ctx, "map", func(ctx context.Context) (map[string]any, error) {
				return map[string]any{"n": 1}, nil
			})
			if err != nil {
				return err
			}
			seen = append(seen, q)
			switch m["n"].(type) {
			case int:
				kinds = append(kinds, "int")
			case float64:
				kinds = append(kinds, "float64")
			}
			return workflow.Sleep(ctx, "pause", time.Minute)
		})
		env.Register(wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.Equal(t, []Quote{{Price: 10}, {Price: 10}}, seen, "both runs see the output as saved")
		assert.Equal(t, []string{"float64", "float64"}, kinds)
	})
}

// A sleep of no time, or less, returns at once, without parking.
func TestSleepOfNoTimeDoesNotPark(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewTask("nap", func(ctx context.Context, in N) error {
			if err := workflow.Sleep(ctx, "zero", 0); err != nil {
				return err
			}
			return workflow.Sleep(ctx, "negative", -time.Hour)
		})
		env.Register(wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		runs := env.Runs("nap")
		require.Len(t, runs, 1, "one run: no park")
		assert.NoError(t, runs[0].Err)
	})
}

// A signal wait with a negative timeout (a deadline that has passed) times
// out at once, in the run that reaches it, unless a signal was sent before
// it; the outcome is the same in every run.
func TestSignalWaitWithANegativeTimeout(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var got []string
		wf := sdk.NewTask("approval", func(ctx context.Context, in N) error {
			v, err := workflow.WaitSignal[string](ctx, "approve", -time.Minute)
			switch {
			case err == nil:
				got = append(got, v)
			case errors.Is(err, workflow.ErrSignalTimeout):
				got = append(got, "timed out")
			default:
				return err
			}
			return workflow.Sleep(ctx, "after", time.Minute)
		})
		env.Register(wf)
		d := env.Docket()
		late, err := wf.Add(t.Context(), d, N{}, sdk.Key("late"))
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.Equal(t, []string{"timed out", "timed out"}, got, "the same in both runs")
		assert.Len(t, env.Runs("approval"), 2, "the first run timed out at once, without parking")
		info, err := late.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)

		got = nil
		early, err := wf.Add(t.Context(), d, N{}, sdk.Key("early"), sdk.After(time.Hour))
		require.NoError(t, err)
		require.NoError(t, d.Signal(t.Context(), early.Key(), "approve", "yes"))
		env.RunUntilFinished()
		assert.Equal(t, []string{"yes", "yes"}, got)
		info, err = early.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A failed child's TaskError names its task, as Result's does.
func TestChildFailureNamesItsTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ship := sdk.NewResultTask("ship", func(ctx context.Context, in N) (int, error) {
			return 0, sdk.Permanent(errors.New("no trucks"))
		})
		var failure error
		wf := sdk.NewTask("order", func(ctx context.Context, in N) error {
			f, err := workflow.Start(ctx, ship, "ship", in)
			if err != nil {
				return err
			}
			_, failure = f.Get(ctx)
			return nil
		})
		env.Register(ship, wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("o3"))
		require.NoError(t, err)
		env.RunUntilFinished()
		te, ok := errors.AsType[*sdk.TaskError](failure)
		require.True(t, ok, "%v", failure)
		assert.Equal(t, "ship", te.Task)
		assert.Equal(t, "o3/ship", te.Key)
	})
}

// Misuse of the primitives is an error, not a panic or a wait for ever: a
// nil context, a zero Future, Spread on children, a child's input over the
// docket's size limit, a perpetual task as a child, a task whose policies
// do not compile.
func TestPrimitivesRefuseMisuse(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		child := sdk.NewResultTask("child", func(ctx context.Context, in Blob) (int, error) { return 1, nil })
		poll := sdk.NewTask("poll", func(ctx context.Context, in Blob) error { return nil }, policy.Perpetual(time.Hour))
		// Automatic (a cron task's default) with an input field: Add refuses it.
		hourly := sdk.NewTask("hourly", func(ctx context.Context, in Blob) error { return nil }, policy.Cron("0 * * * *"))
		errs := map[string]error{}
		wf := sdk.NewTask("misuse", func(ctx context.Context, in N) error {
			var nilCtx context.Context
			_, errs["step"] = workflow.Step(nilCtx, "s", func(context.Context) (int, error) { return 1, nil })
			errs["sleep"] = workflow.Sleep(nilCtx, "s", time.Second)
			_, errs["signal"] = workflow.WaitSignal[int](nilCtx, "s", 0)
			_, errs["start"] = workflow.Start(nilCtx, child, "c", Blob{})
			errs["perpetuate"] = sdk.Perpetuate(nilCtx, N{})
			errs["zero future"] = workflow.Wait(ctx, &workflow.Future[int]{})
			_, errs["spread"] = workflow.StartMany(ctx, child, "many", []Blob{{}, {}}, sdk.Spread(time.Hour))
			_, errs["too large"] = workflow.Start(ctx, child, "big", Blob{Data: strings.Repeat("x", 200)})
			_, errs["perpetual"] = workflow.StartTask(ctx, poll, "poll", Blob{})
			_, errs["bad policies"] = workflow.StartTask(ctx, hourly, "hourly", Blob{})
			return nil
		})
		env.Register(child, wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		for _, what := range []string{"step", "sleep", "signal", "start", "perpetuate", "zero future"} {
			assert.ErrorIs(t, errs[what], sdk.ErrNilArgument, what)
		}
		assert.ErrorIs(t, errs["spread"], sdk.ErrBadInput)
		assert.ErrorIs(t, errs["too large"], sdk.ErrInputTooLarge)
		assert.ErrorIs(t, errs["perpetual"], sdk.ErrBadInput, "its chain never ends: nothing could wait for it")
		assert.ErrorIs(t, errs["bad policies"], policy.ErrAutomaticInput, "refused as Add refuses it")
	}, testsuite.WithDocketOptions(sdk.WithMaxInputSize(100)))
}

// A perpetual task's next input is held to the docket's size limit, as an
// added one is.
func TestPerpetuateRefusesAnInputTooLarge(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var err error
		poll := sdk.NewTask("poll", func(ctx context.Context, in Blob) error {
			err = sdk.Perpetuate(ctx, Blob{Data: strings.Repeat("x", 200)})
			return nil
		}, policy.Perpetual(time.Hour))
		env.Register(poll)
		_, addErr := poll.Add(t.Context(), env.Docket(), Blob{}, sdk.Key("poll"))
		require.NoError(t, addErr)
		env.Advance(time.Minute)
		assert.ErrorIs(t, err, sdk.ErrInputTooLarge)
	}, testsuite.WithDocketOptions(sdk.WithMaxInputSize(100)))
}

// Blob is an input whose size a test chooses.
type Blob struct {
	Data string `json:"data"`
}

// An instant after the year 9999 is refused, by SleepUntil as by sdk.At:
// beyond about year 294,000 it wrapped around to the past, and the task
// ran at once. One before the year 1 is past: now.
func TestInstantsOutOfRange(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		never := time.Unix(1<<62, 0)
		var sleepErr error
		wf := sdk.NewTask("sleeper", func(ctx context.Context, in N) error {
			sleepErr = workflow.SleepUntil(ctx, "forever", never)
			return nil
		})
		env.Register(wf)
		d := env.Docket()
		_, err := wf.Add(t.Context(), d, N{}, sdk.At(never))
		assert.ErrorIs(t, err, sdk.ErrBadInput)
		_, err = wf.AddMany(t.Context(), d, []N{{}}, sdk.At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)))
		assert.ErrorIs(t, err, sdk.ErrBadInput)
		ex, err := wf.Add(t.Context(), d, N{}, sdk.At(time.Unix(-(1<<62), 0)))
		require.NoError(t, err)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, env.Now(), info.Due, "due now")
		env.RunUntilFinished()
		assert.ErrorIs(t, sleepErr, sdk.ErrBadInput)
	})
}

// A child that ends after its workflow did is still recorded in the
// workflow's flow: Info shows the children a cancel cancelled as
// cancelled (they showed as live), and a Retry of the workflow keeps a
// child that completed since, retried on its own, rather than run it again.
func TestChildrenEndingAfterTheirWorkflow(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		fail := true
		child := sdk.NewResultTask("flaky", func(ctx context.Context, in N) (int, error) {
			if in.N == 2 && fail {
				return 0, sdk.Permanent(errors.New("boom"))
			}
			return in.N, nil
		})
		sum := sdk.NewResultTask("sum", func(ctx context.Context, in N) (int, error) {
			fs, err := workflow.StartMany(ctx, child, "c", []N{{N: 1}, {N: 2}, {N: 3}}, sdk.After(time.Duration(in.N)*time.Hour))
			if err != nil {
				return 0, err
			}
			vs, err := workflow.All(ctx, fs)
			if err != nil {
				return 0, err
			}
			return vs[0] + vs[1] + vs[2], nil
		})
		env.Register(child)
		env.Register(sum)
		d := env.Docket()

		cancelled, err := sum.Add(t.Context(), d, N{N: 1}, sdk.Key("cancelled"))
		require.NoError(t, err)
		env.Advance(time.Minute)
		require.NoError(t, d.Cancel(t.Context(), cancelled.Key()))
		env.RunUntilFinished()
		info, err := cancelled.Info(t.Context())
		require.NoError(t, err)
		require.Len(t, info.Workflow.Children, 3)
		for _, c := range info.Workflow.Children {
			assert.Equal(t, sdk.StateCancelled, c.State, c.Key)
		}

		p, err := sum.Add(t.Context(), d, N{N: 0}, sdk.Key("p"))
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err = p.Info(t.Context())
		require.NoError(t, err)
		require.Equal(t, sdk.StateFailed, info.State)
		fail = false
		require.NoError(t, d.Retry(t.Context(), "p/c/1"), "its workflow has ended")
		env.RunUntilFinished()
		require.NoError(t, d.Retry(t.Context(), "p"))
		env.RunUntilFinished()
		v, err := sum.Result(t.Context(), p)
		require.NoError(t, err)
		assert.Equal(t, 6, v)
		runs := 0
		for _, r := range env.Runs("flaky") {
			if r.Key == "p/c/1" {
				runs++
			}
		}
		assert.Equal(t, 2, runs, "failed once, then its own retry; the workflow's retry kept its result")
	})
}

// The README's way to give a perpetual workflow's children a name per run
// of its chain: each run starts a child of its own, even while the child
// of the run before is still live.
func TestPerpetualWorkflowNamesChildrenPerRun(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		report := sdk.NewTask("report", func(ctx context.Context, in N) error { return nil })
		hourly := sdk.NewTask("hourly", func(ctx context.Context, in struct{}) error {
			due, err := workflow.Step(ctx, "due", func(ctx context.Context) (int64, error) {
				return sdk.Current(ctx).Due().Unix(), nil
			})
			if err != nil {
				return err
			}
			_, err = workflow.StartTask(ctx, report, fmt.Sprint("report-", due), N{N: int(due)}, sdk.After(90*time.Minute))
			return err
		}, policy.Perpetual(time.Hour, policy.Automatic()))
		env.Register(report)
		env.Register(hourly)
		t0 := env.Now()
		env.Advance(3*time.Hour + 40*time.Minute)
		var starts []time.Duration
		keys := map[string]bool{}
		for _, r := range env.Runs("report") {
			starts = append(starts, r.Start.Sub(t0))
			keys[r.Key] = true
		}
		assert.Equal(t, []time.Duration{90 * time.Minute, 150 * time.Minute, 210 * time.Minute}, starts,
			"one child per run of the chain, each 90 minutes after its run")
		assert.Len(t, keys, 3)
	})
}

// A debounced child started for later settles from the instant it was
// started for, as a task added for later does.
func TestDebouncedChildStartedForLater(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		notify := sdk.NewTask("notify", func(ctx context.Context, in N) error { return nil }, policy.TaskDebounce(5*time.Second))
		wf := sdk.NewTask("order", func(ctx context.Context, in N) error {
			_, err := workflow.StartTask(ctx, notify, "notify", in, sdk.After(time.Hour))
			return err
		})
		env.Register(notify)
		env.Register(wf)
		t0 := env.Now()
		_, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		runs := env.Runs("notify")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(time.Hour+5*time.Second), runs[0].Start)
	})
}

// A signal's timeout is recorded, and every run would get it again: the
// workflow that returns it fails at once, without retries (the README's
// Fulfil made four runs that could only time out again).
func TestASignalTimeoutIsNotRetried(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewTask("approval", func(ctx context.Context, in N) error {
			_, err := workflow.WaitSignal[string](ctx, "approve", time.Hour)
			return err
		}, policy.Retry(5, time.Minute))
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, 1, info.Attempt, "not retried")
		assert.Len(t, env.Runs("approval"), 2, "the run that parked, the run that timed out")
		assert.Contains(t, info.Error, "no signal came in time")
	})
}

// A step's output of a type JSON cannot encode (a channel) fails the
// workflow at once: every run would fail the same way.
func TestAStepOutputOfATypeJSONCannotEncodeIsNotRetried(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var stepErr error
		wf := sdk.NewTask("channel", func(ctx context.Context, in N) error {
			_, stepErr = workflow.Step(ctx, "chan", func(ctx context.Context) (chan int, error) { return make(chan int), nil })
			return stepErr
		}, policy.Retry(5, time.Second))
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.ErrorIs(t, stepErr, sdk.ErrPermanent)
		assert.ErrorIs(t, stepErr, sdk.ErrBadInput)
		assert.Len(t, env.Runs("channel"), 1, "not retried")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
	})
}

// StepKey of a nil context and Key of a nil Future are empty, as outside a
// step: neither panics.
func TestStepKeyAndFutureKeyOfNothing(t *testing.T) {
	var nilCtx context.Context
	assert.Empty(t, workflow.StepKey(nilCtx))
	var f *workflow.Future[int]
	assert.Empty(t, f.Key())
}

// A Future kept from an earlier run (in a variable outside the function)
// gets its child's result in a later run, as a Future of this run does: it
// read the earlier run's flow, and reported a malformed reply from Redis.
func TestAFutureKeptFromAnEarlierRunGetsItsResult(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		child := sdk.NewResultTask("five", func(ctx context.Context, in N) (int, error) { return 5, nil })
		var kept *workflow.Future[int]
		var got int
		var getErr error
		wf := sdk.NewTask("keeper", func(ctx context.Context, in N) error {
			if kept == nil {
				f, err := workflow.Start(ctx, child, "c", in)
				if err != nil {
					return err
				}
				kept = f
				return workflow.Wait(ctx, f)
			}
			got, getErr = kept.Get(ctx)
			return getErr
		})
		env.Register(child)
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		require.NoError(t, getErr)
		assert.Equal(t, 5, got)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A channel held in an interface (an output of type any) is the value's
// choice, not the type's: the next run may return another, so the step's
// error is retried.
func TestAStepOutputJSONCannotEncodeInAnInterfaceIsRetried(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		runs := 0
		wf := sdk.NewTask("maybe_channel", func(ctx context.Context, in N) error {
			runs++
			first := runs == 1
			_, err := workflow.Step(ctx, "any", func(ctx context.Context) (any, error) {
				if first {
					return make(chan int), nil
				}
				return 7, nil
			})
			return err
		}, policy.Retry(2, time.Second))
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Equal(t, 2, info.Attempt)
	})
}
