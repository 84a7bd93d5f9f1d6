package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// claimKeys claims up to n tasks and returns their keys in the order
// handed over.
func claimKeys(t *testing.T, s *store.Store, n int) []string {
	t.Helper()
	c, err := s.Claim(context.Background(), "w", n, time.Minute, time.Minute, store.Rules{}, 5)
	require.NoError(t, err)
	var keys []string
	for _, m := range c.Messages {
		keys = append(keys, m.Key)
	}
	return keys
}

// addNow adds tasks of name t with the keys given, due at once, in one call.
func addNow(t *testing.T, s *store.Store, keys ...string) {
	t.Helper()
	var tasks []store.NewTask
	for _, k := range keys {
		tasks = append(tasks, store.NewTask{Key: k, Name: "t", Input: []byte(`{"n":1}`)})
	}
	res, err := s.Add(context.Background(), store.ModeAdd, tasks)
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, store.Added, r.Code)
	}
}

// readyList is the keys in the docket's list of tasks due at once, in order.
func readyList(t *testing.T, s *store.Store, name string) []string {
	t.Helper()
	ready, err := s.Client().LRange(context.Background(), "docket:{"+name+"}:ready", 0, -1).Result()
	require.NoError(t, err)
	return ready
}

// cancel cancels the tasks of the keys given, which the test leaves live.
func cancel(t *testing.T, s *store.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		ok, err := s.Cancel(context.Background(), k, time.Minute)
		require.NoError(t, err)
		assert.True(t, ok, "%s was live", k)
	}
}

// A task added to run at once waits in a list (K.ready), not the sorted
// set of the schedule, and tasks added at one instant are claimed in the
// order they were added (the sorted set ordered them by key).
func TestTasksAddedToRunAtOnceAreClaimedInTheOrderAdded(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		addNow(t, s, "c", "a", "b")
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "later", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)

		assert.Equal(t, []string{"c", "a", "b"}, readyList(t, s, name))
		scheduled, err := rdb.ZRange(ctx, "docket:{"+name+"}:scheduled", 0, -1).Result()
		require.NoError(t, err)
		assert.Equal(t, []string{"later"}, scheduled, "a task added for later is in the schedule")
		counts, err := s.Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Queued: 3, Scheduled: 1}, counts)

		assert.Equal(t, []string{"c", "a"}, claimKeys(t, s, 2))
		assert.Equal(t, []string{"b"}, claimKeys(t, s, 10))
		cancel(t, s, "a", "b", "c", "later")
	})
}

// A task added for an instant past (or now) is due at once, and waits in
// the list in the order added, with those added to run at once: in the
// schedule, tasks due at one instant were claimed in the order of their
// keys.
func TestTasksAddedForAnInstantPastAreInLineInTheOrderAdded(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		past := store.When{At: time.Now().Add(-time.Hour)}
		var tasks []store.NewTask
		for _, k := range []string{"k5", "k4", "k3", "k2", "k1"} {
			task := store.NewTask{Key: k, Name: "t", Input: []byte(`{}`)}
			if k != "k3" {
				task.When = past
			}
			tasks = append(tasks, task)
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "k0", Name: "t", Input: []byte(`{}`), When: past}})
		require.NoError(t, err)
		want := []string{"k5", "k4", "k3", "k2", "k1", "k0"}
		assert.Equal(t, want, readyList(t, s, name))
		assert.Equal(t, want, claimKeys(t, s, 10))
		cancel(t, s, want...)
	})
}

// An add of more tasks than one call takes (MaxBatch) puts them in line in
// the order given: its calls are made one after the other (several at once
// reached Redis in either order: a thousand tasks ahead of the thousand
// before them).
func TestALargeAddIsInLineInTheOrderGiven(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		n := 3*store.MaxBatch + 500
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%05d", i)
		}
		addNow(t, s, keys...)
		ready := readyList(t, s, name)
		require.Len(t, ready, n)
		for i := range ready {
			if ready[i] != keys[i] {
				require.Failf(t, "out of order", "place %d holds %s; want %s", i, ready[i], keys[i])
			}
		}
		cleared, err := s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, n, cleared)
	})
}

// Tasks due from the schedule and tasks added to run at once are claimed
// in due order, whichever place they wait in; at one instant, those added
// to run at once first.
func TestReadyAndScheduledTasksAreClaimedInDueOrder(t *testing.T) {
	for _, batch := range []int{1, 10} {
		t.Run(fmt.Sprint("claims of ", batch), func(t *testing.T) {
			t0 := time.Now().Truncate(time.Second)
			s, m := clockedStore(t, "order", t0)
			ctx := context.Background()
			addNow(t, s, "r1")
			_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "z1", Name: "t", Input: []byte(`{}`), When: store.When{After: 2 * time.Second}}})
			require.NoError(t, err)
			m.SetTime(t0.Add(time.Second))
			addNow(t, s, "r2")
			m.SetTime(t0.Add(3 * time.Second))
			addNow(t, s, "r3")
			_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "z0", Name: "t", Input: []byte(`{}`), When: store.When{At: t0}}})
			require.NoError(t, err) // an instant past: due now, in the schedule

			var got []string
			for len(got) < 5 {
				keys := claimKeys(t, s, batch)
				require.NotEmpty(t, keys)
				got = append(got, keys...)
			}
			assert.Equal(t, []string{"r1", "r2", "z1", "r3", "z0"}, got)
		})
	}
}

