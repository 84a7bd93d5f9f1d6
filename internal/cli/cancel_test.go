package cli_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// scheduledTasks registers a task and schedules it an hour out under each
// key, with a worker running.
func scheduledTasks(t *testing.T, f *fixture, keys ...string) {
	t.Helper()
	later := sdk.NewTask("later", func(ctx context.Context, in Import) error { return nil })
	require.NoError(t, f.d.Register(later))
	f.startWorker(worker.Options{})
	for _, k := range keys {
		_, err := later.Add(context.Background(), f.d, Import{}, sdk.Key(k), sdk.After(time.Hour))
		require.NoError(t, err)
	}
}

func state(t *testing.T, f *fixture, key string) sdk.State {
	t.Helper()
	info, err := f.d.Execution(key).Info(context.Background())
	require.NoError(t, err)
	return info.State
}

// cancel ends a scheduled task as cancelled; a key no live task has is an
// error of one line and exit 1.
func TestCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scheduledTasks(t, f, "later-1", "later-2", "later-3")

	assert.Equal(t, result{code: 0, stdout: "cancelled later-1\n"}, f.run("", "cancel", "later-1"))
	assert.Equal(t, sdk.StateCancelled, state(t, f, "later-1"))
	assert.Equal(t, sdk.StateScheduled, state(t, f, "later-2"))

	missing := fmt.Sprintf("docket: cancel: docket %q has no live task (scheduled, queued, waiting, running, parked or held) with the key %q\n", f.name, "no-such-key")
	assert.Equal(t, result{code: 1, stderr: missing}, f.run("", "cancel", "no-such-key"))
	again := fmt.Sprintf("docket: cancel: docket %q has no live task (scheduled, queued, waiting, running, parked or held) with the key %q\n", f.name, "later-1")
	assert.Equal(t, result{code: 1, stderr: again}, f.run("", "cancel", "later-1"), "a cancelled task is not live")

	// Several keys: each is cancelled, each missing one reported, exit 1.
	r := f.run("", "cancel", "later-2", "no-such-key", "later-3")
	assert.Equal(t, result{code: 1, stdout: "cancelled later-2\ncancelled later-3\n", stderr: missing}, r)
	assert.Equal(t, sdk.StateCancelled, state(t, f, "later-2"))
	assert.Equal(t, sdk.StateCancelled, state(t, f, "later-3"))
}
