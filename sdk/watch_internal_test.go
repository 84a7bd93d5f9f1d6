package sdk

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a dropped connection, a watch catches up from the record. A record
// that vanished while its task was live completed, on a docket whose workers
// keep no completed records, even when the watching process was opened
// without that option; a record in another state reports that state; one in
// the same state, no change.
func TestWatchCatchUp(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, "memory://catch-up") // the default completed retention
	require.NoError(t, err)
	defer d.Close()
	running := Event{State: StateRunning, Attempt: 2}

	got, changed := d.Execution("gone").catchUp(ctx, running)
	assert.True(t, changed)
	assert.Equal(t, Event{State: StateCompleted, Attempt: 2}, got)

	task := NewTask("t", func(context.Context, struct{}) error { return nil })
	ex, err := task.Add(ctx, d, struct{}{}, Key("here"))
	require.NoError(t, err)
	got, changed = ex.catchUp(ctx, running)
	assert.True(t, changed, "a record in another state")
	assert.Equal(t, StateQueued, got.State, "due now")

	queued := Event{State: StateQueued, Attempt: 1}
	got, changed = ex.catchUp(ctx, queued)
	assert.False(t, changed)
	assert.Equal(t, queued, got)
}
