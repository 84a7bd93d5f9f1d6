package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// Waiting for the same child twice (Wait(ctx, f, f), or overlapping slices
// to All) waits for it once: the workflow resumes when it ends.
func TestWaitingForAChildTwice(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		child := sdk.NewResultTask("child", func(ctx context.Context, in N) (int, error) { return 1, nil })
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (int, error) {
			f, err := workflow.Start(ctx, child, "c", in, sdk.After(time.Minute))
			if err != nil {
				return 0, err
			}
			if err := workflow.Wait(ctx, f, f); err != nil {
				return 0, err
			}
			return f.Get(ctx)
		})
		env.Register(child, wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("wf"))
		require.NoError(t, err)
		env.Advance(2 * time.Minute)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A plain task (no workflow) that waits for another execution's result and
// returns its error is retried as its policy says: only a workflow's own
// child failure is final.
func TestPlainTaskReturningAResultErrorIsRetried(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		tries := 0
		flaky := sdk.NewResultTask("flaky", func(ctx context.Context, in N) (int, error) {
			tries++
			if tries == 1 {
				return 0, errors.New("transient")
			}
			return 7, nil
		})
		caller := sdk.NewResultTask("caller", func(ctx context.Context, in N) (int, error) {
			return flaky.Call(ctx, env.Docket(), in, sdk.Key("flaky-1"))
		}, policy.Retry(3, time.Second))
		env.Register(flaky, caller)
		ex, err := caller.Add(t.Context(), env.Docket(), N{}, sdk.Key("caller"))
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State, "its retry policy allows 3 attempts; the second call succeeds")
	})
}

// A perpetual workflow's next run starts afresh; a child of the previous
// run that ends later does not answer for the new run's child of the same
// name.
func TestChildOfAnEarlierRunDoesNotAnswerALaterOne(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		runs := 0
		child := sdk.NewResultTask("child", func(ctx context.Context, in N) (int, error) {
			runs++
			n := runs
			time.Sleep(30 * time.Minute)
			return n, nil
		})
		var got []int
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			f, err := workflow.Start(ctx, child, "c", in)
			if err != nil {
				return err
			}
			if in.N == 0 { // the first run: fire and forget
				sdk.Perpetuate(ctx, N{N: 1})
				return nil
			}
			v, err := f.Get(ctx)
			if err != nil {
				return err
			}
			got = append(got, v)
			sdk.Current(ctx).Perpetual().Cancel()
			return nil
		}, policy.Perpetual(time.Hour))
		env.Register(child, wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("wf"))
		require.NoError(t, err)
		env.Advance(3 * time.Hour)
		assert.Equal(t, []int{2}, got, "the second run's child is the second child run")
	})
}

// Every primitive needs a name: an empty one is an error, not a workflow
// that spins (WaitSignal's was once taken for a sleep of no time).
func TestPrimitivesNeedNames(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var errs []error
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			_, err := workflow.WaitSignal[int](ctx, "", 0)
			errs = append(errs, err)
			_, err = workflow.Step(ctx, "", func(ctx context.Context) (int, error) { return 0, nil })
			errs = append(errs, err)
			errs = append(errs, workflow.Sleep(ctx, "", time.Second))
			_, err = workflow.StartTask(ctx, sdk.NewTask("x", func(context.Context, N) error { return nil }), "", N{})
			errs = append(errs, err)
			_, err = workflow.StartMany(ctx, sdk.NewResultTask("y", func(context.Context, N) (int, error) { return 0, nil }), "", []N{{}, {}})
			errs = append(errs, err)
			_, err = workflow.StartMany(ctx, sdk.NewResultTask("z", func(context.Context, N) (int, error) { return 0, nil }), "", nil)
			errs = append(errs, err)
			return nil
		})
		env.Register(wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("wf"))
		require.NoError(t, err)
		env.Advance(time.Millisecond)
		assert.Len(t, env.Runs("wf"), 1, "no spinning")
		require.Len(t, errs, 6)
		for _, err := range errs {
			assert.ErrorIs(t, err, workflow.ErrNoName)
		}
	})
}

