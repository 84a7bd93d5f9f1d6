package store_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// No script call's work grows with the length of a waiting line: a Snapshot
// listing 10 tasks, the Cancel of one waiting task and the Finish that
// hands the freed slot to the first in line run the same commands whether
// 2,000 or 8,000 tasks wait, and each call of a Clear (a task running
// holds the slot) handles at most its batch. None of them runs a command that walks a whole line (LREM, an
// open-ended LRANGE, SMEMBERS of a limit). Redis's MONITOR shows every
// command a script calls, with its arguments; commands are counted, not
// timed.
func TestScriptWorkDoesNotGrowWithAWaitingLine(t *testing.T) {
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Max: 1}}}})
	ctx := context.Background()

	costs := map[int]map[string]callCost{}
	for _, n := range []int{2_000, 8_000} {
		name := fmt.Sprintf("line-%d-%s", n, redistest.Name(t))
		redistest.CheckLeaks(t, rdb, name)
		s, err := store.New(rdb, name)
		require.NoError(t, err)
		holder := fillLine(t, s, n, rules)
		mon := startMonitor(t, srv.Addr)
		costs[n] = map[string]callCost{}
		measure := func(phase string, batch int, fn func()) {
			t.Helper()
			calls := mon.record(t, rdb, fn)
			require.NotEmpty(t, calls, phase)
			var most callCost
			for _, c := range calls {
				cost := c.cost(name, batch)
				assert.Empty(t, cost.walks, "%s of a line of %d: commands that walk a whole key", phase, n)
				most.commands = max(most.commands, cost.commands)
				most.tasks = max(most.tasks, cost.tasks)
			}
			costs[n][phase] = most
		}

		var snap store.Snapshot
		measure("snapshot", 10, func() {
			snap, err = s.Snapshot(ctx, 10)
			require.NoError(t, err)
		})
		require.Len(t, snap.Limits, 1)
		assert.Equal(t, n-1, snap.TotalWaiting, "the totals stay exact")
		assert.Equal(t, n-1, snap.Limits[0].TotalWaiters)
		assert.Equal(t, 1, snap.Limits[0].TotalHolders)
		assert.Equal(t, []string{key(1), key(2), key(3), key(4), key(5), key(6), key(7), key(8), key(9), key(10)},
			snap.Limits[0].Waiters, "the first 10 in line, in order")

		measure("cancel", 1, func() {
			ok, err := s.Cancel(ctx, key(n-1), time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
		})
		rec, _, err := s.Info(ctx, key(n-1))
		require.NoError(t, err)
		assert.Equal(t, store.StateCancelled, rec.State)

		measure("finish", 1, func() {
			applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: holder.Key, Gen: holder.Gen, Kind: store.Completed}})
			require.NoError(t, err)
			require.Equal(t, []bool{true}, applied)
		})
		c, err := s.Claim(ctx, "w", 1, time.Hour, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		require.Equal(t, key(1), c.Messages[0].Key, "the first in line got the slot")

		measure("clear", store.MaxBatch, func() {
			cleared, err := s.Clear(ctx, time.Minute)
			require.NoError(t, err)
			assert.Equal(t, n-3, cleared, "all but the finished, the cancelled and the running task")
		})
		counts, err := s.Count(ctx)
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Running: 1}, counts)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: key(1), Gen: c.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
	}

	t.Logf("costs: %+v", costs)
	for _, phase := range []string{"snapshot", "cancel", "finish"} {
		assert.Equal(t, costs[2_000][phase], costs[8_000][phase], "%s: the same work for a line four times as long", phase)
	}
	for _, n := range []int{2_000, 8_000} {
		clear := costs[n]["clear"]
		assert.LessOrEqual(t, clear.tasks, store.MaxBatch+1, "a clear call touches its batch (and the next in line)")
		assert.LessOrEqual(t, clear.commands, 25*store.MaxBatch, "a clear call runs a bounded number of commands per task")
	}
}

