package store_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/store"
)

// clockedStore is a docket's store on an embedded Redis whose clock reads
// now until the test moves it (m.SetTime).
func clockedStore(t *testing.T, name string, now time.Time) (*store.Store, *miniredis.Miniredis) {
	t.Helper()
	m := miniredis.NewMiniRedis()
	t.Cleanup(m.Close)
	m.SetTime(now)
	rdb := redis.NewClient(&redis.Options{
		Addr:                     "memory",
		Dialer:                   func(context.Context, string, string) (net.Conn, error) { return m.Dial() },
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := store.New(rdb, name)
	require.NoError(t, err)
	return s, m
}

// Every decision reads the Redis clock, whatever the caller's clock says:
// here Redis runs a year ahead of this process, and its clock alone decides
// what is due.
func TestRedisClockDecides(t *testing.T) {
	redisNow := time.Now().Add(365 * 24 * time.Hour).Truncate(time.Second)
	s, m := clockedStore(t, "clock", redisNow)
	ctx := context.Background()

	res, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "k", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Minute}}})
	require.NoError(t, err)
	assert.Equal(t, redisNow.Add(time.Minute), res[0].Due, "After counts from the Redis clock")

	c, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
	require.NoError(t, err)
	assert.Empty(t, c.Messages, "not due by the Redis clock, though long past by this process's")
	assert.Equal(t, time.Minute, c.Wait, "the wait is measured on the Redis clock")
	assert.Equal(t, redisNow, c.Now)

	m.SetTime(redisNow.Add(time.Minute))
	c, err = s.Claim(ctx, "w", 10, time.Minute, time.Minute, store.Rules{}, 5)
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)

	// The lease, too, runs on the Redis clock.
	m.SetTime(redisNow.Add(2*time.Minute - time.Millisecond))
	c2, err := s.Claim(ctx, "w2", 10, time.Minute, time.Minute, store.Rules{}, 5)
	require.NoError(t, err)
	assert.Empty(t, c2.Messages, "the lease has a millisecond left")
	m.SetTime(redisNow.Add(2 * time.Minute))
	c2, err = s.Claim(ctx, "w2", 10, time.Minute, time.Minute, store.Rules{}, 5)
	require.NoError(t, err)
	require.Len(t, c2.Messages, 1, "the lease lapsed: redelivered")
	assert.Equal(t, 2, c2.Messages[0].Deliveries)
	assert.NotEqual(t, c.Messages[0].Gen, c2.Messages[0].Gen)

	applied, err := s.Finish(ctx, time.Minute, []store.Outcome{
		{Key: "k", Gen: c.Messages[0].Gen, Kind: store.Completed},
		{Key: "k", Gen: c2.Messages[0].Gen, Kind: store.Completed},
	})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, applied, "the first worker's copy is stale")
}

func TestCheckLeaksFindsKeysWithoutTTL(t *testing.T) {
	rdb, closeFn := store.Embedded()
	defer closeFn()
	ctx := context.Background()
	s, err := store.New(rdb, "leaky")
	require.NoError(t, err)
	require.NoError(t, s.CheckLeaks(ctx), "an empty docket is clean")

	_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "live", Name: "t", Input: []byte(`{}`)}})
	require.NoError(t, err)
	require.NoError(t, s.CheckLeaks(ctx), "a live task needs its keys")

	require.NoError(t, rdb.Set(ctx, "docket:{leaky}:stray", "x", 0).Err())
	require.NoError(t, rdb.HSet(ctx, "docket:{leaky}:task:done", "state", "completed").Err())
	require.NoError(t, rdb.Expire(ctx, "docket:{leaky}:task:live", time.Hour).Err())
	require.NoError(t, rdb.Set(ctx, "docket:{other}:stray", "x", 0).Err())
	err = s.CheckLeaks(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "docket:{leaky}:stray: no TTL")
	assert.Contains(t, err.Error(), "docket:{leaky}:task:done: finished task's record has no TTL")
	assert.Contains(t, err.Error(), "docket:{leaky}:task:live: live task's record has a TTL")
	assert.NotContains(t, err.Error(), "other", "another docket's keys are not this one's")
}

// A drain's three keys agree, or the check says how they do not: a task
// waiting for a drain that is not on would never be scheduled.
func TestCheckLeaksFindsBrokenDrains(t *testing.T) {
	rdb, closeFn := store.Embedded()
	defer closeFn()
	ctx := context.Background()
	s, err := store.New(rdb, "drains")
	require.NoError(t, err)
	_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "next", Name: "t", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
	require.NoError(t, err)
	require.NoError(t, rdb.ZRem(ctx, "docket:{drains}:scheduled", "next").Err())
	_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "twice", Name: "t", Input: []byte(`{}`)}})
	require.NoError(t, err) // in the ready list, and (below) in line behind a drain too
	require.NoError(t, rdb.ZAdd(ctx, "docket:{drains}:deferred", redis.Z{Score: 1, Member: "twice"}).Err())
	require.NoError(t, rdb.ZAdd(ctx, "docket:{drains}:draining", redis.Z{Score: 1, Member: "twice"}).Err())
	require.NoError(t, rdb.HSet(ctx, "docket:{drains}:drains", "twice", "7\n").Err())
	require.NoError(t, rdb.ZAdd(ctx, "docket:{drains}:deferred", redis.Z{Score: 1, Member: "next"}).Err())
	require.NoError(t, rdb.ZAdd(ctx, "docket:{drains}:draining", redis.Z{Score: 1, Member: "orphan"}).Err())
	require.NoError(t, rdb.HSet(ctx, "docket:{drains}:drains", "stray", "7\n").Err())
	// a stale entry: a task cancelled, listed again behind the scripts' back
	_, err = s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "gone", Name: "t", Input: []byte(`{}`)}})
	require.NoError(t, err)
	_, err = s.Cancel(ctx, "gone", time.Minute)
	require.NoError(t, err)
	require.NoError(t, rdb.RPush(ctx, "docket:{drains}:ready", "gone").Err())
	err = s.CheckLeaks(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `docket:{drains}:deferred: "next" waits for a drain that is not on`)
	assert.Contains(t, err.Error(), `docket:{drains}:draining: "orphan" drains without an entry`)
	assert.Contains(t, err.Error(), `docket:{drains}:drains: an entry for "stray", whose key does not drain`)
	assert.Contains(t, err.Error(), `docket:{drains}:ready: "twice" is listed twice, or in the schedule or a drain's line too`)
	assert.Contains(t, err.Error(), `docket:{drains}:ready: "gone" is a task in state "cancelled", not a scheduled one`)
	assert.NotContains(t, err.Error(), `"twice" is a task in state`, "a record never claimed, with no state field, is scheduled")
}

