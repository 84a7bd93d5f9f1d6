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

// A completed outcome's Keep decides how long the record stays: the call's
// retention by default, its own when set, and not at all with Discard, which
// takes the live progress hash with it. Failures keep the retention.
func TestCompletedRecordsKeep(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		keys := []string{"default", "own", "discarded", "failed"}
		var tasks []store.NewTask
		for _, k := range keys {
			tasks = append(tasks, store.NewTask{Key: k, Name: "t", Input: []byte(`{}`)})
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", len(keys), time.Minute, time.Hour, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, len(keys))
		gens := map[string]string{}
		for _, m := range c.Messages {
			gens[m.Key] = m.Gen
		}
		_, applied, err := s.Progress(ctx, "discarded", gens["discarded"], store.ProgressIncrement, "3")
		require.NoError(t, err)
		require.True(t, applied)

		c, err = s.Exchange(ctx, []store.Outcome{
			{Key: "default", Gen: gens["default"], Kind: store.Completed},
			{Key: "own", Gen: gens["own"], Kind: store.Completed, Keep: time.Minute},
			{Key: "discarded", Gen: gens["discarded"], Kind: store.Completed, Keep: store.Discard},
			{Key: "failed", Gen: gens["failed"], Kind: store.Failed, Error: "boom", Keep: store.Discard},
		}, "w", store.AllFree(0), time.Minute, time.Hour, store.Rules{}, 5)
		require.NoError(t, err)
		assert.Equal(t, []bool{true, true, true, true}, c.Applied)

		for key, want := range map[string]store.State{"default": store.StateCompleted, "own": store.StateCompleted, "failed": store.StateFailed} {
			rec, ok, err := s.Info(ctx, key)
			require.NoError(t, err)
			require.True(t, ok, key)
			assert.Equal(t, want, rec.State, key)
		}
		_, ok, err := s.Info(ctx, "discarded")
		require.NoError(t, err)
		assert.False(t, ok, "a discarded record is gone at once")
		_, ok, err = s.ReadProgress(ctx, "discarded")
		require.NoError(t, err)
		assert.False(t, ok, "and its progress with it")

		rdb := s.Client()
		ttl := func(key string) time.Duration {
			d, err := rdb.PTTL(ctx, "docket:{"+name+"}:task:"+key).Result()
			require.NoError(t, err)
			return d
		}
		assert.InDelta(t, time.Hour.Seconds(), ttl("default").Seconds(), 5, "the call's retention")
		assert.InDelta(t, time.Minute.Seconds(), ttl("own").Seconds(), 5, "its own")
		assert.InDelta(t, time.Hour.Seconds(), ttl("failed").Seconds(), 5, "Keep is for completed executions only")

		// The key of a discarded execution can be added again at once.
		res, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "discarded", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		assert.Equal(t, store.Added, res[0].Code)
		n, err := s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// A retention under a millisecond is a millisecond, not zero: a record is
// never deleted in place of being kept, and a retried task is never lost.
func TestSubMillisecondRetention(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "r", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 1, time.Minute, 500*time.Microsecond, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		applied, err := s.Finish(ctx, 500*time.Microsecond, []store.Outcome{
			{Key: "r", Gen: c.Messages[0].Gen, Kind: store.Retried, Delay: time.Hour, Error: "later"},
		})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, applied)
		rec, ok, err := s.Info(ctx, "r")
		require.NoError(t, err)
		require.True(t, ok, "the retried task is still there")
		assert.Equal(t, store.StateScheduled, rec.State)
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}
