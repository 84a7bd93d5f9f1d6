package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// A strike placed while a task claimed ahead waits in a worker's line (its
// slot held by a long task) hands the task back, unstarted, for the claim
// that takes it again to hold it: the strike's tasks do not start while it
// holds. It used to start when the slot freed.
func TestAStrikeHandsBackTheLine(t *testing.T) {
	release := make(chan struct{})
	long := sdk.NewTask("long", func(ctx context.Context, in struct{}) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	ran := make(chan struct{}, 1)
	next := sdk.NewTask("next", func(ctx context.Context, in struct{}) error { ran <- struct{}{}; return nil })
	r, reg := unstartedRun(t, Options{Concurrency: 1, Lease: time.Minute}, long, next)
	require.Nil(t, r.startAttempt(claimed("a", "long"), time.Now(), time.Now(), r.clock(), reg), "in the slot")
	require.Nil(t, r.startAttempt(claimed("b", "next"), time.Now(), time.Now(), r.clock(), reg), "in line")

	r.events.handle(store.ParseEvent("s"))
	select {
	case a := <-r.acks.ch:
		assert.Equal(t, "b", a.out.Key)
		assert.Equal(t, store.Unstarted, a.out.Kind, "handed back unstarted")
	case <-time.After(10 * time.Second):
		t.Fatal("the task in line was not handed back")
	}
	close(release)
	a := <-r.acks.ch
	assert.Equal(t, "a", a.out.Key, "the long task ran on")
	select {
	case <-ran:
		t.Fatal("the task handed back ran")
	default:
	}
}
