package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
)

// Strike is a strike in effect: the tasks it matches do not start while it
// holds (see Docket.Strike).
type Strike struct {
	Task  string          // the task it strikes; empty for every task
	Field string          // the input field it compares; empty for the whole task
	Op    string          // ==, !=, <, <=, >, >=
	Value json.RawMessage // what the field is compared with (JSON)
	Since time.Time       // when it was struck, by the Redis clock
}

// String describes the strike for people: the task (or every task), and
// the condition on its field, if any.
func (s Strike) String() string {
	what := s.Task
	if what == "" {
		what = "every task"
	}
	if s.Field != "" {
		what += fmt.Sprintf(" with %s %s %s", s.Field, s.Op, s.Value)
	}
	return what
}

// ErrBadStrike reports a strike that cannot be struck: neither a task nor a
// field, an operator or a value without a field, an unknown operator, a
// value that is not a number, a string or a boolean, a field that the input
// of a task registered on the docket does not have, a task name, a field or
// a string value that is not UTF-8 text (JSON, which carries the strike to
// Redis, would write it otherwise). It matches ErrBadInput too, for
// errors.Is.
var ErrBadStrike error = badStrike{}

// badStrike is ErrBadStrike: its own message (a strike is no task input),
// and ErrBadInput's kind.
type badStrike struct{}

func (badStrike) Error() string        { return "docket: bad strike" }
func (badStrike) Is(target error) bool { return target == ErrBadInput }

// noStrike is ErrNotFound for a strike, with a message of its own (a
// strike is no task).
type noStrike string

func (e noStrike) Error() string      { return string(e) }
func (noStrike) Is(target error) bool { return target == ErrNotFound }

var strikeOps = []string{"==", "!=", "<", "<=", ">", ">="}

// Strike stops tasks from starting, at once and across every worker and
// producer, until Restore: the task called task (empty for every task)
// whose input field (its JSON name) compares with value by op (==, !=, <,
// <=, >, >=: numbers as numbers, strings as strings, values of different
// kinds as different); with an empty field, an empty op and a nil value,
// every run of the task (a field left empty with an op or a value is
// ErrBadStrike, and so is a field that the input of a task registered on
// this docket does not have, in any case: it matches policy.ErrUnknownField
// too, see policy.Set.CheckFoldedField). The value is compared as JSON
// writes it, as the input's field is: a named type (type Region string) is its string, whole numbers
// of any size exactly. A field the input's JSON leaves out (tagged
// omitempty and zero) matches no comparison, != included: strike
// priority == 0 holds nothing of a type that omits a zero priority. A
// null is a kind of its own, which only != matches (on Redis; on memory://
// a null reads as absent).
//
// While it holds, adding a task it matches writes nothing and reports
// Disposition Struck; a scheduled or queued task it matches is held when it
// falls due (state struck, listed in Snapshot.Held) and runs as soon as the
// strike is restored. Running tasks finish. Strikes live in Redis: they
// survive restarts, and every check reads them in the script that decides,
// so a change is seen by the next add or claim. Striking a strike that
// holds already changes nothing.
func (d *Docket) Strike(ctx context.Context, task, field, op string, value any) error {
	if err := usable(ctx, d); err != nil {
		return err
	}
	if err := core.CheckTaskName(task); err != nil { // Restore takes it: an earlier version struck such names
		return fmt.Errorf("%w: %w", ErrBadStrike, err)
	}
	spec, err := strikeSpec(task, field, op, value)
	if err != nil {
		return err
	}
	if err := d.checkStrikeField(task, field); err != nil {
		return err
	}
	_, err = d.core.Store.Strike(ctx, spec)
	return err
}

// checkStrikeField refuses a strike on a field that the input of the task,
// registered on this docket, does not have in any case (a typo, or the Go
// name of a field whose JSON name differs): it would hold nothing, and say
// nothing of it. A task this docket does not register (the docket command,
// a dashboard's process), a strike of every task, and an input that writes
// its own JSON are not checked.
func (d *Docket) checkStrikeField(task, field string) error {
	if task == "" || field == "" {
		return nil
	}
	def := d.core.Task(task)
	if def == nil || def.Policies == nil || selfCoded(def.Input) {
		return nil
	}
	if err := def.Policies.CheckFoldedField(field); err != nil {
		return fmt.Errorf("%w: task %q (its input %v): %w: the strike would hold nothing; name the field as the input's JSON does (the docket command strikes a field without this check)",
			ErrBadStrike, task, def.Input, err)
	}
	return nil
}