// A perpetual workflow's next run is due Every after the start of its run,
// not of the run's last resumption: parking does not shift the schedule.
func TestPerpetualWorkflowKeepsItsPeriodWhenItParks(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var starts []time.Time
		wf := sdk.NewTask("pw", func(ctx context.Context, in N) error {
			if err := workflow.Sleep(ctx, "nap", 30*time.Minute); err != nil {
				return err
			}
			starts = append(starts, env.Now())
			return nil
		}, policy.Perpetual(time.Hour))
		env.Register(wf)
		t0 := env.Now()
		_, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("pw"))
		require.NoError(t, err)
		env.Advance(4 * time.Hour)
		var rel []time.Duration
		for _, s := range starts {
			rel = append(rel, s.Sub(t0))
		}
		assert.Equal(t, []time.Duration{30 * time.Minute, 90 * time.Minute, 150 * time.Minute, 210 * time.Minute}, rel[:4],
			"chain runs start every hour; each naps 30m")
	})
}

// What a workflow waits for is shown while it is parked, not once it went on.
func TestWaitingForIsShownOnlyWhileParked(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			return workflow.Sleep(ctx, "nap", time.Minute)
		})
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("wf"))
		require.NoError(t, err)
		env.Advance(time.Second)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "sleep nap", info.Workflow.WaitingFor)
		env.RunUntilFinished()
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Empty(t, info.Workflow.WaitingFor)
	}, testsuite.WithDocketOptions(sdk.WithCompletedRetention(time.Hour)))
}

// With completed records not kept (sdk.WithCompletedRetention(0)), a child's
// record is deleted when it completes, but its result still reaches the
// parent that awaits it, on a real Redis as on the fake clock; a plain
// task's record is deleted too.
func TestChildResultsWithoutKeptRecords(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		d := openDocket(t, b.URL, sdk.WithCompletedRetention(0))
		double := sdk.NewResultTask("double", func(ctx context.Context, in N) (int, error) { return 2 * in.N, nil })
		sum := sdk.NewResultTask("sum", func(ctx context.Context, in N) (int, error) {
			ins := make([]N, in.N)
			for i := range ins {
				ins[i] = N{N: i}
			}
			children, err := workflow.StartMany(ctx, double, "d", ins)
			if err != nil {
				return 0, err
			}
			got, err := workflow.All(ctx, children)
			if err != nil {
				return 0, err
			}
			total := 0
			for _, v := range got {
				total += v
			}
			return total, nil
		})
		require.NoError(t, d.Register(double))
		require.NoError(t, d.Register(sum))
		plain, err := double.Add(ctx, d, N{N: 1})
		require.NoError(t, err)
		ex, err := sum.Add(ctx, d, N{N: 50}, sdk.Key("sum"))
		require.NoError(t, err)
		runWorkers(t, d, 1)
		got, err := sum.Result(ctx, ex)
		require.NoError(t, err)
		assert.Equal(t, 2*(49*50/2), got)
		require.Eventually(t, func() bool {
			_, err := plain.Info(ctx)
			return errors.Is(err, sdk.ErrNotFound)
		}, time.Minute, time.Millisecond, "a completed record is not kept")
	})
}

