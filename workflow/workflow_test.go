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

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

func TestMain(m *testing.M) { redistest.Main(m) }

type Order struct {
	ID     int `json:"id"`
	Amount int `json:"amount"`
}

type N struct {
	N int `json:"n"`
}

// Completed steps are not run again when the workflow runs again: a retry
// re-runs only what had not completed.
func TestStepsRunOnceAcrossRetries(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		charges, ships := 0, 0
		order := sdk.NewResultTask("order", func(ctx context.Context, in Order) (string, error) {
			receipt, err := workflow.Step(ctx, "charge", func(ctx context.Context) (string, error) {
				charges++
				return fmt.Sprintf("receipt-%d (%s)", in.ID, workflow.StepKey(ctx)), nil
			})
			if err != nil {
				return "", err
			}
			_, err = workflow.Step(ctx, "ship", func(ctx context.Context) (int, error) {
				ships++
				if ships == 1 {
					return 0, errors.New("carrier down")
				}
				return 7, nil
			})
			if err != nil {
				return "", err
			}
			return receipt, nil
		}, policy.Retry(3, time.Minute))
		env.Register(order)
		ex, err := order.Add(t.Context(), env.Docket(), Order{ID: 42}, sdk.Key("order-42"))
		require.NoError(t, err)
		env.RunUntilFinished()

		got, err := order.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "receipt-42 (order-42/charge)", got)
		assert.Equal(t, 1, charges, "the charge step ran once, though the workflow ran twice")
		assert.Equal(t, 2, ships)
		runs := env.Runs("order")
		require.Len(t, runs, 2)
		assert.Equal(t, 2, runs[1].Attempt)
		var steps []string
		for _, s := range env.Steps("order-42") {
			steps = append(steps, fmt.Sprintf("%s %v", s.Name, s.Err))
		}
		assert.Equal(t, []string{"charge <nil>", "ship carrier down", "ship <nil>"}, steps)
	})
}

// A duplicate step name in one run is an error.
func TestDuplicateStepName(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var second error
		twice := sdk.NewTask("twice", func(ctx context.Context, in N) error {
			if _, err := workflow.Step(ctx, "a", func(ctx context.Context) (int, error) { return 1, nil }); err != nil {
				return err
			}
			_, second = workflow.Step(ctx, "a", func(ctx context.Context) (int, error) { return 2, nil })
			return nil
		})
		env.Register(twice)
		_, err := twice.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.ErrorIs(t, second, workflow.ErrDuplicateName)
		_, err = workflow.Step(t.Context(), "x", func(ctx context.Context) (int, error) { return 0, nil })
		assert.ErrorIs(t, err, workflow.ErrNotInTask)
	})
}

// Fan-out and fan-in: a workflow starts children and parks until they have
// all ended; it holds no worker meanwhile, and runs again to aggregate.
func TestFanOutFanIn(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		double := sdk.NewResultTask("double", func(ctx context.Context, in N) (int, error) {
			time.Sleep(time.Duration(in.N) * time.Second) // children take their time
			return 2 * in.N, nil
		})
		sum := sdk.NewResultTask("sum", func(ctx context.Context, in N) (int, error) {
			ins := make([]N, in.N)
			for i := range ins {
				ins[i] = N{N: i + 1}
			}
			children, err := workflow.StartMany(ctx, double, "double", ins)
			if err != nil {
				return 0, err
			}
			results, err := workflow.All(ctx, children)
			if err != nil {
				return 0, err
			}
			total := 0
			for _, r := range results {
				total += r
			}
			return total, nil
		})
		env.Register(double)
		env.Register(sum)
		t0 := env.Now()
		ex, err := sum.Add(t.Context(), env.Docket(), N{N: 100}, sdk.Key("sum"))
		require.NoError(t, err)
		env.Advance(time.Second)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateParked, info.State, "waiting for its children")
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Parked, 1)
		assert.Equal(t, "sum", snap.Parked[0].Key)

		env.RunUntilFinished()
		total, err := sum.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, 100*101, total)
		children := env.Runs("double")
		assert.Len(t, children, 100, "each child ran once")
		last := children[len(children)-1].End
		assert.True(t, last.After(t0.Add(100*time.Second)), "ten at a time (the worker's concurrency)")
		runs := env.Runs("sum")
		require.Len(t, runs, 2, "the workflow ran twice: it parked, then aggregated")
		assert.Equal(t, last, runs[1].Start, "resumed when its last child ended")
		assert.Equal(t, 1, runs[1].Attempt, "parking is no attempt")
	})
}

