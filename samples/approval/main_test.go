package main

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

const day = 24 * time.Hour

var lunch = Expense{ID: "exp-3", Cents: 1550, For: "a team lunch", Reviewer: "grace"}

// file registers approve_expense with a 48-hour wait and files the lunch.
func file(t *testing.T, env *testsuite.Env, out *sample.Output) (*sdk.ResultTask[Expense, string], *sdk.Execution) {
	t.Helper()
	task := approveExpense(out, 2*day)
	env.Register(task)
	ex, err := task.Add(t.Context(), env.Docket(), lunch, sdk.Key(lunch.ID))
	require.NoError(t, err)
	return task, ex
}

// steps lists the runs of a workflow's steps, at their instants after t0.
func steps(env *testsuite.Env, key string, t0 time.Time) []string {
	var out []string
	for _, s := range env.Steps(key) {
		out = append(out, fmt.Sprintf("%v %s", s.Start.Sub(t0), s.Name))
	}
	return out
}

// The workflow asks, parks until the decision or the wait's end, and pays
// the instant the approval comes: 5 hours later. The request is sent once,
// though the workflow runs twice.
func TestApproved(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		t0 := env.Now()
		task, ex := file(t, env, &out)

		env.Advance(5 * time.Hour)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateParked, info.State, "waiting for the reviewer")
		assert.Equal(t, t0.Add(2*day), info.Due, "until the wait times out, at the latest")
		env.Signal(lunch.ID, "decision", Decision{Approve: true, By: "grace"})

		outcome, err := task.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "approved by grace", outcome)
		assert.Equal(t, []string{"0s request", "5h0m0s pay"}, steps(env, lunch.ID, t0))
		runs := env.Runs("approve_expense")
		require.Len(t, runs, 2)
		assert.Equal(t, t0.Add(5*time.Hour), runs[1].Start, "resumed by the signal, at once")
		assert.Equal(t, []string{
			"Jan 1 00:00:00 exp-3: asked grace to approve $15.50 for a team lunch (request exp-3/request)",
			"Jan 1 05:00:00 exp-3: approved by grace, $15.50 paid",
		}, out.Lines())
	})
}

// A rejection carries its note to the outcome.
func TestRejected(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		t0 := env.Now()
		task, ex := file(t, env, &out)

		env.Advance(47 * time.Hour)
		env.Signal(lunch.ID, "decision", Decision{By: "grace", Note: "over the budget"})
		outcome, err := task.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "rejected by grace: over the budget", outcome)
		assert.Equal(t, []string{"0s request", "47h0m0s turn-down"}, steps(env, lunch.ID, t0))
	})
}

// Nobody answers: the wait times out exactly 48 hours after it began, and
// the workflow escalates. It did not run in between.
func TestTimeoutEscalates(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		t0 := env.Now()
		task, ex := file(t, env, &out)

		env.Advance(2*day - time.Millisecond)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateParked, info.State, "a millisecond before the timeout")
		assert.Len(t, env.Runs("approve_expense"), 1)

		env.Advance(time.Millisecond)
		outcome, err := task.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "escalated to finance", outcome)
		assert.Equal(t, []string{"0s request", "48h0m0s escalate"}, steps(env, lunch.ID, t0))
		runs := env.Runs("approve_expense")
		require.Len(t, runs, 2)
		assert.Equal(t, t0.Add(2*day), runs[1].Start)
		assert.Equal(t, []string{
			"Jan 1 00:00:00 exp-3: asked grace to approve $15.50 for a team lunch (request exp-3/request)",
			"Jan 3 00:00:00 exp-3: no decision from grace in 48h0m0s: escalated to finance",
		}, out.Lines())

		// A decision after that finds no workflow to receive it.
		err = env.Docket().Signal(t.Context(), lunch.ID, "decision", Decision{Approve: true, By: "grace"})
		require.ErrorIs(t, err, sdk.ErrNotFound)
	})
}

// A decision sent before the workflow waits for it (here, before it first
// runs) is kept, and received when it gets there: it never parks.
func TestEarlyDecision(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		t0 := env.Now()
		task := approveExpense(&out, 2*day)
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), lunch, sdk.Key(lunch.ID), sdk.After(time.Hour))
		require.NoError(t, err)
		env.Signal(lunch.ID, "decision", Decision{Approve: true, By: "grace"})

		env.RunUntilFinished()
		outcome, err := task.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "approved by grace", outcome)
		assert.Equal(t, []string{"1h0m0s request", "1h0m0s pay"}, steps(env, lunch.ID, t0))
		assert.Len(t, env.Runs("approve_expense"), 1, "it never parked")
	})
}

// The program itself, on the embedded backend with its 3-second wait, in
// fake time: the reviewer answers after 1 and 2 seconds; the third expense
// is escalated at 3.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, 3*time.Second))
		lines := out.Lines()
		require.Len(t, lines, 12)
		assert.ElementsMatch(t, []string{ // filed at once, run at once, in any order
			"Jan 1 00:00:00 exp-1: asked ada to approve $42.00 for a conference ticket (request exp-1/request)",
			"Jan 1 00:00:00 exp-2: asked ada to approve $1299.00 for a standing desk (request exp-2/request)",
			"Jan 1 00:00:00 exp-3: asked grace to approve $15.50 for a team lunch (request exp-3/request)",
		}, lines[:3])
		assert.Equal(t, []string{
			"Jan 1 00:00:01 ada approves exp-1",
			"Jan 1 00:00:01 exp-1: approved by ada, $42.00 paid",
			"Jan 1 00:00:02 ada rejects exp-2",
			"Jan 1 00:00:02 exp-2: rejected by ada (use the one in the office), requester told",
			"Jan 1 00:00:03 exp-3: no decision from grace in 3s: escalated to finance",
			`Jan 1 00:00:03 grace approves exp-3: docket: task not found: "exp-3" is not a live workflow`,
			"exp-1: approved by ada",
			"exp-2: rejected by ada: use the one in the office",
			"exp-3: escalated to finance",
		}, lines[3:])
	})
}
