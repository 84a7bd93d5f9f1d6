// Approval shows a workflow that waits for a person. approve_expense asks
// a reviewer to approve an expense (a step: the request is sent once,
// however many times the workflow runs), then waits for a "decision"
// signal (workflow.WaitSignal) for at most 48 hours. Meanwhile it is
// parked: no worker, no goroutine waits for the reviewer. Then it pays the
// expense, turns it down, or, when no decision came in time, escalates it
// to the finance team.
//
// The program files three expenses. A reviewer, in another goroutine,
// approves the first and rejects the second with Docket.Signal; nobody
// answers for the third, which is escalated when its wait times out. A
// decision sent after that finds no workflow to receive it. The wait is
// 48 hours in real life and 3 seconds here (-timeout):
//
//	go run ./samples/approval
//	go run ./samples/approval -timeout 10s
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/approval
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// Expense is the input of approve_expense.
type Expense struct {
	ID       string `json:"id"`
	Cents    int    `json:"cents"`
	For      string `json:"for"`
	Reviewer string `json:"reviewer"`
}

// Decision is the payload of a "decision" signal.
type Decision struct {
	Approve bool   `json:"approve"`
	By      string `json:"by"`
	Note    string `json:"note,omitempty"`
}

// stamp is how the program prints an instant.
const stamp = "Jan 2 15:04:05"

// approveExpense is the workflow; a reviewer has timeout to decide.
func approveExpense(out io.Writer, timeout time.Duration) *sdk.ResultTask[Expense, string] {
	say := sample.Printer(out)
	return sdk.NewResultTask("approve_expense", func(ctx context.Context, in Expense) (string, error) {
		// The instant this run was due: when the expense was filed, when
		// the decision came, or when the wait timed out.
		at := sdk.Current(ctx).Due().UTC().Format(stamp)
		_, err := workflow.Step(ctx, "request", func(ctx context.Context) (string, error) {
			// The step's key is the same in every run: a mail service that
			// takes an idempotency key sends the request once.
			say("%s %s: asked %s to approve %s for %s (request %s)", at, in.ID, in.Reviewer, dollars(in.Cents), in.For, workflow.StepKey(ctx))
			return "sent", nil
		})
		if err != nil {
			return "", err
		}

		decision, err := workflow.WaitSignal[Decision](ctx, "decision", timeout)
		switch {
		case errors.Is(err, workflow.ErrSignalTimeout):
			return workflow.Step(ctx, "escalate", func(ctx context.Context) (string, error) {
				say("%s %s: no decision from %s in %v: escalated to finance", at, in.ID, in.Reviewer, timeout)
				return "escalated to finance", nil
			})
		case err != nil:
			return "", err // workflow.ErrParked: the run ends here, and the signal or the timeout resumes it
		case decision.Approve:
			return workflow.Step(ctx, "pay", func(ctx context.Context) (string, error) {
				say("%s %s: approved by %s, %s paid", at, in.ID, decision.By, dollars(in.Cents))
				return "approved by " + decision.By, nil
			})
		default:
			return workflow.Step(ctx, "turn-down", func(ctx context.Context) (string, error) {
				say("%s %s: rejected by %s (%s), requester told", at, in.ID, decision.By, decision.Note)
				return fmt.Sprintf("rejected by %s: %s", decision.By, decision.Note), nil
			})
		}
	})
}

var expenses = []Expense{
	{ID: "exp-1", Cents: 4200, For: "a conference ticket", Reviewer: "ada"},
	{ID: "exp-2", Cents: 129900, For: "a standing desk", Reviewer: "ada"},
	{ID: "exp-3", Cents: 1550, For: "a team lunch", Reviewer: "grace"},
}

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "how long a reviewer has to decide (48h in real life)")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, timeout time.Duration) error {
	// Finished executions are kept until the program reports on them,
	// after the longest wait.
	d, err := sample.Open(ctx, "approval", sdk.WithRetention(timeout+time.Minute))
	if err != nil {
		return err
	}
	defer d.Close()

	task := approveExpense(out, timeout)
	if err := d.Register(task); err != nil {
		return err
	}
	var filed []*sdk.Execution
	for _, e := range expenses {
		ex, err := task.Add(ctx, d, e, sdk.Key(e.ID))
		if err != nil {
			return err
		}
		filed = append(filed, ex)
	}

	// The reviewer decides on two expenses a while later, from elsewhere:
	// a signal is sent by key, to a workflow parked or not.
	say := sample.Printer(out)
	reviewed := make(chan error, 1)
	go func() {
		reviewed <- func() error {
			time.Sleep(timeout / 3)
			say("%s ada approves exp-1", time.Now().UTC().Format(stamp))
			if err := d.Signal(ctx, "exp-1", "decision", Decision{Approve: true, By: "ada"}); err != nil {
				return err
			}
			time.Sleep(timeout / 3)
			say("%s ada rejects exp-2", time.Now().UTC().Format(stamp))
			return d.Signal(ctx, "exp-2", "decision", Decision{By: "ada", Note: "use the one in the office"})
		}()
	}()

	// RunUntilFinished waits for the parked workflows too: for their
	// signals, or their timeouts.
	if err := worker.New(d, worker.Options{}).RunUntilFinished(ctx); err != nil {
		return err
	}
	if err := <-reviewed; err != nil {
		return err
	}

	// Too late: the workflow has ended, so no one receives the decision.
	err = d.Signal(ctx, "exp-3", "decision", Decision{Approve: true, By: "grace"})
	say("%s grace approves exp-3: %v", time.Now().UTC().Format(stamp), err)

	for _, ex := range filed {
		outcome, err := task.Result(ctx, ex)
		if err != nil {
			return err
		}
		say("%s: %s", ex.Key(), outcome)
	}
	return nil
}

func dollars(cents int) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }
