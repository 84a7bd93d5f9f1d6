package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/sdk"
)

// The commands that act on tasks by key: cancel, retry, run-now, signal.

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

var retryCommand = &command{
	name:    "retry",
	args:    "KEY...",
	summary: "run failed or dead-lettered tasks again, now",
	help: `Each task runs again under its key, now, from attempt 1, with the same
input (sdk.Docket.Retry): one whose retries ran out, one that failed for
good or for bad input, one dead-lettered. A workflow keeps the steps and
children it completed. A key whose task did not fail (it is live,
completed or cancelled), or that has no record, is an error (exit 1); the
other keys are still retried.
`,
	run: runRetry,
}

var runNowCommand = &command{
	name:    "run-now",
	args:    "KEY...",
	summary: "make scheduled tasks due now",
	help: `Each task added for later, retry waiting out its delay, or next run of a
perpetual or cron task is made due now (sdk.Docket.RunNow); its attempt and
input stay the same. A task due already is left as it is. A key whose task
is running, waiting for a slot, parked or ended, or that no live task has,
is an error (exit 1); the other keys are still run.
`,
	run: runRunNow,
}

var signalCommand = &command{
	name:    "signal",
	args:    "KEY NAME [PAYLOAD]",
	summary: "send a workflow a signal, with a JSON payload",
	help: `Sends the workflow with KEY the signal NAME (sdk.Docket.Signal), which its
workflow.WaitSignal(ctx, NAME, ...) receives. PAYLOAD is JSON: '{"approved":
true}', '"yes"', 42 (a negative number after --: docket signal KEY NAME
-- -5), or - to read it from standard input (docket signal KEY NAME - <
decision.json); without it the payload is null. A PAYLOAD that is not JSON, or an
empty NAME, is a usage error (exit 2); a KEY that no live task has is an
error (exit 1). Signals are not idempotent: sending twice delivers twice.
`,
	run: runSignal,
}

func runCancel(ctx context.Context, s *session, cmd *command, args []string) error {
	return eachKey(ctx, s, cmd, args, "cancelled", func(d *sdk.Docket, key string) error {
		err := d.Cancel(ctx, key)
		if errors.Is(err, sdk.ErrNotFound) {
			return fmt.Errorf("cancel: docket %q has no live task (scheduled, queued, waiting, running, parked or held) with the key %q", d.Name(), key)
		}
		return keyed("cancel", key, err)
	})
}

func runRetry(ctx context.Context, s *session, cmd *command, args []string) error {
	return eachKey(ctx, s, cmd, args, "retrying", func(d *sdk.Docket, key string) error {
		err := d.Retry(ctx, key)
		if errors.Is(err, sdk.ErrNotFound) {
			return fmt.Errorf("retry: docket %q has no record of a task with the key %q (never added, or it ended longer ago than the retention)", d.Name(), key)
		}
		return keyed("retry", key, err)
	})
}

func runRunNow(ctx context.Context, s *session, cmd *command, args []string) error {
	return eachKey(ctx, s, cmd, args, "due now", func(d *sdk.Docket, key string) error {
		err := d.RunNow(ctx, key)
		if errors.Is(err, sdk.ErrNotFound) && !errors.Is(err, sdk.ErrWrongState) {
			return fmt.Errorf("run-now: docket %q has no live task with the key %q", d.Name(), key)
		}
		if err != nil && errors.Is(err, sdk.ErrWrongState) {
			// The sdk's words are for Go: "run now: …; Retry runs a failed
			// execution again".
			msg := strings.Replace(withoutSentinel(err, sdk.ErrWrongState).Error(), "run now:", "run-now:", 1)
			return errors.New(strings.Replace(msg, "Retry runs a failed execution again", "docket retry runs it again", 1))
		}
		return keyed("run-now", key, err)
	})
}

// eachKey opens the docket and calls act with each key of args, printing
// "done KEY" for each that succeeds. An error is reported and the other keys
// go on; with one key, its error is the command's.
func eachKey(ctx context.Context, s *session, cmd *command, args []string, done string, act func(d *sdk.Docket, key string) error) error {
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
		err := withoutSentinel(act(d, key), sdk.ErrWrongState)
		if err == nil {
			fmt.Fprintf(s.stdout, "%s %s\n", done, printable(key))
			continue
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

// keyed names the command and the key in an error the sdk gave without
// them (Redis unreachable, say), so that each key of several reports its
// own line.
func keyed(command, key string, err error) error {
	if err == nil || errors.Is(err, sdk.ErrWrongState) {
		return err
	}
	return fmt.Errorf("%s %s: %w", command, strconv.Quote(key), err)
}

// withoutSentinel drops the text of sentinel from the front of err's
// message, for people: "docket: the task is not in a state this applies
// to: retry: …" reads "retry: …".
func withoutSentinel(err, sentinel error) error {
	if err == nil || !errors.Is(err, sentinel) {
		return err
	}
	if msg, ok := strings.CutPrefix(err.Error(), sentinel.Error()+": "); ok {
		return errors.New(msg)
	}
	return err
}

// maxPayload bounds a signal's payload read from standard input; the docket
// refuses one over its own limit (sdk.WithMaxInputSize) all the same.
const maxPayload = 64 << 20

// readPayload reads a signal's payload from r, whole.
func readPayload(r io.Reader) ([]byte, error) {
	text, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("signal: reading the payload from standard input: %w", err)
	}
	if len(text) > maxPayload {
		return nil, fmt.Errorf("signal: the payload on standard input is over %d MiB", maxPayload>>20)
	}
	return text, nil
}

// quotedBytes is the most of a payload an error quotes: one read from
// standard input may be megabytes.
const quotedBytes = 200

// quoted is the start of a payload, for an error to quote.
func quoted(payload []byte) string {
	if len(payload) <= quotedBytes {
		return string(payload)
	}
	return fmt.Sprintf("%s (%d bytes)", text.Truncate(string(payload), quotedBytes), len(payload))
}

func runSignal(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	rest, err := s.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(rest) < 2 || len(rest) > 3 {
		return usageErrorf(cmd.name, "expected a task KEY, a signal NAME and, optionally, a JSON PAYLOAD")
	}
	key, name := rest[0], rest[1]
	if name == "" {
		return usageErrorf(cmd.name, "the signal NAME is empty: workflow.WaitSignal receives signals by name")
	}
	payload := json.RawMessage("null")
	if len(rest) == 3 {
		text := []byte(rest[2])
		if rest[2] == "-" {
			if text, err = readPayload(s.stdin); err != nil {
				return err
			}
		}
		if !json.Valid(text) {
			return usageErrorf(cmd.name, "the PAYLOAD %s is not JSON (quote a string: '\"yes\"')", printable(quoted(text)))
		}
		payload = json.RawMessage(text)
	}
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.Signal(ctx, key, name, payload)
	if errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("signal: docket %q has no live task with the key %q", d.Name(), key)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "sent %s to %s\n", printable(name), printable(key))
	return nil
}
