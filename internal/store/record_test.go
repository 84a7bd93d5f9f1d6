package store_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// A new record leaves out attempt and deliveries, which hold their first
// values (1 and 0), and gen and due, which hold the instant it was
// created, to cost Redis less memory per queued task; every reader takes
// their absence as those values.
func TestNewRecordLeavesOutItsFirstValues(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()

		added, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		fields, err := rdb.HGetAll(ctx, "docket:{"+name+"}:task:a").Result()
		require.NoError(t, err)
		for _, f := range []string{"attempt", "deliveries", "gen", "due", "wf", "state"} {
			assert.NotContains(t, fields, f)
		}
		created, err := strconv.ParseInt(fields["created"], 10, 64)
		require.NoError(t, err)

		rec, ok, err := s.Info(ctx, "a")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, store.StateScheduled, rec.State)
		assert.Equal(t, 1, rec.Attempt)
		assert.Equal(t, 0, rec.Deliveries)
		assert.Equal(t, time.UnixMicro(created), rec.Due, "due when created")
		assert.Equal(t, rec.Due, added[0].Due)
		again, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		assert.Equal(t, store.Existed, again[0].Code)
		assert.Equal(t, rec.Due, again[0].Due, "an add of a scheduled key reports its due time")
		snap, err := s.Snapshot(ctx, 10)
		require.NoError(t, err)
		require.Len(t, snap.Tasks, 1)
		assert.Equal(t, store.StateScheduled, snap.Tasks[0].State)
		assert.Equal(t, 1, snap.Tasks[0].Attempt)
		assert.Equal(t, 0, snap.Tasks[0].Deliveries)
		assert.Equal(t, rec.Due, snap.Tasks[0].Due)

		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, 1, c.Messages[0].Attempt)
		assert.Equal(t, 1, c.Messages[0].Deliveries)
		assert.Equal(t, rec.Due, c.Messages[0].Due)
		// The run's generation is the claim's instant, after the one the
		// record was created with (or that one and one, within its
		// microsecond).
		wantGen := max(created+1, c.Now.UnixMicro())
		assert.Equal(t, strconv.FormatInt(wantGen, 10), c.Messages[0].Gen, "the generation after the one it was created with")
		assert.Equal(t, "0", flowMark(t, s, name, "a"), "its first claim says it has no flow, so that its end does not look for one")
		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: "a", Gen: c.Messages[0].Gen, Kind: store.Retried, Error: "again"}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, applied, "a record without attempt is not corrupt")
		rec, _, err = s.Info(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, 2, rec.Attempt)

		ok, err = s.Cancel(ctx, "a", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// A record that leaves out its state (added, never claimed) is a
// scheduled task to every script that reads a state: a signal is kept for
// it, RunNow finds it due, a Replace replaces it, the dashboard's calls
// and Clear see it scheduled. A key without a record has no state.
func TestARecordWithoutItsStateIsScheduled(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		addNow(t, s, "a", "b", "c")
		state, err := s.Client().HGet(ctx, "docket:{"+name+"}:task:a", "state").Result()
		require.ErrorIs(t, err, redis.Nil, "no state: %q", state)

		kept, err := s.Signal(ctx, "a", "go", []byte(`1`))
		require.NoError(t, err)
		assert.True(t, kept, "a signal for a queued task is kept")
		code, st, err := s.RunNow(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, store.ActionAlready, code)
		assert.Equal(t, store.StateScheduled, st)
		_, states, err := s.States(ctx, []string{"a", "none"})
		require.NoError(t, err)
		assert.Equal(t, store.StateScheduled, states[0].State)
		assert.Equal(t, store.State(""), states[1].State)
		_, chains, err := s.Chains(ctx, []string{"t"})
		require.NoError(t, err)
		assert.Empty(t, chains)
		page, err := s.Page(ctx, store.PageQuery{List: store.ListQueued})
		require.NoError(t, err)
		require.Len(t, page.Tasks, 3)
		assert.Equal(t, store.StateScheduled, page.Tasks[0].State)

		res, err := s.Add(ctx, store.ModeReplace, []store.NewTask{{Key: "b", Name: "t", Input: []byte(`{"v":2}`)}})
		require.NoError(t, err)
		assert.Equal(t, store.Superseded, res[0].Code, "a live task replaced, not added beside it")
		assert.Equal(t, []string{"a", "c", "b"}, readyList(t, s, name))
		kept, err = s.Signal(ctx, "none", "go", nil)
		require.NoError(t, err)
		assert.False(t, kept, "no task, no signal")

		n, err := s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
	})
}

