package sdk

import (
	"context"
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
	return &Task[In]{name: name, fn: fn, policies: policies}
}

// Name is the task's name: how messages in Redis refer to it; empty for a
// nil *Task.
func (t *Task[In]) Name() string {
	if t == nil {
		return ""
	}
	return t.name
}

// Policies returns the task's validated policies.
func (t *Task[In]) Policies() (*policy.Set, error) {
	def, err := t.definition()
	if err != nil {
		return nil, err
	}
	return def.Policies, nil
}

// Registrable is a task that a Docket can register: a *Task of any input
// type.
type Registrable interface {
	Name() string
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
	if t.name == "" {
		return nil, errors.New("docket: a task needs a name")
	}
	if t.fn == nil && t.withResult == nil {
		return nil, fmt.Errorf("docket: task %q has a nil function", t.name)
	}
	input := reflect.TypeFor[In]()
	if err := decodable(input); err != nil {
		return nil, fmt.Errorf("docket: task %q: its input type %v: %w", t.name, input, err)
	}
	if t.result != nil {
		if err := decodable(t.result); err != nil {
			return nil, fmt.Errorf("docket: task %q: its result type %v: %w", t.name, t.result, err)
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
		Name:     name,
		Input:    input,
		Policies: set,
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

// decodable refuses a type that JSON cannot decode a value into, which
// would fail each task or each read of its result at run time rather than
// at Register: an interface with methods (error, say), a channel, a
// function, a complex number. (Such a type is fine if it decodes itself,
// as a json.Unmarshaler.) Fields of these kinds inside a struct are left
// alone: a nil one encodes as null, which decodes.
func decodable(t reflect.Type) error {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
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
	return nil
}

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