// A child's failure comes back to its workflow, which may handle it: here
// with a compensating step (a saga).
func TestChildFailureAndCompensation(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var log []string
		charge := sdk.NewResultTask("charge", func(ctx context.Context, in Order) (string, error) {
			log = append(log, "charge")
			return "ch_1", nil
		})
		ship := sdk.NewTask("ship", func(ctx context.Context, in Order) error {
			log = append(log, "ship")
			return sdk.Permanent(errors.New("address unknown"))
		})
		saga := sdk.NewTask("saga", func(ctx context.Context, in Order) error {
			c, err := workflow.Start(ctx, charge, "charge", in)
			if err != nil {
				return err
			}
			id, err := c.Get(ctx)
			if err != nil {
				return err
			}
			s, err := workflow.StartTask(ctx, ship, "ship", in)
			if err != nil {
				return err
			}
			if _, err := s.Get(ctx); err != nil {
				if errors.Is(err, workflow.ErrParked) {
					return err
				}
				_, cerr := workflow.Step(ctx, "refund", func(ctx context.Context) (bool, error) {
					log = append(log, "refund "+id)
					return true, nil
				})
				if cerr != nil {
					return cerr
				}
				return sdk.Permanent(fmt.Errorf("order %d not shipped: %w", in.ID, err))
			}
			return nil
		})
		env.Register(charge)
		env.Register(ship)
		env.Register(saga)
		ex, err := saga.Add(t.Context(), env.Docket(), Order{ID: 9}, sdk.Key("saga-9"))
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.Equal(t, []string{"charge", "ship", "refund ch_1"}, log)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, `order 9 not shipped: docket: child "saga-9/ship" failed: address unknown`, info.Error)
	})
}

// A workflow that sleeps 30 days, waits for a signal with a 7-day timeout,
// and fans out 100 children, tested in milliseconds of wall time.
func TestLongWorkflowOnTheFakeClock(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		double := sdk.NewResultTask("double", func(ctx context.Context, in N) (int, error) { return 2 * in.N, nil })
		type Approval struct {
			By string `json:"by"`
		}
		var approvedBy string
		var timedOut error
		long := sdk.NewResultTask("long", func(ctx context.Context, in N) (int, error) {
			if err := workflow.Sleep(ctx, "cool-off", 30*24*time.Hour); err != nil {
				return 0, err
			}
			a, err := workflow.WaitSignal[Approval](ctx, "approve", 7*24*time.Hour)
			if err != nil {
				return 0, err
			}
			approvedBy = a.By
			_, timedOut = workflow.WaitSignal[Approval](ctx, "second-opinion", 7*24*time.Hour)
			if errors.Is(timedOut, workflow.ErrParked) {
				return 0, timedOut
			}
			children, err := workflow.StartMany(ctx, double, "double", make([]N, 100))
			if err != nil {
				return 0, err
			}
			results, err := workflow.All(ctx, children)
			return len(results), err
		})
		env.Register(double)
		env.Register(long)
		t0 := env.Now()
		ex, err := long.Add(t.Context(), env.Docket(), N{}, sdk.Key("long"))
		require.NoError(t, err)
		env.Advance(30*24*time.Hour - time.Second)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateParked, info.State, "asleep")
		assert.Equal(t, t0.Add(30*24*time.Hour), info.Due, "until its sleep ends")

		env.Advance(2 * 24 * time.Hour) // awake since day 30, waiting for the approval
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateParked, info.State)
		env.Signal("long", "approve", Approval{By: "ada"})
		env.RunUntilFinished()

		n, err := long.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, 100, n)
		assert.Equal(t, "ada", approvedBy)
		assert.ErrorIs(t, timedOut, workflow.ErrSignalTimeout)
		runs := env.Runs("long")
		require.NotEmpty(t, runs)
		assert.Equal(t, t0.Add(39*24*time.Hour-time.Second), runs[len(runs)-1].Start,
			"the second opinion timed out 7 days after the approval, then the children ran at once")
		assert.Len(t, env.Runs("double"), 100)
	})
}

