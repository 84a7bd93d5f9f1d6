package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// claimOne claims the one task due and returns it.
func claimOne(t testing.TB, s *store.Store, key string) store.Message {
	t.Helper()
	c, err := s.Claim(context.Background(), "w1", 10, time.Minute, time.Minute, store.Rules{}, 5)
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)
	require.Equal(t, key, c.Messages[0].Key)
	return c.Messages[0]
}

// RunNow makes a task scheduled for later due at once, keeping its
// execution; it changes nothing for a task that is queued, running, or
// gone.
func TestRunNow(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "later", Name: "t", Input: []byte(`{"n":1}`), When: store.When{After: time.Hour}},
		})
		require.NoError(t, err)
		before, _, err := s.Info(ctx, "later")
		require.NoError(t, err)

		c, err := s.Claim(ctx, "w1", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Empty(t, c.Messages, "due in an hour")

		code, state, err := s.RunNow(ctx, "later")
		require.NoError(t, err)
		assert.Equal(t, store.ActionDone, code)
		assert.Equal(t, store.StateScheduled, state)
		rec, _, err := s.Info(ctx, "later")
		require.NoError(t, err)
		assert.False(t, rec.Due.After(rec.Now), "due now")
		assert.Equal(t, before.Created, rec.Created, "the same execution")
		assert.Equal(t, 1, rec.Attempt)

		code, _, err = s.RunNow(ctx, "later")
		require.NoError(t, err)
		assert.Equal(t, store.ActionAlready, code, "queued already")

		m := claimOne(t, s, "later")
		assert.JSONEq(t, `{"n":1}`, string(m.Input))
		code, state, err = s.RunNow(ctx, "later")
		require.NoError(t, err)
		assert.Equal(t, store.ActionWrongState, code)
		assert.Equal(t, store.StateRunning, state)

		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "later", Gen: m.Gen, Kind: store.Completed}})
		require.NoError(t, err)
		code, state, err = s.RunNow(ctx, "later")
		require.NoError(t, err)
		assert.Equal(t, store.ActionNotFound, code, "it finished")
		assert.Equal(t, store.StateCompleted, state)
		code, _, err = s.RunNow(ctx, "never-added")
		require.NoError(t, err)
		assert.Equal(t, store.ActionNotFound, code)
	})
}

// Retry runs a failed execution again from attempt 1, with its input; a
// dead-lettered one leaves the dead letters. Anything but a failed record is
// left alone.
func TestRetry(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "f", Name: "t", Input: []byte(`{"n":2}`)}})
		require.NoError(t, err)

		code, state, _, err := s.Retry(ctx, "f")
		require.NoError(t, err)
		assert.Equal(t, store.ActionWrongState, code, "it is live")
		assert.Equal(t, store.StateScheduled, state)

		m := claimOne(t, s, "f")
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "f", Gen: m.Gen, Kind: store.Retried, Error: "first"}})
		require.NoError(t, err)
		m = claimOne(t, s, "f")
		require.Equal(t, 2, m.Attempt)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "f", Gen: m.Gen, Kind: store.Failed, Error: "second", Reason: "error"}})
		require.NoError(t, err)
		failed, _, err := s.Info(ctx, "f")
		require.NoError(t, err)
		require.Equal(t, store.StateFailed, failed.State)

		code, state, _, err = s.Retry(ctx, "f")
		require.NoError(t, err)
		assert.Equal(t, store.ActionDone, code)
		assert.Equal(t, store.StateFailed, state)
		rec, _, err := s.Info(ctx, "f")
		require.NoError(t, err)
		assert.Equal(t, store.StateScheduled, rec.State)
		assert.Equal(t, 1, rec.Attempt, "the retry policy's attempts start again")
		assert.Equal(t, 0, rec.Deliveries)
		assert.True(t, rec.Finished.IsZero())
		assert.Empty(t, rec.Reason)
		assert.Equal(t, "second", rec.Error, "the last error stays until the next attempt ends")
		assert.False(t, rec.Retried.IsZero())
		assert.False(t, rec.Due.After(rec.Now))
		assert.Equal(t, failed.Created, rec.Created)

		m = claimOne(t, s, "f")
		assert.Equal(t, 1, m.Attempt)
		assert.JSONEq(t, `{"n":2}`, string(m.Input))
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "f", Gen: m.Gen, Kind: store.Completed}})
		require.NoError(t, err)
		code, state, _, err = s.Retry(ctx, "f")
		require.NoError(t, err)
		assert.Equal(t, store.ActionWrongState, code, "it completed")
		assert.Equal(t, store.StateCompleted, state)

		code, _, _, err = s.Retry(ctx, "nothing")
		require.NoError(t, err)
		assert.Equal(t, store.ActionNotFound, code)
	})
}