// A workflow whose record does not say whether it has a flow (written by
// an earlier version, before the record's wf field) and that completes
// without writing its flow again still gives its flow the record's
// lifetime: the end of a task looks for a flow unless the record says it
// never had one.
func TestFlowOfARecordWithoutItsMark(t *testing.T) {
	d := openDocket(t, redistest.Redis(t).URL)
	ctx := context.Background()
	stepped, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (int, error) {
		v, err := workflow.Step(ctx, "one", func(ctx context.Context) (int, error) { return 1, nil })
		if err != nil {
			return 0, err
		}
		once.Do(func() { close(stepped) })
		select { // the rest of the run writes nothing to the flow
		case <-gate:
			return v, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	require.NoError(t, d.Register(wf))
	ex, err := wf.Add(ctx, d, N{}, sdk.Key("wf1"))
	require.NoError(t, err)
	runWorkers(t, d, 1)
	select {
	case <-stepped:
	case <-time.After(time.Minute):
		t.Fatal("the workflow's step did not run")
	}
	records, err := d.Redis().Keys(ctx, "docket:{"+d.Name()+"}:task:wf1").Result()
	require.NoError(t, err)
	require.Len(t, records, 1)
	require.NoError(t, d.Redis().HDel(ctx, records[0], "wf").Err(), "as an earlier version wrote it")
	close(gate)
	_, err = wf.Result(ctx, ex)
	require.NoError(t, err)
	flows, err := d.Redis().Keys(ctx, "docket:{"+d.Name()+"}:flow:wf1").Result()
	require.NoError(t, err)
	require.Len(t, flows, 1, "kept as long as its record")
	for _, k := range flows {
		ttl, err := d.Redis().PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "the flow %s lives as long as its record", k)
	}
}

// A failed child of a live workflow is not retried on its own: the workflow
// was told how it ended and handled it, and must not later see it end
// another way. Once the workflow has ended, the child may be retried.
func TestRetryOfAFailedChildOfALiveWorkflow(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var kidRuns int
		kid := sdk.NewResultTask("kid", func(ctx context.Context, in N) (int, error) {
			kidRuns++
			if kidRuns == 1 {
				return 0, sdk.Permanent(errors.New("no stock"))
			}
			return 5, nil
		})
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (string, error) {
			f, err := workflow.Start(ctx, kid, "k", in)
			if err != nil {
				return "", err
			}
			outcome := "kid ok"
			if _, err := f.Get(ctx); err != nil {
				if !errors.Is(err, workflow.ErrChildFailed) {
					return "", err
				}
				if _, err := workflow.Step(ctx, "compensate", func(ctx context.Context) (bool, error) { return true, nil }); err != nil {
					return "", err
				}
				outcome = "compensated"
			}
			if _, err := workflow.WaitSignal[string](ctx, "go", 0); err != nil {
				return "", err
			}
			return outcome, nil
		})
		env.Register(kid)
		env.Register(wf)
		ctx := t.Context()
		d := env.Docket()
		ex, err := wf.Add(ctx, d, N{}, sdk.Key("w"))
		require.NoError(t, err)
		env.RunUntilIdle()

		err = d.Retry(ctx, "w/k")
		require.ErrorIs(t, err, sdk.ErrWrongState)
		assert.Contains(t, err.Error(), `failed as a child of the workflow "w", which is live`)
		env.RunUntilIdle()
		assert.Equal(t, 1, kidRuns, "the child did not run again")

		env.Signal("w", "go", "now")
		env.RunUntilFinished()
		got, err := wf.Result(ctx, ex)
		require.NoError(t, err)
		assert.Equal(t, "compensated", got)

		require.NoError(t, d.Retry(ctx, "w/k"), "its workflow has ended")
		env.RunUntilFinished()
		assert.Equal(t, 2, kidRuns)
	})
}

// A signal sent after its wait timed out is not that wait's, though the
// workflow's run comes late (the one slot busy, workers down): the wait
// times out, and the signal stays for a later wait of its name. It was
// received as if on time.
func TestSignalSentAfterTheTimeoutComesTooLate(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		blocker := sdk.NewTask("blocker", func(ctx context.Context, in N) error {
			time.Sleep(2 * time.Hour)
			return nil
		})
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (string, error) {
			v, err := workflow.WaitSignal[string](ctx, "approve", time.Hour)
			if errors.Is(err, workflow.ErrSignalTimeout) {
				later, err := workflow.WaitSignal[string](ctx, "approve", time.Hour)
				return "timed out, then " + later, err
			}
			return v, err
		})
		env.Register(wf, blocker)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		env.RunUntilIdle() // parked, until the signal or the hour
		_, err = blocker.Add(t.Context(), env.Docket(), N{}, sdk.After(30*time.Minute))
		require.NoError(t, err)
		env.Advance(90 * time.Minute) // the wait timed out half an hour ago; the only slot is busy
		require.NoError(t, env.Docket().Signal(t.Context(), "w", "approve", "yes, late"))
		env.RunUntilFinished()
		v, err := wf.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "timed out, then yes, late", v)
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1}))
}

// A step whose output does not decode back from its JSON (an error in a
// field of interface type encodes as {}) fails its run for good, saying
// why, and saves nothing: the output was saved, and every run of the
// execution, retries included, then failed to read it back.
func TestStepOutputThatDoesNotDecodeBackIsNotSaved(t *testing.T) {
	type charge struct {
		ID  string `json:"id"`
		Err error  `json:"err"`
	}
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		charges := 0
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (string, error) {
			c, err := workflow.Step(ctx, "charge", func(ctx context.Context) (charge, error) {
				charges++
				return charge{ID: "ch_1", Err: errors.New("card declined")}, nil
			})
			return c.ID, err
		}, policy.Retry(3, time.Minute))
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		env.RunUntilFinished()
		_, err = wf.Result(t.Context(), ex)
		require.ErrorIs(t, err, sdk.ErrPermanent)
		assert.Contains(t, err.Error(), `step "charge": its output, as JSON, does not decode into workflow_test.charge`)
		assert.Equal(t, 1, charges, "not retried")
		steps := env.Steps("w")
		require.Len(t, steps, 1)
		assert.Error(t, steps[0].Err)
	})
}