// A line holds only tasks that wait: every script takes a task out of its
// line when it stops waiting. Should something else leave entries of tasks
// that do not wait (their records changed or deleted behind the scripts'
// back), the call that frees a slot drops at most 101 of them looking for
// the next in line, however many there are; a Clear drops the rest.
func TestPromoteDropsABoundedNumberOfStaleWaiters(t *testing.T) {
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Max: 1}}}})
	ctx := context.Background()

	for _, stale := range []int{20, 1_000} {
		name := fmt.Sprintf("stale-%d-%s", stale, redistest.Name(t))
		redistest.CheckLeaks(t, rdb, name)
		s, err := store.New(rdb, name)
		require.NoError(t, err)
		holder := fillLine(t, s, 10, rules)
		line := "docket:{" + name + "}:waiting:t:t::" // see keys.go
		for i := range stale {                        // ahead of everyone in line
			require.NoError(t, rdb.ZAdd(ctx, line, redis.Z{Score: float64(-stale + i), Member: fmt.Sprintf("gone-%d", i)}).Err())
		}

		mon := startMonitor(t, srv.Addr)
		calls := mon.record(t, rdb, func() {
			_, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: holder.Key, Gen: holder.Gen, Kind: store.Completed}})
			require.NoError(t, err)
		})
		require.Len(t, calls, 1)
		cost := calls[0].cost(name, 1)
		assert.LessOrEqual(t, cost.commands, 2*101+20, "%d stale entries ahead", stale)
		left, err := rdb.ZCard(ctx, line).Result()
		require.NoError(t, err)
		rec, _, err := s.Info(ctx, key(1))
		require.NoError(t, err)
		if stale <= 100 {
			assert.Equal(t, int64(8), left, "the stale entries dropped, the first in line promoted")
			assert.Equal(t, store.StateScheduled, rec.State)
		} else {
			assert.Equal(t, int64(stale+9-101), left, "101 stale entries dropped")
			assert.Equal(t, store.StateWaiting, rec.State)
		}

		cleared, err := s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 9, cleared, "the live ones cancelled, the stale ones dropped")
	}
}

func key(i int) string { return fmt.Sprintf("k%05d", i) }

// fillLine adds n tasks that share a limit of one slot and claims them all:
// the first holds the slot (running, returned), the others wait in line in
// key order.
func fillLine(t *testing.T, s *store.Store, n int, rules store.Rules) store.Message {
	t.Helper()
	ctx := context.Background()
	tasks := make([]store.NewTask, n)
	for i := range tasks {
		tasks[i] = store.NewTask{Key: key(i), Name: "t", Input: []byte(`{}`)}
	}
	for start := 0; start < n; start += store.MaxBatch { // one chunk after another: in key order
		_, err := s.Add(ctx, store.ModeAdd, tasks[start:min(start+store.MaxBatch, n)])
		require.NoError(t, err)
	}
	var holder store.Message
	for {
		c, err := s.Claim(ctx, "w", store.MaxBatch, time.Hour, time.Minute, rules, 5)
		require.NoError(t, err)
		if len(c.Messages) > 0 {
			require.Len(t, c.Messages, 1)
			holder = c.Messages[0]
		}
		counts, err := s.Count(ctx)
		require.NoError(t, err)
		if counts.Queued == 0 {
			require.Equal(t, store.Counts{Running: 1, Waiting: int64(n - 1)}, counts)
			require.Equal(t, key(0), holder.Key)
			return holder
		}
	}
}

// scriptCall is one script call as MONITOR showed it: the commands the
// script called, each with its arguments.
type scriptCall struct{ commands [][]string }

// callCost is what one script call did: how many commands it ran, how many
// distinct tasks' records it touched, and which of its commands walk a
// whole key.
type callCost struct {
	commands, tasks int
	walks           []string
}

// cost judges a call of a docket's script whose batch is batch: a range it
// reads may not be longer than that, nor open-ended. The workers sorted set
// and the registry of limits are exempt: they grow with the fleet and the
// number of limits, not with any line of tasks.
func (c scriptCall) cost(docket string, batch int) callCost {
	prefix := "docket:{" + docket + "}:"
	exempt := map[string]bool{prefix + "workers": true, prefix + "limits": true}
	tasks := map[string]bool{}
	var out callCost
	walk := func(cmd []string) { out.walks = append(out.walks, strings.Join(cmd, " ")) }
	for _, cmd := range c.commands {
		out.commands++
		for _, arg := range cmd[1:] {
			if strings.HasPrefix(arg, prefix+"task:") {
				tasks[arg] = true
			}
		}
		if len(cmd) < 2 || exempt[cmd[1]] {
			continue
		}
		switch strings.ToUpper(cmd[0]) {
		case "LREM", "LPOS", "LINSERT", "SMEMBERS", "SINTER", "SUNION", "SDIFF", "ZRANGESTORE":
			walk(cmd)
		case "LRANGE", "ZRANGE", "ZREVRANGE":
			if rangeLength(cmd) > batch {
				walk(cmd)
			}
		case "ZRANGEBYSCORE", "ZREVRANGEBYSCORE":
			if limitCount(cmd) < 0 || limitCount(cmd) > batch {
				walk(cmd)
			}
		}
	}
	out.tasks = len(tasks)
	return out
}