// gen and due are written once they are not the instant the record was
// created (and wf with gen): a task added for later has its due, a key added again after an
// execution its gen (generations only grow), a cancelled task its next gen;
// a workflow's child is written as an added task is.
func TestGenAndDueAreWrittenWhenTheyDifferFromCreated(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		fields := func(key string) map[string]string {
			t.Helper()
			f, err := rdb.HGetAll(ctx, "docket:{"+name+"}:task:"+key).Result()
			require.NoError(t, err)
			return f
		}
		number := func(v string) int64 {
			t.Helper()
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err, v)
			return n
		}

		later := time.Now().Add(time.Hour).Truncate(time.Microsecond)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "later", Name: "t", Input: []byte(`{}`), When: store.When{At: later}}})
		require.NoError(t, err)
		f := fields("later")
		assert.Equal(t, strconv.FormatInt(later.UnixMicro(), 10), f["due"])
		assert.NotContains(t, f, "gen")
		rec, _, err := s.Info(ctx, "later")
		require.NoError(t, err)
		assert.Equal(t, later, rec.Due)

		// Cancelled while scheduled: its next generation follows the
		// one it was created with.
		ok, err := s.Cancel(ctx, "later", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		f = fields("later")
		assert.Greater(t, number(f["gen"]), number(f["created"]))
		cancelledGen := number(f["gen"])

		// Added again: a new execution whose generation is beyond the
		// cancelled one's.
		_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "later", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		f = fields("later")
		gen := number(f["created"])
		if g, ok := f["gen"]; ok {
			gen = number(g)
		}
		assert.Greater(t, gen, cancelledGen)
		assert.NotContains(t, f, "due", "due now, when it was created")
		if _, ok := f["gen"]; ok {
			assert.Equal(t, "0", f["wf"], "a record with a gen says whether it has a flow")
		}

		// A workflow's children are written as added tasks are.
		_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "wf", Name: "flow", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		var wfGen string
		for _, m := range c.Messages {
			if m.Key == "wf" {
				wfGen = m.Gen
			}
		}
		require.NotEmpty(t, wfGen)
		_, err = s.Start(ctx, "wf", wfGen, []store.Child{
			{Name: "now", Key: "wf/now", Task: "child", Input: []byte(`{}`)},
			{Name: "later", Key: "wf/later", Task: "child", Input: []byte(`{}`), When: store.When{At: later}},
		})
		require.NoError(t, err)
		f = fields("wf/now")
		assert.NotContains(t, f, "gen")
		assert.NotContains(t, f, "due")
		assert.NotContains(t, f, "wf")
		assert.Equal(t, "wf", f["parent"])
		f = fields("wf/later")
		assert.NotContains(t, f, "gen")
		assert.Equal(t, strconv.FormatInt(later.UnixMicro(), 10), f["due"])
		rec, _, err = s.Info(ctx, "wf/now")
		require.NoError(t, err)
		assert.Equal(t, time.UnixMicro(number(fields("wf/now")["created"])), rec.Due)

		for _, k := range []string{"later", "wf"} {
			_, err = s.Cancel(ctx, k, time.Minute)
			require.NoError(t, err)
		}
	})
}

// A new task that waited for a concurrency slot is handed over, its first
// run, with the mark that it has no flow, as one that did not wait.
func TestAWaiterIsMarkedWithoutAFlowAtItsFirstRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Max: 1}}}})
		add(t, s, store.ModeAdd, "first", "t")
		add(t, s, store.ModeAdd, "second", "t")
		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		require.Equal(t, store.StateWaiting, state(t, s, "second"))
		finish(t, s, store.Outcome{Key: c.Messages[0].Key, Gen: c.Messages[0].Gen, Kind: store.Completed})

		c, err = s.Claim(ctx, "w", 10, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, "second", c.Messages[0].Key)
		assert.NotEmpty(t, c.Messages[0].WaitedFor)
		assert.Equal(t, "0", flowMark(t, s, name, "second"))
		finish(t, s, store.Outcome{Key: "second", Gen: c.Messages[0].Gen, Kind: store.Completed})
	})
}

