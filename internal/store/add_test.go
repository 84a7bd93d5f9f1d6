package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// One add call may name a key twice: the tasks enter the schedule together,
// at the end of the script, and the later one wins as a Replace would.
func TestAddOfAKeyTwiceInOneCall(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		res, err := s.Add(ctx, store.ModeReplace, []store.NewTask{
			{Key: "k", Name: "t", Input: []byte(`{"n":1}`), When: store.When{After: time.Hour}},
			{Key: "k", Name: "t", Input: []byte(`{"n":2}`)},
		})
		require.NoError(t, err)
		assert.Equal(t, store.Added, res[0].Code)
		assert.Equal(t, store.Superseded, res[1].Code)
		counts, err := s.Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), counts.Queued+counts.Scheduled, "one entry in the schedule")
		assert.Equal(t, int64(1), counts.Queued, "due now, as the second says")
		rec, _, err := s.Info(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, `{"n":2}`, string(rec.Input))
		assert.Equal(t, res[1].Due, rec.Due)

		res, err = s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "j", Name: "t", Input: []byte(`{"n":1}`)},
			{Key: "j", Name: "t", Input: []byte(`{"n":2}`), When: store.When{After: time.Hour}},
		})
		require.NoError(t, err)
		assert.Equal(t, []store.AddCode{store.Added, store.Existed}, []store.AddCode{res[0].Code, res[1].Code})
		rec, _, err = s.Info(ctx, "j")
		require.NoError(t, err)
		assert.Equal(t, `{"n":1}`, string(rec.Input), "Add keeps the first")
		cancel(t, s, "k", "j")
	})
}

// A task that cannot be written (its key holds something else) fails the
// add with an error naming it, and the tasks written before it in the same
// call are scheduled: none is left outside the schedule.
func TestAddStopsAtAKeyItCannotWrite(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		squatted := "docket:{" + name + "}:task:b"
		require.NoError(t, rdb.Set(ctx, squatted, "not a task", 0).Err())

		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{}`)},
			{Key: "b", Name: "t", Input: []byte(`{}`)},
			{Key: "c", Name: "t", Input: []byte(`{}`)},
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "task b")
		counts, err := s.Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), counts.Queued, "a was written, so it is scheduled; c was not reached")
		_, ok, err := s.Info(ctx, "c")
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, rdb.Del(ctx, squatted).Err())
		ok, err = s.Cancel(ctx, "a", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// One Add of tasks of several names, due times and trace contexts, as the
// store sends them in groups (see add.lua): each task gets its own code
// and due time (a strike's description for one refused), its record its
// own name, input and trace, and those due at once wait in the order given.
func TestAnAddOfMixedTasksReportsEachOne(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		first, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "old", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)
		_, err = s.Strike(ctx, store.StrikeSpec{Task: "t", Field: "n", Op: "==", Value: json.RawMessage(`13`)})
		require.NoError(t, err)

		at := time.Now().Add(2 * time.Hour).Truncate(time.Microsecond)
		tasks := []store.NewTask{
			{Key: "a", Name: "t", Input: []byte(`{"n":1}`)},
			{Key: "b", Name: "t", Input: []byte(`{"n":2}`)},
			{Key: "c", Name: "u", Input: []byte(`{"n":3}`)},
			{Key: "d", Name: "t", Input: []byte(`{"n":4}`), When: store.When{At: at}},
			{Key: "e", Name: "t", Input: []byte(`{"n":5}`), When: store.When{At: at}, Trace: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
			{Key: "old", Name: "t", Input: []byte(`{"n":6}`)},
			{Key: "struck", Name: "t", Input: []byte(`{"n":13}`)},
			{Key: "f", Name: "t", Input: []byte(`{"n":7}`)},
		}
		res, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		require.Len(t, res, len(tasks))
		now := res[0].Due
		assert.False(t, now.IsZero())
		want := []store.AddResult{
			{Code: store.Added, Due: now}, {Code: store.Added, Due: now}, {Code: store.Added, Due: now},
			{Code: store.Added, Due: at}, {Code: store.Added, Due: at},
			{Code: store.Existed, Due: first[0].Due},
			{Code: store.Refused, Strike: res[6].Strike},
			{Code: store.Added, Due: now},
		}
		assert.Equal(t, want, res)
		assert.Contains(t, res[6].Strike, "13")
		assert.Equal(t, []string{"a", "b", "c", "f"}, readyList(t, s, name))
		for i, task := range tasks[:5] {
			f, err := rdb.HMGet(ctx, "docket:{"+name+"}:task:"+task.Key, "name", "input", "trace").Result()
			require.NoError(t, err)
			var trace any
			if task.Trace != "" {
				trace = task.Trace
			}
			assert.Equal(t, []any{task.Name, string(task.Input), trace}, f, "task %d", i)
		}
		for _, k := range []string{"a", "b", "c", "d", "e", "f", "old"} {
			ok, err := s.Cancel(ctx, k, time.Minute)
			require.NoError(t, err)
			assert.True(t, ok, k)
		}
		_, err = s.Restore(ctx, store.StrikeSpec{Task: "t", Field: "n", Op: "==", Value: json.RawMessage(`13`)})
		require.NoError(t, err)
	})
}

// A group whose count does not fit the values sent after it (which the
// store never sends) fails the call with an error, rather than looping or
// writing half a task.
func TestAnAddOfABadGroupFails(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		s, _ := openNamed(t, b)
		for _, count := range []string{"-1", "3", "x", "1.5"} {
			_, err := store.RunAdd(context.Background(), s, "add", count, "t", "+0", "", "k", `{}`)
			require.Error(t, err, count)
			assert.Contains(t, err.Error(), "add: a group of "+count+" tasks", count)
		}
		// A due time it cannot read fails the group before any of its tasks.
		_, err := store.RunAdd(context.Background(), s, "add", "1", "t", "+soon", "", "k", `{}`)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "task k: bad due time +soon")
		_, ok, err := s.Info(context.Background(), "k")
		require.NoError(t, err)
		assert.False(t, ok, "nothing written")
	})
}
