package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

func flowStore(t *testing.T) (*store.Store, *redis.Client, string) {
	t.Helper()
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	name := redistest.Name(t)
	s, err := store.New(rdb, name)
	require.NoError(t, err)
	return s, rdb, name
}

const ret = time.Hour

func add(t *testing.T, s *store.Store, mode store.Mode, key, task string) {
	t.Helper()
	_, err := s.Add(context.Background(), mode, []store.NewTask{{Key: key, Name: task, Input: []byte(`{}`)}})
	require.NoError(t, err)
}

// claimAll claims everything due and returns gen by key.
func claimAll(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	c, err := s.Claim(context.Background(), "w", 1000, time.Minute, ret, store.Rules{}, 5)
	require.NoError(t, err)
	out := map[string]string{}
	for _, m := range c.Messages {
		out[m.Key] = m.Gen
	}
	return out
}

func finish(t *testing.T, s *store.Store, o ...store.Outcome) {
	t.Helper()
	applied, err := s.Finish(context.Background(), ret, o)
	require.NoError(t, err)
	for i, a := range applied {
		require.True(t, a, "outcome %d applied", i)
	}
}

func state(t *testing.T, s *store.Store, key string) store.State {
	t.Helper()
	rec, _, err := s.Info(context.Background(), key)
	require.NoError(t, err)
	return rec.State
}

// A run that awaits the same child twice (Wait(ctx, f, f)) awaits it once:
// its end resumes the workflow.
func TestParkAwaitsAChildListedTwiceOnce(t *testing.T) {
	s, _, _ := flowStore(t)
	ctx := context.Background()
	add(t, s, store.ModeAdd, "wf", "wf")
	gens := claimAll(t, s)
	_, err := s.Start(ctx, "wf", gens["wf"], []store.Child{{Name: "c", Key: "wf/c", Task: "child", Input: []byte(`{}`)}})
	require.NoError(t, err)
	finish(t, s, store.Outcome{Key: "wf", Gen: gens["wf"], Kind: store.Parked,
		Input: store.Park{Kind: store.ParkChildren, Children: []string{"wf/c", "wf/c"}}.Encode()})
	require.Equal(t, store.StateParked, state(t, s, "wf"))
	gens = claimAll(t, s)
	finish(t, s, store.Outcome{Key: "wf/c", Gen: gens["wf/c"], Kind: store.Completed})
	assert.Equal(t, store.StateScheduled, state(t, s, "wf"), "the last awaited child ended: the workflow should be due")
}

// Replacing a live child (task.Replace with its key) keeps it its
// workflow's: the workflow parked for it is resumed when the replacement
// ends.
func TestReplacedChildStaysItsWorkflows(t *testing.T) {
	s, _, _ := flowStore(t)
	ctx := context.Background()
	add(t, s, store.ModeAdd, "wf", "wf")
	gens := claimAll(t, s)
	_, err := s.Start(ctx, "wf", gens["wf"], []store.Child{{Name: "c", Key: "wf/c", Task: "child", Input: []byte(`{}`)}})
	require.NoError(t, err)
	finish(t, s, store.Outcome{Key: "wf", Gen: gens["wf"], Kind: store.Parked,
		Input: store.Park{Kind: store.ParkChildren, Children: []string{"wf/c"}}.Encode()})
	add(t, s, store.ModeReplace, "wf/c", "child")
	gens = claimAll(t, s)
	finish(t, s, store.Outcome{Key: "wf/c", Gen: gens["wf/c"], Kind: store.Completed})
	rec, _, err := s.Info(ctx, "wf/c")
	require.NoError(t, err)
	assert.Equal(t, "wf", rec.Parent)
	assert.Equal(t, store.StateScheduled, state(t, s, "wf"), "its child ended: the workflow should be due")
}

