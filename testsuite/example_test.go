package testsuite_test

import (
	"context"
	"testing"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

// Remind is the input of the tasks of the examples.
type Remind struct {
	To string `json:"to"`
}

// Run runs a test on the fake clock: a reminder due in a day, retried on
// failure, is checked in microseconds of wall time, at its exact instants.
// (An Example cannot be handed the *testing.T that Run needs: this one is
// compiled, not run; the package's tests run the same code.)
func ExampleRun() {
	var t *testing.T // in a test: func TestReminder(t *testing.T) { … }
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		send := sdk.NewTask("send_reminder", func(ctx context.Context, in Remind) error {
			return nil
		}, policy.Retry(3, time.Minute))
		env.Register(send)
		_, _ = send.Add(t.Context(), env.Docket(), Remind{To: "ada"}, sdk.After(24*time.Hour))
		env.Advance(24 * time.Hour)
		for _, run := range env.Runs("send_reminder") {
			t.Log(run.Attempt, run.Start, run.Err) // the attempt at exactly 24h
		}
	})
}

// A month-long workflow, with a signal, on the fake clock.
func ExampleEnv_Signal() {
	var t *testing.T // in a test
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		renew := sdk.NewTask("renew", func(ctx context.Context, in Remind) error {
			if err := workflow.Sleep(ctx, "a-month", 30*24*time.Hour); err != nil {
				return err
			}
			_, err := workflow.WaitSignal[bool](ctx, "confirmed", 7*24*time.Hour)
			return err
		})
		env.Register(renew)
		_, _ = renew.Add(t.Context(), env.Docket(), Remind{To: "ada"}, sdk.Key("renew-ada"))
		env.Advance(31 * 24 * time.Hour)
		env.Signal("renew-ada", "confirmed", true)
		env.RunUntilFinished()
		t.Log(env.Runs("renew")) // three runs: day 0, day 30, day 31
	})
}
