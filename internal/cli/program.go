package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/docket-go/docket/sdk"
)

// Exit codes of Run.
const (
	ExitOK    = 0 // the command did what it was asked
	ExitError = 1 // it failed, or (watch) the task did not complete
	ExitUsage = 2 // the command line was wrong
)

// Environment variables that give the global flags their defaults.
const (
	EnvURL  = "DOCKET_URL"
	EnvName = "DOCKET_NAME"
)

// Program is the docket command with its surroundings: where it reads its
// configuration and input and where it writes. Its zero value reads and
// writes nothing; Run gives it the process's own.
type Program struct {
	// Getenv reads an environment variable (DOCKET_URL, DOCKET_NAME). Nil
	// reads none.
	Getenv func(string) string

	// Stdin is where clear reads its confirmation. Nil is empty.
	Stdin io.Reader

	// Stdout receives the commands' output and Stderr their errors. Nil
	// discards.
	Stdout, Stderr io.Writer

	// IsTerminal reports whether a writer is a terminal: then watch redraws
	// one line in place instead of printing a line per event. Defaults to
	// IsTerminal.
	IsTerminal func(w io.Writer) bool

	// Now is the clock watch measures its elapsed time with. Defaults to
	// time.Now.
	Now func() time.Time
}

// Run runs the docket command with args (without the program's name) in the
// process's surroundings, and returns the exit code: ExitOK, ExitError or
// ExitUsage. cmd/docket calls it with os.Args[1:], os.Getenv, os.Stdin,
// os.Stdout and os.Stderr.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	p := &Program{Getenv: getenv, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	return p.Run(ctx, args)
}

// IsTerminal reports whether w is a terminal: an *os.File that is a
// character device.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Run runs the docket command with args (without the program's name) and
// returns its exit code: ExitOK, ExitError or ExitUsage.
func (p *Program) Run(ctx context.Context, args []string) int {
	s := &session{
		p:      p,
		stdin:  p.Stdin,
		stdout: p.Stdout,
		stderr: p.Stderr,
	}
	if s.stdin == nil {
		s.stdin = strings.NewReader("")
	}
	if s.stdout == nil {
		s.stdout = io.Discard
	}
	if s.stderr == nil {
		s.stderr = io.Discard
	}
	s.url = s.getenv(EnvURL)
	s.name = s.getenv(EnvName)
	if s.name == "" {
		s.name = sdk.DefaultName
	}
	return s.exit(s.dispatch(ctx, args))
}

// session is one run of the command: the program's surroundings and the
// global flags.
type session struct {
	p              *Program
	stdin          io.Reader
	stdout, stderr io.Writer
	url, name      string
}

func (s *session) getenv(key string) string {
	if s.p.Getenv == nil {
		return ""
	}
	return s.p.Getenv(key)
}

func (s *session) isTerminal(w io.Writer) bool {
	if s.p.IsTerminal != nil {
		return s.p.IsTerminal(w)
	}
	return IsTerminal(w)
}

func (s *session) now() time.Time {
	if s.p.Now != nil {
		return s.p.Now()
	}
	return time.Now()
}

// dispatch parses the global flags and runs the command they precede.
func (s *session) dispatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("docket", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(s.stdout)
			return nil
		}
		return usageErrorf("", "%v", err)
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprintf(s.stderr, "docket: no command given\n\n")
		writeUsage(s.stderr)
		return exitStatus(ExitUsage)
	}
	name, args := args[0], args[1:]
	if name == "help" {
		return s.help(args)
	}
	cmd := lookup(name)
	if cmd == nil { // an error is one line, as every other is
		return usageErrorf("", "unknown command %q (commands: %s)", name, commandNames())
	}
	return cmd.run(ctx, s, cmd, args)
}

// help prints the usage, or one command's.
func (s *session) help(args []string) error {
	switch len(args) {
	case 0:
		writeUsage(s.stdout)
		return nil
	case 1:
		cmd := lookup(args[0])
		if cmd == nil {
			return usageErrorf("", "help: unknown command %q (commands: %s)", args[0], commandNames())
		}
		writeCommandUsage(s.stdout, cmd)
		return nil
	}
	return usageErrorf("", "help takes at most one command, got %d arguments", len(args))
}

// globalFlags declares --url and --name on fs, with the session's current
// values as defaults: before the command they set the defaults, after it
// they override them.
func (s *session) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&s.url, "url", s.url, "")
	fs.StringVar(&s.name, "name", s.name, "")
}

// flags returns the flag set of a command, with the global flags on it.
func (s *session) flags(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.globalFlags(fs)
	return fs
}

// parse parses a command's flags, which may come before, between or after
// its arguments ("--" ends the flags), and returns the arguments. -h prints
// the command's usage and returns errHelp.
func (s *session) parse(cmd *command, fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeCommandUsage(s.stdout, cmd)
				return nil, errHelp
			}
			return nil, usageErrorf(cmd.name, "%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseNone parses the flags of a command that takes no arguments.
func (s *session) parseNone(cmd *command, fs *flag.FlagSet, args []string) error {
	rest, err := s.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return usageErrorf(cmd.name, "takes no arguments, got %q", rest)
	}
	return nil
}

// open opens the docket the global flags name.
func (s *session) open(ctx context.Context) (*sdk.Docket, error) {
	if s.url == "" {
		return nil, usageErrorf("", "no docket URL: set --url or %s (for example redis://localhost:6379/0)", EnvURL)
	}
	logger := slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return sdk.Open(ctx, s.url, sdk.WithName(s.name), sdk.WithLogger(logger))
}

// exit reports err, if any, and returns the exit code it calls for.
func (s *session) exit(err error) int {
	var status exitStatus
	var usage *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return ExitOK
	case errors.As(err, &status):
		return int(status)
	case errors.As(err, &usage):
		fmt.Fprintln(s.stderr, oneLine(usage.Error()))
		return ExitUsage
	default:
		fmt.Fprintln(s.stderr, oneLine(err.Error()))
		return ExitError
	}
}

// oneLine makes an error message one line that starts with "docket: " once,
// however many of the errors it wraps start with it too.
func oneLine(msg string) string {
	// The "docket: " that starts each wrapped error goes, not one inside
	// what the user typed (a key, quoted); line breaks and the indent
	// after them become one space, other spaces stay.
	msg = strings.TrimPrefix(msg, "docket: ")
	msg = strings.ReplaceAll(msg, ": docket: ", ": ")
	msg = lineBreaks.ReplaceAllString(strings.TrimSpace(msg), " ")
	return "docket: " + msg
}

// lineBreaks matches a line break with the blanks around it.
var lineBreaks = regexp.MustCompile(`[ \t]*[\r\n]+[ \t]*`)

// errHelp reports that a command printed its usage because -h asked.
var errHelp = errors.New("help requested")

// exitStatus ends the command with an exit code and no message: whatever
// needed saying was said.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a wrong command line.
type usageError struct {
	cmd string // the command whose usage to point at; empty for the tool's
	msg string
}

func usageErrorf(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

func (e *usageError) Error() string {
	if e.cmd == "" {
		return e.msg + " (see 'docket help')"
	}
	return e.cmd + ": " + e.msg + " (see 'docket help " + e.cmd + "')"
}