// A workflow that failed leaves its children to the reaper. Added again (a
// new execution) before the reaper ran, its add cancels them first (up to
// a bound, see finish_reaping), while its flow still lists them: a child
// the new execution does not start again would have run on, orphaned (the
// old scripts left them all to run), and leaves the reaper nothing: its
// entry named the key, which the new execution's children will name too.
func TestAddCancelsAnEndedWorkflowsChildrenFirst(t *testing.T) {
	s, rdb, name := flowStore(t)
	ctx := context.Background()
	add(t, s, store.ModeAdd, "wf", "wf")
	gens := claimAll(t, s)
	var kids []store.Child
	for i := range 500 {
		k := fmt.Sprintf("a/%03d", i)
		kids = append(kids, store.Child{Name: k, Key: "wf/" + k, Task: "child", Input: []byte(`{}`)})
	}
	_, err := s.Start(ctx, "wf", gens["wf"], kids)
	require.NoError(t, err)
	finish(t, s, store.Outcome{Key: "wf", Gen: gens["wf"], Kind: store.Failed, Error: "boom", Reason: "error"})
	countKids := func(kids []store.Child, want store.State) int {
		n := 0
		for _, c := range kids {
			if state(t, s, c.Key) == want {
				n++
			}
		}
		return n
	}
	assert.Zero(t, countKids(kids, store.StateCancelled), "a worker's outcome cancels no child: the reaper does")
	_, err = rdb.HGet(ctx, "docket:{"+name+"}:reaping", "wf").Result()
	require.NoError(t, err, "the reaper has work")

	// The workflow is added again at once (a resubmission): the add
	// cancels the old execution's live children.
	add(t, s, store.ModeAdd, "wf", "wf")
	assert.Equal(t, len(kids), countKids(kids, store.StateCancelled), "the old execution's children, cancelled by the add")
	_, err = rdb.HGet(ctx, "docket:{"+name+"}:reaping", "wf").Result()
	require.ErrorIs(t, err, redis.Nil, "nothing left to the reaper")
	gens = claimAll(t, s)
	require.Equal(t, 1, len(gens), "only the workflow is due: none of the old children")
}

// A workflow that completes leaves its children be. Its key added again,
// the old child's end is not written into the new execution's flow, and a
// child the new execution starts under that name has no outcome yet.
func TestRestartedChildHasNoOutcome(t *testing.T) {
	s, _, _ := flowStore(t)
	ctx := context.Background()
	add(t, s, store.ModeAdd, "wf", "wf")
	gens := claimAll(t, s)
	_, err := s.Start(ctx, "wf", gens["wf"], []store.Child{{Name: "c", Key: "wf/c", Task: "child", Input: []byte(`{}`)}})
	require.NoError(t, err)
	finish(t, s, store.Outcome{Key: "wf", Gen: gens["wf"], Kind: store.Completed})
	add(t, s, store.ModeAdd, "wf", "wf")
	gens = claimAll(t, s)
	finish(t, s, store.Outcome{Key: "wf/c", Gen: gens["wf/c"], Kind: store.Completed, Result: []byte(`"old"`)})
	started, err := s.Start(ctx, "wf", gens["wf"], []store.Child{{Name: "c", Key: "wf/c", Task: "child", Input: []byte(`{}`)}})
	require.NoError(t, err)
	require.True(t, started[0].New)
	flow, err := s.ReadFlow(ctx, "wf")
	require.NoError(t, err)
	_, stale := flow[store.FlowEnded+"wf/c"]
	assert.False(t, stale, "a child just (re)started has not ended")
}

// Pending reads the lines of waiting tasks as the sorted sets they are.
func TestPendingReadsWaitingLines(t *testing.T) {
	s, rdb, name := flowStore(t)
	ctx := context.Background()
	require.NoError(t, rdb.SAdd(ctx, "docket:{"+name+"}:limits", "t:x::").Err())
	require.NoError(t, rdb.ZAdd(ctx, "docket:{"+name+"}:waiting:t:x::", redis.Z{Score: 1, Member: "k"}).Err())
	pending, _, _, err := s.Pending(ctx, nil)
	require.NoError(t, err)
	assert.True(t, pending, "a task waits in a line")
}

// Clear cancels parked workflows too, and their scheduled children, each
// in its batch: the scripts that end many tasks at once (Finish, Clear, a
// claim) leave a workflow's children to the reaper, so that their work
// stays bounded by their batch; only Cancel of one workflow cancels a page
// of its children at once (one HSCAN page).
func TestClearCancelsParkedWorkflowsAndTheirChildren(t *testing.T) {
	s, _, _ := flowStore(t)
	ctx := context.Background()
	kids := parkedWithChildren(t, s, 500)
	n, err := s.Clear(ctx, ret)
	require.NoError(t, err)
	assert.Equal(t, 501, n, "the workflow and its 500 scheduled children")
	cancelled := 0
	for _, c := range kids {
		if state(t, s, c.Key) == store.StateCancelled {
			cancelled++
		}
	}
	assert.Equal(t, 500, cancelled)
}