// A workflow that returns the timeout of its wait for a signal fails for
// good, and those who wait for it get an error that matches
// ErrSignalTimeout as well as sdk.ErrPermanent, as the workflow's own did;
// a workflow's own error that merely says "timeout" does not.
func TestAWorkflowsSignalTimeoutReachesItsResult(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		approval := sdk.NewResultTask("approval", func(ctx context.Context, in N) (string, error) {
			by, err := workflow.WaitSignal[string](ctx, "approve", time.Hour)
			if err != nil {
				return "", fmt.Errorf("order %d: %w", in.N, err)
			}
			return by, nil
		})
		other := sdk.NewResultTask("other", func(ctx context.Context, in N) (string, error) {
			return "", sdk.Permanent(errors.New("no signal came in time, said the task"))
		})
		env.Register(approval)
		env.Register(other)
		ex, err := approval.Add(t.Context(), env.Docket(), N{N: 7})
		require.NoError(t, err)
		env.Advance(time.Hour)
		env.RunUntilFinished()
		ex2, err := other.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()

		_, err = approval.Result(t.Context(), ex)
		require.Error(t, err)
		assert.ErrorIs(t, err, workflow.ErrSignalTimeout)
		assert.ErrorIs(t, err, sdk.ErrPermanent)
		var te *sdk.TaskError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, sdk.ReasonPermanent, te.Reason)
		assert.Contains(t, te.Error(), "order 7: ")
		assert.Len(t, env.Runs("approval"), 2, "parked, then woken by the timeout: no retry")

		_, err = other.Result(t.Context(), ex2)
		assert.ErrorIs(t, err, sdk.ErrPermanent)
		assert.NotErrorIs(t, err, workflow.ErrSignalTimeout)
	})
}

// A workflow that returns an error of docket's own, a signal's payload that
// does not decode or an instant past the year 9999 (ErrBadInput, both
// permanent: no retry would mend them), fails with it, and the error of
// its Result matches it too, as the one the workflow got did: the sentinel
// is told by its text in the message.
func TestAWorkflowsBadInputErrorReachesItsResult(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		count := sdk.NewResultTask("count", func(ctx context.Context, in N) (int, error) {
			return workflow.WaitSignal[int](ctx, "count", time.Hour)
		})
		far := sdk.NewTask("far", func(ctx context.Context, in N) error {
			return workflow.SleepUntil(ctx, "nap", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
		}, policy.Retry(4, time.Second))
		other := sdk.NewTask("other", func(ctx context.Context, in N) error {
			return sdk.Permanent(errors.New("bad task input, said the task"))
		})
		env.Register(count)
		env.Register(far)
		env.Register(other)
		ex, err := count.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		require.NoError(t, env.Docket().Signal(t.Context(), ex.Key(), "count", "seven"))
		exFar, err := far.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		exOther, err := other.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()

		_, err = count.Result(t.Context(), ex)
		assert.ErrorIs(t, err, sdk.ErrBadInput, "the payload did not decode into an int")
		assert.ErrorIs(t, err, sdk.ErrPermanent)
		assert.NotErrorIs(t, err, workflow.ErrSignalTimeout)
		var te *sdk.TaskError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, sdk.ReasonPermanent, te.Reason)
		runs := env.Runs("count") // one parked first, if it ran before the signal came
		require.NotEmpty(t, runs)
		for _, r := range runs {
			assert.Equal(t, 1, r.Attempt, "no retry: every run would get the payload again")
		}
		assert.ErrorIs(t, runs[len(runs)-1].Err, sdk.ErrBadInput)

		_, err = sdk.Result[struct{}](t.Context(), exFar)
		assert.ErrorIs(t, err, sdk.ErrBadInput, "an instant past the year 9999")
		assert.ErrorIs(t, err, sdk.ErrPermanent, "every run would get the same instant")
		require.ErrorAs(t, err, &te)
		assert.Equal(t, sdk.ReasonPermanent, te.Reason)
		assert.Len(t, env.Runs("far"), 1, "not retried")

		_, err = sdk.Result[struct{}](t.Context(), exOther)
		assert.ErrorIs(t, err, sdk.ErrPermanent)
		assert.NotErrorIs(t, err, sdk.ErrBadInput, "a task's own words are not docket's sentinel")
	})
}