func TestParseEvent(t *testing.T) {
	assert.Equal(t, store.Event{Wake: true}, store.ParseEvent("w"))
	assert.Equal(t, store.Event{Cancel: "a:b", Gen: "12"}, store.ParseEvent("c:12:a:b"))
	for _, junk := range []string{"", "x", "c:", "c:12", "c::k", "c:12:"} {
		assert.Equal(t, store.Event{}, store.ParseEvent(junk), junk)
	}
}

func TestDecodeClaimRejectsMalformedReplies(t *testing.T) {
	for _, reply := range [][]any{
		nil,
		{"1"},
		{"1", "2", int64(1), int64(0), "k"},
		{"x", "0", int64(0), int64(0)},
		{"1", "0", int64(-1), int64(0)},
		{"1", "0", int64(0), int64(1), "k", "n", "r", ""},
	} {
		_, err := store.DecodeClaim(reply)
		assert.ErrorIs(t, err, store.ErrMalformed, "%v", reply)
	}
	c, err := store.DecodeClaim([]any{"1000000", "-1", int64(8), int64(1),
		"k", "n", "{}", "t", "2 1 5 g ",
		"w", "n", "{}", "", "1 3 5 g2 limit a b", // waited for "limit a b"
		"bad", "n", "{}", "", "0 1 5 g ", // attempt 0
		"worse", "n", "{}", "", []any{}, // a head that is not a string
		"short", "n", "{}", "", "1 1 5 g", // nothing after the gen, not even its space
		"blank", "n", "{}", "", " 1 1 5 g ", // a number with a space before it
		"letters", "n", "{}", "", "1 x 5 g ", // deliveries not a number
		"undue", "n", "{}", "", "1 1 y g ", // nor due
		"d", "n", "cooldown", "", "dropped"})
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), c.Wait)
	require.Len(t, c.Messages, 2)
	assert.Equal(t, store.Message{Key: "k", Name: "n", Input: []byte("{}"), Attempt: 2, Deliveries: 1,
		Due: time.UnixMicro(5), Trace: "t", Gen: "g"}, c.Messages[0])
	assert.Equal(t, store.Message{Key: "w", Name: "n", Input: []byte("{}"), Attempt: 1, Deliveries: 3,
		Due: time.UnixMicro(5), Gen: "g2", WaitedFor: "limit a b"}, c.Messages[1])
	assert.Equal(t, []store.Dropped{{Key: "d", Name: "n", Reason: "cooldown"}}, c.Dropped)
	require.Len(t, c.Malformed, 6, "the bad entries are set aside; the good ones run")
	for _, err := range c.Malformed {
		assert.ErrorIs(t, err, store.ErrMalformed)
	}
}

// A claim's messages, recycled, are decoded into by later claims: what the
// caller copied stays as it was, and each later claim's messages are its
// own.
func TestRecycledClaimMessagesAreDecodedIntoAgain(t *testing.T) {
	first, err := store.DecodeClaim([]any{"1000000", "0", int64(2), int64(0),
		"a", "n", `{"a":1}`, "", "1 0 5 g1 ",
		"b", "n", `{"b":2}`, "t", "3 2 7 g2 limit"})
	require.NoError(t, err)
	kept := first.Messages[1]
	first.Recycle()
	assert.Nil(t, first.Messages)
	first.Recycle()    // twice: nothing to hand back
	for i := range 4 { // the pool hands back this list, or another
		key := fmt.Sprintf("c%d", i)
		next, err := store.DecodeClaim([]any{"1000000", "0", int64(1), int64(0), key, "m", `{"c":3}`, "", "1 0 6 g3 "})
		require.NoError(t, err)
		assert.Equal(t, []store.Message{{Key: key, Name: "m", Input: []byte(`{"c":3}`), Attempt: 1, Due: time.UnixMicro(6), Gen: "g3"}},
			next.Messages)
		next.Recycle()
	}
	assert.Equal(t, store.Message{Key: "b", Name: "n", Input: []byte(`{"b":2}`), Attempt: 3, Deliveries: 2,
		Due: time.UnixMicro(7), Trace: "t", Gen: "g2", WaitedFor: "limit"}, kept)
}