// A signal sent again with its id (go-redis sends a call again when the
// reply was lost) is delivered once, and reported delivered even after
// its workflow has ended; the latest 64 ids are known, earlier ones no
// longer.
func TestSignalSentAgainIsDeliveredOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "wf", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)
		signal := func(id string) bool {
			t.Helper()
			ok, err := s.SignalWithID(ctx, "wf", "go", []byte(`1`), id)
			require.NoError(t, err)
			return ok
		}
		queued := func() int {
			t.Helper()
			flow, err := s.ReadFlow(ctx, "wf")
			require.NoError(t, err)
			var q []json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(flow[store.FlowQueued+"go"]), &q))
			return len(q)
		}
		id := func(i int) string { return fmt.Sprintf("8%015x", i) } // as long as Signal's ids
		first := id(0)
		assert.True(t, signal(first))
		assert.True(t, signal(first))
		assert.Equal(t, 1, queued())
		for i := range 64 {
			assert.True(t, signal(id(i+1)))
		}
		assert.Equal(t, 65, queued())
		assert.True(t, signal(id(64)), "the latest is known")
		assert.Equal(t, 65, queued())
		assert.True(t, signal(first), "forgotten after 64 others: a new signal")
		assert.Equal(t, 66, queued())

		last := id(99)
		assert.True(t, signal(last))
		_, err = s.Cancel(ctx, "wf", time.Minute)
		require.NoError(t, err)
		assert.True(t, signal(last), "delivered before the workflow ended")
		assert.False(t, signal(id(100)), "a new signal finds no live workflow")
	})
}

// A flow key another program wrote with another type stays that
// workflow's problem: cancelling it, the reaper, the end of a child that
// names it as its parent, and its Info go on. The reaper failed on it at
// every call, and with it every Cancel of any task after it; the child's
// end failed the finish of every outcome reported with it.
// garbleFlow overwrites the flow of the task key (marked as having one) with
// a string, as another program might.
func garbleFlow(t *testing.T, s *store.Store, name, key string) {
	t.Helper()
	ctx, prefix := context.Background(), "docket:{"+name+"}:"
	require.NoError(t, s.Client().HSet(ctx, prefix+"task:"+key, "wf", "1").Err())
	require.NoError(t, s.Client().Set(ctx, prefix+"flow:"+key, "not a hash", 0).Err())
}

func TestGarbledFlowStaysItsWorkflows(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "wf", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}},
			{Key: "other", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}},
			{Key: "child", Name: "t", Input: []byte(`{}`)},
		})
		require.NoError(t, err)
		ok, err := s.Signal(ctx, "wf", "go", []byte(`1`)) // it has a flow
		require.NoError(t, err)
		require.True(t, ok)
		garbleFlow(t, s, name, "wf")
		require.NoError(t, s.Client().HSet(ctx, "docket:{"+name+"}:task:child", "parent", "wf", "child", "c").Err())

		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: "child", Gen: claimOne(t, s, "child").Gen, Kind: store.Completed}})
		require.NoError(t, err, "a child's end")
		assert.Equal(t, []bool{true}, applied)

		ok, err = s.Cancel(ctx, "wf", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, s.Reap(ctx, time.Minute), "the reaper")
		ok, err = s.Cancel(ctx, "other", time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, s.Reap(ctx, time.Minute), "the reaper, after another cancel")

		_, err = s.ReadFlow(ctx, "wf")
		assert.ErrorIs(t, err, store.ErrWrongType)
		ok, err = s.Signal(ctx, "wf", "go", []byte(`2`))
		require.NoError(t, err, "a signal to the ended workflow finds it ended (it raised WRONGTYPE)")
		assert.False(t, ok)
	})
}

