package testsuite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type Nap struct {
	For time.Duration `json:"for"`
}

// napTask sleeps as long as its input says.
func napTask() *sdk.Task[Nap] {
	return sdk.NewTask("nap", func(ctx context.Context, in Nap) error {
		time.Sleep(in.For)
		return nil
	})
}

// Tasks that sleep end at their exact instant; Advance returns with
// everything due by then done.
func TestAdvanceRunsEverythingAtItsInstant(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		nap := napTask()
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
		nap := napTask()
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

// Tasks added to run at once run in the order they were added, whatever
// their keys (here in one AddMany, at one instant; one at a time).
func TestTasksRunInTheOrderAdded(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex
		var order []string
		step := sdk.NewTask("step", func(ctx context.Context, in Nap) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, sdk.Current(ctx).Key())
			return nil
		})
		env.Register(step)
		keys := []string{"charlie", "alpha", "bravo"}
		_, err := step.AddMany(t.Context(), env.Docket(), make([]Nap, len(keys)), sdk.Keys(func(i int) string { return keys[i] }))
		require.NoError(t, err)
		env.RunUntilIdle()
		assert.Equal(t, []string{"charlie", "alpha", "bravo"}, order)
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1}))
}

// An AddMany larger than one call to Redis (a thousand tasks) runs in the
// order of its inputs too.
func TestALargeAddManyRunsInTheOrderAdded(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		type Item struct{ N int }
		var order []int
		item := sdk.NewTask("item", func(ctx context.Context, in Item) error {
			order = append(order, in.N) // one slot: one at a time
			return nil
		})
		env.Register(item)
		items := make([]Item, 2500)
		for i := range items {
			items[i] = Item{N: i}
		}
		_, err := item.AddMany(t.Context(), env.Docket(), items)
		require.NoError(t, err)
		env.RunUntilIdle()
		require.Len(t, order, len(items))
		for i, n := range order {
			if n != i {
				require.Failf(t, "out of order", "run %d was item %d", i, n)
			}
		}
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1}))
}

// Tasks added for an instant past, or for now, are due at once: they run
// in the order added with those added without a time, whatever their keys
// (they ran in the order of their keys, after the others).
func TestTasksAddedForAnInstantPastRunInTheOrderAdded(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		type Item struct{ N int }
		var order []int
		item := sdk.NewTask("item", func(ctx context.Context, in Item) error {
			order = append(order, in.N)
			return nil
		})
		env.Register(item)
		ctx, d := t.Context(), env.Docket()
		key := func(n int) sdk.AddOption { return sdk.Key(fmt.Sprintf("k%02d", 50-n)) } // later items sort first
		_, err := item.Add(ctx, d, Item{0}, key(0))
		require.NoError(t, err)
		_, err = item.Add(ctx, d, Item{1}, key(1), sdk.At(env.Now().Add(-time.Hour)))
		require.NoError(t, err)
		_, err = item.Add(ctx, d, Item{2}, key(2))
		require.NoError(t, err)
		_, err = item.Add(ctx, d, Item{3}, key(3), sdk.At(env.Now()))
		require.NoError(t, err)
		many := []Item{{4}, {5}, {6}}
		_, err = item.AddMany(ctx, d, many, sdk.At(env.Now().Add(-time.Minute)),
			sdk.Keys(func(i int) string { return fmt.Sprintf("k%02d", 50-many[i].N) }))
		require.NoError(t, err)
		env.RunUntilIdle()
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6}, order)
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1}))
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