// rangeLength is how many elements a range by rank reads at most; a large
// number for an open end (0 -1) or a range by score without a LIMIT.
func rangeLength(cmd []string) int {
	const open = 1 << 30
	for _, a := range cmd[4:] {
		if strings.EqualFold(a, "BYSCORE") || strings.EqualFold(a, "BYLEX") {
			if n := limitCount(cmd); n >= 0 {
				return n
			}
			return open
		}
	}
	start, err1 := strconv.Atoi(cmd[2])
	stop, err2 := strconv.Atoi(cmd[3])
	switch {
	case err1 != nil || err2 != nil:
		return open
	case start < 0 && stop < 0 || start >= 0 && stop >= 0:
		return max(stop-start+1, 0)
	}
	return open // from the head to a rank counted from the tail: the whole key
}

// limitCount is the count of a command's LIMIT offset count, or -1.
func limitCount(cmd []string) int {
	for i, a := range cmd {
		if strings.EqualFold(a, "LIMIT") && i+2 < len(cmd) {
			if n, err := strconv.Atoi(cmd[i+2]); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

// monitor reads a redis-server's MONITOR stream.
type monitor struct {
	mu    sync.Mutex
	lines []string
	seen  chan struct{} // signalled at each line
}

func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = conn.Write([]byte("MONITOR\r\n"))
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	ok, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "+OK\r\n", ok)
	m := &monitor{seen: make(chan struct{}, 1)}
	go func() {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			m.mu.Lock()
			m.lines = append(m.lines, strings.TrimSuffix(line, "\r\n"))
			m.mu.Unlock()
			select {
			case m.seen <- struct{}{}:
			default:
			}
		}
	}()
	return m
}

// record runs fn and returns the script calls it made, as MONITOR showed
// them. An ECHO sent after fn marks the end: everything before it was
// shown first.
func (m *monitor) record(t *testing.T, rdb *redis.Client, fn func()) []scriptCall {
	t.Helper()
	m.mu.Lock()
	m.lines = nil
	m.mu.Unlock()
	fn()
	marker := "end-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	require.NoError(t, rdb.Echo(context.Background(), marker).Err())
	deadline := time.After(time.Minute)
	for {
		m.mu.Lock()
		lines := m.lines
		m.mu.Unlock()
		if len(lines) > 0 && strings.Contains(lines[len(lines)-1], `"`+marker+`"`) {
			return parseMonitor(t, lines[:len(lines)-1])
		}
		select {
		case <-m.seen:
		case <-deadline:
			require.FailNow(t, "MONITOR did not show the end marker within a minute")
		}
	}
}

// parseMonitor groups MONITOR lines into script calls: a client's EVAL or
// EVALSHA, then the commands its script called (shown as from "lua").
func parseMonitor(t *testing.T, lines []string) []scriptCall {
	t.Helper()
	var calls []scriptCall
	for _, line := range lines {
		_, rest, ok := strings.Cut(line, " [")
		require.True(t, ok, line)
		client, args, ok := strings.Cut(rest, "] ")
		require.True(t, ok, line)
		cmd := monitorArgs(t, args)
		switch {
		case strings.HasSuffix(client, " lua"):
			require.NotEmpty(t, calls, "a script's command before any script call: %s", line)
			calls[len(calls)-1].commands = append(calls[len(calls)-1].commands, cmd)
		case strings.HasPrefix(strings.ToUpper(cmd[0]), "EVAL"):
			calls = append(calls, scriptCall{})
		}
	}
	// A script called for the first time shows as an EVALSHA that fails
	// (not loaded yet) and the EVAL that runs it.
	var ran []scriptCall
	for _, c := range calls {
		if len(c.commands) > 0 {
			ran = append(ran, c)
		}
	}
	return ran
}