// Retry goes on past a flow key of another type: a failed child's parent's
// (it raised WRONGTYPE), and the retried workflow's own (it raised after
// the retry had taken effect), which is left to its TTL.
func TestRetryPastAGarbledFlow(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		prefix := "docket:{" + name + "}:"
		fail := func(key string) {
			t.Helper()
			_, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: key, Gen: claimOne(t, s, key).Gen, Kind: store.Failed, Error: "boom", Reason: "error"}})
			require.NoError(t, err)
		}
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "parent", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}},
			{Key: "child", Name: "t", Input: []byte(`{}`)},
		})
		require.NoError(t, err)
		_, err = s.Signal(ctx, "parent", "go", []byte(`1`))
		require.NoError(t, err)
		garbleFlow(t, s, name, "parent")
		require.NoError(t, rdb.HSet(ctx, prefix+"task:child", "parent", "parent", "child", "c").Err())
		fail("child")
		code, _, _, err := s.Retry(ctx, "child")
		require.NoError(t, err, "a child whose parent's flow is garbled")
		assert.Equal(t, store.ActionDone, code)
		fail("child")

		_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "own", Name: "t", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		garbleFlow(t, s, name, "own")
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "own", Gen: c.Messages[0].Gen, Kind: store.Failed, Error: "boom", Reason: "error"}})
		require.NoError(t, err)
		code, _, _, err = s.Retry(ctx, "own")
		require.NoError(t, err, "a workflow whose own flow is garbled")
		assert.Equal(t, store.ActionDone, code)
		ttl, err := rdb.PTTL(ctx, prefix+"flow:own").Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, "left to its TTL")
		fail("own")
		_, err = s.Cancel(ctx, "parent", time.Minute)
		require.NoError(t, err)
	})
}

// A child started again under the key of one that failed (its workflow
// retried) leaves the failed list: it is a new execution.
func TestRestartedChildLeavesTheFailedList(t *testing.T) {
	s, _, _ := flowStore(t)
	ctx := context.Background()
	child := []store.Child{{Name: "c", Key: "wf/c", Task: "child", Input: []byte(`{}`)}}
	add(t, s, store.ModeAdd, "wf", "wf")
	wf := claimAll(t, s)["wf"]
	_, err := s.Start(ctx, "wf", wf, child)
	require.NoError(t, err)
	finish(t, s, store.Outcome{Key: "wf/c", Gen: claimAll(t, s)["wf/c"], Kind: store.Failed, Error: "boom", Reason: "error"})
	finish(t, s, store.Outcome{Key: "wf", Gen: wf, Kind: store.Failed, Error: "its child failed", Reason: "error"})
	failed, err := s.Page(ctx, store.PageQuery{List: store.ListFailed})
	require.NoError(t, err)
	assert.Len(t, failed.Tasks, 2)

	code, _, _, err := s.Retry(ctx, "wf") // forgets the child that failed
	require.NoError(t, err)
	require.Equal(t, store.ActionDone, code)
	wf = claimAll(t, s)["wf"]
	started, err := s.Start(ctx, "wf", wf, child)
	require.NoError(t, err)
	require.True(t, started[0].New, "started again under its key")
	failed, err = s.Page(ctx, store.PageQuery{List: store.ListFailed})
	require.NoError(t, err)
	assert.Empty(t, failed.Tasks)
	assert.Equal(t, 0, failed.Total, "off the list, not only filtered out")
}

// Cancel cancels a page of a workflow's live children in its own script,
// before anything else can run: an automatic chain's next run, seeded on
// the Cancel's event, then finds them ended (were they left to the
// reaper, the next run could take the key first). The rest, past the
// first page, are the reaper's.
func TestCancelCancelsAPageOfChildrenAtOnce(t *testing.T) {
	s, rdb, name := flowStore(t)
	ctx := context.Background()
	kids := parkedWithChildren(t, s, 50)
	ok, err := s.Cancel(ctx, "wf", ret)
	require.NoError(t, err)
	require.True(t, ok)
	for _, c := range kids {
		assert.Equal(t, store.StateCancelled, state(t, s, c.Key), c.Key)
	}
	_, err = rdb.HGet(ctx, "docket:{"+name+"}:reaping", "wf").Result()
	assert.ErrorIs(t, err, redis.Nil, "nothing left to the reaper")
}

// parkedWithChildren adds the workflow "wf", starts n children of it
// ("wf/a/000" on), and parks it waiting for a signal.
func parkedWithChildren(t *testing.T, s *store.Store, n int) []store.Child {
	t.Helper()
	add(t, s, store.ModeAdd, "wf", "wf")
	gens := claimAll(t, s)
	var kids []store.Child
	for i := range n {
		k := fmt.Sprintf("a/%03d", i)
		kids = append(kids, store.Child{Name: k, Key: "wf/" + k, Task: "child", Input: []byte(`{}`)})
	}
	_, err := s.Start(context.Background(), "wf", gens["wf"], kids)
	require.NoError(t, err)
	finish(t, s, store.Outcome{Key: "wf", Gen: gens["wf"], Kind: store.Parked,
		Input: store.Park{Kind: store.ParkSignal, Signal: "x", Wait: "x#1"}.Encode()})
	return kids
}