// RunUntilFinished waits through retry delays, snoozes, debounce settling
// and waits for a concurrency slot, and not for the future runs of
// perpetual and cron chains.
func TestRunUntilFinishedWaitsForEveryAddedTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		flaky := sdk.NewTask("flaky", func(ctx context.Context, in struct{}) error {
			if sdk.Current(ctx).Attempt() < 3 {
				return errors.New("not yet")
			}
			return nil
		}, policy.Retry(3, 500*time.Millisecond))
		snoozed := false
		later := sdk.NewTask("later", func(ctx context.Context, in struct{}) error {
			if !snoozed {
				snoozed = true
				return sdk.Snooze(time.Hour)
			}
			return nil
		})
		one := sdk.NewTask("one", func(ctx context.Context, in Nap) error {
			time.Sleep(in.For)
			return nil
		}, policy.TaskConcurrency(1))
		settle := sdk.NewTask("settle", func(ctx context.Context, in struct{}) error { return nil },
			policy.TaskDebounce(10*time.Minute))
		heartbeat := sdk.NewTask("heartbeat", func(ctx context.Context, in struct{}) error { return nil },
			policy.Perpetual(time.Hour, policy.Automatic()))
		for _, task := range []sdk.Registrable{flaky, later, one, settle, heartbeat} {
			env.Register(task)
		}
		t0 := env.Now()
		d := env.Docket()
		ctx := t.Context()
		_, err := flaky.Add(ctx, d, struct{}{})
		require.NoError(t, err)
		_, err = later.Add(ctx, d, struct{}{})
		require.NoError(t, err)
		for range 3 {
			_, err = one.Add(ctx, d, Nap{For: 20 * time.Minute})
			require.NoError(t, err)
		}
		_, err = settle.Add(ctx, d, struct{}{})
		require.NoError(t, err)

		env.RunUntilFinished()
		assert.Equal(t, t0.Add(time.Hour), env.Now(), "the snoozed task, the last to finish, ran at 1h")
		assert.Len(t, env.Runs("flaky"), 3)
		assert.Len(t, env.Runs("later"), 2)
		assert.Len(t, env.Runs("one"), 3, "the concurrency waiters ran, one after another")
		assert.Len(t, env.Runs("settle"), 1)
		assert.Len(t, env.Runs("heartbeat"), 2, "the chain's runs that fell due meanwhile, at 0 and 1h")
		snap, err := d.Snapshot(ctx)
		require.NoError(t, err)
		require.Len(t, snap.Scheduled, 1, "the chain's next run is left scheduled")
		assert.Equal(t, "heartbeat", snap.Scheduled[0].Key)
	})
}

// RunUntilIdle returns while a retry is scheduled; RunUntilFinished runs it.
func TestRunUntilIdleLeavesRetriesScheduled(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		flaky := sdk.NewTask("flaky", func(ctx context.Context, in struct{}) error {
			if sdk.Current(ctx).Attempt() < 2 {
				return errors.New("not yet")
			}
			return nil
		}, policy.Retry(2, 500*time.Millisecond))
		env.Register(flaky)
		ex, err := flaky.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.RunUntilIdle()
		assert.Len(t, env.Runs("flaky"), 1, "the retry is 500ms ahead")
		env.RunUntilFinished()
		assert.Len(t, env.Runs("flaky"), 2)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A task key that another program overwrote with something else than a
// record is pending until it is due, then failed as corrupt:
// RunUntilFinished waits for it rather than failing on it.
func TestRunUntilFinishedPastAKeyThatIsNotARecord(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ctx := t.Context()
		task := sdk.NewTask("t", func(ctx context.Context, in struct{}) error { return nil })
		env.Register(task)
		start := env.Now()
		ex, err := task.Add(ctx, env.Docket(), struct{}{}, sdk.Key("bad"), sdk.After(time.Hour))
		require.NoError(t, err)
		rdb := env.Docket().Redis()
		require.NoError(t, rdb.Set(ctx, "docket:{test}:task:bad", "not a record", 0).Err())

		env.RunUntilFinished()
		assert.Equal(t, time.Hour, env.Now().Sub(start))
		info, err := ex.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, sdk.ReasonCorrupt, info.Reason)
	})
}

