package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/sdk"
)

var showCommand = &command{
	name:    "show",
	args:    "KEY",
	summary: "show one execution: its state, times, progress, error, result, and what it did as a workflow",
	help: `Flags:
  --json        print the execution as JSON instead

Its progress as it stands (a running task's, a workflow's between its runs)
or as it was last reported. For a finished execution, its result (a task made with sdk.NewResultTask)
or why it failed; for a workflow, the steps it has done, its children and
their states, and what it waits for while it is parked. A key that no
execution has (never added, or finished longer ago than the retention) is an
error (exit 1).
`,
	run: runShow,
}

func runShow(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	asJSON := fs.Bool("json", false, "")
	keys, err := s.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(keys) != 1 {
		return usageErrorf(cmd.name, "expected one task KEY, got %d arguments", len(keys))
	}
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	info, err := d.Execution(keys[0]).Info(ctx)
	if errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("show: docket %q has no execution with the key %s", d.Name(), strconv.Quote(keys[0]))
	}
	if err != nil {
		return fmt.Errorf("show %s: %w", strconv.Quote(keys[0]), err)
	}
	// The live progress while there is one (a running task's, a workflow's
	// between its runs), as docket watch shows it; else the last reported.
	if p, err := d.Execution(keys[0]).Progress(ctx); err == nil && p != (sdk.ProgressInfo{}) {
		info.Progress = p
	}
	if *asJSON {
		return writeJSON(s.stdout, infoToJSON(info))
	}
	writeInfo(s.stdout, info)
	return nil
}

// writeInfo writes an execution's record, a field per line. Task data
// (keys, errors, results) is written with control characters escaped: it
// comes from anyone who can add a task, and goes to a terminal.
func writeInfo(w io.Writer, i sdk.Info) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-10s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("key", "%s", printable(i.Key))
	line("task", "%s", printable(i.Task))
	line("state", "%s (attempt %d, %s)", i.State, i.Attempt, plural(i.Deliveries, "delivery", "deliveries"))
	when := func(label string, t time.Time) {
		if !t.IsZero() {
			line(label, "%s", utc(t))
		}
	}
	when("created", i.Created)
	when("due", i.Due)
	when("started", i.Started)
	when("finished", i.Finished)
	if i.Worker != "" {
		line("worker", "%s", printable(i.Worker))
	}
	if i.WaitingFor != "" {
		line("waiting", "%s", printable(i.WaitingFor))
	}
	if p := progressText(i.Progress); p != "" {
		line("progress", "%s", p)
	}
	if i.Error != "" {
		line("error", "%s", printable(firstLine(i.Error)))
	}
	if i.Reason != "" {
		line("reason", "%s", i.Reason)
	}
	if len(i.Result) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, i.Result, "           ", "  ") == nil { // <, > and & as written, as the dashboard shows them
			line("result", "%s", printableLines(text.UnescapeHTMLEscapes(pretty.String())))
		} else {
			line("result", "%s", printable(string(i.Result)))
		}
	}
	if i.Parent != "" {
		line("workflow", "%s (as child %s)", printable(i.Parent), printable(i.ChildName))
	}
	if wf := i.Workflow; wf != nil {
		writeWorkflow(w, wf, line)
	}
}

func writeWorkflow(w io.Writer, wf *sdk.WorkflowInfo, line func(label, format string, args ...any)) {
	if wf.WaitingFor != "" {
		line("parked", "waiting for %s", printable(wf.WaitingFor))
	}
	if len(wf.Steps) > 0 {
		names := make([]string, len(wf.Steps))
		for i, s := range wf.Steps {
			names[i] = printable(s)
		}
		line("steps", "%s done: %s", plural(len(names), "step"), strings.Join(names, ", "))
	}
	for name, n := range wf.Signals {
		line("signals", "%d %s waiting to be received", n, printable(name))
	}
	if len(wf.Children) == 0 {
		return
	}
	counts := map[sdk.State]int{}
	for _, c := range wf.Children {
		counts[c.State]++
	}
	line("children", "%d: %d completed, %d failed, %d cancelled, %d live", len(wf.Children),
		counts[sdk.StateCompleted], counts[sdk.StateFailed], counts[sdk.StateCancelled], counts[""])
	const shown = 20
	for n, c := range wf.Children {
		if n == shown {
			fmt.Fprintf(w, "%-10s … and %d more (docket show --json)\n", "", len(wf.Children)-shown)
			break
		}
		state := string(c.State)
		if state == "" {
			state = "live"
		}
		detail := ""
		if c.Error != "" {
			detail = ": " + printable(firstLine(c.Error))
		}
		fmt.Fprintf(w, "%-10s %s  %s  %s%s\n", "", printable(c.Name), printable(c.Key), state, detail)
	}
}

