package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
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
)

type Order struct {
	ID    int    `json:"id"`
	Email string `json:"email"`
}

// A task that no running worker has (producers deployed before workers)
// is not failed on sight: it waits, visible with the reason, and runs as
// soon as a worker that has it comes up — here, as its task is registered.
func TestUnknownTaskWaitsForAWorkerThatHasIt(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		known := sdk.NewTask("known", func(ctx context.Context, in struct{}) error { return nil })
		env.Register(known)
		t0 := env.Now()
		ex, err := env.Docket().AddByName(t.Context(), "report", json.RawMessage(`{"a":1}`))
		require.NoError(t, err)
		env.Advance(10 * time.Minute)

		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.False(t, info.State.Finished(), "it waits: %s", info.State)
		assert.Contains(t, info.Error, `no running worker has task "report" registered`)
		assert.Equal(t, 1, info.Attempt, "waiting is no attempt")
		assert.Empty(t, env.Runs(""), "no function ran")
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, append(snap.Queued, snap.Scheduled...), 1)
		assert.Contains(t, append(snap.Queued, snap.Scheduled...)[0].Error, "waiting for one since")
		assert.LessOrEqual(t, append(snap.Queued, snap.Scheduled...)[0].Due.Sub(env.Now()), time.Minute,
			"handed back with a backoff of at most a minute")

		var got []int
		report := sdk.NewTask("report", func(ctx context.Context, in struct{ A int }) error {
			got = append(got, in.A)
			return nil
		})
		env.Register(report) // a worker that has it, at 10m: it runs at once
		runs := env.Runs("report")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(10*time.Minute), runs[0].Start)
		assert.Equal(t, []int{1}, got)
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Empty(t, info.Error)
	})
}

// A task that no worker comes to run fails, with reason unknown_task, once
// it has waited Options.UnknownTaskWait.
func TestUnknownTaskFailsAfterItsWait(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		known := sdk.NewTask("known", func(ctx context.Context, in struct{}) error { return nil })
		env.Register(known)
		t0 := env.Now()
		ex, err := env.Docket().AddByName(t.Context(), "never_registered", json.RawMessage(`{"a":1}`))
		require.NoError(t, err)
		env.Advance(59 * time.Minute)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.False(t, info.State.Finished(), "still waiting at 59m")

		env.Advance(2 * time.Minute)
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Contains(t, info.Error, `unknown task "never_registered"`)
		assert.Contains(t, info.Error, "within 1h0m0s")
		assert.WithinRange(t, info.Finished, t0.Add(time.Hour), t0.Add(61*time.Minute))
		assert.JSONEq(t, `{"a":1}`, string(info.Input), "the input is kept for inspection")
		assert.Empty(t, env.Runs(""), "no function ran")
	}, testsuite.WithWorkerOptions(worker.Options{UnknownTaskWait: time.Hour}))
}

// A worker without the task hands it back; once the deploy is done (the
// old worker stopped), a worker with it runs it, though its backoff had it
// due later. (While the old worker still runs, it may take the task first
// again and hand it back with a longer backoff: the new one then runs it at
// a due time the backoff sets, up to a minute apart, which a test cannot
// wait for.)
func TestUnknownTaskRunsOnAWorkerThatHasIt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		old, stopOld := oldVersion(t, b)
		ex, err := old.AddByName(context.Background(), "report", json.RawMessage(`{}`))
		require.NoError(t, err)
		awaitHandedBack(t, ex)
		stopOld()
		assert.Equal(t, []string{ex.Key()}, runOnNewWorker(t, b, old.Name()))
	})
}

// oldVersion runs a worker of a version without the task "report" on a
// docket of its own; stop stops it.
func oldVersion(t *testing.T, b redistest.Backend) (old *sdk.Docket, stop func()) {
	t.Helper()
	old = openDocket(t, b.URL)
	require.NoError(t, old.Register(sdk.NewTask("other", func(ctx context.Context, in struct{}) error { return nil })))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.New(old, worker.Options{Name: "old"}).Run(ctx) }()
	return old, func() {
		cancel()
		require.NoError(t, <-done)
	}
}

