package cli_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// eventually waits until the task with key is in state want.
func eventually(t *testing.T, f *fixture, key string, want sdk.State) {
	t.Helper()
	require.Eventually(t, func() bool {
		info, err := f.d.Execution(key).Info(context.Background())
		return err == nil && info.State == want
	}, wait, 2*time.Millisecond, "%s never became %s", key, want)
}

// retry runs a failed task again; a key whose task did not fail, or that
// has no record, is an error of one line and exit 1, and the other keys go on.
func TestRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var calls atomic.Int32
	flaky := sdk.NewTask("flaky", func(ctx context.Context, in Import) error {
		if calls.Add(1) == 1 {
			return errors.New("the first call fails")
		}
		return nil
	})
	require.NoError(t, f.d.Register(flaky))
	f.startWorker(worker.Options{})
	_, err := flaky.Add(context.Background(), f.d, Import{}, sdk.Key("flaky-1"))
	require.NoError(t, err)
	eventually(t, f, "flaky-1", sdk.StateFailed)

	assert.Equal(t, result{code: 0, stdout: "retrying flaky-1\n"}, f.run("", "retry", "flaky-1"))
	eventually(t, f, "flaky-1", sdk.StateCompleted)
	assert.EqualValues(t, 2, calls.Load())

	r := f.run("", "retry", "flaky-1", "no-such-key")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, []string{
		`docket: retry: "flaky-1" is completed, not failed`,
		fmt.Sprintf(`docket: retry: docket %q has no record of a task with the key "no-such-key" (never added, or it ended longer ago than the retention)`, f.name),
	}, lines(r.stderr))

	assert.Equal(t, 2, f.run("", "retry").code, "no key is a usage error")
}

// run-now makes a scheduled task due now; a running, ended or unknown key
// is an error.
func TestRunNow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scheduledTasks(t, f, "later-1", "later-2")

	assert.Equal(t, result{code: 0, stdout: "due now later-1\n"}, f.run("", "run-now", "later-1"))
	eventually(t, f, "later-1", sdk.StateCompleted)
	assert.Equal(t, sdk.StateScheduled, state(t, f, "later-2"), "only the key given runs")

	r := f.run("", "run-now", "later-1", "later-2", "no-such-key")
	assert.Equal(t, result{code: 1, stdout: "due now later-2\n", stderr: fmt.Sprintf(
		"docket: run-now: %q is completed, not scheduled\ndocket: run-now: docket %q has no live task with the key %q\n",
		"later-1", f.name, "no-such-key")}, r)
	eventually(t, f, "later-2", sdk.StateCompleted)
}

// signal sends a workflow a signal with a JSON payload, which its
// WaitSignal receives; a payload that is not JSON is a usage error, and an
// unknown key an error.
func TestSignal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	type decision struct {
		Approved bool   `json:"approved"`
		By       string `json:"by"`
	}
	approval := sdk.NewResultTask("approval", func(ctx context.Context, in Import) (string, error) {
		d, err := workflow.WaitSignal[decision](ctx, "decide", 0)
		if err != nil {
			return "", err
		}
		none, err := workflow.WaitSignal[*decision](ctx, "decide", 0)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("approved=%v by=%s then %v", d.Approved, d.By, none), nil
	})
	require.NoError(t, f.d.Register(approval))
	f.startWorker(worker.Options{})
	h, err := approval.Add(context.Background(), f.d, Import{}, sdk.Key("approval-1"))
	require.NoError(t, err)
	eventually(t, f, "approval-1", sdk.StateParked)

	r := f.run("", "signal", "approval-1", "decide", "{approved: true}")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "is not JSON")
	assert.Equal(t, 2, f.run("", "signal", "approval-1").code, "a name is needed")
	assert.Equal(t, 2, f.run("", "signal", "approval-1", "").code, "an empty name is a usage error")

	assert.Equal(t, 2, f.run("{approved", "signal", "approval-1", "decide", "-").code, "not JSON, from stdin")
	r = f.run("{"+strings.Repeat("x", 1<<20), "signal", "approval-1", "decide", "-")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "(1048577 bytes) is not JSON")
	assert.Less(t, len(r.stderr), 1000, "a megabyte of payload is not quoted whole")
	assert.Equal(t, result{code: 0, stdout: "sent decide to approval-1\n"},
		f.run(`{"approved": true, "by": "ana"}`+"\n", "signal", "approval-1", "decide", "-"), "the payload from stdin")
	assert.Equal(t, result{code: 0, stdout: "sent decide to approval-1\n"},
		f.run("", "signal", "approval-1", "decide"), "without a payload, null")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	out, err := approval.Result(ctx, h)
	require.NoError(t, err)
	assert.Equal(t, "approved=true by=ana then <nil>", out)

	assert.Equal(t, result{code: 1, stderr: fmt.Sprintf("docket: signal: docket %q has no live task with the key %q\n", f.name, "approval-1")},
		f.run("", "signal", "approval-1", "decide", "1"), "an ended workflow takes no signal")
}