// Info counts the signals waiting to be received, by name; and a signal
// queued by a worker of an earlier version (a payload without a send time)
// is received as on time.
func TestQueuedSignalsCountedAndReadAcrossVersions(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (string, error) {
			if err := workflow.Sleep(ctx, "nap", time.Hour); err != nil {
				return "", err
			}
			a, err := workflow.WaitSignal[string](ctx, "approve", time.Minute)
			if err != nil {
				return "", err
			}
			b, err := workflow.WaitSignal[string](ctx, "approve", time.Minute)
			return a + " " + b, err
		})
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		env.RunUntilIdle() // asleep
		// As workers of two versions queued them: a payload without its
		// send time (an earlier version's), then one with it.
		flow := "docket:{" + env.Docket().Name() + "}:flow:w"
		require.NoError(t, env.Docket().Redis().HSet(t.Context(), flow,
			"q:approve", `["\"old\"","\"new\""]`, "qs:approve", `["1"]`).Err())
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		require.NotNil(t, info.Workflow)
		assert.Equal(t, map[string]int{"approve": 2}, info.Workflow.Signals)
		env.RunUntilFinished()
		v, err := wf.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "old new", v)
	})
}

// notFound is an error type whose Error method dereferences its receiver.
type notFound struct{ what string }

func (e *notFound) Error() string { return "no " + e.what }

// A step that returns a nil *notFound as its error (a typed nil, which is
// not a nil error) gives its workflow an error that says so, which the
// workflow may handle: reading it would have panicked inside Step.
func TestStepReturningATypedNilErrorGivesTheWorkflowAnError(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (string, error) {
			_, err := workflow.Step(ctx, "look", func(ctx context.Context) (int, error) {
				var e *notFound
				return 0, e
			})
			if err != nil {
				return "handled: " + err.Error(), nil
			}
			return "no error", nil
		})
		env.Register(wf)
		got, err := wf.Call(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		assert.Contains(t, got, "handled: docket: the function returned an error (*workflow_test.notFound, nil: "+
			"a nil pointer in an error is not a nil error) that panics when read")
	})
}

// An automatic perpetual workflow cancelled while it waits for a child:
// the child is cancelled and never runs, though the chain starts again at
// once (its next run, seeded on the Cancel's event, could take the key
// before the child was cancelled, and leave it to run orphaned, in about
// three runs of four); and the chain lives on, once.
func TestCancelledAutomaticWorkflowLeavesNoChildRunning(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		child := sdk.NewTask("child", func(ctx context.Context, in N) error { return nil })
		wf := sdk.NewTask("pwf", func(ctx context.Context, in struct{}) error {
			due, err := workflow.Step(ctx, "due", func(ctx context.Context) (int64, error) {
				return sdk.Current(ctx).Due().Unix(), nil
			})
			if err != nil {
				return err
			}
			name := "c-" + time.Unix(due, 0).UTC().Format("150405") // each run's child its own
			f, err := workflow.StartTask(ctx, child, name, N{}, sdk.After(2*time.Hour))
			if err != nil {
				return err
			}
			_, err = f.Get(ctx)
			return err
		}, policy.Perpetual(time.Hour, policy.Automatic()))
		env.Register(child)
		env.Register(wf)
		env.Advance(time.Minute)
		first := env.Docket().Execution("pwf/c-000000")
		require.NoError(t, env.Docket().Cancel(t.Context(), "pwf"))
		info, err := first.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCancelled, info.State, "the cancelled run's child")

		env.Advance(3 * time.Hour)
		for _, r := range env.Runs("child") {
			assert.NotEqual(t, first.Key(), r.Key, "the cancelled run's child ran")
		}
		info, err = env.Docket().Execution("pwf").Info(t.Context())
		require.NoError(t, err)
		assert.False(t, info.State.Finished(), "the automatic chain started again: %s", info.State)
	})
}