func TestUndecodableInputFailsWithTheReason(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ran := false
		ship := sdk.NewTask("ship", func(ctx context.Context, in Order) error { ran = true; return nil },
			policy.Retry(5, time.Second))
		env.Register(ship)
		// A producer that does not link the task sends the wrong type.
		producer, err := sdk.OpenClient(env.Docket().Redis(), sdk.WithName(env.Docket().Name()))
		require.NoError(t, err)
		defer producer.Close()
		ex, err := producer.AddByName(t.Context(), "ship", json.RawMessage(`{"id":"not a number"}`))
		require.NoError(t, err)
		env.RunUntilIdle()

		assert.False(t, ran)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, 1, info.Attempt, "bad input is not retried")
		assert.Contains(t, info.Error, `task "ship": input does not decode into worker_test.Order`)
	})
}

func TestAddByNameChecksInputOfARegisteredTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ship := sdk.NewTask("ship", func(ctx context.Context, in Order) error { return nil })
		env.Register(ship)
		_, err := env.Docket().AddByName(t.Context(), "ship", json.RawMessage(`{"id":"x"}`))
		require.ErrorIs(t, err, sdk.ErrBadInput)
		var de *sdk.DecodeError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, "ship", de.Task)
		_, err = env.Docket().AddByName(t.Context(), "ship", json.RawMessage(`{not json`))
		require.ErrorIs(t, err, sdk.ErrBadInput)
		_, err = env.Docket().AddByName(t.Context(), "other", json.RawMessage(`{not json`))
		require.ErrorIs(t, err, sdk.ErrBadInput, "even for a task this docket does not know")
	})
}

func TestFallbackHandlesWhatNoTaskCan(t *testing.T) {
	type seen struct {
		task  string
		input string
	}
	var mu sync.Mutex // the fallback runs in each task's goroutine
	var got []seen
	fallback := func(ctx context.Context, task string, input json.RawMessage) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{task, string(input)})
		if task == "legacy_fail" {
			return errors.New("cannot handle")
		}
		return nil
	}
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ship := sdk.NewTask("ship", func(ctx context.Context, in Order) error { return nil })
		env.Register(ship)
		d := env.Docket()
		producer, err := sdk.OpenClient(d.Redis(), sdk.WithName(d.Name()))
		require.NoError(t, err)
		defer producer.Close()
		a, err := producer.AddByName(t.Context(), "legacy", json.RawMessage(`{"v":1}`))
		require.NoError(t, err)
		b, err := producer.AddByName(t.Context(), "legacy_fail", json.RawMessage(`{}`))
		require.NoError(t, err)
		c, err := producer.AddByName(t.Context(), "ship", json.RawMessage(`{"id":[]}`))
		require.NoError(t, err)
		env.RunUntilIdle()

		assert.ElementsMatch(t, []seen{{"legacy", `{"v":1}`}, {"legacy_fail", `{}`}, {"ship", `{"id":[]}`}}, got)
		for ex, want := range map[*sdk.Execution]sdk.State{a: sdk.StateCompleted, b: sdk.StateFailed, c: sdk.StateCompleted} {
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, want, info.State, ex.Key())
		}
		info, err := b.Info(t.Context())
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(info.Error, "fallback: cannot handle (it had the message because "), info.Error)
		assert.Equal(t, sdk.ReasonUnknownTask, info.Reason, "why it went to the fallback")
	}, testsuite.WithWorkerOptions(worker.Options{Fallback: fallback}))
}

func TestPanicIsAFailedAttemptWithValueAndStack(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("explode", func(ctx context.Context, in Order) error {
			if sdk.Current(ctx).Attempt() == 1 {
				fmt.Println(100 / (in.ID - 7)) // a runtime error: division by zero
			}
			panic("second attempt panics too")
		}, policy.Retry(2, time.Second))
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), Order{ID: 7})
		require.NoError(t, err)
		env.Advance(time.Minute)

		runs := env.Runs("explode")
		require.Len(t, runs, 2, "a panic is retried like any failure")
		var pe *sdk.PanicError
		require.ErrorAs(t, runs[0].Err, &pe)
		assert.Contains(t, pe.Error(), "integer divide by zero")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Contains(t, info.Error, "panic: second attempt panics too")
		assert.Contains(t, info.Error, "badinput_test.go", "the stack is recorded")
	})
}

