package sdk

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a dropped connection, a watch catches up from the record. A record
// that vanished while its task was live was lost: the watch ends with
// ErrLost and the last state it knew, never with a completion it did not
// see; a record in another state reports that state; one in the same
// state, no change.
func TestWatchCatchUp(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, "memory://catch-up")
	require.NoError(t, err)
	defer d.Close()
	running := Event{State: StateRunning, Attempt: 2}

	got, changed := d.Execution("gone").catchUp(ctx, running)
	assert.True(t, changed)
	require.ErrorIs(t, got.Err, ErrLost)
	assert.Contains(t, got.Err.Error(), `"gone"`)
	got.Err = nil
	assert.Equal(t, running, got, "the last state the watch knew")

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

	// An execution that ended while the watch could not see it: the
	// catch-up reports its last progress, not the last the watch knew.
	require.NoError(t, d.Redis().HSet(ctx, "docket:{docket}:task:here", "state", "completed",
		"progress_current", "2000", "progress_total", "2000", "progress_message", "done").Err())
	seen := Event{State: StateRunning, Attempt: 1, Progress: ProgressInfo{Current: 489, Total: 2000}}
	got, changed = ex.catchUp(ctx, seen)
	assert.True(t, changed)
	assert.Equal(t, StateCompleted, got.State)
	assert.Equal(t, int64(2000), got.Progress.Current)
	assert.Equal(t, "done", got.Progress.Message)
	require.NoError(t, d.Redis().Del(ctx, "docket:{docket}:task:here").Err())
}
