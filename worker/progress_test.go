package worker_test

import (
	"context"
	"errors"
	"fmt"
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

type Import struct {
	File    string `json:"file"`
	Records int    `json:"records"`
}

// A watcher sees every state change and progress report, in order, until
// the task ends; then the progress is kept in the record and the live
// progress is gone.
func TestProgressIsWatched(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		importRecords := sdk.NewTask("import_records", func(ctx context.Context, in Import) error {
			p := sdk.Current(ctx).Progress()
			if err := p.SetTotal(ctx, int64(in.Records)); err != nil {
				return err
			}
			if err := p.SetMessage(ctx, "starting import"); err != nil {
				return err
			}
			for range in.Records {
				time.Sleep(time.Second)
				if err := p.Increment(ctx); err != nil {
					return err
				}
			}
			return p.SetMessage(ctx, "import complete")
		})
		env.Register(importRecords)
		d := env.Docket()
		ex, err := importRecords.Add(t.Context(), d, Import{File: "a.csv", Records: 3}, sdk.After(time.Minute))
		require.NoError(t, err)
		events, err := ex.Watch(t.Context())
		require.NoError(t, err)
		var got []string
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range events {
				if ev.IsProgress {
					got = append(got, fmt.Sprintf("progress %d/%d %q", ev.Progress.Current, ev.Progress.Total, ev.Progress.Message))
				} else {
					got = append(got, fmt.Sprintf("%s %d", ev.State, ev.Attempt))
				}
			}
		}()

		env.Advance(time.Minute + 1500*time.Millisecond)
		live, err := ex.Progress(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.ProgressInfo{Current: 1, Total: 3, Message: "starting import", Updated: env.Now().Add(-500 * time.Millisecond)}, live)

		env.Advance(time.Minute)
		<-done
		assert.Equal(t, []string{
			"scheduled 1",
			"running 1",
			`progress 0/3 ""`,
			`progress 0/3 "starting import"`,
			`progress 1/3 "starting import"`,
			`progress 2/3 "starting import"`,
			`progress 3/3 "starting import"`,
			`progress 3/3 "import complete"`,
			"completed 1",
		}, got)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int64(3), info.Progress.Current)
		assert.Equal(t, "import complete", info.Progress.Message)
		assert.Equal(t, env.Now().Add(-time.Minute+1500*time.Millisecond), info.Progress.Updated,
			"the record keeps the instant of the last update (at 1m3s, the end of the run)")
		final, err := ex.Progress(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int64(3), final.Total)
		n, err := d.Redis().Exists(t.Context(), "docket:{test}:progress:"+ex.Key()).Result()
		require.NoError(t, err)
		assert.Zero(t, n, "the live progress is deleted when the task ends")
	})
}

func TestWatchAFinishedOrMissingExecution(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		quick := sdk.NewTask("quick", func(ctx context.Context, in Import) error { return nil })
		env.Register(quick)
		ex, err := quick.Add(t.Context(), env.Docket(), Import{})
		require.NoError(t, err)
		env.RunUntilIdle()
		events, err := ex.Watch(t.Context())
		require.NoError(t, err)
		var got []sdk.Event
		for ev := range events {
			got = append(got, ev)
		}
		require.Len(t, got, 1, "the final state, then the channel closes")
		assert.Equal(t, sdk.StateCompleted, got[0].State)
		_, err = env.Docket().Watch(t.Context(), "no-such-key")
		assert.ErrorIs(t, err, sdk.ErrNotFound)
	})
}