// printable is text.Printable: task data shown on one line of its own.
func printable(s string) string { return text.Printable(s) }

// printableLines is printable line by line, for text whose lines are our
// own (indented JSON: newlines inside its strings are escaped already).
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return strings.Join(lines, "\n")
}

// infoJSON is the --json form of an execution, as snapshot's: snake_case
// keys, zero times and empty fields left out.
type infoJSON struct {
	Key        string          `json:"key"`
	KeyBase64  string          `json:"key_base64,omitempty"` // see rawKey
	Task       string          `json:"task"`
	State      sdk.State       `json:"state"`
	Attempt    int             `json:"attempt"`
	Deliveries int             `json:"deliveries"`
	Input      json.RawMessage `json:"input,omitempty"`
	Due        time.Time       `json:"due,omitzero"`
	Created    time.Time       `json:"created,omitzero"`
	Started    time.Time       `json:"started,omitzero"`
	Finished   time.Time       `json:"finished,omitzero"`
	Retried    time.Time       `json:"retried,omitzero"`
	Error      string          `json:"error,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Worker     string          `json:"worker,omitempty"`
	WaitingFor string          `json:"waiting_for,omitempty"`
	Progress   *progressJSON   `json:"progress,omitempty"`
	Result     json.RawMessage `json:"result,omitempty"`
	Parent     string          `json:"parent,omitempty"`
	ParentB64  string          `json:"parent_base64,omitempty"`
	ChildName  string          `json:"child_name,omitempty"`
	Workflow   *workflowJSON   `json:"workflow,omitempty"`
	Trace      string          `json:"trace,omitempty"`
}

// asJSON is raw as it is when it is JSON, and else (a record another
// program garbled) a JSON string of its text: the view of a bad record is
// the one an operator needs most, and plain show shows it too.
func asJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || json.Valid(raw) {
		return raw
	}
	quoted, _ := json.Marshal(string(raw)) // a string always encodes
	return quoted
}

type progressJSON struct {
	Current int64     `json:"current"`
	Total   int64     `json:"total"`
	Message string    `json:"message,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

type workflowJSON struct {
	Steps      []string       `json:"steps"`
	Children   []childJSON    `json:"children"`
	WaitingFor string         `json:"waiting_for,omitempty"`
	Signals    map[string]int `json:"signals,omitempty"`
}

type childJSON struct {
	Name      string    `json:"name"`
	Key       string    `json:"key"`
	KeyBase64 string    `json:"key_base64,omitempty"`
	State     sdk.State `json:"state,omitempty"`
	Error     string    `json:"error,omitempty"`
}

func infoToJSON(i sdk.Info) infoJSON {
	out := infoJSON{
		Key: i.Key, KeyBase64: rawKey(i.Key), Task: i.Task, State: i.State, Attempt: i.Attempt, Deliveries: i.Deliveries, Input: asJSON(i.Input),
		Due: i.Due, Created: i.Created, Started: i.Started, Finished: i.Finished, Retried: i.Retried,
		Error: i.Error, Reason: i.Reason, Worker: i.Worker, WaitingFor: i.WaitingFor, Result: asJSON(i.Result),
		Parent: i.Parent, ParentB64: rawKey(i.Parent), ChildName: i.ChildName, Trace: i.Trace,
	}
	if p := i.Progress; p != (sdk.ProgressInfo{}) {
		out.Progress = &progressJSON{Current: p.Current, Total: p.Total, Message: p.Message, Updated: p.Updated}
	}
	if wf := i.Workflow; wf != nil {
		w := &workflowJSON{Steps: nonNil(wf.Steps), Children: []childJSON{}, WaitingFor: wf.WaitingFor, Signals: wf.Signals}
		for _, c := range wf.Children {
			w.Children = append(w.Children, childJSON{Name: c.Name, Key: c.Key, KeyBase64: rawKey(c.Key), State: c.State, Error: c.Error})
		}
		out.Workflow = w
	}
	return out
}

// progressText says what an execution reported of its progress, as docket
// watch does without a terminal ("5/10  50%  half way"); empty for none.
func progressText(p sdk.ProgressInfo) string {
	return strings.Join(progressParts(nil, p, false), "  ")
}