// A task that ignores its context is abandoned at its deadline; the test
// ends cleanly all the same, once the abandoned function has returned in
// fake time (a bubble cannot end while one of its goroutines sleeps).
func TestTestEndsAfterAnAbandonedTaskReturns(t *testing.T) {
	var returned, released bool
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // runs before Run waits
		task := sdk.NewTask("sleepy", func(ctx context.Context, in struct{ Block bool }) error {
			if in.Block {
				<-release // ignores ctx
				released = true
				return nil
			}
			time.Sleep(time.Hour) // ignores ctx
			returned = true
			return nil
		}, policy.Timeout(time.Minute))
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), struct{ Block bool }{})
		require.NoError(t, err)
		_, err = task.Add(t.Context(), env.Docket(), struct{ Block bool }{true})
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Contains(t, info.Error, "timed out")
	})
	assert.True(t, returned, "the abandoned function ran to its end")
	assert.True(t, released, "the test's cleanup released the other")
}

// A task function that never returns (it ignores its context, and has no
// Timeout policy) fails the test after 30 days of fake time, saying so,
// rather than hanging it until go test's timeout. Run in a child process,
// whose failure is the point.
func TestRunUntilFinishedFailsOnAFunctionThatNeverReturns(t *testing.T) {
	if os.Getenv("TESTSUITE_STUCK") == "1" {
		testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
			stuck := make(chan struct{})
			t.Cleanup(func() { close(stuck) })
			task := sdk.NewTask("stuck", func(ctx context.Context, in Nap) error {
				<-stuck
				return nil
			})
			env.Register(task)
			_, err := task.Add(t.Context(), env.Docket(), Nap{})
			require.NoError(t, err)
			env.RunUntilFinished()
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunUntilFinishedFailsOnAFunctionThatNeverReturns$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "TESTSUITE_STUCK=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child's test fails:\n%s", out)
	assert.Contains(t, string(out), "the worker was busy for 720h0m0s of fake time without an attempt ending: does a task's function block for ever?")
}

// A task function that never returns (it sleeps in a loop, or blocks on a
// channel) fails its test, and only its test: the goroutine it leaves
// behind in the test's bubble made synctest panic, which ended the test
// binary, the other tests with it. Run in a child process, whose failure is
// the point.
func TestAFunctionThatNeverReturnsFailsItsTestAlone(t *testing.T) {
	if os.Getenv("TESTSUITE_STUCK") == "3" {
		stuck := map[string]func(){
			"sleeps-for-ever": func() {
				for {
					time.Sleep(time.Hour) // ignores its context
				}
			},
			"blocks-for-ever": func() { select {} },
		}
		for _, name := range []string{"sleeps-for-ever", "blocks-for-ever"} {
			t.Run(name, func(t *testing.T) {
				testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
					task := sdk.NewTask("stuck", func(ctx context.Context, in Nap) error {
						stuck[name]()
						return nil
					})
					env.Register(task)
					_, err := task.Add(t.Context(), env.Docket(), Nap{})
					require.NoError(t, err)
					env.RunUntilIdle()
				})
				t.Log("code after Run ran")
			})
		}
		t.Run("after", func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				nap := napTask()
				env.Register(nap)
				ex, err := nap.Add(t.Context(), env.Docket(), Nap{For: time.Minute})
				require.NoError(t, err)
				_, err = sdk.Result[struct{}](t.Context(), ex)
				require.NoError(t, err)
				t.Log("the test after ran")
			})
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAFunctionThatNeverReturnsFailsItsTestAlone$", "-test.timeout=5m", "-test.v")
	cmd.Env = append(os.Environ(), "TESTSUITE_STUCK=3")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child's test fails:\n%s", out)
	assert.Contains(t, string(out), "the worker was busy for 720h0m0s of fake time without an attempt ending")
	assert.Contains(t, string(out), "still ran a week of fake time after the test ended")
	assert.Regexp(t, `testsuite_test\.go:\d+: testsuite: the test ended with goroutines of its bubble still blocked`, string(out),
		"at the line that called Run")
	assert.Contains(t, string(out), "--- FAIL: TestAFunctionThatNeverReturnsFailsItsTestAlone/sleeps-for-ever")
	assert.Contains(t, string(out), "--- FAIL: TestAFunctionThatNeverReturnsFailsItsTestAlone/blocks-for-ever")
	assert.Contains(t, string(out), "--- PASS: TestAFunctionThatNeverReturnsFailsItsTestAlone/after", "the next test ran:\n%s", out)
	assert.NotContains(t, string(out), "panic:")
	assert.NotContains(t, string(out), "code after Run ran", "the failed Run stops its test, as synctest.Test does")
	assert.Regexp(t, `goroutine \d+ \[sleep \(durable\), synctest bubble \d+\]:`, string(out), "the stacks of what was left behind")
	assert.Regexp(t, `goroutine \d+ \[select \(no cases\) \(durable\), synctest bubble \d+\]:`, string(out))
	assert.Contains(t, string(out), "testsuite_test.TestAFunctionThatNeverReturnsFailsItsTestAlone", "down to the task's function")
}