// Increments from many goroutines at once are all counted: Redis adds them.
func TestProgressUnderConcurrentIncrements(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		var seen sdk.ProgressInfo
		crunch := sdk.NewTask("crunch", func(ctx context.Context, in Import) error {
			p := sdk.Current(ctx).Progress()
			if err := p.SetTotal(ctx, 1000); err != nil {
				return err
			}
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for range 50 {
				wg.Go(func() {
					for range 20 {
						if err := p.Increment(ctx); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				return err
			}
			if err := p.Sync(ctx); err != nil {
				return err
			}
			seen = p.Current()
			return nil
		})
		require.NoError(t, d.Register(crunch))
		ex, err := crunch.Add(context.Background(), d, Import{})
		require.NoError(t, err)
		require.NoError(t, worker.New(d, worker.Options{}).RunUntilIdle(context.Background()))
		assert.Equal(t, int64(1000), seen.Current)
		info, err := ex.Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Equal(t, sdk.ProgressInfo{Current: 1000, Total: 1000, Updated: info.Progress.Updated}, info.Progress)
		assert.False(t, info.Progress.Updated.IsZero(), "the record keeps when the progress was last updated")
	})
}

// A run that no longer holds its task reports nothing, and leaves nothing.
func TestProgressOfACancelledRunIsIgnored(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var after error
		stubborn := sdk.NewTask("stubborn", func(ctx context.Context, in Import) error {
			p := sdk.Current(ctx).Progress()
			_ = p.SetTotal(ctx, 5)
			<-ctx.Done()
			after = p.Increment(context.Background())
			return nil
		})
		env.Register(stubborn)
		t0 := env.Now()
		ex, err := stubborn.Add(t.Context(), env.Docket(), Import{})
		require.NoError(t, err)
		env.Advance(time.Second)
		require.NoError(t, env.Docket().Cancel(t.Context(), ex.Key()))
		env.RunUntilIdle()
		assert.NoError(t, after, "a no-op, not an error")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.ProgressInfo{Total: 5, Updated: t0}, info.Progress, "the progress as the task ended")
	})
}

// A function abandoned at its deadline that reports progress as it notices
// leaves no progress behind, whichever reaches Redis first: the report, or
// the outcome recorded for it.
func TestProgressOfAnAbandonedRunLeavesNothing(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("late_reporter", func(ctx context.Context, in Import) error {
			<-ctx.Done()
			_ = sdk.Current(ctx).Progress().SetTotal(context.Background(), 7)
			return nil
		}, policy.Timeout(time.Minute))
		env.Register(task)
		var keys []string
		for i := range 20 {
			ex, err := task.Add(t.Context(), env.Docket(), Import{File: fmt.Sprint(i)})
			require.NoError(t, err)
			keys = append(keys, ex.Key())
		}
		env.Advance(5 * time.Minute)
		for _, key := range keys {
			info, err := env.Docket().Execution(key).Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, sdk.StateFailed, info.State)
		}
		// The leak check that ends the test finds any progress left behind.
	})
}

// Progress only counts forward: a negative total or increment is bad input,
// and changes nothing.
func TestProgressRefusesNegativeValues(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var errs []error
		task := sdk.NewTask("counting", func(ctx context.Context, in Import) error {
			p := sdk.Current(ctx).Progress()
			errs = append(errs, p.SetTotal(ctx, 10), p.Increment(ctx, 3),
				p.SetTotal(ctx, -10), p.Increment(ctx, -3), p.Increment(ctx, 5, -1))
			return nil
		})
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), Import{})
		require.NoError(t, err)
		env.RunUntilIdle()
		require.Len(t, errs, 5)
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		for _, err := range errs[2:] {
			assert.ErrorIs(t, err, sdk.ErrBadInput)
		}
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int64(10), info.Progress.Total)
		assert.Equal(t, int64(3), info.Progress.Current)
	})
}

// Progress counts beyond 14 digits reach watchers exactly, on every
// backend (Redis's cjson would write them with an exponent, which Go
// cannot read as an integer).
func TestProgressOfLargeCountsIsWatched(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		gate := make(chan struct{})
		const total, done = int64(123456789012345678), int64(100000000000001)
		big := sdk.NewTask("big", func(ctx context.Context, in Import) error {
			p := sdk.Current(ctx).Progress()
			if err := p.SetTotal(ctx, total); err != nil {
				return err
			}
			if err := p.Increment(ctx, done); err != nil {
				return err
			}
			<-gate
			return nil
		})
		require.NoError(t, d.Register(big))
		ex, err := big.Add(context.Background(), d, Import{})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound, should the events never come
		defer cancel()
		events, err := ex.Watch(ctx)
		require.NoError(t, err)
		runWorker(t, worker.New(d, worker.Options{}))
		var last sdk.ProgressInfo
		for ev := range events {
			if ev.IsProgress {
				last = ev.Progress
				if last.Current == done {
					break
				}
			}
		}
		close(gate)
		assert.Equal(t, total, last.Total)
		assert.Equal(t, done, last.Current)
	})
}