// lookupError is an error type whose Error method dereferences its
// receiver, as most do: a nil *lookupError returned as an error (a typed
// nil, not a nil error) panics when read.
type lookupError struct{ what string }

func (e *lookupError) Error() string { return "no " + e.what }

// loudError's Error method panics, whatever its value.
type loudError struct{}

func (loudError) Error() string { panic("an Error method that panics") }

// An error that panics when read — a typed nil, an Error method that
// panics, either wrapped, a nil *sdk.SnoozeError — fails its attempt with
// an error that says so, as a panic of the function does: the worker, which
// reads the error after the function returned, goes on with the next task
// rather than crashing (and the next worker with it, until the task is
// dead-lettered).
func TestAnErrorThatPanicsWhenReadFailsTheAttemptNotTheWorker(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		find := func(ctx context.Context, in Order) (*lookupError, bool) { return nil, in.ID > 0 }
		errs := map[string]func(ctx context.Context, in Order) error{
			"typed-nil": func(ctx context.Context, in Order) error {
				e, _ := find(ctx, in)
				return e
			},
			"loud":      func(context.Context, Order) error { return loudError{} },
			"permanent": func(ctx context.Context, in Order) error { e, _ := find(ctx, in); return sdk.Permanent(e) },
			"joined":    func(context.Context, Order) error { return errors.Join(errors.New("first"), loudError{}) },
			"snooze":    func(context.Context, Order) error { var s *sdk.SnoozeError; return s },
		}
		exs := map[string]*sdk.Execution{}
		for name, fn := range errs {
			task := sdk.NewTask(name, fn, policy.Retry(2, time.Second))
			env.Register(task)
			ex, err := task.Add(t.Context(), env.Docket(), Order{ID: 1}, sdk.Key(name))
			require.NoError(t, err)
			exs[name] = ex
		}
		fine := sdk.NewTask("fine", func(context.Context, Order) error { return nil })
		env.Register(fine)
		after, err := fine.Add(t.Context(), env.Docket(), Order{}, sdk.After(time.Minute))
		require.NoError(t, err)
		env.RunUntilFinished()

		for name, ex := range exs {
			info, err := ex.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateFailed, info.State, name)
			assert.Contains(t, info.Error, "that panics when read", name)
			if name != "permanent" { // what it wraps cannot be read: neither can that it is permanent
				assert.Equal(t, 2, info.Attempt, "%s: retried as any failure", name)
			}
		}
		info, err := exs["typed-nil"].Info(t.Context())
		require.NoError(t, err)
		assert.Contains(t, info.Error, "(*worker_test.lookupError, nil: a nil pointer in an error is not a nil error)")
		info, err = after.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State, "the worker went on")
	})
}

// panicky is an input type, written as a JSON string, whose UnmarshalJSON
// panics on "boom".
type panicky struct{ V string }

func (p panicky) MarshalJSON() ([]byte, error) { return json.Marshal(p.V) }

func (p *panicky) UnmarshalJSON(b []byte) error {
	if string(b) == `"boom"` {
		panic("cannot decode boom")
	}
	return json.Unmarshal(b, &p.V)
}

// An input type whose UnmarshalJSON panics fails that task, as bad input
// naming the panic; the worker goes on with the next.
func TestInputDecodingThatPanics(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var got []string
		task := sdk.NewTask("decode", func(ctx context.Context, in panicky) error {
			got = append(got, in.V)
			return nil
		})
		env.Register(task)
		bad, err := task.Add(t.Context(), env.Docket(), panicky{V: "boom"})
		require.NoError(t, err)
		_, err = task.Add(t.Context(), env.Docket(), panicky{V: "fine"})
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := bad.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, sdk.ReasonBadInput, info.Reason)
		assert.Contains(t, info.Error, "cannot decode boom")
		assert.Equal(t, []string{"fine"}, got)
	})
}

// runOnNewWorker starts a worker that has the task "report", on the docket
// called name, and returns the key of the first task it runs.
func runOnNewWorker(t *testing.T, b redistest.Backend, name string) []string {
	t.Helper()
	ran := make(chan string, 1)
	current, err := sdk.Open(context.Background(), b.URL, sdk.WithName(name))
	require.NoError(t, err)
	t.Cleanup(func() { _ = current.Close() })
	require.NoError(t, current.Register(sdk.NewTask("report", func(ctx context.Context, in struct{}) error {
		ran <- sdk.Current(ctx).Key()
		return nil
	})))
	runWorker(t, worker.New(current, worker.Options{Name: "new"}))
	return waitFor(t, ran, 1)
}

