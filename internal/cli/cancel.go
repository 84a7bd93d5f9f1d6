package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/docket-go/docket/sdk"
)

var cancelCommand = &command{
	name:    "cancel",
	args:    "KEY...",
	summary: "cancel live tasks by key: scheduled, queued, running, parked or held",
	help: `A scheduled or queued task is removed, and so is a task waiting for a slot
or held by a strike; a running one has its context cancelled and its result
ignored; a parked workflow is cancelled with its live children. Either way
it ends in state cancelled. A key that no live task has is an error
(exit 1); the other keys are still cancelled.
`,
	run: runCancel,
}

func runCancel(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	keys, err := s.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return usageErrorf(cmd.name, "expected at least one task KEY")
	}
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	failed := false
	for _, key := range keys {
		err := d.Cancel(ctx, key)
		switch {
		case err == nil:
			fmt.Fprintf(s.stdout, "cancelled %s\n", printable(key))
			continue
		case errors.Is(err, sdk.ErrNotFound):
			err = fmt.Errorf("cancel: docket %q has no scheduled, queued or running task with the key %q", d.Name(), key)
		default:
			err = fmt.Errorf("cancel %q: %w", key, err)
		}
		if len(keys) == 1 {
			return err
		}
		s.exit(err) // report it, and go on with the other keys
		failed = true
	}
	if failed {
		return exitStatus(ExitError)
	}
	return nil
}
