package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// oneAtATime limits task t to one run per customer.
var oneAtATime = store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Arg: "customer_id", Max: 1}}}})

func addTasks(t *testing.T, s *store.Store, mode store.Mode, tasks ...store.NewTask) {
	t.Helper()
	_, err := s.Add(context.Background(), mode, tasks)
	require.NoError(t, err)
}

func claimFor(t *testing.T, s *store.Store, lease time.Duration, rules store.Rules) []store.Message {
	t.Helper()
	c, err := s.Claim(context.Background(), "w", 10, lease, time.Minute, rules, 5)
	require.NoError(t, err)
	return c.Messages
}

// runningK adds task t under key k ({"v":1}) and claims it: its run, the
// one a drain will wait for.
func runningK(t *testing.T, s *store.Store) []store.Message {
	t.Helper()
	addTasks(t, s, store.ModeAdd, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":1}`)})
	first := claimFor(t, s, time.Minute, store.Rules{})
	require.Len(t, first, 1)
	return first
}

func report(t *testing.T, s *store.Store, o store.Outcome) bool {
	t.Helper()
	applied, err := s.Finish(context.Background(), time.Minute, []store.Outcome{o})
	require.NoError(t, err)
	return applied[0]
}

// A running task that is cancelled keeps its concurrency slot until its
// worker reports that its function returned: the next task of the limit
// does not start alongside it.
func TestCancelledRunHoldsItsSlotUntilItEnds(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		addTasks(t, s, store.ModeAdd, store.NewTask{Key: "a", Name: "t", Input: []byte(`{"customer_id":1}`)})
		running := claimFor(t, s, time.Minute, oneAtATime)
		require.Len(t, running, 1)
		addTasks(t, s, store.ModeAdd, store.NewTask{Key: "b", Name: "t", Input: []byte(`{"customer_id":1}`)})
		require.Empty(t, claimFor(t, s, time.Minute, oneAtATime), "b waits for a's slot")

		ok, err := s.Cancel(ctx, "a", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		rec, _, err := s.Info(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, store.StateCancelled, rec.State, "cancelled at once")
		assert.Empty(t, claimFor(t, s, time.Minute, oneAtATime), "a's function may still run: b waits")

		assert.False(t, report(t, s, store.Outcome{Key: "a", Gen: running[0].Gen, Kind: store.Drained}), "nothing of a is recorded")
		next := claimFor(t, s, time.Minute, oneAtATime)
		require.Len(t, next, 1, "a's run ended: its slot went to b")
		assert.Equal(t, "b", next[0].Key)
		assert.True(t, report(t, s, store.Outcome{Key: "b", Gen: next[0].Gen, Kind: store.Completed}))
	})
}

// The replacement of a running task is due once the run it replaces has
// ended, not before: two runs of one key never overlap. The run's report
// ends the wait, whether it says it drained or, having ended just before
// it was replaced, how it ended (stale, it ends the drain all the same, or
// the replacement would wait for the whole lease). A second report changes
// nothing.
func TestReplacementWaitsForTheRunItReplaces(t *testing.T) {
	for _, kind := range []store.OutcomeKind{store.Drained, store.Completed} {
		t.Run(string(kind), func(t *testing.T) {
			redistest.Each(t, func(t *testing.T, b redistest.Backend) {
				s := open(t, b)
				addTasks(t, s, store.ModeAdd, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":1}`)})
				first := claimFor(t, s, time.Minute, store.Rules{})
				require.Len(t, first, 1)
				addTasks(t, s, store.ModeReplace, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":2}`)})
				assert.Empty(t, claimFor(t, s, time.Minute, store.Rules{}), "the replaced run may still run")

				assert.False(t, report(t, s, store.Outcome{Key: "k", Gen: first[0].Gen, Kind: kind}), "stale")
				next := claimFor(t, s, time.Minute, store.Rules{})
				require.Len(t, next, 1)
				assert.JSONEq(t, `{"v":2}`, string(next[0].Input))
				assert.False(t, report(t, s, store.Outcome{Key: "k", Gen: first[0].Gen, Kind: kind}), "a second report")
				assert.True(t, report(t, s, store.Outcome{Key: "k", Gen: next[0].Gen, Kind: store.Completed}))
			})
		})
	}
}

// A replacement in line behind the run it replaces is counted and listed as
// a task in line to run, the schedule's are: Count, Snapshot and the
// dashboard's overview saw no task at all for the key until the run ended.
func TestReplacementBehindItsDrainIsCountedAndListed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		first := runningK(t, s)
		addTasks(t, s, store.ModeReplace, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":2}`)},
			store.NewTask{Key: "later", Name: "t", Input: []byte(`{"v":3}`), When: store.When{After: time.Hour}})

		counts, err := s.Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Queued: 1, Scheduled: 1}, counts, "k in line behind its drain, later in the schedule")
		o, err := s.Overview(ctx, 100, 1, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, counts, o.Counts)
		snap, err := s.Snapshot(ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 2, snap.TotalScheduled)
		var listed []string
		for _, task := range snap.Tasks {
			listed = append(listed, task.Key+" "+string(task.State))
		}
		assert.ElementsMatch(t, []string{"later scheduled", "k scheduled"}, listed)
		// The dashboard's lists: the schedule's part, then the same part of
		// the tasks behind a drain, a page at a time.
		addTasks(t, s, store.ModeAdd, store.NewTask{Key: "now", Name: "t", Input: []byte(`{"v":4}`)})
		for list, want := range map[store.List][]string{store.ListQueued: {"now", "k"}, store.ListScheduled: {"later"}} {
			var keys []string
			for offset, more := 0, true; more; {
				page, err := s.Page(ctx, store.PageQuery{List: list, Offset: offset, Size: 1})
				require.NoError(t, err)
				assert.Equal(t, len(want), page.Total, "%s", list)
				for _, task := range page.Tasks {
					keys = append(keys, task.Key)
				}
				offset, more = page.Next, page.More
			}
			assert.Equal(t, want, keys, "%s", list)
		}

		assert.False(t, report(t, s, store.Outcome{Key: "k", Gen: first[0].Gen, Kind: store.Drained}))
		counts, err = s.Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Queued: 2, Scheduled: 1}, counts, "the same, from the schedule")
	})
}