// In a fleet running two versions, a worker that has the task runs it
// soon, though a worker without it, still running, may take it first
// again: once a worker that has it made it due, the other hands it back
// after a short wait rather than its backoff.
func TestUnknownTaskRunsSoonInAMixedFleet(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		old := openDocket(t, b.URL)
		require.NoError(t, old.Register(sdk.NewTask("other", func(ctx context.Context, in struct{}) error { return nil })))
		runWorker(t, worker.New(old, worker.Options{Name: "old"}))
		ex, err := old.AddByName(context.Background(), "report", json.RawMessage(`{}`))
		require.NoError(t, err)
		awaitHandedBack(t, ex)
		assert.Equal(t, []string{ex.Key()}, runOnNewWorker(t, b, old.Name()))
	})
}

// awaitHandedBack waits until a worker that does not have the task of ex
// has handed it back (its record then says why).
func awaitHandedBack(t *testing.T, ex *sdk.Execution) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, err := ex.Info(context.Background())
		return err == nil && info.Error != ""
	}, time.Minute, time.Millisecond, "the worker without the task handed it back")
}

// In a fleet running two versions, a task added while both run may be taken
// first by a worker without it: that worker sees, from the workers'
// registrations, that another one has it, and hands it back after a short
// wait rather than its backoff (a second and more), however many such
// tasks there are.
func TestTaskAddedToAMixedFleetRunsSoon(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		env.Register(sdk.NewTask("other", func(ctx context.Context, in struct{}) error { return nil }))
		env.Advance(time.Millisecond) // the testsuite's worker, without "report", runs

		current, err := sdk.OpenClient(env.Docket().Redis(), sdk.WithName(env.Docket().Name()))
		require.NoError(t, err)
		defer current.Close()
		var mu sync.Mutex
		started := map[string]time.Time{}
		require.NoError(t, current.Register(sdk.NewTask("report", func(ctx context.Context, in struct{ N int }) error {
			mu.Lock()
			defer mu.Unlock()
			started[sdk.Current(ctx).Key()] = time.Now()
			return nil
		})))
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- worker.New(current, worker.Options{Name: "new", Lease: time.Hour}).Run(ctx) }()
		env.Advance(time.Second) // the new worker is up and registered

		added := env.Now()
		const n = 40
		for i := range n {
			_, err := env.Docket().AddByName(t.Context(), "report", json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
			require.NoError(t, err)
		}
		env.Advance(time.Second)
		assert.Len(t, started, n, "every task ran within a second")
		for key, at := range started {
			assert.Less(t, at.Sub(added), time.Second, key)
		}
		stop()
		require.NoError(t, <-done)
	})
}

// A worker that has the task but is busy does not see it handed back ten
// times a second by a worker without it for as long as it is busy: the
// short wait holds for the first moments only, then the backoff grows.
func TestHandBacksToABusyWorkerBackOff(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		env.Register(sdk.NewTask("other", func(ctx context.Context, in struct{}) error { return nil }))
		env.Advance(time.Millisecond)
		current, err := sdk.OpenClient(env.Docket().Redis(), sdk.WithName(env.Docket().Name()))
		require.NoError(t, err)
		defer current.Close()
		require.NoError(t, current.Register(sdk.NewTask("report", func(ctx context.Context, in struct{ Slow bool }) error {
			if in.Slow {
				select {
				case <-time.After(10 * time.Minute):
				case <-ctx.Done():
				}
			}
			return nil
		})))
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- worker.New(current, worker.Options{Name: "new", Concurrency: 1, Lease: time.Hour}).Run(ctx)
		}()
		_, err = env.Docket().AddByName(t.Context(), "report", json.RawMessage(`{"Slow":true}`), sdk.Key("slow"))
		require.NoError(t, err)
		env.Advance(time.Second) // the new worker runs the slow one
		_, err = env.Docket().AddByName(t.Context(), "report", json.RawMessage(`{}`), sdk.Key("waiting"))
		require.NoError(t, err)
		env.Advance(time.Minute)

		// Hand-backs are counted by the minute's statistics (outcome "unknown").
		rdb := env.Docket().Redis()
		keys, err := rdb.Keys(t.Context(), "docket:{test}:stats:*").Result()
		require.NoError(t, err)
		handedBack := 0
		for _, k := range keys {
			n, _ := rdb.HGet(t.Context(), k, "unknown").Int()
			handedBack += n
		}
		assert.Positive(t, handedBack)
		assert.Less(t, handedBack, 60, "in a minute: about 20 short waits, then a growing backoff")
		stop()
		require.NoError(t, <-done)
	})
}

