package core

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/docket-go/docket/internal/store"
)

// AddOptions are the choices of sdk's AddOption values: a task's key and due
// time. The type is here, not in sdk, so that the workflow package can
// read the options a child is started with.
type AddOptions struct {
	Key   string
	When  store.When
	Timed int // how many options set When (At, After): more than one conflict
	Keyed bool
	Keys  func(i int) string
	// KeysGiven says Keys was given, Keys(nil) included: AddMany refuses
	// a nil one rather than key every task anew.
	KeysGiven bool

	// Spread and Jitter spread the tasks of an AddMany over a window.
	Spread time.Duration
	Jitter time.Duration

	// given holds the Opt bits of the options given, and twice names the
	// first given more than once (see Given).
	given uint8
	twice string
}

// The options that may be given once (see Given); At and After, which may
// not be given together either, count in Timed.
const (
	OptKey uint8 = 1 << iota
	OptKeys
	OptSpread
	OptJitter
)

// Given records that the option opt, named name (sdk.Key), was given: a
// second one would silently win over the first, and Check refuses it.
func (o *AddOptions) Given(opt uint8, name string) {
	if o.given&opt != 0 && o.twice == "" {
		o.twice = name
	}
	o.given |= opt
}

// Collect applies options to a zero AddOptions; nil options are skipped.
func Collect[Opt ~func(*AddOptions)](opts []Opt) AddOptions {
	var o AddOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// ErrBadInput reports input that cannot be used (sdk.ErrBadInput).
var ErrBadInput = errors.New("docket: bad task input")

// Check refuses options that give more than one due time (At, After), or
// one option twice (see Given): one would silently win over the other.
func (o AddOptions) Check() error {
	if o.Timed > 1 {
		return fmt.Errorf("%w: %d due times given (sdk.At, sdk.After): give one", ErrBadInput, o.Timed)
	}
	if o.twice != "" {
		return fmt.Errorf("%w: %s given twice: give it once", ErrBadInput, o.twice)
	}
	return CheckInstant("sdk.At", o.When.At)
}

// ErrInputTooLarge reports JSON larger than the docket accepts
// (sdk.ErrInputTooLarge).
var ErrInputTooLarge = errors.New("docket: too large")

// CheckSize refuses JSON of more than limit bytes (the docket's
// WithMaxInputSize; 0 for no limit); what names it: `task "x"`, `step "s":
// its output`, `signal "go"`. It is called only for the error: an AddMany
// checks every input, a worker every result, and formatting each name
// showed in profiles.
func CheckSize(raw []byte, limit int, what func() string) error {
	if limit > 0 && len(raw) > limit {
		return fmt.Errorf("%w: %s is %d bytes of JSON, the limit is %d (see sdk.WithMaxInputSize)",
			ErrInputTooLarge, what(), len(raw), limit)
	}
	return nil
}

// LatestYear is the last year a task may be due in: a later instant is a
// mistake (or a "never", which Cancel says better), and beyond about year
// 294,000 it no longer fits the microseconds Redis counts.
const LatestYear = 9999

// CheckInstant refuses an instant after LatestYear; what names the option.
func CheckInstant(what string, t time.Time) error {
	if t.Year() > LatestYear {
		return fmt.Errorf("%w: %s(%v): an instant after the year %d", ErrBadInput, what, t, LatestYear)
	}
	return nil
}

// MaxKeyLength is the longest task key, in bytes.
const MaxKeyLength = 1024

// CheckTaskName reports a name no task may have: one longer than
// MaxKeyLength, since an automatic task's chain is keyed by its name, or
// one that is not UTF-8, since names travel as JSON text (admission rules,
// strikes, the dashboard), which would write each bad byte as U+FFFD: a
// task's rules would not be found for it, and two names would read alike.
// NewTask refuses such a name, and so must what names a task (AddByName,
// Strike): no worker could run it, no strike would hold anything.
func CheckTaskName(name string) error {
	switch {
	case len(name) > MaxKeyLength:
		return fmt.Errorf("task name of %d bytes; the limit is %d", len(name), MaxKeyLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("task name %q is not UTF-8 text", name)
	}
	return nil
}

// ErrBadKey reports an unusable task key.
var ErrBadKey = errors.New("docket: bad task key")

// CheckKey checks that key can name a task.
func CheckKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrBadKey)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrBadKey, len(key), MaxKeyLength)
	}
	return nil
}
