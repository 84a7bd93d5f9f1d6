package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// An exchange records outcomes before it claims, in one script: a slot or a
// retry an outcome frees is claimable by the same call, and stale outcomes
// are reported as such.
func TestExchangeRecordsThenClaims(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{}`)},
			{Key: "b", Name: "t", Input: []byte(`{}`)},
		})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 2, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 2)
		gens := map[string]string{}
		for _, m := range c.Messages {
			gens[m.Key] = m.Gen
		}

		c, err = s.Exchange(ctx, []store.Outcome{
			{Key: "a", Gen: gens["a"], Kind: store.Completed},
			{Key: "b", Gen: gens["b"], Kind: store.Retried, Error: "boom"}, // due now
			{Key: "a", Gen: "stale", Kind: store.Failed},
		}, "w", store.AllFree(5), time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		assert.Equal(t, []bool{true, true, false}, c.Applied)
		require.Len(t, c.Messages, 1, "the retry recorded first is claimed by the same call")
		assert.Equal(t, "b", c.Messages[0].Key)
		assert.Equal(t, 2, c.Messages[0].Attempt)

		rec, _, err := s.Info(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, store.StateCompleted, rec.State, "the stale outcome changed nothing")

		// Asking for no task only records.
		c, err = s.Exchange(ctx, []store.Outcome{{Key: "b", Gen: c.Messages[0].Gen, Kind: store.Completed}},
			"w", store.AllFree(0), time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, c.Applied)
		assert.Empty(t, c.Messages)
		assert.Less(t, c.Wait, time.Duration(0), "nothing is scheduled or running")
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// More outcomes than one script call carries: the first are recorded in
// calls of their own, and Applied still has one entry per outcome, in order.
func TestExchangeOfMoreThanABatch(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		n := store.MaxBatch + 10
		tasks := make([]store.NewTask, n)
		for i := range tasks {
			tasks[i] = store.NewTask{Key: fmt.Sprintf("k%d", i), Name: "t", Input: []byte(`{}`)}
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		var outcomes []store.Outcome
		for len(outcomes) < n {
			c, err := s.Claim(ctx, "w", store.MaxBatch, time.Minute, time.Minute, store.Rules{}, 5)
			require.NoError(t, err)
			require.NotEmpty(t, c.Messages)
			for _, m := range c.Messages {
				outcomes = append(outcomes, store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Completed})
			}
		}
		outcomes[3].Gen = "stale"       // recorded by the first call
		outcomes[n-1].Gen = "stale-too" // carried by the claim
		c, err := s.Exchange(ctx, outcomes, "w", store.AllFree(1), time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Applied, n)
		for i, ok := range c.Applied {
			assert.Equal(t, i != 3 && i != n-1, ok, "outcome %d", i)
		}
		counts, err := s.Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(2), counts.Running, "only the two stale outcomes' tasks are still leased")
		for _, i := range []int{3, n - 1} {
			ok, err := s.Cancel(ctx, outcomes[i].Key, time.Minute)
			require.NoError(t, err)
			assert.True(t, ok)
		}
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// A claim that fills what it asked for reports a zero wait: more may be
// due, and the worker looks again at once. One that found fewer reports the
// wait until the next event: here the task due in an hour.
func TestClaimWait(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{}`)},
			{Key: "b", Name: "t", Input: []byte(`{}`)},
			{Key: "c", Name: "t", Input: []byte(`{}`)},
			{Key: "later", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}},
		})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 2, 2*time.Hour, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 2)
		assert.Equal(t, time.Duration(0), c.Wait, "asked for 2, got 2: more may be due")
		c, err = s.Claim(ctx, "w", 5, 2*time.Hour, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.InDelta(t, time.Hour.Seconds(), c.Wait.Seconds(), 1, "the next event: later is due")
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// A renewal tells a worker that a task it holds was cancelled, so that the
// task learns why it stops even if the cancel event has not reached it.
func TestRenewReportsCancelledTasks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "c", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		ok, err := s.Cancel(ctx, "c", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		lost, err := s.Renew(ctx, store.Heartbeat{ID: "w", TTL: time.Minute}, time.Minute,
			[]store.Held{{Key: "c", Gen: c.Messages[0].Gen}})
		require.NoError(t, err)
		assert.Equal(t, []store.Lost{{Index: 0, Cancelled: true, Draining: true}}, lost, "its key drains the run, for as long as its worker renews it")
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// A task whose input its admission rules cannot read fails alone: the
// claim hands over the tasks after it, and its reply counts them right.
// (miniredis's Lua, behind memory://, loses what a function wrote to a
// variable of the script once an error was caught by pcall: the count of
// claimed tasks is taken from the reply's entries, not from such a
// variable.)
func TestClaimAfterAnUnreadableInput(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "bad", Name: "t", Input: []byte(`null`)},
			{Key: "good", Name: "t", Input: []byte(`{"customer_id":5}`)},
		})
		require.NoError(t, err)
		rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Arg: "customer_id", Max: 1}}}})
		c, err := s.Claim(ctx, "w", 5, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, "good", c.Messages[0].Key)
		require.Len(t, c.Dropped, 1)
		assert.Equal(t, "bad", c.Dropped[0].Key)
		assert.Empty(t, c.Malformed)
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// Input that starts as an object but is not valid JSON fails its admission
// rules on every backend, even a rule on the whole task, which reads no
// field (miniredis's cjson returns nil for it rather than raising).
func TestClaimOfAMalformedObjectInput(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "bad", Name: "t", Input: []byte(`{"a":1,}`)}})
		require.NoError(t, err)
		rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Max: 1}}}})
		c, err := s.Claim(ctx, "w", 5, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		assert.Empty(t, c.Messages, "not run")
		require.Len(t, c.Dropped, 1)
		assert.Contains(t, c.Dropped[0].Reason, "input cannot be read for the admission rules")
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// A task due at a round instant (2e15 µs, in 2033), whose score miniredis
// writes with an exponent (2e+15), is read back as due then on every
// backend: by the wait of a claim, by Pending, by RunNow.
func TestScoresWrittenWithAnExponent(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		due := time.UnixMicro(2_000_000_000_000_000)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "round", Name: "t", Input: []byte(`{}`), When: store.When{At: due}}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 5, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		assert.Empty(t, c.Messages)
		assert.Equal(t, due, c.Now.Add(c.Wait).Truncate(time.Microsecond), "the wait runs to its due time")
		pending, next, _, err := s.Pending(ctx, nil)
		require.NoError(t, err)
		assert.True(t, pending)
		assert.True(t, due.Equal(next), "%v", next)
		code, _, err := s.RunNow(ctx, "round")
		require.NoError(t, err)
		assert.Equal(t, store.ActionDone, code)
		c, err = s.Claim(ctx, "w", 5, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "round", Gen: c.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// A task whose rules count its start in windows of time (a rate limit, a
// cooldown) is not claimed to wait in a worker's line: the windows would
// count the claim, and its start come later. The claim stops at it once
// the worker's free slots are taken, tells the worker to look again when a
// slot frees, and a claim with free slots takes it.
func TestATimedTaskIsClaimedOnlyForAFreeSlot(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		rules := store.NewRules(map[string]store.Rule{
			"rated": {Rates: []store.Rate{{Limit: 10, Per: time.Hour}}},
			"cool":  {Cooldowns: []store.Cooldown{{Window: time.Hour}}},
		})
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "plain-1", Name: "plain", Input: []byte(`{}`)}, {Key: "rated-1", Name: "rated", Input: []byte(`{}`)},
			{Key: "cool-1", Name: "cool", Input: []byte(`{}`)}, {Key: "plain-2", Name: "plain", Input: []byte(`{}`)},
		})
		require.NoError(t, err)
		keys := func(c store.Claim) []string {
			var ks []string
			for _, m := range c.Messages {
				ks = append(ks, m.Key)
			}
			return ks
		}
		c, err := s.Exchange(ctx, nil, "w", store.Want{N: 4, Free: 1}, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		assert.Equal(t, []string{"plain-1"}, keys(c), "one free slot: the rated task waits for the next")
		assert.Negative(t, c.Wait, "the worker looks again as a slot frees, not at once")
		c, err = s.Exchange(ctx, nil, "w", store.Want{N: 4, Free: 1}, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		assert.Equal(t, []string{"rated-1"}, keys(c), "first, it takes a free slot")
		c, err = s.Exchange(ctx, nil, "w", store.AllFree(4), time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		assert.Equal(t, []string{"cool-1", "plain-2"}, keys(c))
		cancel(t, s, "plain-1", "rated-1", "cool-1", "plain-2")
	})
}

