package sdk

import (
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/policy"
)

// Task is a Go function with a typed input, and the policies that govern
// how it runs. In must be a struct type; its JSON encoding is what travels
// through Redis. Build one with NewTask, register it on the dockets whose
// workers run it, and add it from anywhere.
type Task[In any] struct {
	name     string
	fn       func(context.Context, In) error
	policies []policy.Policy

	// For a ResultTask: the function with its result, and the result's type.
	withResult func(context.Context, In) (any, error)
	result     reflect.Type

	made bool // set by NewTask and NewResultTask alone: a struct literal is refused

	once sync.Once
	def  *core.TaskDef
	err  error
}

// NewTask declares a task called name that runs fn with the policies given.
// The policies are checked against In when the task is registered or first
// added: an unknown field, a duplicate policy, a bad cron expression or an
// automatic task whose input has fields is an error then.
//
// The *Task returned is the task: each call makes a new one, even with the
// same name and function, and a docket registers one task per name (see
// Docket.Register). Declare a task once, typically in a package-level var.
func NewTask[In any](name string, fn func(ctx context.Context, in In) error, policies ...policy.Policy) *Task[In] {
	return &Task[In]{name: name, fn: fn, policies: policies, made: true}
}

// Name is the task's name: how messages in Redis refer to it; empty for a
// nil *Task.
func (t *Task[In]) Name() string {
	if t == nil {
		return ""
	}
	return t.name
}

// Policies returns the task's validated policies: a copy, whose edits
// change nothing of how the task runs.
func (t *Task[In]) Policies() (*policy.Set, error) {
	def, err := t.definition()
	if err != nil {
		return nil, err
	}
	return def.Policies.Clone(), nil
}

// Registrable is a task that a Docket can register: a *Task of any input
// type.
type Registrable interface {
	Name() string // the task's name
	definition() (*core.TaskDef, error)
}

func (t *Task[In]) definition() (*core.TaskDef, error) {
	if t == nil {
		return nil, errNilTask
	}
	t.once.Do(func() { t.def, t.err = t.compile() })
	return t.def, t.err
}

func (t *Task[In]) compile() (*core.TaskDef, error) {
	if !t.made {
		return nil, fmt.Errorf("%w: a zero Task (a struct literal): declare a task with sdk.NewTask(name, fn, policies...)", ErrBadTask)
	}
	if t.name == "" {
		return nil, fmt.Errorf("%w: a task needs a name", ErrBadTask)
	}
	if err := core.CheckTaskName(t.name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTask, err)
	}
	if t.fn == nil && t.withResult == nil {
		return nil, fmt.Errorf("%w: task %q has a nil function", ErrBadTask, t.name)
	}
	input := reflect.TypeFor[In]()
	if err := decodable(input); err != nil {
		return nil, fmt.Errorf("%w: task %q: its input type %v: %w", ErrBadInput, t.name, input, err)
	}
	if input.Kind() != reflect.Struct { // the input is a JSON object, whose fields policies and strikes name
		return nil, fmt.Errorf("%w: task %q: its input type %v is not a struct", ErrBadInput, t.name, input)
	}
	if t.result != nil {
		if err := decodable(t.result); err != nil {
			return nil, fmt.Errorf("%w: task %q: its result type %v: %w", ErrBadInput, t.name, t.result, err)
		}
	}
	set, err := policy.Compile(t.name, input, t.policies)
	if err != nil {
		return nil, err
	}
	name, call := t.name, t.withResult
	if call == nil {
		fn := t.fn
		call = func(ctx context.Context, in In) (any, error) { return nil, fn(ctx, in) }
	}
	return &core.TaskDef{
		Name:           name,
		Input:          input,
		Policies:       set,
		ReadBackInput:  readsBack(input, "input"),
		ReadBackResult: readsBack(t.result, "result"),
		Decode: func(raw []byte) (any, error) {
			in, err := decodeInput[In](raw)
			if err != nil {
				return nil, &DecodeError{Task: name, Type: input, Err: err}
			}
			return in, nil
		},
		Call:   func(ctx context.Context, in any) (any, error) { return call(ctx, in.(In)) },
		Result: t.result,
		Owner:  t,
	}, nil
}

// decodable refuses a type JSON cannot encode or decode a value of, which
// would fail each Add, or each attempt once its work is done, rather than
// Register: at the top, an interface with methods (error, say); at any
// depth, a channel, a function or a complex number (even a nil one: JSON
// refuses the type, not the value), or a map whose keys JSON cannot write.
// A type that encodes or decodes itself (json.Marshaler, encoding.
// TextMarshaler, their Unmarshalers) is its own business.
func decodable(t reflect.Type) error {
	if selfCoded(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return errors.New("JSON cannot decode into an interface with methods: use a concrete type (or any)")
		}
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("JSON cannot encode or decode a %v", t.Kind())
	}
	root := t.Name()
	if root == "" {
		root = "value"
	}
	w := typeWalk{seen: map[reflect.Type]bool{}}
	return w.walk(t, root)
}

