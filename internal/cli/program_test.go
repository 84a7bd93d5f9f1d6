package cli_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/cli"
)

var commandNames = []string{"watch", "snapshot", "workers", "cancel", "clear", "help"}

// run runs the CLI with no environment and nothing on stdin.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runProgram(t, &cli.Program{}, args)
}

func assertUsage(t *testing.T, out string) {
	t.Helper()
	assert.Contains(t, out, "Usage:\n  docket [--url URL] [--name NAME] COMMAND [flags] [arguments]\n")
	for _, name := range commandNames {
		assert.Regexp(t, `(?m)^  `+name+` +\S`, out, "the usage lists %s", name)
	}
	assert.Contains(t, out, "--url URL")
	assert.Contains(t, out, "--name NAME")
}

// help, -h and --help print the usage on stdout and succeed.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := run(t, args...)
		assert.Equal(t, 0, r.code, args)
		assert.Empty(t, r.stderr, args)
		assertUsage(t, r.stdout)
	}
}

// help COMMAND and COMMAND -h print the command's usage.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help", "snapshot"}, {"snapshot", "-h"}, {"--url", "memory://x", "snapshot", "--help"}} {
		r := run(t, args...)
		assert.Equal(t, 0, r.code, args)
		assert.Empty(t, r.stderr, args)
		assert.True(t, strings.HasPrefix(r.stdout, "Usage: docket [global flags] snapshot\n"), r.stdout)
		assert.Contains(t, r.stdout, "--json")
		assert.Contains(t, r.stdout, "--url URL")
	}
	assert.Contains(t, run(t, "help", "watch").stdout, "Usage: docket [global flags] watch KEY\n")
	assert.Contains(t, run(t, "help", "cancel").stdout, "Usage: docket [global flags] cancel KEY...\n")
	assert.Contains(t, run(t, "help", "clear").stdout, "--yes")
}

// An unknown command: one line naming the commands, exit 2; no command at
// all: the usage, exit 2.
func TestUnknownCommand(t *testing.T) {
	t.Parallel()
	r := run(t, "frobnicate")
	assert.Equal(t, result{code: 2, stderr: "docket: unknown command \"frobnicate\" (commands: watch, snapshot, show, workers, cancel, retry, run-now, signal, clear, strike, restore, strikes, ui) (see 'docket help')\n"}, r)

	r = run(t)
	assert.Equal(t, 2, r.code, "no command at all")
	assert.True(t, strings.HasPrefix(r.stderr, "docket: no command given\n"), r.stderr)
	assertUsage(t, r.stderr)

	r = run(t, "help", "frobnicate")
	assert.Equal(t, result{code: 2, stderr: "docket: help: unknown command \"frobnicate\" (commands: watch, snapshot, show, workers, cancel, retry, run-now, signal, clear, strike, restore, strikes, ui) (see 'docket help')\n"}, r)
}

// Every command needs a URL, from --url or DOCKET_URL; nothing defaults
// to memory://.
func TestMissingURL(t *testing.T) {
	t.Parallel()
	const want = "docket: no docket URL: set --url or DOCKET_URL (for example redis://localhost:6379/0) (see 'docket help')\n"
	for _, args := range [][]string{{"watch", "k"}, {"snapshot"}, {"workers"}, {"cancel", "k"}, {"clear", "--yes"}} {
		r := runProgram(t, &cli.Program{Getenv: func(k string) string {
			if k == cli.EnvName {
				return "orders" // a name alone is not enough
			}
			return ""
		}}, args)
		assert.Equal(t, result{code: 2, stderr: want}, r, args)
	}
}

// Wrong command lines are one line on stderr and exit 2.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"watch"}, "docket: watch: expected one task KEY, got 0 arguments (see 'docket help watch')\n"},
		{[]string{"watch", "a", "b"}, "docket: watch: expected one task KEY, got 2 arguments (see 'docket help watch')\n"},
		{[]string{"cancel"}, "docket: cancel: expected at least one task KEY (see 'docket help cancel')\n"},
		{[]string{"snapshot", "extra"}, "docket: snapshot: takes no arguments, got [\"extra\"] (see 'docket help snapshot')\n"},
		{[]string{"snapshot", "--limit", "0"}, "docket: snapshot: --limit must be at least 1, got 0 (see 'docket help snapshot')\n"},
		{[]string{"snapshot", "--bogus"}, "docket: snapshot: flag provided but not defined: -bogus (see 'docket help snapshot')\n"},
		{[]string{"--bogus", "snapshot"}, "docket: flag provided but not defined: -bogus (see 'docket help')\n"},
		{[]string{"help", "a", "b"}, "docket: help takes at most one command, got 2 arguments (see 'docket help')\n"},
	} {
		r := runProgram(t, &cli.Program{Getenv: func(string) string { return "memory://unused" }}, tc.args)
		assert.Equal(t, result{code: 2, stderr: tc.want}, r, tc.args)
	}
}

// A URL that cannot be used is one line and exit 1.
func TestBadURL(t *testing.T) {
	t.Parallel()
	r := run(t, "--url", "bogus://x", "snapshot")
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.True(t, strings.HasPrefix(r.stderr, "docket: bad URL \"bogus://x\": unknown scheme \"bogus\""), r.stderr)
}

// Global flags may come after the command and its arguments, and override
// the environment; "--" ends the flags.
func TestGlobalFlagsAnywhere(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scheduledTasks(t, f, "-odd-key")
	p := f.program("", nil, nil)
	p.Getenv = func(k string) string { return map[string]string{cli.EnvURL: "bogus://", cli.EnvName: "other"}[k] }
	r := runProgram(t, p, []string{"cancel", "--url", f.url, "--", "-odd-key"})
	assert.Equal(t, result{code: 1, stderr: "docket: cancel: docket \"other\" has no live task (scheduled, queued, waiting, running, parked or held) with the key \"-odd-key\"\n"}, r,
		"the name from the environment, the URL from the flag")
	r = runProgram(t, p, []string{"cancel", "--url", f.url, "--", "-odd-key", "--name", f.name})
	assert.Equal(t, 1, r.code, "after --, --name is a key")
	r = runProgram(t, p, []string{"cancel", "--url", f.url, "--name", f.name, "--", "-odd-key"})
	assert.Equal(t, result{code: 0, stdout: "cancelled -odd-key\n"}, r)
}

// Run is the entry point of cmd/docket.
func TestRun(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"help"}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, 0, code)
	assertUsage(t, stdout.String())
	assert.Empty(t, stderr.String())
}

// A terminal is an *os.File that is a character device.
func TestIsTerminal(t *testing.T) {
	t.Parallel()
	assert.False(t, cli.IsTerminal(&bytes.Buffer{}))
	f, err := os.CreateTemp(t.TempDir(), "out")
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	assert.False(t, cli.IsTerminal(f))
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		t.Cleanup(func() { _ = tty.Close() })
		assert.True(t, cli.IsTerminal(tty))
	}
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		t.Cleanup(func() { _ = null.Close() })
		// /dev/null is a character device too: output to it is thrown away,
		// so redrawing it in place costs nothing.
		assert.True(t, cli.IsTerminal(null))
	}
}