// Cancelling a workflow cancels its live children.
func TestCancelWorkflowCancelsChildren(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		slow := sdk.NewTask("slow", func(ctx context.Context, in N) error { return nil })
		parent := sdk.NewTask("parent", func(ctx context.Context, in N) error {
			children := make([]workflow.Awaitable, 0, 150)
			for i := range 150 {
				c, err := workflow.StartTask(ctx, slow, fmt.Sprint("c", i), N{N: i}, sdk.After(time.Hour))
				if err != nil {
					return err
				}
				children = append(children, c)
			}
			return workflow.Wait(ctx, children...)
		})
		env.Register(slow)
		env.Register(parent)
		ex, err := parent.Add(t.Context(), env.Docket(), N{}, sdk.Key("p"))
		require.NoError(t, err)
		env.Advance(time.Minute)
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		assert.Len(t, snap.Scheduled, 150)
		require.NoError(t, env.Docket().Cancel(t.Context(), ex.Key()))
		env.RunUntilFinished()
		snap, err = env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		assert.Empty(t, snap.Scheduled, "every child was cancelled")
		assert.Empty(t, env.Runs("slow"))
		info, err := env.Docket().Execution("p/c149").Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCancelled, info.State)
		assert.Contains(t, info.Error, "its workflow p ended")
	})
}

// A workflow that returns the error of a child that was cancelled, or timed
// out, fails for good with it (reason "child"): the error wraps
// sdk.ErrCancelled or sdk.ErrTimeout, but the workflow's own run was
// neither cancelled nor timed out, and retrying it would find the same
// child's outcome.
func TestWorkflowReturningAChildsError(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		slow := sdk.NewResultTask("slow", func(ctx context.Context, in N) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}, policy.Timeout(time.Minute))
		parent := sdk.NewResultTask("parent", func(ctx context.Context, in N) (int, error) {
			c, err := workflow.Start(ctx, slow, "only", in, sdk.After(time.Duration(in.N)*time.Hour))
			if err != nil {
				return 0, err
			}
			return c.Get(ctx)
		}, policy.Retry(3, time.Second))
		env.Register(slow)
		env.Register(parent)
		cancelled, err := parent.Add(t.Context(), env.Docket(), N{N: 1}, sdk.Key("cancelled"))
		require.NoError(t, err)
		timedOut, err := parent.Add(t.Context(), env.Docket(), N{N: 0}, sdk.Key("timed-out"))
		require.NoError(t, err)
		env.Advance(time.Minute + time.Second)
		require.NoError(t, env.Docket().Cancel(t.Context(), "cancelled/only"))
		env.RunUntilFinished()

		_, err = parent.Result(t.Context(), cancelled)
		require.Error(t, err)
		info, err := cancelled.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State, "not left running")
		assert.Equal(t, sdk.ReasonChild, info.Reason)
		assert.Contains(t, info.Error, `child "cancelled/only" cancelled`)

		_, err = parent.Result(t.Context(), timedOut)
		assert.ErrorContains(t, err, `child "timed-out/only" failed: docket: task timed out after 1m0s`)
		info, err = timedOut.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.ReasonChild, info.Reason)
		assert.Equal(t, 1, info.Attempt, "not retried: the child would time out the same")
	})
}

// labelTask returns its input's number.
func labelTask() *sdk.ResultTask[N, int] {
	return sdk.NewResultTask("label", func(ctx context.Context, in N) (int, error) { return in.N, nil })
}

// packThatFails fails for good, with message.
func packThatFails(message string) *sdk.ResultTask[N, int] {
	return sdk.NewResultTask("pack", func(ctx context.Context, in N) (int, error) {
		return 0, sdk.Permanent(errors.New(message))
	})
}