// Cancel, Replace, RunNow and Clear find a task that waits in K.ready
// wherever it is in the list, and leave no entry of it behind (the leak
// check after the test reads every entry).
func TestAdminCallsOnTasksAddedToRunAtOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		readyKey := "docket:{" + name + "}:ready"
		addNow(t, s, "a", "b", "c", "d", "e")

		code, _, err := s.RunNow(ctx, "c")
		require.NoError(t, err)
		assert.Equal(t, store.ActionAlready, code, "due since it was added")
		for _, k := range []string{"c", "e", "a"} { // the middle, the tail, the head
			ok, err := s.Cancel(ctx, k, time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
		}
		ready, err := rdb.LRange(ctx, readyKey, 0, -1).Result()
		require.NoError(t, err)
		assert.Equal(t, []string{"b", "d"}, ready)

		res, err := s.Add(ctx, store.ModeReplace, []store.NewTask{{Key: "b", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)
		assert.Equal(t, store.Superseded, res[0].Code)
		ready, err = rdb.LRange(ctx, readyKey, 0, -1).Result()
		require.NoError(t, err)
		assert.Equal(t, []string{"d"}, ready, "replaced for later: in the schedule")
		assert.Equal(t, []string{"d"}, claimKeys(t, s, 10))

		var keys []string
		for i := range 700 { // more than one call of Clear handles
			keys = append(keys, fmt.Sprintf("k%03d", i))
		}
		addNow(t, s, keys...)
		cleared, err := s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 701, cleared, "the 700 and b")
		n, err := rdb.Exists(ctx, readyKey).Result()
		require.NoError(t, err)
		assert.Zero(t, n)
		_, err = s.Cancel(ctx, "d", time.Minute)
		require.NoError(t, err)
	})
}

// The readers list tasks waiting in K.ready as queued, due when added:
// Snapshot, the dashboard's pages (after the schedule's due tasks) and
// its overview (counts, sample, earliest due).
func TestReadersListTasksAddedToRunAtOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, _ := openNamed(t, b)
		addNow(t, s, "a", "b", "c")
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "past", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Microsecond}}})
		require.NoError(t, err) // in the schedule, and due by the time it is read
		rec, _, err := s.Info(ctx, "a")
		require.NoError(t, err)

		snap, err := s.Snapshot(ctx, 10)
		require.NoError(t, err)
		var listed []string
		for _, task := range snap.Tasks {
			listed = append(listed, task.Key)
			if task.Key == "a" {
				assert.Equal(t, rec.Due, task.Due)
			}
		}
		assert.ElementsMatch(t, []string{"past", "a", "b", "c"}, listed)
		assert.Equal(t, 4, snap.TotalScheduled)

		p, err := s.Page(ctx, store.PageQuery{List: store.ListQueued, Size: 2, Offset: 1})
		require.NoError(t, err)
		assert.Equal(t, 4, p.Total)
		require.Len(t, p.Tasks, 2)
		assert.Equal(t, []string{"a", "b"}, []string{p.Tasks[0].Key, p.Tasks[1].Key})
		assert.Equal(t, rec.Due.UnixMicro(), p.Tasks[0].Score)
		assert.True(t, p.More)
		p, err = s.Page(ctx, store.PageQuery{List: store.ListQueued, Size: 10, Offset: p.Next, Prefix: "c"})
		require.NoError(t, err)
		require.Len(t, p.Tasks, 1)
		assert.Equal(t, "c", p.Tasks[0].Key)

		o, err := s.Overview(ctx, 2, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, int64(4), o.Counts.Queued)
		assert.Equal(t, rec.Due, o.Earliest, "K.ready's first, added before the schedule's")
		require.Len(t, o.Names, 1)
		assert.Equal(t, 2, o.Names[0].Queued, "the sample's two")
		cancel(t, s, "past", "a", "b", "c")
	})
}

// With a strike in effect a claim looks at each task alone: one taken from
// K.ready leaves it as it is handled, held or handed over.
func TestAStruckTaskAddedToRunAtOnceLeavesTheList(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		var tasks []store.NewTask
		for i := 1; i <= 3; i++ {
			tasks = append(tasks, store.NewTask{Key: fmt.Sprint("k", i), Name: "t", Input: fmt.Appendf(nil, `{"n":%d}`, i)})
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		_, err = s.Strike(ctx, store.StrikeSpec{Task: "t", Field: "n", Op: "==", Value: json.RawMessage(`2`)})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 2)
		assert.Equal(t, "k1", c.Messages[0].Key)
		assert.Equal(t, "k3", c.Messages[1].Key)
		n, err := s.Client().LLen(ctx, "docket:{"+name+"}:ready").Result()
		require.NoError(t, err)
		assert.Zero(t, n)
		rec, _, err := s.Info(ctx, "k2")
		require.NoError(t, err)
		assert.Equal(t, store.StateStruck, rec.State)
		cancel(t, s, "k1", "k2", "k3")
		_, err = s.Restore(ctx, store.StrikeSpec{Task: "t", Field: "n", Op: "==", Value: json.RawMessage(`2`)})
		require.NoError(t, err)
	})
}

