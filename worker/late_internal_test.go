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
	noop := sdk.NewTask("noop", func(ctx context.Context, in struct{}) error { return nil })
	r, reg := unstartedRun(t, Options{Lease: time.Minute}, noop)
	msg := func(key string) store.Message { return claimed(key, "noop") }
	late := r.clock() - 30*time.Second // sent half a lease ago

	first := r.startAttempt(msg("a"), time.Now(), time.Now(), late, reg)
	require.NotNil(t, first, "handed back")
	assert.Equal(t, store.Unstarted, first.out.Kind)
	assert.Nil(t, r.startAttempt(msg("a"), time.Now(), time.Now(), late, reg), "late again: started")
	assert.NotContains(t, r.lateClaims, "a")

	require.NotNil(t, r.startAttempt(msg("b"), time.Now(), time.Now(), late, reg))
	assert.Nil(t, r.startAttempt(msg("b"), time.Now(), time.Now(), r.clock(), reg), "on time: started")
	assert.NotContains(t, r.lateClaims, "b", "forgotten once started")
	require.NotNil(t, r.startAttempt(msg("b"), time.Now(), time.Now(), late, reg), "a later stall hands it back again")

	// The attempts started settle on their own.
	require.Eventually(t, func() bool { return r.slots.counts().busy == 0 }, 30*time.Second, time.Millisecond)
}

// unstartedRun is a run of a worker with opts on a docket of its own (in
// memory) with tasks registered, not started: a test hands it claimed
// messages itself (run.startAttempt), with reg.
func unstartedRun(t *testing.T, opts Options, tasks ...sdk.Registrable) (*run, core.Registry) {
	t.Helper()
	d, err := sdk.Open(context.Background(), "memory://"+t.Name())
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.Register(tasks...))
	return newRun(New(d, opts)), core.Unwrap(d).Registry()
}

// claimed is the message of the first attempt of task key, of task name,
// as a claim brings it.
func claimed(key, name string) store.Message {
	return store.Message{Key: key, Name: name, Input: []byte(`{}`), Attempt: 1, Deliveries: 1, Gen: "1"}
}