func TestRetryDeadLetter(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "poison", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "doomed", 1, time.Millisecond, time.Minute, store.Rules{}, 1)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		// Its worker "dies": once the lease of a millisecond lapses, the next
		// claim dead-letters it.
		require.Eventually(t, func() bool {
			c, err := s.Claim(ctx, "w2", 1, time.Minute, time.Minute, store.Rules{}, 1)
			require.NoError(t, err)
			return len(c.Dropped) == 1
		}, 10*time.Second, time.Millisecond)
		dead, err := s.Page(ctx, store.PageQuery{List: store.ListDead})
		require.NoError(t, err)
		require.Len(t, dead.Tasks, 1)

		code, _, _, err := s.Retry(ctx, "poison")
		require.NoError(t, err)
		require.Equal(t, store.ActionDone, code)
		dead, err = s.Page(ctx, store.PageQuery{List: store.ListDead})
		require.NoError(t, err)
		assert.Empty(t, dead.Tasks, "no longer a dead letter")
		m := claimOne(t, s, "poison")
		assert.Equal(t, 1, m.Deliveries, "deliveries start again")
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "poison", Gen: m.Gen, Kind: store.Completed}})
		require.NoError(t, err)
	})
}

// A retried workflow keeps its steps and the children that completed, and
// forgets those that did not, so that its next run starts them again.
func TestRetryWorkflow(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "wf", Name: "flow", Input: []byte(`{}`)}})
		require.NoError(t, err)
		m := claimOne(t, s, "wf")
		require.NoError(t, s.Record(ctx, "wf", m.Gen, "s:charge", `"ch_1"`))
		started, err := s.Start(ctx, "wf", m.Gen, []store.Child{
			{Name: "ok", Key: "wf/ok", Task: "child", Input: []byte(`{}`)},
			{Name: "bad", Key: "wf/bad", Task: "child", Input: []byte(`{}`)},
		})
		require.NoError(t, err)
		require.Len(t, started, 2)
		c, err := s.Claim(ctx, "w1", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 2)
		var outcomes []store.Outcome
		for _, cm := range c.Messages {
			o := store.Outcome{Key: cm.Key, Gen: cm.Gen, Kind: store.Completed}
			if cm.Key == "wf/bad" {
				o = store.Outcome{Key: cm.Key, Gen: cm.Gen, Kind: store.Failed, Error: "no stock", Reason: "error"}
			}
			outcomes = append(outcomes, o)
		}
		_, err = s.Finish(ctx, time.Minute, outcomes)
		require.NoError(t, err)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "wf", Gen: m.Gen, Kind: store.Failed, Error: "child bad failed", Reason: "child"}})
		require.NoError(t, err)

		code, _, _, err := s.Retry(ctx, "wf")
		require.NoError(t, err)
		require.Equal(t, store.ActionDone, code)
		flow, err := s.ReadFlow(ctx, "wf")
		require.NoError(t, err)
		assert.Equal(t, `"ch_1"`, flow["s:charge"], "steps done stay done")
		assert.Equal(t, "wf/ok", flow["c:ok"], "a child that completed stays")
		assert.Contains(t, flow, "o:wf/ok")
		assert.NotContains(t, flow, "c:bad", "a child that failed is forgotten")
		assert.NotContains(t, flow, "o:wf/bad")

		m = claimOne(t, s, "wf")
		started, err = s.Start(ctx, "wf", m.Gen, []store.Child{
			{Name: "ok", Key: "wf/ok", Task: "child", Input: []byte(`{}`)},
			{Name: "bad", Key: "wf/bad", Task: "child", Input: []byte(`{}`)},
		})
		require.NoError(t, err)
		assert.Equal(t, []store.Started{{New: false, Key: "wf/ok"}, {New: true, Key: "wf/bad"}}, started)
		c, err = s.Claim(ctx, "w1", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{
			{Key: "wf/bad", Gen: c.Messages[0].Gen, Kind: store.Completed},
			{Key: "wf", Gen: m.Gen, Kind: store.Completed},
		})
		require.NoError(t, err)
	})
}