// A cancel of a listed task near either end of K.ready (it looks from the
// end nearer the task's time: a cost, measured in bench/README, not
// asserted here) takes that task alone, and the rest keep their order.
func TestCancelFindsAListedTaskFromEitherEnd(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	s, m := clockedStore(t, "ends", t0)
	ctx := context.Background()
	for i := range 10 {
		m.SetTime(t0.Add(time.Duration(i) * time.Second))
		addNow(t, s, fmt.Sprint("k", i))
	}
	for _, k := range []string{"k1", "k8", "k5"} { // near the head, near the tail, the middle
		ok, err := s.Cancel(ctx, k, time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ready, err := s.Client().LRange(ctx, "docket:{ends}:ready", 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"k0", "k2", "k3", "k4", "k6", "k7", "k9"}, ready)
	assert.Equal(t, ready, claimKeys(t, s, 10))
}

// A key in the ready list that another program overwrote with a string is
// failed alone by the claim that reaches it, though the schedule holds a
// due task too (the claim compares their due times); the overview and a
// cancel of another listed task read past it.
func TestAListedKeyThatIsNotAHashIsFailedAlone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		addNow(t, s, "x", "z")
		require.NoError(t, rdb.Set(ctx, "docket:{"+name+"}:task:x", "junk", 0).Err())
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "y", Name: "t", Input: []byte(`{}`), When: store.When{At: time.Unix(1, 0)}}})
		require.NoError(t, err) // due at once, in the schedule

		o, err := s.Overview(ctx, 10, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, int64(3), o.Counts.Queued)
		ok, err := s.Cancel(ctx, "z", time.Minute) // the list's last, its first unreadable
		require.NoError(t, err)
		require.True(t, ok)

		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, "y", c.Messages[0].Key)
		require.Len(t, c.Dropped, 1)
		assert.Equal(t, "x", c.Dropped[0].Key)
		assert.Contains(t, c.Dropped[0].Reason, "not a hash")
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "y", Gen: c.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
	})
}

// A debounce moves its burst's first submission to when the burst settles,
// from wherever it waits: here from K.ready, where a Replace put it after
// the burst began. A later submission judged in the same claim moves it;
// the claim does not judge the moved task again.
func TestDebounceMovesAFirstSubmissionOutOfTheList(t *testing.T) {
	t0 := time.Now().Truncate(time.Second)
	s, m := clockedStore(t, "debounce", t0)
	ctx := context.Background()
	rules := store.NewRules(map[string]store.Rule{"t": {Debounce: &store.Debounce{Settle: time.Hour}}})
	claim := func() store.Claim {
		t.Helper()
		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		return c
	}
	addNow(t, s, "first")
	require.Empty(t, claim().Messages, "the first submission waits for the burst to settle")
	m.SetTime(t0.Add(time.Second))
	addNow(t, s, "later")
	m.SetTime(t0.Add(2 * time.Second))
	res, err := s.Add(ctx, store.ModeReplace, []store.NewTask{{Key: "first", Name: "t", Input: []byte(`{"n":1}`)}})
	require.NoError(t, err)
	require.Equal(t, store.Superseded, res[0].Code) // now in K.ready, after "later"

	c := claim()
	assert.Empty(t, c.Messages)
	require.Len(t, c.Dropped, 1)
	assert.Equal(t, "later", c.Dropped[0].Key)
	rec, _, err := s.Info(ctx, "first")
	require.NoError(t, err)
	assert.Equal(t, store.StateScheduled, rec.State)
	assert.Equal(t, t0.Add(time.Second+time.Hour), rec.Due, "due when the burst of its later submission settles")
	ready, err := s.Client().LLen(ctx, "docket:{debounce}:ready").Result()
	require.NoError(t, err)
	assert.Zero(t, ready)
	require.NoError(t, s.CheckLeaks(ctx))
}

// A task added to run at once and handed back unstarted (it waited in a
// worker's line) goes back before the tasks added after it, which still
// wait in K.ready at the same instant: a worker with one slot runs tasks in
// the order added. It went back to the schedule, where K.ready's tasks of
// its instant came first.
func TestAReturnedTaskGoesBeforeThoseAddedAfterIt(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		addNow(t, s, "a", "b", "c")
		first, err := s.Claim(ctx, "w", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, first.Messages, 1)
		require.Equal(t, "a", first.Messages[0].Key)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "a", Gen: first.Messages[0].Gen, Kind: store.Unstarted}})
		require.NoError(t, err)
		assert.Equal(t, []string{"a"}, claimKeys(t, s, 1), "handed back, it is first again")
		assert.Equal(t, []string{"b", "c"}, claimKeys(t, s, 2))
		cancel(t, s, "a", "b", "c")
	})
}