// A claim that looks at a task's name to tell whether it may wait in line
// (see TestATimedTaskIsClaimedOnlyForAFreeSlot) reads a key that is not a
// hash as the claim reads any record: that task fails alone, and the claim
// goes on. (Read otherwise, the key's WRONGTYPE aborted the claim midway,
// its leases made and its reply lost.)
func TestAGarbledKeyBeforeATimedTaskFailsAlone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		addNow(t, s, "x", "z")
		require.NoError(t, s.Client().Set(ctx, "docket:{"+name+"}:task:x", "junk", 0).Err())
		rules := store.NewRules(map[string]store.Rule{"t": {Rates: []store.Rate{{Limit: 10, Per: time.Hour}}}})
		c, err := s.Exchange(ctx, nil, "w", store.Want{N: 2, Free: 0}, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		assert.Empty(t, c.Messages, "no free slot for the rated task")
		require.Len(t, c.Dropped, 1)
		assert.Equal(t, "x", c.Dropped[0].Key)
		cancel(t, s, "z")
	})
}

// A claim on a server that does not have the claim's script (a restart, a
// failover, SCRIPT FLUSH) sends it, and runs as any other: its command
// line, kept for the next claim, is sent again with the script.
func TestExchangeSendsItsScriptWhenTheServerHasNone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		rdb := s.Client()
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{}`)},
			{Key: "b", Name: "t", Input: []byte(`{}`)},
		})
		require.NoError(t, err)

		var outcomes []store.Outcome
		for _, key := range []string{"a", "b"} {
			require.NoError(t, rdb.ScriptFlush(ctx).Err())
			c, err := s.Exchange(ctx, outcomes, "w", store.AllFree(1), time.Minute, time.Minute, store.Rules{}, 5)
			require.NoError(t, err)
			require.Len(t, c.Messages, 1)
			assert.Equal(t, key, c.Messages[0].Key)
			if outcomes != nil {
				assert.Equal(t, []bool{true}, c.Applied, "the outcome it carried applied")
			}
			outcomes = []store.Outcome{{Key: key, Gen: c.Messages[0].Gen, Kind: store.Completed}}
		}
		require.NoError(t, rdb.ScriptFlush(ctx).Err())
		c, err := s.Exchange(ctx, outcomes, "w", store.AllFree(1), time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, c.Applied)
		assert.Empty(t, c.Messages)
		for _, key := range []string{"a", "b"} {
			rec, _, err := s.Info(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, store.StateCompleted, rec.State, key)
		}
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// sentTwice is a go-redis hook that runs the first claim command twice,
// the first reply lost: what go-redis does when the connection fails
// after Redis carried the claim out, before its reply came (MaxRetries).
// between, if set, runs between the two.
type sentTwice struct {
	running string // the docket's running set, a claim's second key
	between func()
	sent    bool
}

func (h *sentTwice) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *sentTwice) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *sentTwice) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		claim := len(args) > 4 && (args[0] == "evalsha" || args[0] == "eval") && args[4] == h.running
		if !claim || h.sent {
			return next(ctx, cmd)
		}
		if err := next(ctx, cmd); err != nil {
			return err // NOSCRIPT, say: not carried out (the EVAL that follows is)
		}
		h.sent = true
		if h.between != nil {
			h.between()
		}
		return next(ctx, cmd) // the same line again
	}
}

// A claim sent again after its reply was lost gets the tasks the first send
// leased, rather than leaving them leased to a worker that never saw them
// until the lease lapses (and counting a delivery against each), and the
// outcomes it carried report what the first send did with them.
func TestAClaimSentAgainGetsWhatTheFirstSendClaimed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		hook := &sentTwice{running: "docket:{" + name + "}:running"}
		s.Client().AddHook(hook)
		addNow(t, s, "a", "b", "c")
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "later", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)

		// The first claim is sent twice: its second send finds a, b and c
		// leased already, and must give the worker those still its own. c's
		// lease lapsed meanwhile, and another worker took it over.
		var other store.Message
		hook.between = func() {
			require.NoError(t, s.Client().ZAdd(ctx, "docket:{"+name+"}:running", redis.Z{Score: 1, Member: "c"}).Err())
			c, err := s.Claim(ctx, "w2", 1, time.Minute, time.Minute, store.Rules{}, 5)
			require.NoError(t, err)
			require.Len(t, c.Messages, 1)
			other = c.Messages[0]
			require.Equal(t, "c", other.Key)
		}
		c, err := s.Exchange(ctx, nil, "w", store.AllFree(5), time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.True(t, hook.sent)
		var keys []string
		var outcomes []store.Outcome
		for _, m := range c.Messages {
			keys = append(keys, m.Key)
			assert.Equal(t, "t", m.Name)
			assert.JSONEq(t, `{"n":1}`, string(m.Input))
			assert.Equal(t, 1, m.Deliveries, "delivered once")
			rec, ok, err := s.Info(ctx, m.Key)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, store.StateRunning, rec.State)
			gen, err := s.Client().HGet(ctx, "docket:{"+name+"}:task:"+m.Key, "gen").Result()
			require.NoError(t, err)
			assert.Equal(t, gen, m.Gen, "the run the record holds")
			outcomes = append(outcomes, store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Completed})
		}
		assert.Equal(t, []string{"a", "b"}, keys, "in the order claimed; not c, another worker's now")

		// An exchange that carries their outcomes, and one for c's earlier
		// run, stale, sent twice: the second send applies none (they are
		// recorded), and reports what the first did. A task cancelled
		// between the sends is not handed out again.
		outcomes = append(outcomes, store.Outcome{Key: "c", Gen: "1", Kind: store.Completed})
		addNow(t, s, "d", "e")
		hook.sent = false
		hook.between = func() {
			ok, err := s.Cancel(ctx, "e", time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
		}
		c, err = s.Exchange(ctx, outcomes, "w", store.AllFree(5), time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.True(t, hook.sent)
		assert.Equal(t, []bool{true, true, false}, c.Applied, "the outcomes the first send applied, and the stale one")
		require.Len(t, c.Messages, 1, "d; e was cancelled between the sends")
		assert.Equal(t, "d", c.Messages[0].Key)
		for _, key := range []string{"a", "b"} {
			rec, _, err := s.Info(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, store.StateCompleted, rec.State, key)
		}
		rec, _, err := s.Info(ctx, "c")
		require.NoError(t, err)
		assert.Equal(t, store.StateRunning, rec.State, "the other worker's run")
		assert.Equal(t, "w2", rec.Worker)
		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: "d", Gen: c.Messages[0].Gen, Kind: store.Completed},
			{Key: "c", Gen: other.Gen, Kind: store.Completed}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true, true}, applied)
		ok, err := s.Cancel(ctx, "later", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}