// A task function that calls runtime.Goexit (t.FailNow, or a failed require
// assertion, in a task does) fails its attempt, retried as any failure,
// and frees its slot: with one slot, the next task runs. So does a
// fallback handler that calls it.
func TestGoexitIsAFailedAttempt(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		exits := sdk.NewTask("exits", func(ctx context.Context, in Order) error {
			runtime.Goexit()
			return nil
		}, policy.Retry(2, time.Second))
		after := sdk.NewTask("after", func(ctx context.Context, in Order) error { return nil })
		env.Register(exits, after)
		d := env.Docket()
		first, err := exits.Add(t.Context(), d, Order{ID: 1})
		require.NoError(t, err)
		second, err := after.Add(t.Context(), d, Order{ID: 2}, sdk.After(time.Millisecond))
		require.NoError(t, err)
		unknown, err := d.AddByName(t.Context(), "legacy", json.RawMessage(`{}`))
		require.NoError(t, err)
		env.RunUntilFinished()

		require.Len(t, env.Runs("exits"), 2, "retried as any failure")
		info, err := first.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Contains(t, info.Error, "called runtime.Goexit instead of returning")
		info, err = second.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State, "the slot was freed")
		info, err = unknown.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Contains(t, info.Error, "runtime.Goexit")
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 1,
		Fallback: func(context.Context, string, json.RawMessage) error { runtime.Goexit(); return nil }}))
}

// A task registered while the worker runs (one Register call per task) is
// judged by its admission rules from its first claim: a claim sent before
// the registration carried none for it, and a task of it that the claim
// took is handed back, due when it was, rather than run unchecked. Each
// round runs the race once; before the fix most rounds ran both
// submissions of a cooldown, and both of a limit of one at once.
func TestTaskRegisteredWhileRunningKeepsItsAdmissionRules(t *testing.T) {
	for round := range 20 {
		t.Run(fmt.Sprint("round-", round), func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				env.Register(sdk.NewTask("other", func(ctx context.Context, in struct{}) error { return nil }))
				hooks := sdk.NewTask("hooks", func(ctx context.Context, in struct{}) error { return nil },
					policy.TaskCooldown(30*time.Second))
				type customer struct {
					CustomerID int `json:"customer_id"`
				}
				sync := sdk.NewTask("sync", func(ctx context.Context, in customer) error {
					time.Sleep(10 * time.Second)
					return nil
				}, policy.Concurrency("customer_id", 1))
				for range 2 {
					_, err := hooks.Add(t.Context(), env.Docket(), struct{}{})
					require.NoError(t, err)
					_, err = sync.Add(t.Context(), env.Docket(), customer{1001})
					require.NoError(t, err)
				}
				env.Register(hooks)
				env.Register(sync)
				env.RunUntilFinished()

				assert.Len(t, env.Runs("hooks"), 1, "the cooldown dropped the second")
				runs := env.Runs("sync")
				require.Len(t, runs, 2)
				assert.False(t, runs[1].Start.Before(runs[0].End), "one at a time: %v-%v and %v-%v",
					runs[0].Start, runs[0].End, runs[1].Start, runs[1].End)
			})
		})
	}
}