// Work that cannot finish by itself (a workflow waiting for a signal
// without a timeout, a task a strike holds) fails the test, naming what is
// left and what each parked workflow waits for. Run in a child process,
// whose failure is the point.
func TestRunUntilFinishedNamesWhatIsStuck(t *testing.T) {
	if os.Getenv("TESTSUITE_STUCK") == "2" {
		testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
			approve := sdk.NewTask("approve", func(ctx context.Context, in Nap) error {
				_, err := workflow.WaitSignal[bool](ctx, "approved", 0)
				return err
			})
			charge := sdk.NewTask("charge", func(ctx context.Context, in Nap) error { return nil })
			env.Register(approve, charge)
			_, err := approve.Add(t.Context(), env.Docket(), Nap{}, sdk.Key("order-7"))
			require.NoError(t, err)
			_, err = charge.Add(t.Context(), env.Docket(), Nap{}, sdk.Key("charge-7"), sdk.After(time.Minute))
			require.NoError(t, err)
			require.NoError(t, env.Docket().Strike(t.Context(), "charge", "", "", nil))
			env.RunUntilFinished()
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunUntilFinishedNamesWhatIsStuck$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "TESTSUITE_STUCK=2")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the child's test fails:\n%s", out)
	assert.Contains(t, string(out), "parked: order-7 (approve), waiting for signal approved")
	assert.Contains(t, string(out), "held by a strike: charge-7 (charge)")
}

// Work that goes on is waited for however long it takes: ten tasks that
// each sleep 4 days in one slot keep the worker busy for 40 days of fake
// time, past the 30 days RunUntilFinished allows without an attempt ending.
func TestRunUntilFinishedWaitsForLongWork(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		nap := napTask()
		env.Register(nap)
		t0 := env.Now()
		for range 10 {
			_, err := nap.Add(t.Context(), env.Docket(), Nap{For: 4 * 24 * time.Hour})
			require.NoError(t, err)
		}
		env.RunUntilFinished()
		assert.Len(t, env.Runs("nap"), 10)
		assert.Equal(t, 40*24*time.Hour, env.Now().Sub(t0))
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1}))
}

// Redis keeps whole microseconds: a due instant between two is rounded up,
// never down, so that a task never runs before the instant it was given,
// At or After.
func TestSubMicrosecondDueTimesAreNeverEarly(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		started := make(chan time.Time, 2)
		task := sdk.NewTask("punctual", func(ctx context.Context, in Nap) error {
			started <- time.Now()
			return nil
		})
		env.Register(task)
		at := env.Now().Add(time.Second + 999*time.Nanosecond)
		ex, err := task.Add(t.Context(), env.Docket(), Nap{}, sdk.At(at))
		require.NoError(t, err)
		assert.Equal(t, env.Now().Add(time.Second+time.Microsecond), ex.Due())
		after, err := task.Add(t.Context(), env.Docket(), Nap{}, sdk.After(1500*time.Nanosecond))
		require.NoError(t, err)
		assert.Equal(t, env.Now().Add(2*time.Microsecond), after.Due())
		env.Advance(time.Minute)
		first, second := <-started, <-started
		assert.Equal(t, after.Due(), first)
		assert.Equal(t, ex.Due(), second)
		assert.False(t, second.Before(at))
	})
}