// Each run of a task counts its progress from nothing: a retry and a
// snoozed task run again redo their work, and a progress that went on from
// the last run's would pass its total (10 of 10 records imported twice
// read 20/10).
func TestEachRunCountsItsProgressFromNothing(t *testing.T) {
	for _, again := range []struct {
		name string
		err  error
	}{
		{"retried", errors.New("the file went away")},
		{"snoozed", sdk.Snooze(time.Minute)},
	} {
		t.Run(again.name, func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				var mu sync.Mutex // each run has a goroutine of its own
				var seen []int64  // the work done as each run starts
				importRecords := sdk.NewTask("import_records", func(ctx context.Context, in Import) error {
					p := sdk.Current(ctx).Progress()
					if err := p.SetTotal(ctx, int64(in.Records)); err != nil {
						return err
					}
					mu.Lock()
					seen = append(seen, p.Current().Current)
					first := len(seen) == 1
					mu.Unlock()
					for i := range in.Records {
						if first && i == in.Records/2 {
							return again.err
						}
						if err := p.Increment(ctx); err != nil {
							return err
						}
					}
					return nil
				}, policy.Retry(2, time.Minute))
				env.Register(importRecords)
				ex, err := importRecords.Add(t.Context(), env.Docket(), Import{File: "a.csv", Records: 10})
				require.NoError(t, err)

				env.Advance(time.Second)
				between, err := ex.Progress(t.Context())
				require.NoError(t, err)
				assert.Equal(t, sdk.ProgressInfo{Current: 5, Total: 10, Updated: env.Now().Add(-time.Second)}, between,
					"between the runs, the last run's progress")

				env.RunUntilFinished()
				mu.Lock()
				assert.Equal(t, []int64{0, 0}, seen, "work done as each run set its total")
				mu.Unlock()
				info, err := ex.Info(t.Context())
				require.NoError(t, err)
				assert.Equal(t, sdk.StateCompleted, info.State)
				assert.Equal(t, int64(10), info.Progress.Current, "the second run's work, not both runs'")
				assert.Equal(t, int64(10), info.Progress.Total)
			})
		})
	}
}

// A workflow's progress carries over from run to run: the steps that
// reported it do not run again, so counting from nothing would lose their
// work (4 steps of 4, one of them retried, read 2 of 4).
func TestAWorkflowsProgressCarriesOverItsRuns(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex
		failed := false
		wf := sdk.NewTask("four_steps", func(ctx context.Context, in Import) error {
			p := sdk.Current(ctx).Progress()
			for i := range 4 {
				_, err := workflow.Step(ctx, fmt.Sprint("step-", i), func(ctx context.Context) (int, error) {
					mu.Lock()
					fail := i == 2 && !failed
					failed = failed || fail
					mu.Unlock()
					if fail {
						return 0, errors.New("flaky")
					}
					return i, p.Increment(ctx)
				})
				if err != nil {
					return err
				}
			}
			return nil
		}, policy.Retry(2, time.Second))
		env.Register(wf)
		ex, err := wf.Add(t.Context(), env.Docket(), Import{})
		require.NoError(t, err)
		env.RunUntilFinished()
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Equal(t, 2, info.Attempt)
		assert.Equal(t, int64(4), info.Progress.Current, "two steps in each run")
	})
}

// A function that returns nil the moment its timeout ends its context
// still timed out: its attempt is abandoned at the deadline, whatever the
// function returns after. (The attempt was settled by whichever came
// first, the abandonment or the function's nil: now and then a run cut
// off by its timeout was recorded as completed.)
func TestAReturnRightAfterTheTimeoutIsStillATimeout(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("prompt", func(ctx context.Context, in Import) error {
			<-ctx.Done()
			return nil
		}, policy.Timeout(time.Minute))
		env.Register(task)
		var keys []string
		for i := range 300 {
			ex, err := task.Add(t.Context(), env.Docket(), Import{File: fmt.Sprint(i)})
			require.NoError(t, err)
			keys = append(keys, ex.Key())
		}
		env.Advance(5 * time.Minute)
		completed := 0
		for _, key := range keys {
			info, err := env.Docket().Execution(key).Info(t.Context())
			require.NoError(t, err)
			if info.State != sdk.StateFailed || info.Reason != sdk.ReasonTimeout {
				completed++
			}
		}
		assert.Zero(t, completed, "of %d runs cut off by their timeout, recorded as anything but timed out", len(keys))
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 300}))
}