// A workflow whose sleep ended while its rate limit had no room waits for
// the limit as any task does: Info says scheduled, due when the window has
// room, and no longer the sleep it parked on; it resumes at that instant.
func TestAWorkflowWokenIntoAFullRateLimitShowsItWaitsForTheLimit(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		// Every start counts: its first run fills the window for an hour.
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			return workflow.Sleep(ctx, "nap", time.Minute)
		}, policy.TaskRateLimit(1, time.Hour))
		env.Register(wf)
		start := env.Now()
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		env.Advance(10 * time.Minute)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State, "it waits for the rate limit, not the sleep")
		assert.True(t, info.Due.Equal(start.Add(time.Hour)), "due when the window has room: %v", info.Due)
		require.NotNil(t, info.Workflow)
		assert.Empty(t, info.Workflow.WaitingFor, "the sleep is over")
		env.RunUntilFinished()
		runs := env.Runs("wf")
		require.Len(t, runs, 2)
		assert.True(t, runs[1].Start.Equal(start.Add(time.Hour)), "resumed when the window had room: %v", runs[1].Start)
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A wait for a Future that the workflow's execution did not start (another
// workflow's child, passed to it) fails the workflow at once with
// ErrNotAChild: that child's end wakes only its own workflow, and the
// waiter parked for ever on "1 child".
func TestWaitingForAnotherWorkflowsChildFails(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		double := sdk.NewResultTask("double", func(ctx context.Context, in N) (int, error) {
			time.Sleep(time.Minute)
			return 2 * in.N, nil
		})
		var foreign *workflow.Future[int]
		started := make(chan struct{})
		owner := sdk.NewTask("owner", func(ctx context.Context, in N) error {
			f, err := workflow.Start(ctx, double, "d", in)
			if err != nil {
				return err
			}
			if foreign == nil {
				foreign = f
				close(started)
			}
			_, err = f.Get(ctx)
			return err
		})
		var waitErr error
		thief := sdk.NewTask("thief", func(ctx context.Context, in N) error {
			<-started
			_, waitErr = foreign.Get(ctx)
			return waitErr
		})
		env.Register(double)
		env.Register(owner)
		env.Register(thief)
		_, err := owner.Add(t.Context(), env.Docket(), N{N: 21}, sdk.Key("owner"))
		require.NoError(t, err)
		ex, err := thief.Add(t.Context(), env.Docket(), N{}, sdk.Key("thief"))
		require.NoError(t, err)
		env.RunUntilFinished()

		require.ErrorIs(t, waitErr, workflow.ErrNotAChild)
		assert.Contains(t, waitErr.Error(), `"owner/d" is not a child "thief" started`)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, sdk.ReasonPermanent, info.Reason)
		assert.ErrorIs(t, info.Err(), workflow.ErrNotAChild, "those who wait for the thief see why it failed")
		assert.Len(t, env.Runs("owner"), 2, "the owner still gets its child's result")
	})
}

// A workflow that fails with the error of a primitive used wrongly (a name
// used twice, none, a child's key taken, the wrong context) gives it to
// those who wait for its result, as the task returned it: only its text
// travels through Redis.
func TestWaitersSeeThePrimitiveErrorAWorkflowFailedWith(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		child := sdk.NewTask("child", func(ctx context.Context, in N) error { return nil })
		counted := sdk.NewResultTask("counted", func(ctx context.Context, in N) (int, error) { return in.N, nil })
		noop := func(ctx context.Context) error { return nil }
		cases := map[string]struct {
			run  func(ctx context.Context) error
			want error
		}{
			"twice": {func(ctx context.Context) error {
				if err := workflow.Do(ctx, "a", noop); err != nil {
					return err
				}
				return workflow.Do(ctx, "a", noop)
			}, workflow.ErrDuplicateName},
			"unnamed": {func(ctx context.Context) error {
				return fmt.Errorf("charging: %w", workflow.Do(ctx, "", noop))
			}, workflow.ErrNoName},
			"unnamed-signal": {func(ctx context.Context) error {
				_, err := workflow.WaitSignal[int](ctx, "", time.Hour)
				return err
			}, workflow.ErrNoName},
			"unnamed-children": {func(ctx context.Context) error {
				_, err := workflow.StartMany(ctx, counted, "", []N{{}, {}})
				return err
			}, workflow.ErrNoName},
			"taken": {func(ctx context.Context) error {
				_, err := workflow.StartTask(ctx, child, "c", N{})
				return err
			}, workflow.ErrKeyTaken},
			"detached": {func(ctx context.Context) error {
				return workflow.Do(context.Background(), "a", noop)
			}, workflow.ErrNotInTask},
		}
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			return cases[sdk.Current(ctx).Key()].run(ctx)
		})
		blocker := sdk.NewTask("blocker", func(ctx context.Context, in N) error {
			time.Sleep(time.Minute) // less than the records' retention
			return nil
		})
		env.Register(wf, child, counted, blocker)
		_, err := blocker.Add(t.Context(), env.Docket(), N{}, sdk.Key("taken/c")) // holds the child's key
		require.NoError(t, err)
		for key := range cases {
			_, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key(key))
			require.NoError(t, err)
		}
		env.RunUntilIdle()
		for key, c := range cases {
			info, err := env.Docket().Execution(key).Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateFailed, info.State, key)
			assert.ErrorIs(t, info.Err(), c.want, "%s: %s", key, info.Error)
			for _, other := range cases {
				if other.want != c.want {
					assert.NotErrorIs(t, info.Err(), other.want, key)
				}
			}
		}
	})
}

