package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// command is one of the tool's commands.
type command struct {
	name    string
	args    string // the arguments after the flags, as the usage shows them
	summary string // one line, for the command list
	help    string // its flags and behaviour, for 'docket help NAME'
	run     func(ctx context.Context, s *session, cmd *command, args []string) error
}

// commands lists the tool's commands, in the order the usage shows them.
var commands []*command

func init() {
	commands = []*command{watchCommand, snapshotCommand, showCommand, workersCommand, cancelCommand, retryCommand,
		runNowCommand, signalCommand, clearCommand, strikeCommand, restoreCommand, strikesCommand, uiCommand}
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

const globalHelp = `Global flags (before or after the command):
  --url URL     the Redis the docket lives in: redis://host:port/db, rediss://,
                unix://, redis+cluster://, redis+sentinel:// (memory:// is
                in-process, so only tests that run the CLI inside share it)
                (default: $DOCKET_URL; one of the two is required)
  --name NAME   the docket's name (default: $DOCKET_NAME, else "docket")
`

func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("docket: watch and manage the tasks of a docket.\n\n")
	b.WriteString("Usage:\n  docket [--url URL] [--name NAME] COMMAND [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString("  help      print this, or a command's usage: docket help COMMAND\n\n")
	b.WriteString(globalHelp)
	b.WriteString("\nExit status: 0 on success, 1 on an error (or a watched task that did not\ncomplete), 2 on a wrong command line.\n")
	_, _ = io.WriteString(w, b.String())
}

func writeCommandUsage(w io.Writer, c *command) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: docket [global flags] %s", c.name)
	if c.args != "" {
		b.WriteString(" " + c.args)
	}
	fmt.Fprintf(&b, "\n\n%s\n", c.summary)
	if c.help != "" {
		b.WriteString("\n" + c.help)
	}
	b.WriteString("\n" + globalHelp)
	_, _ = io.WriteString(w, b.String())
}
