package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// Set is a task's policies, validated. Each field is nil or empty when the
// task does not declare that policy.
type Set struct {
	Retry       *RetryPolicy        // how failed attempts are retried
	Timeout     *TimeoutPolicy      // how long one attempt may run
	Perpetual   *PerpetualPolicy    // the task reschedules itself at an interval
	Cron        *CronPolicy         // the task reschedules itself on a cron schedule
	Concurrency []ConcurrencyPolicy // limits on runs at once
	Cooldown    []CooldownPolicy    // windows that drop the submissions after one that ran
	Debounce    *DebouncePolicy     // bursts of submissions that run once, when they settle
	RateLimit   []RateLimitPolicy   // limits on starts per window

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
		if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer && v.IsNil() {
			// A policy left unset: var r *policy.RetryPolicy.
			return nil, &Error{Task: name, Policy: fmt.Sprintf("nil %T", p), Err: ErrInvalid}
		}
		if builder, built := p.origin(); !built {
			return nil, &Error{Task: name, Policy: p.String(), Err: notBuilt(builder)}
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

// Clone returns a copy of s that edits do not reach s through: each
// policy copied, each list a new one.
func (s *Set) Clone() *Set {
	if s == nil {
		return nil
	}
	c := *s
	c.Retry = clonePtr(s.Retry)
	c.Timeout = clonePtr(s.Timeout)
	c.Perpetual = clonePtr(s.Perpetual)
	c.Cron = clonePtr(s.Cron)
	c.Debounce = clonePtr(s.Debounce)
	c.Concurrency = slices.Clone(s.Concurrency)
	c.Cooldown = slices.Clone(s.Cooldown)
	c.RateLimit = slices.Clone(s.RateLimit)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// Automatic reports whether the task starts itself when a worker starts.
func (s *Set) Automatic() bool {
	return s.Perpetual != nil && s.Perpetual.Automatic || s.Cron != nil && s.Cron.Automatic
}

// CheckFoldedField reports, as ErrUnknownField naming the input's fields,
// a name that no field of the input has in any case: encoding/json binds a
// member to a field whatever its case, and so do strikes.
func (s *Set) CheckFoldedField(name string) error {
	for f := range s.fields {
		if strings.EqualFold(f, name) {
			return nil
		}
	}
	return fmt.Errorf("%w %q; the input has %s", ErrUnknownField, name, fieldList(s.fields))
}

// requireField checks that arg names a field of the input.
func (s *Set) requireField(arg string) error {
	if arg == "" {
		return fmt.Errorf("%w: empty field name", ErrInvalid)
	}
	if !s.fields[arg] {
		return fmt.Errorf("%w %q; the input has %s", ErrUnknownField, arg, fieldList(s.fields))
	}
	// Redis's Lua folds the case of ASCII letters only, where Go folds them
	// all: an input key that differs from a non-ASCII name in the case of
	// a letter would be bound by Go and missed by the rule.
	for _, r := range arg {
		if r > unicode.MaxASCII && unicode.IsLetter(r) {
			return fmt.Errorf("%w: field %q: an admission rule needs a JSON name whose letters are ASCII (give the field a json tag)", ErrInvalid, arg)
		}
	}
	return nil
}

// jsonFields lists the JSON names of a struct's fields, as encoding/json
// names them: the same walk through embedded structs (breadth first, a
// tagged embedded struct being an ordinary field), the same tag rules, and
// the same rule for a name found more than once (the shallowest wins, a
// tagged one over untagged ones; a tie drops the name).
func jsonFields(t reflect.Type) map[string]bool {
	type found struct {
		depth  int
		tagged bool
		count  int // fields with this name, depth and taggedness
	}
	best := map[string]found{}
	add := func(name string, depth int, tagged bool, count int) {
		b, ok := best[name]
		switch {
		case !ok || depth < b.depth || depth == b.depth && tagged && !b.tagged:
			best[name] = found{depth, tagged, count}
		case depth == b.depth && tagged == b.tagged:
			b.count += count
			best[name] = b
		}
	}
	visited := map[reflect.Type]bool{}
	next := map[reflect.Type]int{t: 1} // embedded structs to walk, and how often each is embedded
	order := []reflect.Type{t}
	for depth := 0; len(order) > 0; depth++ {
		current, currentOrder := next, order
		next, order = map[reflect.Type]int{}, nil
		for _, st := range currentOrder {
			if visited[st] {
				continue
			}
			visited[st] = true
			for i := range st.NumField() {
				f := st.Field(i)
				ft := f.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !f.IsExported() && (!f.Anonymous || ft.Kind() != reflect.Struct) {
					continue
				}
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !validJSONName(name) {
					name = ""
				}
				if name == "" && f.Anonymous && ft.Kind() == reflect.Struct {
					if next[ft]++; next[ft] == 1 {
						order = append(order, ft)
					}
					continue
				}
				tagged := name != ""
				if !tagged {
					name = f.Name
				}
				add(name, depth, tagged, current[st])
			}
		}
	}
	names := map[string]bool{}
	for name, b := range best {
		if b.count == 1 {
			names[name] = true
		}
	}
	return names
}

// validJSONName reports whether encoding/json accepts a tag's name.
func validJSONName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
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