// parentOfOne is a workflow that starts child as its one child, "only",
// and returns what it returned.
func parentOfOne(child *sdk.ResultTask[N, int], policies ...policy.Policy) *sdk.ResultTask[N, int] {
	return sdk.NewResultTask("parent", func(ctx context.Context, in N) (int, error) {
		c, err := workflow.Start(ctx, child, "only", in)
		if err != nil {
			return 0, err
		}
		return c.Get(ctx)
	}, policies...)
}

// A workflow that returns the error of a child that failed for good
// (sdk.Permanent) fails with reason "child", though the error also wraps
// sdk.ErrPermanent; and whoever waits for the workflow can tell, with
// errors.Is, that a child failed it.
func TestWorkflowReturningAPermanentChildError(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		pack := packThatFails("cannot pack a bomb")
		parent := parentOfOne(pack, policy.Retry(3, time.Second))
		env.Register(pack)
		env.Register(parent)
		ex, err := parent.Add(t.Context(), env.Docket(), N{}, sdk.Key("p"))
		require.NoError(t, err)
		env.RunUntilFinished()

		_, err = parent.Result(t.Context(), ex)
		assert.ErrorIs(t, err, workflow.ErrChildFailed)
		assert.ErrorContains(t, err, "cannot pack a bomb")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.ReasonChild, info.Reason)
		assert.Equal(t, 1, info.Attempt, "not retried")
	})
}

// A workflow that wraps a failed child's error in sdk.Permanent decides
// for itself, as ErrChildFailed's doc says: it fails with reason
// "permanent", and whoever waits for it sees sdk.ErrPermanent. Wrapped
// otherwise, the child's error still fails it with reason "child".
func TestWorkflowWrappingAChildsErrorInPermanent(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		pack := packThatFails("cannot pack a bomb")
		parent := sdk.NewResultTask("parent", func(ctx context.Context, in N) (int, error) {
			c, err := workflow.Start(ctx, pack, "only", in)
			if err != nil {
				return 0, err
			}
			_, err = c.Get(ctx)
			switch in.N {
			case 1:
				return 0, sdk.Permanent(fmt.Errorf("giving up: %w", err))
			case 3:
				return 0, finalError{err}
			}
			return 0, fmt.Errorf("giving up: %w", err)
		}, policy.Retry(3, time.Second))
		env.Register(pack)
		env.Register(parent)

		_, err := parent.Call(t.Context(), env.Docket(), N{N: 1}, sdk.Key("permanent"))
		var te *sdk.TaskError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, sdk.ReasonPermanent, te.Reason)
		assert.ErrorIs(t, err, sdk.ErrPermanent)
		assert.Contains(t, te.Message, "giving up")

		_, err = parent.Call(t.Context(), env.Docket(), N{N: 2}, sdk.Key("wrapped"))
		require.ErrorAs(t, err, &te)
		assert.Equal(t, sdk.ReasonChild, te.Reason)
		assert.ErrorIs(t, err, workflow.ErrChildFailed)

		_, err = parent.Call(t.Context(), env.Docket(), N{N: 3}, sdk.Key("its-own-type"))
		require.ErrorAs(t, err, &te)
		assert.Equal(t, sdk.ReasonPermanent, te.Reason, "an error type whose Is says ErrPermanent")
	})
}

// finalError is an error type of a user's that is permanent by its Is
// method, as errors.Is asks, around what it wraps.
type finalError struct{ err error }

func (e finalError) Error() string        { return "final: " + e.err.Error() }
func (e finalError) Unwrap() error        { return e.err }
func (e finalError) Is(target error) bool { return target == sdk.ErrPermanent }