// monitorArgs splits a MONITOR line's quoted arguments.
func monitorArgs(t *testing.T, s string) []string {
	t.Helper()
	var args []string
	for s != "" {
		s = strings.TrimLeft(s, " ")
		require.True(t, strings.HasPrefix(s, `"`), "an unquoted argument: %s", s)
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] != '\\' || i+1 >= len(s) {
				b.WriteByte(s[i])
				continue
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'x':
				if i+2 < len(s) {
					v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
					require.NoError(t, err)
					b.WriteByte(byte(v))
					i += 2
				}
			default:
				b.WriteByte(s[i])
			}
		}
		args = append(args, b.String())
		s = s[min(i+1, len(s)):]
	}
	require.NotEmpty(t, args)
	return args
}

// Clear walks the lines of many limits with a cursor, a thousand tasks per
// call, and cancels every waiting task; Snapshot lists at most its limit of
// holders and waiters of each limit, and counts them all.
//
// A real Redis only: the embedded one runs a clear call of a thousand tasks
// so slowly (under -race) that it can outlast the client's read timeout,
// and go-redis then runs it again.
func TestClearAndSnapshotOfManyLimits(t *testing.T) {
	ctx := context.Background()
	s := open(t, redistest.Redis(t))
	const limits, each = 300, 5 // each limit: one holder, four waiters
	rules := store.NewRules(map[string]store.Rule{
		"t": {Limits: []store.Limit{{Arg: "c", Max: 1}}},
		"u": {Limits: []store.Limit{{Max: 20}}},
	})
	var tasks []store.NewTask
	for i := range limits * each {
		tasks = append(tasks, store.NewTask{Key: key(i), Name: "t", Input: fmt.Appendf(nil, `{"c":%d}`, i%limits)})
	}
	_, err := s.Add(ctx, store.ModeAdd, tasks)
	require.NoError(t, err)
	tasks = tasks[:0]
	for i := range 25 { // 20 hold the slots of limit u, 5 wait, in key order
		tasks = append(tasks, store.NewTask{Key: fmt.Sprintf("u%02d", i), Name: "u", Input: []byte(`{}`)})
	}
	_, err = s.Add(ctx, store.ModeAdd, tasks)
	require.NoError(t, err)
	var running []store.Message
	for {
		c, err := s.Claim(ctx, "w", store.MaxBatch, time.Hour, time.Minute, rules, 5)
		require.NoError(t, err)
		running = append(running, c.Messages...)
		counts, err := s.Count(ctx)
		require.NoError(t, err)
		if counts.Queued == 0 {
			require.Equal(t, store.Counts{Running: limits + 20, Waiting: limits*(each-1) + 5}, counts)
			break
		}
	}

	snap, err := s.Snapshot(ctx, 3)
	require.NoError(t, err)
	require.Len(t, snap.Limits, limits+1)
	assert.Equal(t, limits*(each-1)+5, snap.TotalWaiting)
	for _, l := range snap.Limits {
		if l.ID == "t:u::" {
			assert.Equal(t, 20, l.TotalHolders)
			assert.Equal(t, 5, l.TotalWaiters)
			assert.Len(t, l.Holders, 3, "at most the snapshot's limit")
			assert.Equal(t, []string{"u20", "u21", "u22"}, l.Waiters, "the first three in line")
			continue
		}
		assert.Equal(t, 1, l.TotalHolders)
		assert.Equal(t, each-1, l.TotalWaiters)
		assert.Len(t, l.Holders, 1)
		assert.Len(t, l.Waiters, 3)
	}

	cleared, err := s.Clear(ctx, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, limits*(each-1)+5, cleared)
	counts, err := s.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.Counts{Running: limits + 20}, counts, "running tasks are left to finish")

	// The running tasks end; every slot and line is gone (the leak check).
	require.Len(t, running, limits+20)
	outcomes := make([]store.Outcome, len(running))
	for i, m := range running {
		outcomes[i] = store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Completed}
	}
	applied, err := s.Finish(ctx, time.Minute, outcomes)
	require.NoError(t, err)
	assert.NotContains(t, applied, false)
	counts, err = s.Count(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.Counts{}, counts, "no waiter was left to take a freed slot")
}
