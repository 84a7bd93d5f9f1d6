package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// A new record leaves out attempt and deliveries, which hold their first
// values (1 and 0), to cost Redis less memory per queued task; every reader
// takes their absence as those values.
func TestNewRecordLeavesOutItsFirstValues(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()

		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		fields, err := rdb.HGetAll(ctx, "docket:{"+name+"}:task:a").Result()
		require.NoError(t, err)
		assert.NotContains(t, fields, "attempt")
		assert.NotContains(t, fields, "deliveries")

		rec, ok, err := s.Info(ctx, "a")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, 1, rec.Attempt)
		assert.Equal(t, 0, rec.Deliveries)
		snap, err := s.Snapshot(ctx, 10)
		require.NoError(t, err)
		require.Len(t, snap.Tasks, 1)
		assert.Equal(t, 1, snap.Tasks[0].Attempt)
		assert.Equal(t, 0, snap.Tasks[0].Deliveries)

		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, 1, c.Messages[0].Attempt)
		assert.Equal(t, 1, c.Messages[0].Deliveries)
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