// A child's key, <workflow key>/<name>, held by a live task that is not
// the workflow's child (added with sdk.Key) is not adopted: Start fails
// with ErrKeyTaken, and that task keeps its input, its result and its
// freedom. A child of an earlier execution of the workflow (replaced while
// the child ran) is adopted.
func TestChildKeyHeldByAnotherTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		label := labelTask()
		var startErr error
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (int, error) {
			c, err := workflow.Start(ctx, label, "kid", N{N: 1})
			if err != nil {
				startErr = err
				return 0, err
			}
			return c.Get(ctx)
		})
		env.Register(label)
		env.Register(wf)
		other, err := label.Add(t.Context(), env.Docket(), N{N: 99}, sdk.Key("col/kid"), sdk.After(time.Minute))
		require.NoError(t, err)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("col"))
		require.NoError(t, err)
		env.RunUntilFinished()

		_, err = wf.Result(t.Context(), ex)
		require.Error(t, err)
		assert.ErrorIs(t, startErr, workflow.ErrKeyTaken)
		assert.ErrorContains(t, startErr, `child "kid", a "label" task: "col/kid" is held by a live "label" task that is not this workflow's "kid"`)
		v, err := label.Result(t.Context(), other)
		require.NoError(t, err)
		assert.Equal(t, 99, v, "the other task ran with its own input")
		info, err := other.Info(t.Context())
		require.NoError(t, err)
		assert.Empty(t, info.Parent, "not made the workflow's child")

		// A live record without a task name (garbled by another program)
		// holds the key as well.
		startErr = nil
		require.NoError(t, env.Docket().Redis().HSet(t.Context(), "docket:{test}:task:col2/kid", "state", "scheduled").Err())
		_, err = wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("col2"))
		require.NoError(t, err)
		env.RunUntilIdle()
		assert.ErrorIs(t, startErr, workflow.ErrKeyTaken)
		assert.ErrorContains(t, startErr, `is held by a live unnamed task`)
		require.NoError(t, env.Docket().Redis().Del(t.Context(), "docket:{test}:task:col2/kid").Err())
	})
}

func TestReplacedWorkflowAdoptsItsLiveChild(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		label := labelTask()
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (int, error) {
			c, err := workflow.Start(ctx, label, "kid", in, sdk.After(time.Hour))
			if err != nil {
				return 0, err
			}
			return c.Get(ctx)
		})
		env.Register(label)
		env.Register(wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{N: 1}, sdk.Key("col"))
		require.NoError(t, err)
		env.RunUntilIdle() // parked, awaiting its child, due in an hour
		ex, err := wf.Replace(t.Context(), env.Docket(), N{N: 2}, sdk.Key("col"))
		require.NoError(t, err)
		env.RunUntilFinished()

		v, err := wf.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, 1, v, "the live child of the earlier execution, adopted")
		assert.Len(t, env.Runs("label"), 1, "one child ran")
	})
}

// sumOfThree is a workflow that starts three label children, 1 to 3, due
// in as many minutes, and returns the sum of their results, awaited with
// All: those before gives, once it has done what it does.
func sumOfThree(label *sdk.ResultTask[N, int], before func(context.Context, []*workflow.Future[int]) ([]*workflow.Future[int], error)) *sdk.ResultTask[N, int] {
	return sdk.NewResultTask("wf", func(ctx context.Context, in N) (int, error) {
		var fs []*workflow.Future[int]
		for i := 1; i <= 3; i++ {
			f, err := workflow.Start(ctx, label, fmt.Sprint(i), N{N: i}, sdk.After(time.Duration(i)*time.Minute))
			if err != nil {
				return 0, err
			}
			fs = append(fs, f)
		}
		awaited, err := before(ctx, fs)
		if err != nil {
			return 0, err
		}
		vs, err := workflow.All(ctx, awaited)
		if err != nil {
			return 0, err
		}
		return vs[0] + vs[1] + vs[2], nil
	})
}

// waitingForOf is what the workflow ex waits for, as Info says.
func waitingForOf(t *testing.T, ex *sdk.Execution) string {
	t.Helper()
	info, err := ex.Info(t.Context())
	require.NoError(t, err)
	require.NotNil(t, info.Workflow)
	return info.Workflow.WaitingFor
}

// What a workflow parked on children waits for counts the children left
// of those it awaits, as they end.
func TestWaitingForCountsTheChildrenLeft(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		label := labelTask()
		wf := sumOfThree(label, func(ctx context.Context, fs []*workflow.Future[int]) ([]*workflow.Future[int], error) {
			return append(fs, fs...), nil // each awaited once, however often listed
		})
		env.Register(label)
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		waitingFor := func() string { return waitingForOf(t, ex) }
		env.RunUntilIdle()
		assert.Equal(t, "3 of 3 children", waitingFor())
		env.Advance(time.Minute)
		env.RunUntilIdle()
		assert.Equal(t, "2 of 3 children", waitingFor())
		env.Advance(time.Minute)
		env.RunUntilIdle()
		assert.Equal(t, "1 of 3 children", waitingFor())
		env.RunUntilFinished()
		v, err := wf.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, 6, v)
	})
}

