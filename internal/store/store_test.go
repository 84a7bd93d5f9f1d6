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

func TestMain(m *testing.M) { redistest.Main(m) }

func open(t *testing.T, b redistest.Backend) *store.Store {
	s, _ := openNamed(t, b)
	return s
}

// openNamed opens a store on a fresh docket name, checks for leaks when the
// test ends, and also returns the name, for tests that reach past the store.
func openNamed(t *testing.T, b redistest.Backend) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	rdb, closeFn, err := store.Open(ctx, b.URL)
	require.NoError(t, err)
	name := redistest.Name(t)
	t.Cleanup(func() { _ = closeFn() })
	redistest.CheckLeaks(t, rdb, name)
	s, err := store.New(rdb, name)
	require.NoError(t, err)
	return s, name
}

func TestLifecycle(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)

		res, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{"x":1}`)},
			{Key: "b", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}},
		})
		require.NoError(t, err)
		require.Len(t, res, 2)
		assert.Equal(t, store.Added, res[0].Code)
		assert.Equal(t, store.Added, res[1].Code)
		assert.InDelta(t, time.Hour.Seconds(), res[1].Due.Sub(res[0].Due).Seconds(), 1)

		again, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "a", Name: "t", Input: []byte(`{"x":2}`)}})
		require.NoError(t, err)
		assert.Equal(t, store.Existed, again[0].Code)

		c, err := s.Claim(ctx, "w1", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1, "only a is due")
		m := c.Messages[0]
		assert.Equal(t, "a", m.Key)
		assert.Equal(t, `{"x":1}`, string(m.Input), "an Add of a live key changes nothing")
		assert.Equal(t, 1, m.Attempt)
		assert.Equal(t, 1, m.Deliveries)
		assert.InDelta(t, time.Minute.Seconds(), c.Wait.Seconds(), 1, "next event: a's lease expiry")

		rec, ok, err := s.Info(ctx, "a")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, store.StateRunning, rec.State)
		assert.Equal(t, "w1", rec.Worker)

		lost, err := s.Renew(ctx, store.Heartbeat{ID: "w1", Description: []byte(`{}`), TTL: time.Minute}, time.Minute,
			[]store.Held{{Key: "a", Gen: m.Gen}, {Key: "b", Gen: "1"}, {Key: "a", Gen: "stale"}})
		require.NoError(t, err)
		assert.Equal(t, []store.Lost{{Index: 1}, {Index: 2}}, lost, "b is not running; a stale generation of a is not held")

		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{
			{Key: "a", Gen: m.Gen, Kind: store.Retried, Delay: 0, Error: "boom"},
			{Key: "a", Gen: "stale", Kind: store.Completed},
		})
		require.NoError(t, err)
		assert.Equal(t, []bool{true, false}, applied)

		c, err = s.Claim(ctx, "w1", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		assert.Equal(t, 2, c.Messages[0].Attempt)
		assert.NotEqual(t, m.Gen, c.Messages[0].Gen)

		snap, err := s.Snapshot(ctx, 100)
		require.NoError(t, err)
		assert.Equal(t, 1, snap.TotalRunning)
		assert.Equal(t, 1, snap.TotalScheduled)
		require.Len(t, snap.Workers, 1)
		assert.Equal(t, "w1", snap.Workers[0].ID)
		require.Len(t, snap.Tasks, 2)
		assert.Equal(t, "a", snap.Tasks[0].Key)
		assert.Equal(t, store.StateRunning, snap.Tasks[0].State)
		assert.Equal(t, "b", snap.Tasks[1].Key)

		applied, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "a", Gen: c.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, applied)
		rec, _, err = s.Info(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, store.StateCompleted, rec.State)
		assert.Equal(t, 2, rec.Attempt)

		ok, err = s.Cancel(ctx, "b", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = s.Cancel(ctx, "b", time.Minute)
		require.NoError(t, err)
		assert.False(t, ok, "b is no longer live")
		require.NoError(t, s.Unregister(ctx, "w1"))
	})
}

// Rescheduling a perpetual run and acknowledging it are one script: after
// it, the task is scheduled and not running, and the worker that ran it
// holds nothing (a crash right after changes nothing).
func TestPerpetualRescheduleIsTheAcknowledgement(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "p", Name: "t", Input: []byte(`{"n":1}`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 1, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		m := c.Messages[0]
		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{
			Key: "p", Gen: m.Gen, Kind: store.Perpetual, Next: store.When{After: time.Hour},
			Error: "last run failed", Input: []byte(`{"n":2}`),
		}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, applied)

		snap, err := s.Snapshot(ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 0, snap.TotalRunning)
		require.Equal(t, 1, snap.TotalScheduled)
		rec, _, err := s.Info(ctx, "p")
		require.NoError(t, err)
		assert.Equal(t, store.StateScheduled, rec.State)
		assert.Equal(t, rec.Started.Add(time.Hour), rec.Due, "every counts from the run's start")
		assert.Equal(t, `{"n":2}`, string(rec.Input))
		assert.Equal(t, 1, rec.Attempt)
		assert.Equal(t, "last run failed", rec.Error)
		lost, err := s.Renew(ctx, store.Heartbeat{ID: "w", TTL: time.Minute}, time.Minute, []store.Held{{Key: "p", Gen: m.Gen}})
		require.NoError(t, err)
		assert.Equal(t, []store.Lost{{Index: 0}}, lost)
		ok, err := s.Cancel(ctx, "p", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, s.Unregister(ctx, "w"))
	})
}

// Cancelling a key that another program overwrote with another type finds
// no live task: it raised WRONGTYPE while looking for the id of an earlier
// send of the same call.
func TestCancelOfAKeyOfAnotherType(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		require.NoError(t, s.Client().Set(ctx, "docket:{"+name+"}:task:x", "junk", time.Minute).Err())
		ok, err := s.Cancel(ctx, "x", time.Minute)
		require.NoError(t, err)
		assert.False(t, ok)
	})
}

// An increment sent again with its id (go-redis sends a call again when the
// reply was lost) counts once; another increment counts.
func TestProgressIncrementSentAgainCountsOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "p", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		gen := claimOne(t, s, "p").Gen
		for _, id := range []string{"8000000000000001", "8000000000000001", "8000000000000002"} {
			_, applied, err := s.ProgressWithID(ctx, "p", gen, store.ProgressIncrement, "5", id)
			require.NoError(t, err)
			assert.True(t, applied)
		}
		state, _, err := s.ProgressWithID(ctx, "p", gen, store.ProgressRead, "", "8000000000000003")
		require.NoError(t, err)
		assert.EqualValues(t, 10, state.Current, "the second send of the first counted once")
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "p", Gen: gen, Kind: store.Completed}})
		require.NoError(t, err)
	})
}
