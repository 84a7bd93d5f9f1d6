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

// The dashboard's reads cost O(page), not O(tasks): the overview, a deep
// page of the queue and a filtered page of the schedule run the same
// commands, none walking a whole key, whether the docket holds 2,000 or
// 8,000 tasks. MONITOR shows every command a script calls.
func TestDashboardWorkDoesNotGrowWithTasks(t *testing.T) {
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()

	costs := map[int]map[string]callCost{}
	for _, n := range []int{2_000, 8_000} {
		name := fmt.Sprintf("dash-%d-%s", n, redistest.Name(t))
		redistest.CheckLeaks(t, rdb, name)
		s, err := store.New(rdb, name)
		require.NoError(t, err)
		tasks := make([]store.NewTask, n)
		later := time.Now().Add(time.Hour).Truncate(time.Second)
		for i := range tasks {
			when := store.When{At: later.Add(time.Duration(i) * time.Microsecond)}
			if i%2 == 0 {
				when = store.When{At: time.Unix(1_000_000+int64(i), 0)} // past: due now
			}
			tasks[i] = store.NewTask{Key: key(i), Name: fmt.Sprintf("task-%d", i%3), Input: []byte(`{}`), When: when}
		}
		_, err = s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(t, err)
		require.NoError(t, s.Stats(ctx, time.Now(), map[string]int64{"completed": 5}))
		mon := startMonitor(t, srv.Addr)
		costs[n] = map[string]callCost{}
		measure := func(phase string, batch int, fn func()) {
			t.Helper()
			calls := mon.record(t, rdb, fn)
			require.Len(t, calls, 1, phase)
			cost := calls[0].cost(name, batch)
			assert.Empty(t, cost.walks, "%s of %d tasks: commands that walk a whole key", phase, n)
			costs[n][phase] = cost
		}
		measure("overview", 100, func() {
			o, err := s.Overview(ctx, 100, 60, time.Minute)
			require.NoError(t, err)
			assert.Equal(t, int64(n/2), o.Counts.Queued)
			assert.Equal(t, [4]int{0, 100, 100, 0}, o.Sampled)
		})
		measure("deep page", 200, func() {
			p, err := s.Page(ctx, store.PageQuery{List: store.ListQueued, Offset: 900, Size: 20})
			require.NoError(t, err)
			require.Len(t, p.Tasks, 20)
			for _, task := range p.Tasks {
				assert.Contains(t, "02468", task.Key[len(task.Key)-1:], "%s is queued", task.Key)
			}
		})
		measure("filtered page", 200, func() {
			p, err := s.Page(ctx, store.PageQuery{List: store.ListScheduled, Size: 50, Budget: 300, Name: "task-1", Prefix: "k0"})
			require.NoError(t, err)
			require.Len(t, p.Tasks, 50)
			assert.Equal(t, 148, p.Next, "one in three matches: the 50th is the 148th entry")
		})
		measure("fruitless search", 200, func() {
			p, err := s.Page(ctx, store.PageQuery{List: store.ListScheduled, Size: 50, Budget: 300, Prefix: "nothing"})
			require.NoError(t, err)
			assert.Empty(t, p.Tasks)
			assert.Equal(t, 300, p.Next, "the budget is spent looking, and no more")
			assert.True(t, p.More)
		})
		_, err = s.Clear(ctx, time.Minute)
		require.NoError(t, err)
	}
	t.Logf("costs: %+v", costs)
	for _, phase := range []string{"overview", "deep page", "filtered page", "fruitless search"} {
		assert.Equal(t, costs[2_000][phase], costs[8_000][phase], "%s: the same work for four times as many tasks", phase)
	}
}