// A wait counts every child it awaits, those that ended before it too.
func TestWaitingForCountsChildrenThatEndedBefore(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		label := labelTask()
		wf := sumOfThree(label, func(ctx context.Context, fs []*workflow.Future[int]) ([]*workflow.Future[int], error) {
			_, err := fs[0].Get(ctx)
			return fs, err
		})
		env.Register(label)
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		env.Advance(time.Minute) // the first child ended: the workflow waits for all three
		assert.Equal(t, "2 of 3 children", waitingForOf(t, ex))
		env.RunUntilFinished()
		v, err := wf.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, 6, v)
	})
}

// A task that is no workflow and returns the error of a workflow it called,
// which a child failed, is retried as for any error: a retry calls a new
// workflow, whose children start anew.
func TestCallerOfAWorkflowFailedByAChildIsRetried(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		pack := packThatFails("cannot pack")
		parent := parentOfOne(pack)
		caller := sdk.NewResultTask("caller", func(ctx context.Context, in N) (int, error) {
			return parent.Call(ctx, env.Docket(), in)
		}, policy.Retry(2, time.Second))
		env.Register(pack)
		env.Register(parent)
		env.Register(caller)
		ex, err := caller.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()

		_, err = caller.Result(t.Context(), ex)
		assert.ErrorContains(t, err, "cannot pack", "it says why")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.ReasonError, info.Reason)
		assert.Equal(t, 2, info.Attempt, "retried")
		workflows := map[string]bool{}
		for _, r := range env.Runs("parent") {
			workflows[r.Key] = true
		}
		assert.Len(t, workflows, 2, "a new workflow each time")
	})
}

// A workflow that fails cancels its live children, and only them: a task
// added under a child's key after that child ended (its record gone) is
// someone else's, and is left alone.
func TestFailedWorkflowLeavesAnotherTaskUnderItsChildsKey(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		label := labelTask()
		var other *sdk.Execution
		wf := sdk.NewResultTask("wf", func(ctx context.Context, in N) (int, error) {
			c, err := workflow.Start(ctx, label, "kid", N{N: 1})
			if err != nil {
				return 0, err
			}
			if _, err := c.Get(ctx); err != nil {
				return 0, err
			}
			// The child completed, and its record is gone (no completed
			// retention): someone adds a task under its key.
			other, err = label.Add(ctx, env.Docket(), N{N: 2}, sdk.Key("w/kid"), sdk.After(time.Hour))
			if err != nil {
				return 0, err
			}
			return 0, sdk.Permanent(errors.New("gave up"))
		})
		env.Register(label)
		env.Register(wf)
		_, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("w"))
		require.NoError(t, err)
		env.RunUntilIdle()
		require.NotNil(t, other)
		info, err := other.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State, "not cancelled by the workflow's end")
		env.RunUntilFinished()
	}, testsuite.WithDocketOptions(sdk.WithCompletedRetention(0)))
}

// Do runs a step for its effect; LastAttempt tells a workflow when a
// failure will not be retried; a signal whose payload does not decode
// fails the workflow for good (every run would receive the same).
func TestDoLastAttemptAndABadSignal(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var last []bool
		notified := 0
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			last = append(last, sdk.Current(ctx).LastAttempt())
			if err := workflow.Do(ctx, "notify", func(ctx context.Context) error {
				notified++
				return nil
			}); err != nil {
				return err
			}
			_, err := workflow.WaitSignal[Order](ctx, "order", 0)
			return err
		}, policy.Retry(2, time.Second))
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{}, sdk.Key("wf"))
		require.NoError(t, err)
		env.Advance(time.Second)
		env.Signal("wf", "order", "not an order")
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, sdk.ReasonPermanent, info.Reason)
		assert.Contains(t, info.Error, `signal "order" carried "not an order", which does not decode`)
		assert.Equal(t, 1, notified, "the step ran once, in the first run")
		assert.Equal(t, []bool{false, false}, last, "a run that parks and its resumption, both attempt 1 of 2")
	})
}