// A page reads by rank: the due part of the schedule, its later part, the
// running set and the dead letters; filters by name and key prefix look at
// no more than the budget, and say where to go on.
func TestPage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		var tasks []store.NewTask
		for i := range 30 {
			name := "even"
			if i%2 == 1 {
				name = "odd"
			}
			tasks = append(tasks, store.NewTask{Key: fmt.Sprintf("due-%02d", i), Name: name, Input: []byte(`{}`),
				When: store.When{At: time.Unix(1_000_000+int64(i), 0)}}) // past: due now, in key order
			tasks = append(tasks, store.NewTask{Key: fmt.Sprintf("later-%02d", i), Name: name, Input: []byte(`{}`),
				When: store.When{After: time.Hour + time.Duration(i)*time.Second}})
		}
		added, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)

		p, err := s.Page(ctx, store.PageQuery{List: store.ListQueued, Size: 10})
		require.NoError(t, err)
		assert.Equal(t, 30, p.Total)
		require.Len(t, p.Tasks, 10)
		assert.Equal(t, "due-00", p.Tasks[0].Key)
		assert.Equal(t, "due-09", p.Tasks[9].Key)
		assert.Equal(t, 10, p.Next)
		assert.True(t, p.More)
		assert.Equal(t, added[0].Due.UnixMicro(), p.Tasks[0].Score)

		p, err = s.Page(ctx, store.PageQuery{List: store.ListQueued, Size: 10, Offset: 25})
		require.NoError(t, err)
		require.Len(t, p.Tasks, 5)
		assert.Equal(t, "due-25", p.Tasks[0].Key)
		assert.False(t, p.More)

		p, err = s.Page(ctx, store.PageQuery{List: store.ListScheduled, Size: 5, Offset: 3})
		require.NoError(t, err)
		assert.Equal(t, 30, p.Total)
		require.Len(t, p.Tasks, 5)
		assert.Equal(t, "later-03", p.Tasks[0].Key)
		assert.Equal(t, "odd", p.Tasks[0].Name)
		assert.Equal(t, store.StateScheduled, p.Tasks[0].State)

		// Filtered: odd tasks among the first 6 entries looked at.
		p, err = s.Page(ctx, store.PageQuery{List: store.ListScheduled, Size: 4, Budget: 6, Name: "odd"})
		require.NoError(t, err)
		require.Len(t, p.Tasks, 3)
		assert.Equal(t, []string{"later-01", "later-03", "later-05"}, keysOf(p))
		assert.Equal(t, 6, p.Next)
		assert.True(t, p.More)
		p, err = s.Page(ctx, store.PageQuery{List: store.ListQueued, Size: 3, Budget: 100, Prefix: "due-1"})
		require.NoError(t, err)
		assert.Equal(t, []string{"due-10", "due-11", "due-12"}, keysOf(p))
		assert.Equal(t, 13, p.Next, "it stops once the page is full")

		c, err := s.Claim(ctx, "w1", 2, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 2)
		p, err = s.Page(ctx, store.PageQuery{List: store.ListRunning})
		require.NoError(t, err)
		assert.Equal(t, []string{"due-00", "due-01"}, keysOf(p))
		assert.Equal(t, "w1", p.Tasks[0].Worker)
		assert.Equal(t, store.StateRunning, p.Tasks[0].State)
		assert.False(t, p.Tasks[0].LeaseUntil.IsZero())

		_, err = s.Page(ctx, store.PageQuery{List: "bogus"})
		require.Error(t, err)
		require.NoError(t, s.Unregister(ctx, "w1"))
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		for _, m := range c.Messages {
			_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: m.Key, Gen: m.Gen, Kind: store.Completed}})
			require.NoError(t, err)
		}
	})
}

func keysOf(p store.Page) []string {
	var out []string
	for _, t := range p.Tasks {
		out = append(out, t.Key)
	}
	return out
}