// A Call of a workflow that sleeps for weeks waits without a round trip to
// Redis every 10 seconds of fake time (260,000 for 30 days: minutes of a
// test): under the testsuite a watch registration lasts an hour.
func TestCallOfAWorkflowThatSleepsForWeeks(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		nap := sdk.NewResultTask("nap", func(ctx context.Context, in struct{}) (string, error) {
			if err := workflow.Sleep(ctx, "weeks", 30*24*time.Hour); err != nil {
				return "", err
			}
			return "rested", nil
		})
		env.Register(nap)
		t0 := env.Now()
		type reply struct {
			got string
			err error
			at  time.Time
		}
		done := make(chan reply, 1)
		go func() {
			got, err := nap.Call(t.Context(), env.Docket(), struct{}{}, sdk.Key("nap-1"))
			done <- reply{got, err, env.Now()}
		}()
		env.Advance(time.Minute)
		until, err := env.Docket().Redis().ZScore(t.Context(), "docket:{test}:watchers", "nap-1").Result()
		require.NoError(t, err)
		assert.GreaterOrEqual(t, time.UnixMicro(int64(until)).Sub(env.Now()), 59*time.Minute, "the registration lasts an hour")

		r := <-done
		require.NoError(t, r.err)
		assert.Equal(t, "rested", r.got)
		assert.Equal(t, t0.Add(30*24*time.Hour), r.at, "at the sleep's end")
	})
}

// A watched task that completes on a docket that keeps no completed
// records leaves proof of its completion for as long as the watch's
// registration lasts (an hour of fake time under the testsuite), so that
// a watcher that missed the announcement finds it: the proof lasted a
// minute, and Info said ErrNotFound two minutes on.
func TestAWatchedCompletionOutlastsTheRegistration(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("minute", func(context.Context, struct{}) error { time.Sleep(time.Minute); return nil })
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		events, err := ex.Watch(t.Context())
		require.NoError(t, err)
		env.RunUntilIdle()
		for range events { // to its end: completed
		}
		for _, after := range []time.Duration{2 * time.Minute, 50 * time.Minute} {
			env.Advance(after)
			info, err := ex.Info(t.Context())
			require.NoError(t, err, "%v on", after)
			assert.Equal(t, sdk.StateCompleted, info.State)
		}
		env.Advance(2 * time.Hour)
		_, err = ex.Info(t.Context())
		assert.ErrorIs(t, err, sdk.ErrNotFound, "then it goes")
	}, testsuite.WithDocketOptions(sdk.WithCompletedRetention(0)))
}

// A Call of a task registered on the docket itself, as a program
// registers them, starts the worker: it waited, moving fake time, for a
// worker that never started, until go test's timeout.
func TestACallOfATaskRegisteredOnTheDocketStartsTheWorker(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		double := sdk.NewResultTask("double", func(ctx context.Context, in struct{ N int }) (int, error) { return 2 * in.N, nil })
		require.NoError(t, env.Docket().Register(double))
		got, err := double.Call(t.Context(), env.Docket(), struct{ N int }{N: 21})
		require.NoError(t, err)
		assert.Equal(t, 42, got)
	})
}

// A Call from a goroutine of the test, while the test's goroutine drives
// the env, starts the worker without a second synctest.Wait: the two hung
// the bubble (one in Wait under the worker's sync.Once, the other on its
// lock) until go test's timeout.
func TestACallFromAnotherGoroutineWhileTheTestAdvances(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		double := sdk.NewResultTask("double", func(ctx context.Context, in struct{ N int }) (int, error) { return 2 * in.N, nil })
		require.NoError(t, env.Docket().Register(double))
		got := make(chan int, 1)
		go func() {
			n, err := double.Call(context.Background(), env.Docket(), struct{ N int }{N: 21})
			assert.NoError(t, err)
			got <- n
		}()
		env.RunUntilIdle()
		assert.Equal(t, 42, <-got)
	})
}