// A signal sent to a task before its first run opens its flow: the claim
// that first hands it over keeps the mark that it has one, so that its end
// gives the flow the record's lifetime (the leak check fails otherwise).
func TestASignalBeforeTheFirstRunKeepsTheFlowMark(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		add(t, s, store.ModeAdd, "a", "t")
		ok, err := s.Signal(ctx, "a", "go", []byte(`1`))
		require.NoError(t, err)
		require.True(t, ok)
		gens := claimAll(t, s)
		assert.Equal(t, "1", flowMark(t, s, name, "a"), "it has a flow")
		finish(t, s, store.Outcome{Key: "a", Gen: gens["a"], Kind: store.Completed})
		ttl, err := s.Client().PTTL(ctx, "docket:{"+name+"}:flow:a").Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "the flow lives as long as the record")
	})
}

// A task that failed before its first claim (its input unreadable for its
// admission rules) and is retried gets the mark that it has no flow at its
// next claim, as a new task does: its failure wrote its gen, which the
// claim takes for a task that ran.
func TestARetriedTaskThatNeverRanHasTheFlowMark(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Arg: "x", Max: 1}}}})
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`[1]`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Empty(t, c.Messages, "its input is not an object: it fails without running")
		code, _, _, err := s.Retry(ctx, "a")
		require.NoError(t, err)
		require.EqualValues(t, 1, code)
		gens := claimAll(t, s)
		require.Contains(t, gens, "a")
		assert.Equal(t, "0", flowMark(t, s, name, "a"))
		finish(t, s, store.Outcome{Key: "a", Gen: gens["a"], Kind: store.Completed})
	})
}

// flowMark reads a record's wf field: "0" no flow, "1" a flow, "" not
// written yet.
func flowMark(t *testing.T, s *store.Store, name, key string) string {
	t.Helper()
	wf, err := s.Client().HGet(context.Background(), "docket:{"+name+"}:task:"+key, "wf").Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	require.NoError(t, err)
	return wf
}

// A record written with every field, as before they were left out, is
// claimed and finished as it always was.
func TestRecordWithEveryField(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()

		now := time.Now().UnixMicro()
		prefix := "docket:{" + name + "}:"
		require.NoError(t, rdb.HSet(ctx, prefix+"task:old", "name", "t", "input", `{}`, "state", "scheduled",
			"gen", now, "attempt", "3", "deliveries", "2", "due", now, "created", now, "wf", "0").Err())
		require.NoError(t, rdb.ZAdd(ctx, prefix+"scheduled", redis.Z{Score: float64(now), Member: "old"}).Err())

		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, 3, c.Messages[0].Attempt)
		assert.Equal(t, 3, c.Messages[0].Deliveries)
		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: "old", Gen: c.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, applied)
		rec, _, err := s.Info(ctx, "old")
		require.NoError(t, err)
		assert.Equal(t, store.StateCompleted, rec.State)
		assert.Equal(t, 3, rec.Attempt)
	})
}