// The overview counts by state, samples names, and reads the counters of
// the last minutes, whether or not any were written.
func TestOverview(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		o, err := s.Overview(ctx, 100, 60, time.Minute)
		require.NoError(t, err)
		assert.Zero(t, o.Counts)
		assert.True(t, o.Earliest.IsZero())
		require.Len(t, o.Minutes, 60)
		assert.Empty(t, o.Minutes[59].Counts)
		assert.Empty(t, o.Names)

		added, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "mail", Input: []byte(`{}`), When: store.When{At: time.Unix(1_000_000, 0)}}, // past: due now
			{Key: "b", Name: "mail", Input: []byte(`{}`), When: store.When{After: time.Hour}},
			{Key: "c", Name: "bill", Input: []byte(`{}`), When: store.When{After: time.Hour}},
		})
		require.NoError(t, err)
		now, err := s.Now(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Stats(ctx, now, map[string]int64{"completed": 7, "completed:mail": 7, "failed": 1}))
		require.NoError(t, s.Stats(ctx, now.Add(-10*time.Minute), map[string]int64{"completed": 3}))

		o, err = s.Overview(ctx, 100, 60, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Queued: 1, Scheduled: 2}, o.Counts)
		assert.Zero(t, o.Workers)
		assert.Equal(t, added[0].Due, o.Earliest)
		assert.False(t, o.Earliest.Before(now.Add(-time.Second)), "an instant in the past is due now")
		assert.Equal(t, [4]int{0, 1, 2, 0}, o.Sampled)
		assert.ElementsMatch(t, []store.NameCount{{Name: "mail", Queued: 1, Scheduled: 1}, {Name: "bill", Scheduled: 1}}, o.Names)
		require.Len(t, o.Minutes, 60)
		// The hour ends at the minute Overview read, which may have turned
		// since now: the minutes are found by their instant.
		counts := map[int64]map[string]int64{}
		for _, m := range o.Minutes {
			counts[m.Minute.Unix()] = m.Counts
		}
		minute := now.Unix() / 60 * 60
		assert.Contains(t, []int64{minute, minute + 60}, o.Minutes[59].Minute.Unix(), "the hour ends now")
		assert.Equal(t, map[string]int64{"completed": 7, "completed:mail": 7, "failed": 1}, counts[minute])
		assert.Equal(t, map[string]int64{"completed": 3}, counts[minute-600])

		// The sample is bounded: one task of each list.
		o, err = s.Overview(ctx, 1, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, [4]int{0, 1, 1, 0}, o.Sampled)
		assert.Empty(t, o.Minutes)
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
	})
}

// Chains finds the records keyed by their own task's name.
func TestChains(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeSeed, []store.NewTask{{Key: "cleanup", Name: "cleanup", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)
		_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "report", Name: "other", Input: []byte(`{}`)}})
		require.NoError(t, err)
		now, chains, err := s.Chains(ctx, []string{"cleanup", "report", "absent"})
		require.NoError(t, err)
		require.Len(t, chains, 1, "report's key holds another task")
		c := chains[0]
		assert.Equal(t, "cleanup", c.Name)
		assert.Equal(t, store.StateScheduled, c.State)
		assert.True(t, c.Auto)
		assert.InDelta(t, time.Hour.Seconds(), c.Due.Sub(now).Seconds(), 5)
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
	})
}

// States reads the state of each key given, none for a key without a
// record.
func TestStates(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}},
			{Key: "b", Name: "t", Input: []byte(`{}`)},
		})
		require.NoError(t, err)
		ok, err := s.Cancel(ctx, "b", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		now, states, err := s.States(ctx, []string{"a", "b", "c"})
		require.NoError(t, err)
		require.Len(t, states, 3)
		assert.Equal(t, store.StateScheduled, states[0].State)
		assert.InDelta(t, time.Hour.Seconds(), states[0].Due.Sub(now).Seconds(), 5)
		assert.Equal(t, store.StateCancelled, states[1].State)
		assert.Equal(t, "cancelled", states[1].Error)
		assert.Equal(t, store.TaskState{Key: "c"}, states[2])
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
	})
}

// The failed list holds the executions that failed within the retention,
// latest first, dead letters among them; a retried one leaves it, and one
// whose key was added again since is not listed (it is counted until the
// retention drops it).
func TestFailedList(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		fail := func(key string) {
			t.Helper()
			_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: key, Name: "t", Input: []byte(`{}`)}})
			require.NoError(t, err)
			m := claimOne(t, s, key)
			_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: key, Gen: m.Gen, Kind: store.Failed, Error: "boom " + key, Reason: "error"}})
			require.NoError(t, err)
		}
		keys := func() []string {
			t.Helper()
			p, err := s.Page(ctx, store.PageQuery{List: store.ListFailed})
			require.NoError(t, err)
			var out []string
			for _, task := range p.Tasks {
				assert.Equal(t, store.StateFailed, task.State)
				assert.Equal(t, "boom "+task.Key, task.Error)
				out = append(out, task.Key)
			}
			return out
		}
		fail("a")
		fail("b")
		fail("c")
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "done", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		m := claimOne(t, s, "done")
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "done", Gen: m.Gen, Kind: store.Completed}})
		require.NoError(t, err)
		assert.Equal(t, []string{"c", "b", "a"}, keys(), "latest first; completed ones are not listed")
		o, err := s.Overview(ctx, 0, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 3, o.Failed)

		code, _, _, err := s.Retry(ctx, "b")
		require.NoError(t, err)
		require.Equal(t, store.ActionDone, code)
		_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)
		assert.Equal(t, []string{"c"}, keys(), "b retried, a added again")
		o, err = s.Overview(ctx, 0, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 1, o.Failed, "counted as listed: an add takes its key off the list")
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
	})
}
