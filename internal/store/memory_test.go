package store_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/store"
)

// A subscriber of the embedded server that does not read its messages at
// once (a watch reading its task's state before its events) blocks nobody:
// the server publishes under its lock, over pipes without a buffer, so the
// client's end must take what the server writes as a socket would.
func TestEmbeddedSubscriberThatDoesNotReadBlocksNobody(t *testing.T) {
	rdb, closeRedis := store.Embedded()
	defer closeRedis()
	ctx := context.Background()
	ps := rdb.Subscribe(ctx, "events")
	defer ps.Close()
	_, err := ps.Receive(ctx) // subscribed; nothing more is read until the end
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		for range 2000 {
			if err := rdb.Publish(ctx, "events", strings.Repeat("x", 1000)).Err(); err != nil {
				done <- err
				return
			}
		}
		done <- rdb.Set(ctx, "k", "v", 0).Err()
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second): // bounds a deadlock; measures nothing
		t.Fatal("the embedded server blocked on a subscriber that does not read")
	}
	msg, err := ps.ReceiveMessage(ctx)
	require.NoError(t, err)
	require.Len(t, msg.Payload, 1000, "the messages were kept for it")
}

// The embedded server's keys expire as its clock passes their TTL: inside
// a synctest bubble, by fake time, whether one client or several sharing a
// memory:// server use it, and however long nothing touched it.
func TestEmbeddedKeysExpireByTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rdb, closeRedis := store.Embedded()
		defer closeRedis()
		ctx := context.Background()
		require.NoError(t, rdb.Set(ctx, "short", "v", 50*time.Millisecond).Err())
		require.NoError(t, rdb.Set(ctx, "long", "v", time.Hour).Err())
		require.NoError(t, rdb.Set(ctx, "kept", "v", 0).Err())
		time.Sleep(40 * time.Millisecond)
		require.EqualValues(t, 3, rdb.Exists(ctx, "short", "long", "kept").Val(), "nothing expired yet")
		time.Sleep(20 * time.Millisecond)
		require.EqualValues(t, 0, rdb.Exists(ctx, "short").Val(), "expired at 50ms")
		time.Sleep(59 * time.Minute)
		ttl := rdb.PTTL(ctx, "long").Val()
		require.InDelta(t, float64(59940*time.Millisecond), float64(ttl), float64(20*time.Millisecond), "the TTL went down with the clock")
		time.Sleep(time.Minute)
		require.EqualValues(t, 1, rdb.Exists(ctx, "short", "long", "kept").Val(), "only the key without a TTL is left")
	})
}

// BenchmarkEmbeddedAddToBacklog measures an add on the embedded server
// with 10,000 tasks queued. With the TTLs moved before every command of
// every script (miniredis's ClockTTL, which sorts every key each time) it
// took 14.6 ms, and the AddMany of the backlog about 10 s; with them moved
// at most every ttlTick, 2.9-3.4 ms (three runs), and the AddMany 0.12 s.
// What is left grows with the backlog too: miniredis sorts a sorted set to
// read its first member (the add's look at the earliest due task).
//
//	go test ./internal/store -run '^$' -bench EmbeddedAddToBacklog
func BenchmarkEmbeddedAddToBacklog(b *testing.B) {
	rdb, closeRedis := store.Embedded()
	defer closeRedis()
	s, err := store.New(rdb, "bench-embedded")
	require.NoError(b, err)
	ctx := context.Background()
	add := func(from, n int) {
		tasks := make([]store.NewTask, n)
		for i := range tasks {
			tasks[i] = store.NewTask{Key: fmt.Sprint("task-", from+i), Name: "noop", Input: []byte(`{}`)}
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(b, err)
	}
	add(0, 10_000)
	b.ResetTimer()
	for i := range b.N {
		add(10_000+i, 1)
	}
}

// go-redis may finish a connection it began for a call in flight after its
// client closed: the embedded server, stopped, makes none, and the dial
// races nothing of the stop (under -race).
func TestAStoppedEmbeddedServerMakesNoConnection(t *testing.T) {
	c, stop := store.Embedded()
	dial := c.(*redis.Client).Options().Dialer
	dialed := make(chan struct{})
	go func() {
		defer close(dialed)
		if conn, err := dial(context.Background(), "tcp", "memory"); err == nil {
			_ = conn.Close()
		}
	}()
	require.NoError(t, stop())
	<-dialed
	_, err := dial(context.Background(), "tcp", "memory")
	require.ErrorIs(t, err, net.ErrClosed)
}
