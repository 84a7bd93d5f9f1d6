// Deployment-monitor shows a perpetual task that ends its own chain: it
// checks a deployment every 30 seconds and, once the deployment has
// completed or failed, sends a notification and cancels itself, so no
// check follows. Two deployments are watched, each under its own key; the
// deployment system is simulated, each deployment moving one stage on at
// every check.
//
// The worker runs for -for (3s by default; 0 runs it until Ctrl-C), so by
// default you see the first check; shorten the interval to watch both
// deployments finish:
//
//	go run ./samples/deployment-monitor
//	go run ./samples/deployment-monitor -every 1s -for 8s
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/deployment-monitor
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
)

// Deployment is the input of monitor_deployment.
type Deployment struct {
	ID string `json:"deployment_id"`
}

// statusFunc reports a deployment's status.
type statusFunc func(ctx context.Context, id string) (string, error)

// monitorDeployment is the perpetual task: every `every`, check the
// deployment; when it has finished, notify and end the chain.
func monitorDeployment(out io.Writer, every time.Duration, status statusFunc) *sdk.Task[Deployment] {
	say := sample.Printer(out)
	return sdk.NewTask("monitor_deployment", func(ctx context.Context, in Deployment) error {
		cur := sdk.Current(ctx)
		at := cur.Due().UTC().Format(time.TimeOnly)
		st, err := status(ctx, in.ID)
		if err != nil {
			return err // a failed check does not end the chain: checked again after `every`
		}
		if st == "completed" || st == "failed" {
			say("%s deployment %s %s: notified #deploys, monitoring stops", at, in.ID, st)
			cur.Perpetual().Cancel()
			return nil
		}
		say("%s deployment %s status: %s", at, in.ID, st)
		return nil
	}, policy.Perpetual(every))
}

// deployments simulates a deployment system: each deployment goes through
// its stages, one stage further at each status check, and stays at the
// last.
type deployments struct {
	mu     sync.Mutex
	stages map[string][]string
	checks map[string]int
}

func newDeployments() *deployments {
	return &deployments{
		stages: map[string][]string{
			"web-42": {"queued", "building", "building", "rolling out", "rolling out", "completed"},
			"api-7":  {"queued", "building", "failed"},
		},
		checks: map[string]int{},
	}
}

func (d *deployments) status(ctx context.Context, id string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	stages, ok := d.stages[id]
	if !ok {
		return "", fmt.Errorf("no deployment %q", id)
	}
	n := min(d.checks[id], len(stages)-1)
	d.checks[id]++
	return stages[n], nil
}

func main() {
	every := flag.Duration("every", 30*time.Second, "how often to check each deployment")
	runFor := flag.Duration("for", 3*time.Second, "how long to run the worker; 0 runs it until Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *every, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, every, runFor time.Duration) error {
	// Keep finished executions long enough to report on them below.
	d, err := sample.Open(ctx, "deployment-monitor", sdk.WithRetention(time.Hour))
	if err != nil {
		return err
	}
	defer d.Close()

	task := monitorDeployment(out, every, newDeployments().status)
	if err := d.Register(task); err != nil {
		return err
	}
	// web-42 is watched from now, api-7 from half an interval later.
	web, err := task.Add(ctx, d, Deployment{ID: "web-42"}, sdk.Key("deploy:web-42"))
	if err != nil {
		return err
	}
	api, err := task.Add(ctx, d, Deployment{ID: "api-7"}, sdk.Key("deploy:api-7"), sdk.After(every/2))
	if err != nil {
		return err
	}

	if err := sample.RunWorker(ctx, d, runFor); err != nil {
		return err
	}

	for _, ex := range []*sdk.Execution{web, api} {
		info, err := ex.Info(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		if info.State == sdk.StateScheduled {
			fmt.Fprintf(out, "%s: still monitoring, next check at %s UTC\n", info.Key, info.Due.UTC().Format(time.TimeOnly))
			continue
		}
		fmt.Fprintf(out, "%s: %s after its check at %s UTC\n", info.Key, info.State, info.Started.UTC().Format(time.TimeOnly))
	}
	return nil
}
