package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
