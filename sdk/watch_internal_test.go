package sdk

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a dropped connection, a watch catches up from the record; on a
// docket that deletes completed records, a vanished record completed.
func TestWatchCatchUp(t *testing.T) {
	ctx := context.Background()
	running := Event{State: StateRunning, Attempt: 2}
	for _, tc := range []struct {
		name    string
		opts    []Option
		want    Event
		changed bool
	}{
		{"deletes completed", []Option{WithCompletedRetention(0)}, Event{State: StateCompleted, Attempt: 2}, true},
		{"keeps completed", nil, running, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(ctx, "memory://catch-up", append(tc.opts, WithName(t.Name()))...)
			require.NoError(t, err)
			defer d.Close()
			got, changed := d.Execution("gone").catchUp(ctx, running)
			assert.Equal(t, tc.changed, changed)
			assert.Equal(t, tc.want, got)

			task := NewTask("t", func(context.Context, struct{}) error { return nil })
			ex, err := task.Add(ctx, d, struct{}{}, Key("here"))
			require.NoError(t, err)
			got, changed = ex.catchUp(ctx, running)
			assert.True(t, changed, "a record in another state")
			assert.Equal(t, StateQueued, got.State, "due now")
		})
	}
}