// A submission handed back by a worker without its task keeps its place
// in line: when a worker that has the task comes, it is due when it was
// first due, ahead of those added while it waited, and a cooldown or a
// debounce judges it first (the seed's example: the first call runs, the
// one 5 seconds later is dropped). Before the fix it was due when the
// worker came, behind them: the later one ran, and the first was dropped.
func TestHandedBackSubmissionKeepsItsPlace(t *testing.T) {
	for round := range 10 {
		t.Run(fmt.Sprint("round-", round), func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				hooks := sdk.NewTask("hooks", func(ctx context.Context, in Order) error { return nil },
					policy.TaskCooldown(30*time.Second))
				first, err := hooks.Add(t.Context(), env.Docket(), Order{ID: 1})
				require.NoError(t, err)
				env.Advance(5 * time.Second) // the worker starts, without the task: it hands the first back
				second, err := hooks.Add(t.Context(), env.Docket(), Order{ID: 2})
				require.NoError(t, err)
				env.Register(hooks)
				env.RunUntilFinished()

				for ex, want := range map[*sdk.Execution]sdk.State{first: sdk.StateCompleted, second: sdk.StateCancelled} {
					info, err := ex.Info(t.Context())
					require.NoError(t, err)
					assert.Equal(t, want, info.State, "%s: %s", ex.Key(), info.Error)
				}
			})
		})
	}
}

// The same across a deploy, on Redis: the old worker, without the task,
// hands the first submission back and stops; a second is added; the new
// worker, which has the task, runs the first, and its debounce drops the
// second.
func TestHandedBackSubmissionKeepsItsPlaceAcrossADeploy(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		old, stopOld := oldVersion(t, b)
		first, err := old.AddByName(context.Background(), "report", json.RawMessage(`{"id":1}`))
		require.NoError(t, err)
		awaitHandedBack(t, first)
		stopOld()
		_, err = old.AddByName(context.Background(), "report", json.RawMessage(`{"id":2}`))
		require.NoError(t, err)

		current, err := sdk.Open(context.Background(), b.URL, sdk.WithName(old.Name()))
		require.NoError(t, err)
		t.Cleanup(func() { _ = current.Close() })
		ran := make(chan int, 2)
		require.NoError(t, current.Register(sdk.NewTask("report", func(ctx context.Context, in Order) error {
			ran <- in.ID
			return nil
		}, policy.TaskDebounce(time.Millisecond))))
		runWorker(t, worker.New(current, worker.Options{Name: "new"}))
		assert.Equal(t, []int{1}, waitFor(t, ran, 1), "the burst's first submission runs")
		require.Eventually(t, func() bool {
			snap, err := current.Snapshot(context.Background())
			return err == nil && snap.TotalWaiting == 0 && len(snap.Running) == 0
		}, time.Minute, time.Millisecond)
		assert.Empty(t, ran, "the second was dropped")
	})
}

// A task registered while this worker, which had not got it, is handing
// back a submission of it: the submission keeps its place, ahead of one
// added after the registration, and the cooldown drops the later one.
// Before the fix the worker claimed the later one (with the rules) while
// the first was still in hand, then handed the first back behind it.
func TestRegisteredDuringAHandBack(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		for round := range 10 {
			d := openDocket(t, b.URL, sdk.WithName(fmt.Sprintf("%s-%d", redistest.Name(t), round)))
			require.NoError(t, d.Register(sdk.NewTask("other", func(ctx context.Context, in struct{}) error { return nil })))
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- worker.New(d, worker.Options{}).Run(ctx) }()
			hooks := sdk.NewTask("hooks", func(ctx context.Context, in Order) error { return nil },
				policy.TaskCooldown(30*time.Second))
			first, err := hooks.Add(context.Background(), d, Order{ID: 1})
			require.NoError(t, err)
			require.Eventually(t, func() bool { // claimed, by the worker that has not got it
				info, err := first.Info(context.Background())
				return err == nil && (info.State == sdk.StateRunning || info.Error != "")
			}, time.Minute, 100*time.Microsecond)
			require.NoError(t, d.Register(hooks))
			second, err := hooks.Add(context.Background(), d, Order{ID: 2})
			require.NoError(t, err)
			var i1, i2 sdk.Info
			require.Eventually(t, func() bool {
				i1, _ = first.Info(context.Background())
				i2, _ = second.Info(context.Background())
				return i1.State.Finished() && i2.State.Finished()
			}, time.Minute, time.Millisecond)
			assert.Equal(t, sdk.StateCompleted, i1.State, "round %d: the first: %s", round, i1.Error)
			assert.Equal(t, sdk.StateCancelled, i2.State, "round %d: the second", round)
			stop()
			require.NoError(t, <-done)
		}
	})
}
