package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docket-go/docket/sdk"
)

var workersCommand = &command{
	name:    "workers",
	summary: "list the live workers",
	help: `Flags:
  --json        print the workers as JSON instead of a table

For each worker: its id, host and process id, how many tasks it runs at once
(CONCURRENCY) and is running now (RUNNING, of the first 1000 running tasks by
lease: a line under the table says when there are more, and the JSON
running_partial), when it started, until when it counts as live without
another heartbeat, and the tasks it has registered.
`,
	run: runWorkers,
}

func runWorkers(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	asJSON := fs.Bool("json", false, "")
	if err := s.parseNone(cmd, fs, args); err != nil {
		return err
	}
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	snap, err := d.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("workers: %w", err)
	}
	if *asJSON {
		return writeJSON(s.stdout, struct {
			Docket  string       `json:"docket"`
			Now     time.Time    `json:"now"`
			Workers []workerJSON `json:"workers"`
		}{d.Name(), snap.Now, workersToJSON(snap)})
	}
	writeWorkers(s.stdout, snap, "docket snapshot --limit counts more")
	return nil
}

// writeWorkers writes the snapshot's workers as a table; more says how to
// count beyond the running tasks the snapshot listed.
func writeWorkers(w io.Writer, snap sdk.Snapshot, more string) {
	if len(snap.Workers) == 0 {
		fmt.Fprintln(w, "No live workers.")
		return
	}
	running := runningByWorker(snap)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tHOST\tPID\tCONCURRENCY\tRUNNING\tSTARTED\tLIVE UNTIL\tTASKS")
	for _, wk := range snap.Workers {
		tasks := printable(strings.Join(wk.Tasks, ","))
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n",
			printable(wk.ID), orDash(printable(wk.Host)), wk.PID, wk.Concurrency, running[wk.ID],
			relative(wk.Started, snap.Now), relative(wk.LiveUntil, snap.Now), orDash(tasks))
	}
	_ = tw.Flush()
	if listed := len(snap.Running); listed < snap.TotalRunning {
		fmt.Fprintf(w, "RUNNING counts the %s listed, of %d (%s).\n", plural(listed, "running task"), snap.TotalRunning, more)
	}
}