// A worker that dies with a cancelled run never reports it: the drain ends
// at its deadline, the later of the run's lease and CancelGrace (and a
// second) after the cancel, when its worker would have stopped it. Redis's
// clock, moved by the test, decides.
func TestDrainEndsAtItsDeadline(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	s, m := clockedStore(t, "deadline", t0)
	ctx := context.Background()

	addTasks(t, s, store.ModeAdd, store.NewTask{Key: "a", Name: "t", Input: []byte(`{"customer_id":1}`)},
		store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":1}`)})
	require.Len(t, claimFor(t, s, time.Second, oneAtATime), 2, "a lease of a second")
	addTasks(t, s, store.ModeAdd, store.NewTask{Key: "b", Name: "t", Input: []byte(`{"customer_id":1}`)})
	addTasks(t, s, store.ModeReplace, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":2}`)})
	ok, err := s.Cancel(ctx, "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	deadline := store.CancelGrace + time.Second // past the lease
	c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, oneAtATime, 5)
	require.NoError(t, err)
	assert.Empty(t, c.Messages)
	assert.Equal(t, deadline, c.Wait, "the claim wakes when the drains end")

	m.SetTime(t0.Add(deadline - time.Microsecond))
	assert.Empty(t, claimFor(t, s, time.Minute, oneAtATime), "a microsecond before")
	m.SetTime(t0.Add(deadline))
	got := claimFor(t, s, time.Minute, oneAtATime)
	keys := map[string]string{}
	for _, m := range got {
		keys[m.Key] = string(m.Input)
		assert.True(t, report(t, s, store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Completed}))
	}
	assert.Equal(t, map[string]string{"b": `{"customer_id":1}`, "k": `{"v":2}`}, keys)
	require.NoError(t, s.CheckLeaks(ctx))
}

// A task added under the key of a cancelled run still ending waits for it
// too; RunNow on such a task makes it due now, once the run has ended.
func TestAddAfterCancelWaitsForTheRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		first := runningK(t, s)
		ok, err := s.Cancel(ctx, "k", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		addTasks(t, s, store.ModeAdd, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":2}`), When: store.When{After: time.Hour}})
		code, state, err := s.RunNow(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, store.ActionDone, code)
		assert.Equal(t, store.StateScheduled, state)
		assert.Empty(t, claimFor(t, s, time.Minute, store.Rules{}), "the cancelled run may still run")

		assert.False(t, report(t, s, store.Outcome{Key: "k", Gen: first[0].Gen, Kind: store.Drained}))
		next := claimFor(t, s, time.Minute, store.Rules{})
		require.Len(t, next, 1, "due now: RunNow said so")
		assert.JSONEq(t, `{"v":2}`, string(next[0].Input))
		assert.True(t, report(t, s, store.Outcome{Key: "k", Gen: next[0].Gen, Kind: store.Completed}))
	})
}

// Clear cancels the next run of a key waiting for its replaced run to end,
// though it is not in the schedule; the cancelled run itself, still ending,
// is not counted again.
func TestClearCancelsARunWaitingForADrain(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		addTasks(t, s, store.ModeAdd, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":1}`)},
			store.NewTask{Key: "c", Name: "t", Input: []byte(`{}`)})
		first := claimFor(t, s, time.Minute, store.Rules{})
		require.Len(t, first, 2)
		addTasks(t, s, store.ModeReplace, store.NewTask{Key: "k", Name: "t", Input: []byte(`{"v":2}`)})
		ok, err := s.Cancel(ctx, "c", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)

		n, err := s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "the replacement of k")
		rec, _, err := s.Info(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, store.StateCancelled, rec.State)
		for _, m := range first {
			assert.False(t, report(t, s, store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Drained}))
		}
		assert.Empty(t, claimFor(t, s, time.Minute, store.Rules{}), "nothing left to run")
	})
}