// readsBack returns a check that JSON of a value of type t (what: "input"
// or "result") decodes back into it; nil when it always does, unless t
// holds an interface with methods (a field of type error), whose non-nil
// values JSON writes as it cannot read.
func readsBack(t reflect.Type, what string) func(raw []byte) error {
	if t == nil {
		return nil
	}
	w := typeWalk{seen: map[reflect.Type]bool{}}
	if w.walk(t, "value"); !w.methods {
		return nil
	}
	return func(raw []byte) error {
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			return fmt.Errorf("%w: its %s, as JSON (%.100s), does not decode into %v (%w): a field of interface type must be nil, or hold what decodes into it",
				ErrBadInput, what, raw, t, err)
		}
		return nil
	}
}

// typeWalk looks through a type for what JSON cannot encode; seen ends the
// walk of a recursive type (type T struct{ Next *T }), and skips a type met
// again.
type typeWalk struct {
	seen    map[reflect.Type]bool
	methods bool // it met an interface with methods (see readsBack)
}

func (w *typeWalk) walk(t reflect.Type, path string) error {
	if w.seen[t] || selfCoded(t) {
		return nil
	}
	w.seen[t] = true
	switch t.Kind() {
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("field %s (%v) cannot be encoded as JSON", path, t)
	case reflect.Pointer:
		return w.walk(t.Elem(), path)
	case reflect.Slice, reflect.Array:
		return w.walk(t.Elem(), path+"[]")
	case reflect.Map:
		if !jsonKey(t.Key()) {
			return fmt.Errorf("field %s (%v) cannot be encoded as JSON: a map key must be a string, an integer or an encoding.TextMarshaler, not %v",
				path, t, t.Key())
		}
		return w.walk(t.Elem(), path+"[]")
	case reflect.Struct:
		return w.fields(t, path)
	case reflect.Interface:
		w.methods = w.methods || t.NumMethod() > 0
	}
	return nil // an interface too: a nil one encodes as null, which decodes
}

// fields walks the fields JSON encodes: exported ones not tagged "-", and
// embedded structs, whose fields JSON promotes even when the struct's type
// is unexported.
func (w *typeWalk) fields(t reflect.Type, path string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("json") == "-" || !f.IsExported() && !embeddedStruct(f) {
			continue
		}
		if err := w.walk(f.Type, path+"."+f.Name); err != nil {
			return err
		}
	}
	return nil
}

func embeddedStruct(f reflect.StructField) bool {
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return f.Anonymous && t.Kind() == reflect.Struct
}

// selfCoded reports a type that encodes or decodes itself, with a value or
// a pointer receiver: JSON leaves its contents to it.
func selfCoded(t reflect.Type) bool {
	if t.Kind() == reflect.Interface {
		return false // JSON decodes only into an empty one
	}
	for _, c := range []reflect.Type{t, reflect.PointerTo(t)} {
		if c.Implements(jsonMarshaler) || c.Implements(jsonUnmarshaler) ||
			c.Implements(textMarshaler) || c.Implements(textUnmarshaler) {
			return true
		}
	}
	return false
}

// jsonKey reports a map key type that JSON both writes and reads: a string
// or an integer kind, or a type that is text both ways.
func jsonKey(k reflect.Type) bool {
	switch k.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return k.Implements(textMarshaler) && reflect.PointerTo(k).Implements(textUnmarshaler)
}

var (
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodeInput decodes JSON into In the way encoding/json does: fields In
// does not have are ignored, so producers may add fields before workers
// know them; a value of the wrong type is an error.
func decodeInput[In any](raw []byte) (In, error) {
	var in In
	err := json.Unmarshal(raw, &in)
	return in, err
}

// Register makes tasks runnable by this docket's workers, after validating
// their policies; if one is refused, none is registered. A task is the
// *Task value NewTask returned: registering that value again, in one call
// or in two, is harmless, and any other task under a registered name is
// ErrTaskConflict, even one NewTask made from the same function.
func (d *Docket) Register(tasks ...Registrable) error {
	if d == nil || d.core == nil {
		return errNilDocket
	}
	if d.core.Closed() {
		return ErrClosed
	}
	defs := make([]*core.TaskDef, 0, len(tasks))
	for _, t := range tasks {
		if t == nil {
			return errNilTask
		}
		def, err := t.definition()
		if err != nil {
			return err
		}
		defs = append(defs, def)
	}
	return d.core.Register(defs...)
}
