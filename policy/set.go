package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Set is a task's policies, validated. Each field is nil or empty when the
// task does not declare that policy.
type Set struct {
	Retry       *RetryPolicy
	Timeout     *TimeoutPolicy
	Perpetual   *PerpetualPolicy
	Cron        *CronPolicy
	Concurrency []ConcurrencyPolicy
	Cooldown    []CooldownPolicy
	Debounce    *DebouncePolicy

	fields map[string]bool // JSON names of the input's fields
}

// Compile validates the policies of the task called name whose input is of
// type input (a struct), and collects them in a Set. The first problem is
// returned as an *Error naming the task and the policy.
func Compile(name string, input reflect.Type, policies []Policy) (*Set, error) {
	if input == nil || input.Kind() != reflect.Struct {
		return nil, &Error{Task: name, Policy: "input", Err: fmt.Errorf("%w: the input must be a struct type, not %v", ErrInvalid, input)}
	}
	s := &Set{fields: jsonFields(input)}
	for _, p := range policies {
		if p == nil {
			return nil, &Error{Task: name, Policy: "nil policy", Err: ErrInvalid}
		}
		if err := p.apply(s); err != nil {
			return nil, &Error{Task: name, Policy: p.String(), Err: err}
		}
	}
	if s.Perpetual != nil && s.Cron != nil {
		return nil, &Error{Task: name, Policy: s.Cron.String(), Err: fmt.Errorf("%w: %s; a task has one schedule", ErrConflict, s.Perpetual)}
	}
	if s.Automatic() && len(s.fields) > 0 {
		p := fmt.Sprint(s.Perpetual)
		if s.Cron != nil {
			p = s.Cron.String()
		}
		return nil, &Error{Task: name, Policy: p, Err: fmt.Errorf("%w; %v has %s (use policy.Manual() and add it yourself)",
			ErrAutomaticInput, input, fieldList(s.fields))}
	}
	return s, nil
}

// Automatic reports whether the task starts itself when a worker starts.
func (s *Set) Automatic() bool {
	return s.Perpetual != nil && s.Perpetual.Automatic || s.Cron != nil && s.Cron.Automatic
}

// requireField checks that arg names a field of the input.
func (s *Set) requireField(arg string) error {
	if arg == "" {
		return fmt.Errorf("%w: empty field name", ErrInvalid)
	}
	if !s.fields[arg] {
		return fmt.Errorf("%w %q; the input has %s", ErrUnknownField, arg, fieldList(s.fields))
	}
	return nil
}

// jsonFields lists the JSON names of a struct's fields, as encoding/json
// names them, including those promoted from embedded structs.
func jsonFields(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}

func fieldList(fields map[string]bool) string {
	if len(fields) == 0 {
		return "no fields"
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, fmt.Sprintf("%q", n))
	}
	slices.Sort(names)
	return "fields " + strings.Join(names, ", ")
}
