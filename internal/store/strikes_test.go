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

// Strikes lists every strike as it was struck, on every backend: its value
// as written (a real Redis's cjson would write 1.50 as 1.5, and a large
// integer with 14 digits), and when it was struck to the microsecond
// (cjson writes the instant as 1.7960333722501e+15, which an int64 cannot
// read: such a strike was not listed at all). The listed strike restores
// as struck.
func TestStrikesAreListedAsStruck(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		before, err := s.Now(ctx)
		require.NoError(t, err)
		values := []string{`1.50`, `12345678901234567`, `"a/b é"`, `true`}
		for _, v := range values {
			ok, err := s.Strike(ctx, store.StrikeSpec{Task: "sync", Field: "f", Op: "==", Value: json.RawMessage(v)})
			require.NoError(t, err)
			require.True(t, ok)
		}
		whole := store.StrikeSpec{Task: "bill", Value: json.RawMessage(`null`)}
		_, err = s.Strike(ctx, whole)
		require.NoError(t, err)
		after, err := s.Now(ctx)
		require.NoError(t, err)

		listed, err := s.Strikes(ctx)
		require.NoError(t, err)
		require.Len(t, listed, len(values)+1)
		var got []string
		for _, spec := range listed {
			at := spec.StrikeTime()
			assert.False(t, at.Before(before.Truncate(time.Microsecond)) || at.After(after), "struck at %v, between %v and %v", at, before, after)
			if spec.Field != "" {
				got = append(got, string(spec.Value))
			}
		}
		assert.ElementsMatch(t, values, got, "values as written")
		for _, spec := range listed {
			ok, err := s.Restore(ctx, spec)
			require.NoError(t, err)
			assert.True(t, ok, "restores %s", spec.Value)
		}
		listed, err = s.Strikes(ctx)
		require.NoError(t, err)
		assert.Empty(t, listed)
	})
}

// A strike stored before its instant was written as an integer (a real
// Redis wrote 1.7960333722501e+15) is listed all the same.
func TestStrikeWithAFloatInstantIsListed(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		spec := store.StrikeSpec{Task: "sync", Field: "n", Op: "<", Value: json.RawMessage(`2`)}
		err := s.Client().HSet(ctx, "docket:{"+name+"}:strikes", spec.ID(),
			`{"at":1.7960333722501e+15,"v":2,"t":"sync","o":"<","f":"n"}`).Err()
		require.NoError(t, err)
		listed, err := s.Strikes(ctx)
		require.NoError(t, err)
		require.Len(t, listed, 1)
		assert.Equal(t, time.UnixMicro(1796033372250100), listed[0].StrikeTime())
		ok, err := s.Restore(ctx, listed[0])
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// The tasks a strike holds are a list a page at a time, longest held first,
// and the overview counts them.
func TestHeldTasksArePagedAndCounted(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		var tasks []store.NewTask
		for i := range 5 {
			tasks = append(tasks, store.NewTask{Key: fmt.Sprintf("sync-%d", i), Name: "sync", Input: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		spec := store.StrikeSpec{Task: "sync", Field: "n", Op: ">=", Value: json.RawMessage(`0`)}
		_, err = s.Strike(ctx, spec)
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w1", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Empty(t, c.Messages, "every task is held")

		o, err := s.Overview(ctx, 10, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Struck: 5}, o.Counts)
		assert.Equal(t, 1, o.Strikes)
		p, err := s.Page(ctx, store.PageQuery{List: store.ListStruck, Size: 2})
		require.NoError(t, err)
		assert.Equal(t, 5, p.Total)
		assert.Equal(t, []string{"sync-0", "sync-1"}, keysOf(p))
		assert.True(t, p.More)
		assert.Equal(t, store.StateStruck, p.Tasks[0].State)
		assert.Equal(t, "held: struck (sync with n >= 0)", p.Tasks[0].Error)
		assert.False(t, time.UnixMicro(p.Tasks[0].Score).After(p.Now), "the score is when it was held")
		p, err = s.Page(ctx, store.PageQuery{List: store.ListStruck, Size: 2, Offset: 4})
		require.NoError(t, err)
		assert.Equal(t, []string{"sync-4"}, keysOf(p))
		assert.False(t, p.More)
		p, err = s.Page(ctx, store.PageQuery{List: store.ListStruck, Size: 5, Budget: 5, Name: "sync", Prefix: "sync-3"})
		require.NoError(t, err)
		assert.Equal(t, []string{"sync-3"}, keysOf(p))

		ok, err := s.Restore(ctx, spec)
		require.NoError(t, err)
		require.True(t, ok)
		o, err = s.Overview(ctx, 10, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Queued: 5}, o.Counts)
		assert.Zero(t, o.Strikes)
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
	})
}
