package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/sdk"
)

const strikeHelp = `Arguments: TASK, or TASK FIELD OP VALUE; TASK "*" with FIELD OP VALUE strikes
  that field of every task (a strike of every task, "*" alone, is refused:
  docket clear cancels them all).
  OP is one of == != < <= > >=; VALUE is read as JSON when it is a number,
  true, false or a quoted string ('"1001"'), and as a string otherwise.

A task a strike matches does not start while the strike holds: adding one
writes nothing; a scheduled or queued one is held when it falls due, and
runs at once when the strike is restored. Strikes live in Redis, so every
worker and producer sees them at once, and they survive restarts.
`

var strikeCommand = &command{
	name:    "strike",
	args:    "TASK [FIELD OP VALUE]",
	summary: "stop matching tasks from starting, until restore",
	help:    strikeHelp,
	run: func(ctx context.Context, s *session, cmd *command, args []string) error {
		return runStrike(ctx, s, cmd, args, true)
	},
}

var restoreCommand = &command{
	name:    "restore",
	args:    "TASK [FIELD OP VALUE]",
	summary: "remove a strike: the tasks it held run",
	help:    "The same arguments as the strike it removes.\n\n" + strikeHelp,
	run: func(ctx context.Context, s *session, cmd *command, args []string) error {
		return runStrike(ctx, s, cmd, args, false)
	},
}

var strikesCommand = &command{
	name:    "strikes",
	summary: "list the strikes in effect",
	help: `Flags:
  --json        print the strikes as JSON instead of a table
`,
	run: runStrikes,
}

func runStrike(ctx context.Context, s *session, cmd *command, args []string, strike bool) error {
	fs := s.flags(cmd)
	args, err := s.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 && len(args) != 4 {
		return usageErrorf(cmd.name, "expected TASK, or TASK FIELD OP VALUE; got %d arguments", len(args))
	}
	task := args[0]
	if task == "*" {
		task = ""
	}
	var field, op string
	var value any
	if len(args) == 4 {
		field, op = args[1], args[2]
		v, err := text.StrikeValue(args[3])
		if err != nil {
			return usageErrorf(cmd.name, "%v", err)
		}
		value = v
	}
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	if strike {
		err = d.Strike(ctx, task, field, op, value)
	} else {
		err = d.Restore(ctx, task, field, op, value)
	}
	switch {
	case errors.Is(err, sdk.ErrBadStrike):
		return usageErrorf(cmd.name, "%v", err)
	case errors.Is(err, sdk.ErrNotFound):
		return fmt.Errorf("restore: docket %q has no such strike (see docket strikes)", d.Name())
	case err != nil:
		return fmt.Errorf("%s: %w", cmd.name, err)
	}
	what := sdk.Strike{Task: task, Field: field, Op: op}
	if field != "" {
		what.Value, _ = json.Marshal(value)
	}
	verb := "struck"
	if !strike {
		verb = "restored"
	}
	fmt.Fprintf(s.stdout, "%s %s\n", verb, printable(what.String()))
	return nil
}

func runStrikes(ctx context.Context, s *session, cmd *command, args []string) error {
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
	strikes, err := d.Strikes(ctx)
	if err != nil {
		return fmt.Errorf("strikes: %w", err)
	}
	if *asJSON {
		out := []strikeJSON{}
		for _, st := range strikes {
			if st.Field == "" {
				st.Value = nil // the whole task: no comparison, and no value (not null)
			}
			out = append(out, strikeJSON(st))
		}
		return writeJSON(s.stdout, out)
	}
	writeStrikes(s.stdout, strikes)
	return nil
}

func writeStrikes(w io.Writer, strikes []sdk.Strike) {
	if len(strikes) == 0 {
		fmt.Fprintln(w, "No strikes.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tFIELD\tOP\tVALUE\tSINCE")
	for _, st := range strikes {
		task := st.Task
		if task == "" {
			task = "*"
		}
		value := string(st.Value)
		if st.Field == "" {
			value = ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(task), orDash(printable(st.Field)), orDash(st.Op),
			orDash(printable(value)), utc(st.Since))
	}
	_ = tw.Flush()
}

// strikeJSON is the --json form of a strike, as snapshot's: snake_case
// keys; an empty task or field (every task, the whole task) left out.
type strikeJSON struct {
	Task  string          `json:"task,omitempty"`
	Field string          `json:"field,omitempty"`
	Op    string          `json:"op,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
	Since time.Time       `json:"since,omitzero"`
}