// A task that returns ErrParked itself, with no primitive parking its run,
// has nothing to wait for: it fails at once (not parked for ever), and its
// error says so rather than that it parks.
func TestReturningErrParkedWithoutAPrimitiveFails(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewResultTask("bare", func(ctx context.Context, in N) (int, error) {
			return 0, workflow.ErrParked
		})
		env.Register(wf)
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		_, err := wf.Call(ctx, env.Docket(), N{})
		require.Error(t, err)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "not parked for ever")
		info, err := env.Docket().Execution(env.Runs("bare")[0].Key).Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.True(t, strings.HasPrefix(info.Error, `docket: task "bare" returned workflow.ErrParked, but none of its primitives parked this run`), info.Error)
	})
}

// A child the workflow's code cannot start as written (options a child does
// not take, an instant past the year 9999, a perpetual task) fails the
// workflow for good: every run would get the same error, and a retry
// policy does not run it again for nothing.
func TestAChildThatCannotStartFailsTheWorkflowForGood(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		child := sdk.NewTask("child", func(ctx context.Context, in N) error { return nil })
		chain := sdk.NewTask("chain", func(ctx context.Context, in N) error { return nil }, policy.Perpetual(time.Hour))
		starts := map[string]func(ctx context.Context) error{
			"far": func(ctx context.Context) error {
				_, err := workflow.StartTask(ctx, child, "c", N{}, sdk.At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)))
				return err
			},
			"spread": func(ctx context.Context) error {
				_, err := workflow.StartTask(ctx, child, "c", N{}, sdk.Spread(time.Hour))
				return err
			},
			"keyed": func(ctx context.Context) error {
				_, err := workflow.StartTask(ctx, child, "c", N{}, sdk.Key("mine"))
				return err
			},
			"perpetual": func(ctx context.Context) error {
				_, err := workflow.StartTask(ctx, chain, "c", N{})
				return err
			},
		}
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			return starts[sdk.Current(ctx).Key()](ctx)
		}, policy.Retry(3, time.Second))
		env.Register(wf, child, chain)
		for key := range starts {
			_, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key(key))
			require.NoError(t, err)
		}
		env.RunUntilIdle()
		assert.Len(t, env.Runs("wf"), len(starts), "one run each: no retries")
		for key := range starts {
			info, err := env.Docket().Execution(key).Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateFailed, info.State, key)
			assert.Equal(t, sdk.ReasonPermanent, info.Reason, "%s: %s", key, info.Error)
		}
		assert.Empty(t, env.Runs("child"), "no child started")
	})
}

// A sleep or a signal whose name is not UTF-8 parks and resumes as any
// other. The park travels as JSON, which wrote each bad byte as U+FFFD: the
// sleep's end was kept under a name the run never looked up, so after it
// the workflow ran again and again at once, for ever; the wait for the
// signal, under a name no signal had.
func TestASleepAndASignalWhoseNamesAreNotUTF8(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		runs := 0
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (string, error) {
			if runs++; runs > 10 {
				return "", sdk.Permanent(errors.New("runs again and again"))
			}
			if err := workflow.Sleep(ctx, "nap\xff", time.Hour); err != nil {
				return "", err
			}
			return workflow.WaitSignal[string](ctx, "go\xfe", 24*time.Hour)
		})
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilIdle()
		env.Advance(time.Hour)
		env.RunUntilIdle()
		require.NoError(t, env.Docket().Signal(t.Context(), ex.Key(), "go\xfe", "yes"))
		env.RunUntilFinished()
		got, err := wf.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "yes", got)
		assert.Equal(t, 3, runs, "parked for the sleep, then for the signal, then done")
	})
}