// Restore removes a strike made with the same arguments, and releases the
// tasks it held that no other strike matches: they are due at once. It
// returns ErrNotFound when no such strike holds (the tasks it would have
// held are released all the same).
func (d *Docket) Restore(ctx context.Context, task, field, op string, value any) error {
	if err := usable(ctx, d); err != nil {
		return err
	}
	spec, err := strikeSpec(task, field, op, value)
	if err != nil {
		return err
	}
	ok, err := d.core.Store.Restore(ctx, spec)
	if err != nil {
		return err
	}
	if !ok {
		return noStrike("docket: no strike of " + strikeOf(spec).String())
	}
	return nil
}

// Strikes lists the strikes in effect, oldest first.
func (d *Docket) Strikes(ctx context.Context) ([]Strike, error) {
	if err := usable(ctx, d); err != nil {
		return nil, err
	}
	specs, err := d.core.Store.Strikes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Strike, len(specs))
	for i, s := range specs {
		out[i] = strikeOf(s)
	}
	slices.SortFunc(out, func(a, b Strike) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.String(), b.String())
	})
	return out, nil
}

func strikeOf(s store.StrikeSpec) Strike {
	return Strike{Task: s.Task, Field: s.Field, Op: s.Op, Value: asWritten(s.Value), Since: s.StrikeTime()}
}

// asWritten is the JSON value v with <, > and & in its strings as written,
// rather than as the \u003c, \u003e and \u0026 that Go's encoder wrote
// there when it was struck: the same JSON, as people and scripts expect to
// read it (the docket command, the dashboard). Restore encodes the value as
// Strike did, so the strike it names is the same.
func asWritten(v json.RawMessage) json.RawMessage {
	if !bytes.Contains(v, []byte(`\u00`)) {
		return v
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber() // numbers as written, whatever their size
	if err := dec.Decode(&x); err != nil {
		return v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return v
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func strikeSpec(task, field, op string, value any) (store.StrikeSpec, error) {
	if task == "" && field == "" {
		return store.StrikeSpec{}, fmt.Errorf("%w: name a task, a field, or both (a strike of everything is Clear's job)", ErrBadStrike)
	}
	if task == "*" { // the CLI's and the dashboard's word for every task
		return store.StrikeSpec{}, fmt.Errorf(`%w: task "*": every task is "" here (the docket command and the dashboard write it *)`, ErrBadStrike)
	}
	if field == "" {
		if op != "" || value != nil { // a comparison without its field: striking the whole task would hold more than asked
			return store.StrikeSpec{}, fmt.Errorf("%w: operator %q and value %v without a field: name the field, or give none of the three to strike the whole task",
				ErrBadStrike, op, value)
		}
		return store.StrikeSpec{Task: task, Value: json.RawMessage("null")}, nil
	}
	if !utf8.ValidString(field) {
		return store.StrikeSpec{}, fmt.Errorf("%w: field %q is not UTF-8 text: no input field has that name", ErrBadStrike, field)
	}
	if v := reflect.ValueOf(value); v.Kind() == reflect.String && !utf8.ValidString(v.String()) {
		// JSON would write each bad byte as U+FFFD: the strike would
		// compare the field with another string than the one given.
		return store.StrikeSpec{}, fmt.Errorf("%w: the value %q is not UTF-8 text", ErrBadStrike, v.String())
	}
	if !slices.Contains(strikeOps, op) {
		return store.StrikeSpec{}, fmt.Errorf("%w: operator %q; use one of %s", ErrBadStrike, op, strings.Join(strikeOps, " "))
	}
	// The value is compared as the input's field is written: as JSON, so
	// a named type (type Region string) or one with its own MarshalJSON is
	// written as it would be in the input.
	raw, err := json.Marshal(value)
	if err != nil {
		return store.StrikeSpec{}, fmt.Errorf("%w: the value %v (%T): %w", ErrBadStrike, value, value, err)
	}
	if !isScalarJSON(raw) {
		return store.StrikeSpec{}, fmt.Errorf("%w: the value %v (%T) must be a number, a string or a boolean (it is written %s)", ErrBadStrike, value, value, raw)
	}
	return store.StrikeSpec{Task: task, Field: field, Op: op, Value: raw}, nil
}

// isScalarJSON reports whether raw, as json.Marshal wrote it, is a number,
// a string or a boolean.
func isScalarJSON(raw []byte) bool {
	switch c := raw[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return true
	default:
		return string(raw) == "true" || string(raw) == "false"
	}
}
