package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docket-go/docket/sdk"
)

var clearCommand = &command{
	name:    "clear",
	summary: "cancel every task that is not running (asks first)",
	help: `Flags:
  --yes         do not ask for confirmation

Cancels every task of the docket that is not running: scheduled, queued,
waiting for a concurrency slot, parked workflows (and their children), held
by a strike; running tasks are left to finish. It asks on
stdin first, and goes ahead only on "y" or "yes"; with no answer (stdin
closed) it fails, so a script must say --yes.
`,
	run: runClear,
}

func runClear(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	yes := fs.Bool("yes", false, "")
	if err := s.parseNone(cmd, fs, args); err != nil {
		return err
	}
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if !*yes {
		snap, err := d.Snapshot(ctx, sdk.Limit(0)) // the totals only
		if err != nil {
			return fmt.Errorf("clear: %w", err)
		}
		n := snap.TotalWaiting + snap.TotalParked + snap.TotalHeld
		if n == 0 {
			fmt.Fprintf(s.stdout, "No scheduled, queued, parked or held tasks in docket %q; nothing to cancel.\n", d.Name())
			return nil
		}
		fmt.Fprintf(s.stderr, "Cancel %s scheduled, queued, parked or held in docket %q? Running tasks are left to finish. [y/N] ",
			plural(n, "task"), d.Name())
		ok, err := confirm(ctx, s.stdin)
		if err != nil {
			fmt.Fprintln(s.stderr)
			if errors.Is(err, errNoAnswer) {
				return fmt.Errorf("clear: %w; nothing cancelled (use --yes to clear without asking)", err)
			}
			return fmt.Errorf("clear: %w; nothing cancelled", err)
		}
		if !ok {
			fmt.Fprintln(s.stdout, "Nothing cancelled.")
			return nil
		}
	}
	n, err := d.Clear(ctx)
	if err != nil {
		return fmt.Errorf("clear: %w", err)
	}
	fmt.Fprintf(s.stdout, "Cancelled %s.\n", plural(n, "task"))
	return nil
}

// errNoAnswer reports that stdin ended before an answer.
var errNoAnswer = errors.New("no answer on stdin")

// confirm reads one line and reports whether it says yes. It gives up when
// ctx ends (an interrupt), leaving the read to finish on its own: the
// process is about to exit.
func confirm(ctx context.Context, r io.Reader) (bool, error) {
	type answer struct {
		line string
		err  error
	}
	read := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		read <- answer{line, err}
	}()
	var line string
	var err error
	select {
	case a := <-read:
		line, err = a.line, a.err
	case <-ctx.Done():
		return false, errors.New("interrupted")
	}
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		if errors.Is(err, io.EOF) {
			return false, errNoAnswer
		}
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
