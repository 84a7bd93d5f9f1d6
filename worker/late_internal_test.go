package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// A claim that comes back after a third of the lease hands its task back,
// undelivered, once: the same key late again starts, so that a Redis that
// stays slow does not have it handed back for ever; and a key that started
// on time is forgotten.
func TestLateClaimHandsBackOncePerKey(t *testing.T) {
	d, err := sdk.Open(context.Background(), "memory://late-claims")
	require.NoError(t, err)
	defer d.Close()
	noop := sdk.NewTask("noop", func(ctx context.Context, in struct{}) error { return nil })
	require.NoError(t, d.Register(noop))
	w := New(d, Options{Lease: time.Minute})
	r := newRun(w)
	reg := core.Unwrap(d).Registry()
	msg := func(key string) store.Message {
		return store.Message{Key: key, Name: "noop", Input: []byte(`{}`), Attempt: 1, Deliveries: 1, Gen: "1"}
	}
	late := r.clock() - 30*time.Second // sent half a lease ago

	first := r.startAttempt(msg("a"), time.Now(), time.Now(), late, reg)
	require.NotNil(t, first, "handed back")
	assert.Equal(t, store.Unstarted, first.outcome.Kind)
	assert.Nil(t, r.startAttempt(msg("a"), time.Now(), time.Now(), late, reg), "late again: started")
	assert.NotContains(t, r.lateClaims, "a")

	require.NotNil(t, r.startAttempt(msg("b"), time.Now(), time.Now(), late, reg))
	assert.Nil(t, r.startAttempt(msg("b"), time.Now(), time.Now(), r.clock(), reg), "on time: started")
	assert.NotContains(t, r.lateClaims, "b", "forgotten once started")
	require.NotNil(t, r.startAttempt(msg("b"), time.Now(), time.Now(), late, reg), "a later stall hands it back again")

	// The attempts started settle on their own.
	require.Eventually(t, func() bool { return r.slots.counts().busy == 0 }, 30*time.Second, time.Millisecond)
}