// Nil given to a primitive is an error that names it, not a panic; and a
// step's output is held to the docket's size limit, as results are.
func TestPrimitivesRefuseNilAndOversizedOutputs(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var errs []error
		var nilTask *sdk.ResultTask[N, int]
		var nilFuture *workflow.Future[int]
		wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
			_, err := workflow.Step[int](ctx, "nil", nil)
			errs = append(errs, err)
			errs = append(errs, workflow.Do(ctx, "nil-do", nil))
			_, err = workflow.Start(ctx, nilTask, "kid", N{})
			errs = append(errs, err)
			_, err = workflow.StartMany(ctx, nilTask, "kids", []N{{}})
			errs = append(errs, err)
			errs = append(errs, workflow.Wait(ctx, nilFuture))
			_, err = workflow.All(ctx, []*workflow.Future[int]{nil})
			errs = append(errs, err)
			_, err = workflow.Step(ctx, "big", func(ctx context.Context) (string, error) { return strings.Repeat("x", 2000), nil })
			errs = append(errs, err)
			_, err = workflow.Start(ctx, labelTask(), "twice-timed", N{}, sdk.After(time.Hour), sdk.At(time.Now()))
			errs = append(errs, err)
			_, err = nilFuture.Get(ctx)
			errs = append(errs, err)
			_, err = workflow.Start(ctx, labelTask(), strings.Repeat("long", 500), N{})
			errs = append(errs, err)
			_, err = workflow.Start(ctx, labelTask(), strings.Repeat("long", 500), N{})
			errs = append(errs, err)
			return nil
		})
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), N{})
		require.NoError(t, err)
		env.RunUntilFinished()

		require.Len(t, errs, 11)
		for _, err := range errs[:6] {
			assert.ErrorIs(t, err, sdk.ErrNilArgument)
		}
		assert.ErrorContains(t, errs[0], `step "nil" has a nil function`)
		assert.ErrorContains(t, errs[2], "the child's task is nil")
		assert.ErrorContains(t, errs[4], "child 1 of 1 to wait for is nil")
		assert.ErrorIs(t, errs[6], sdk.ErrInputTooLarge)
		assert.ErrorContains(t, errs[6], `step "big": its output is 2002 bytes of JSON, the limit is 1000`)
		assert.ErrorIs(t, errs[7], sdk.ErrBadInput)
		assert.ErrorContains(t, errs[7], `child of task "label": docket: bad task input: 2 due times given`)
		assert.ErrorIs(t, errs[8], sdk.ErrNilArgument)
		assert.ErrorContains(t, errs[8], "Get of a nil Future", "not Wait's wording")
		assert.ErrorIs(t, errs[9], sdk.ErrBadKey)
		assert.Less(t, len(errs[9].Error()), 300, "the error quotes the 2,000-byte name cut: %s", errs[9])
		assert.ErrorIs(t, errs[10], workflow.ErrDuplicateName)
		assert.Less(t, len(errs[10].Error()), 300, "the error quotes the 2,000-byte name cut: %s", errs[10])
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		if info.Workflow != nil {
			assert.Empty(t, info.Workflow.Steps, "no step saved")
		}
	}, testsuite.WithDocketOptions(sdk.WithMaxInputSize(1000)))
}

// In the testsuite, a Call on a workflow that waits for a signal nobody
// sends is bounded by its context, whose deadline is fake time: it returns
// in milliseconds, with the context's error (see the package testsuite).
func TestCallBoundedByAContextInTheTestsuite(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewResultTask("approval", func(ctx context.Context, in N) (string, error) {
			return workflow.WaitSignal[string](ctx, "approve", 0)
		})
		env.Register(wf)
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := env.Now()
		_, err := wf.Call(ctx, env.Docket(), N{}, sdk.Key("a1"))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Hour, env.Now().Sub(start), "an hour of fake time")
		require.NoError(t, env.Docket().Cancel(t.Context(), "a1"))
	})
}