// A released attempt (handed back unstarted: claimed ahead, or at a
// worker's shutdown) goes back in line where it was: its due time stays
// the attempt's, as a redelivery's does, and the delivery is not counted.
func TestReleaseKeepsTheDueTime(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		res, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		due := res[0].Due
		c, err := s.Claim(ctx, "w", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: "a", Gen: c.Messages[0].Gen, Kind: store.Released}})
		require.NoError(t, err)
		require.Equal(t, []bool{true}, applied)
		rec, _, err := s.Info(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, due, rec.Due)
		assert.Equal(t, 0, rec.Deliveries)

		c, err = s.Claim(ctx, "w", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, due, c.Messages[0].Due, "the next delivery sees the attempt's due time")
		ok, err := s.Cancel(ctx, "a", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// A run handed back at a worker's shutdown (its function stopped midway)
// is run again from the start: the next run's progress counts from
// nothing, not on top of the work the stopped run reported.
func TestAReleasedRunsProgressIsNotCountedAgain(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		_, applied, err := s.Progress(ctx, "a", c.Messages[0].Gen, store.ProgressIncrement, "6")
		require.NoError(t, err)
		require.True(t, applied)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "a", Gen: c.Messages[0].Gen, Kind: store.Released}})
		require.NoError(t, err)

		c, err = s.Claim(ctx, "w", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		p, applied, err := s.Progress(ctx, "a", c.Messages[0].Gen, store.ProgressIncrement, "1")
		require.NoError(t, err)
		require.True(t, applied)
		assert.Equal(t, int64(1), p.Current, "the new run's work alone")
		ok, err := s.Cancel(ctx, "a", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// A claim counts in its task's rate windows. Handed back by a worker that
// never called its function (Unstarted: it waited in line, or came late),
// the claim is taken back, and the task runs again at once; handed back
// after its function ran (Released, at a shutdown), its start stands.
func TestAnUnstartedHandBackUsesNoRate(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		rules := store.NewRules(map[string]store.Rule{"t": {Rates: []store.Rate{{Limit: 1, Per: time.Hour}}}})
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		for i, kind := range []store.OutcomeKind{store.Unstarted, store.Unstarted, store.Released} {
			c, err := s.Claim(ctx, "w", 1, time.Minute, time.Minute, rules, 5)
			require.NoError(t, err)
			require.Len(t, c.Messages, 1, "claim %d: the window has room", i)
			applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: "a", Gen: c.Messages[0].Gen, Kind: kind}})
			require.NoError(t, err)
			require.Equal(t, []bool{true}, applied)
		}
		c, err := s.Claim(ctx, "w", 1, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		assert.Empty(t, c.Messages, "the start of the run handed back after it ran counts")
		rec, _, err := s.Info(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, store.StateScheduled, rec.State)
		assert.Greater(t, time.Until(rec.Due), 50*time.Minute, "due when the window has room")
		ok, err := s.Cancel(ctx, "a", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// A snapshot lists each rate limit whose window holds a start, with its
// rule and the starts it holds, on every backend (the ids hold what the
// task's input says: a newline among them).
func TestASnapshotListsTheRateLimitsThatCountedAStart(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		rules := store.NewRules(map[string]store.Rule{"t": {Rates: []store.Rate{{Arg: "to", Limit: 2, Per: time.Hour}}}})
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{"to":"ann"}`)},
			{Key: "b", Name: "t", Input: []byte(`{"to":"ann"}`)},
			{Key: "c", Name: "t", Input: []byte(`{"to":"b\nob"}`)},
		})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 3, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 3)
		snap, err := s.Snapshot(ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 2, snap.TotalRates)
		require.Len(t, snap.Rates, 2)
		byID := map[string]store.RateEntry{}
		for _, r := range snap.Rates {
			byID[r.ID] = r
			assert.Equal(t, 2, r.Limit)
			assert.Equal(t, time.Hour, r.Per)
		}
		assert.Equal(t, 2, byID["t:t:to:ann"].Started)
		assert.Equal(t, c.Now.Add(time.Hour), byID["t:t:to:ann"].Next, "full: when its first start leaves the window")
		assert.Equal(t, 1, byID[`t:t:to:b\nob`].Started, "a newline in the id, escaped")
		assert.True(t, byID[`t:t:to:b\nob`].Next.IsZero(), "room for a start")

		none, err := s.Snapshot(ctx, 0)
		require.NoError(t, err)
		assert.Empty(t, none.Rates)
		assert.Equal(t, 2, none.TotalRates)
		var outcomes []store.Outcome
		for _, m := range c.Messages {
			outcomes = append(outcomes, store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Completed})
		}
		_, err = s.Finish(ctx, time.Minute, outcomes)
		require.NoError(t, err)

		// A start taken back (handed back unstarted) leaves its window
		// empty: that limit is listed and counted no more.
		_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "d", Name: "t", Input: []byte(`{"to":"carl"}`)}})
		require.NoError(t, err)
		c, err = s.Claim(ctx, "w", 1, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		snap, err = s.Snapshot(ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 3, snap.TotalRates, "carl's start counts")
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "d", Gen: c.Messages[0].Gen, Kind: store.Unstarted}})
		require.NoError(t, err)
		snap, err = s.Snapshot(ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 2, snap.TotalRates)
		assert.Len(t, snap.Rates, 2)
		ok, err := s.Cancel(ctx, "d", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// A claimed run's generation is the claim's instant when that is later
// than the record's, else the record's and one; deliveries count on from
// what the record holds; a generation or a due time not in digits fails
// the task, however it reads as a number. (The tasks wait in K.ready, whose records a claim reads
// whole: each field it needs is found among the others.)
func TestAClaimsGenerationFollowsTheRecords(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		ahead := strconv.FormatInt(time.Now().Add(time.Hour).UnixMicro(), 10) // a clock that ran ahead
		raw := map[string][]any{
			"ahead": {"gen", ahead},
			// ahead too, and longer than the clock's digits: not before
			// them, though it sorts so as text
			"padded": {"gen", "0" + ahead},
			"short":  {"gen", "7"},
			"again":  {"deliveries", "3", "attempt", "2", "trace", "tp-1", "wf", "1", "admitted", "x"},
			// not digits: garbled, however they read as numbers
			"garbled":  {"gen", "x"},
			"exponent": {"gen", "1e15"},
			"spaced":   {"due", " " + ahead[1:]},
			// two garbled due times alike, among good ones alike, all added
			// by one call (a claim keeps the last it found good: see
			// corruption)
			"due-1": {"due", "1.5x"},
			"due-2": {"due", "1.5x"},
		}
		var tasks []store.NewTask
		for key := range raw {
			tasks = append(tasks, store.NewTask{Key: key, Name: "t", Input: []byte(`{}`)})
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		for key, fields := range raw {
			require.NoError(t, rdb.HSet(ctx, "docket:{"+name+"}:task:"+key, fields...).Err())
		}

		c, err := s.Claim(ctx, "w", 20, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		claimed := map[string]store.Message{}
		var outcomes []store.Outcome
		for _, m := range c.Messages {
			claimed[m.Key] = m
			outcomes = append(outcomes, store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Completed, Keep: store.Discard})
		}
		aheadGen, err := strconv.ParseInt(ahead, 10, 64)
		require.NoError(t, err)
		assert.Equal(t, strconv.FormatInt(aheadGen+1, 10), claimed["ahead"].Gen)
		assert.Equal(t, strconv.FormatInt(aheadGen+1, 10), claimed["padded"].Gen)
		assert.Equal(t, "1", flowMark(t, s, name, "again"), "a flow's mark, read with the record, is kept")
		assert.Equal(t, "8", claimed["short"].Gen)
		assert.Equal(t, 4, claimed["again"].Deliveries)
		assert.Equal(t, 2, claimed["again"].Attempt)
		assert.Equal(t, "tp-1", claimed["again"].Trace)
		assert.Equal(t, strconv.FormatInt(c.Now.UnixMicro(), 10), claimed["again"].Gen, "the claim's instant")
		reasons := map[string]string{}
		for _, d := range c.Dropped {
			assert.Equal(t, store.FailureCorrupt, d.Failure, d.Key)
			reasons[d.Key] = d.Reason
		}
		assert.Len(t, reasons, 5)
		assert.Contains(t, reasons["garbled"], "gen is not an integer")
		assert.Contains(t, reasons["exponent"], "gen is not an integer")
		assert.Contains(t, reasons["spaced"], "due is not an instant")
		assert.Contains(t, reasons["due-1"], "due is not an instant")
		assert.Contains(t, reasons["due-2"], "due is not an instant")

		applied, err := s.Finish(ctx, 0, outcomes)
		require.NoError(t, err)
		assert.Equal(t, []bool{true, true, true, true}, applied)
	})
}
