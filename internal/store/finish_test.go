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

// Outcomes reach the scripts in groups of those in a row that share kind,
// when, error and reason: one finish of mixed outcomes applies to each task
// its own, whichever differ from their neighbours' and however they are
// ordered.
func TestAFinishOfMixedOutcomesAppliesEachOne(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		keys := []string{"done-1", "done-2", "kept", "kept-2", "fail-a", "fail-b", "fail-c", "again", "later", "stale"}
		addNow(t, s, keys...)
		gens := claimAll(t, s)
		require.Len(t, gens, len(keys))

		outcome := func(key string, kind store.OutcomeKind) store.Outcome {
			return store.Outcome{Key: key, Gen: gens[key], Kind: kind}
		}
		done1, done2 := outcome("done-1", store.Completed), outcome("done-2", store.Completed)
		done1.Keep, done2.Keep = store.Discard, store.Discard
		kept, kept2 := outcome("kept", store.Completed), outcome("kept-2", store.Completed)
		kept.Result, kept2.Result = []byte(`{"n":1}`), []byte(`{"n":2}`) // one group, each its own result
		failA, failB, failC := outcome("fail-a", store.Failed), outcome("fail-b", store.Failed), outcome("fail-c", store.Failed)
		failA.Error, failB.Error, failC.Error = "boom", "boom", "bang"
		failA.Reason, failB.Reason, failC.Reason = "error", "panic", "panic"
		again, later := outcome("again", store.Retried), outcome("later", store.Retried)
		again.Delay, later.Delay = time.Minute, time.Hour
		again.Error, later.Error = "try again", "try again"
		stale := outcome("stale", store.Completed)
		stale.Gen = "1"

		applied, err := s.Finish(ctx, time.Hour, []store.Outcome{done1, done2, kept, kept2, failA, failB, failC, again, later, stale})
		require.NoError(t, err)
		assert.Equal(t, []bool{true, true, true, true, true, true, true, true, true, false}, applied)

		for _, k := range []string{"done-1", "done-2"} {
			_, ok, err := s.Info(ctx, k)
			require.NoError(t, err)
			assert.False(t, ok, "%s: its record is discarded", k)
		}
		info := func(key string) store.Record {
			t.Helper()
			r, ok, err := s.Info(ctx, key)
			require.NoError(t, err)
			require.True(t, ok, key)
			return r
		}
		r := info("kept")
		assert.Equal(t, store.StateCompleted, r.State)
		assert.JSONEq(t, `{"n":1}`, string(r.Result))
		r = info("kept-2")
		assert.Equal(t, store.StateCompleted, r.State)
		assert.JSONEq(t, `{"n":2}`, string(r.Result))
		for key, want := range map[string][2]string{"fail-a": {"boom", "error"}, "fail-b": {"boom", "panic"}, "fail-c": {"bang", "panic"}} {
			r := info(key)
			assert.Equal(t, store.StateFailed, r.State, key)
			assert.Equal(t, want[0], r.Error, key)
			assert.Equal(t, want[1], r.Reason, key)
		}
		a, l := info("again"), info("later")
		assert.Equal(t, store.StateScheduled, a.State)
		assert.Equal(t, 2, a.Attempt)
		assert.Equal(t, "try again", a.Error)
		assert.Equal(t, time.Hour-time.Minute, l.Due.Sub(a.Due), "each its own delay")
		assert.Equal(t, store.StateRunning, info("stale").State, "a stale outcome changes nothing")

		cancel(t, s, "again", "later", "stale")
	})
}

// A group whose count does not fit the values after it fails the finish
// before any outcome is applied, those of a good group before it included.
func TestAFinishOfABadGroupFails(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		add(t, s, store.ModeAdd, "k", "t")
		gen := claimAll(t, s)["k"]
		require.NotEmpty(t, gen)
		good := []any{"1", "completed", "0", "", "", "k", gen, ""}
		for _, count := range []string{"-1", "0", "2", "x", "1.5"} {
			args := append([]any{"3600000"}, good...)
			args = append(args, count, "completed", "0", "", "", "k", gen, "")
			_, err := store.RunFinish(ctx, s, args...)
			require.Error(t, err, count)
			assert.Contains(t, err.Error(), "outcomes: a group of "+count+" outcomes", count)
		}
		r, ok, err := s.Info(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, store.StateRunning, r.State, "nothing applied")
		cancel(t, s, "k")
	})
}
