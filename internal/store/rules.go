package store

import (
	"encoding/json"
	"time"
)

// Rules are the admission rules of the tasks a worker runs, encoded once for
// the claim script.
type Rules struct {
	encoded string
}

// Rule is one task's admission rules.
type Rule struct {
	Debounce  *Debounce
	Cooldowns []Cooldown
	Limits    []Limit
	Rates     []Rate
}

// Rate allows Limit starts per sliding window of Per, per value of Arg (the
// whole task when empty), shared by every task of Scope when that is not
// empty; with Drop, a submission over the limit is dropped.
type Rate struct {
	Arg   string
	Limit int
	Per   time.Duration
	Scope string
	Drop  bool
}

// Debounce runs one submission per burst, Settle after the last one.
type Debounce struct {
	Arg    string // input field; empty for the whole task
	Settle time.Duration
}

// Cooldown drops submissions within Window of a run.
type Cooldown struct {
	Arg    string
	Window time.Duration
}

// Limit allows Max runs at once per value of Arg (the whole task when
// empty), shared by every task of Scope when that is not empty.
type Limit struct {
	Arg   string
	Max   int
	Scope string
}

// The claim script's form of a rule: short keys (the rules travel with
// every claim), durations in µs. The script reads each key by its field's
// name (RULE.debounce is "d": see luaSchema).
type (
	wireRule struct {
		Debounce  *wireWindow  `json:"d,omitempty"`
		Cooldowns []wireWindow `json:"cd,omitempty"`
		Limits    []wireLimit  `json:"c,omitempty"`
		Rates     []wireRate   `json:"r,omitempty"`
	}
	wireRate struct {
		Arg   string `json:"a"`
		Limit int    `json:"m"`
		Per   int64  `json:"p"`
		Scope string `json:"sc"`
		Drop  bool   `json:"d"`
	}
	wireWindow struct {
		Arg    string `json:"a"`
		Settle int64  `json:"s"`
		Window int64  `json:"w"`
	}
	wireLimit struct {
		Arg   string `json:"a"`
		Max   int    `json:"m"`
		Scope string `json:"sc"`
	}
)

// NewRules encodes the rules of tasks by name; tasks without rules are left
// out.
func NewRules(byTask map[string]Rule) Rules {
	out := map[string]wireRule{}
	for name, r := range byTask {
		var w wireRule
		if d := r.Debounce; d != nil {
			w.Debounce = &wireWindow{Arg: d.Arg, Settle: d.Settle.Microseconds()}
		}
		for _, c := range r.Cooldowns {
			w.Cooldowns = append(w.Cooldowns, wireWindow{Arg: c.Arg, Window: c.Window.Microseconds()})
		}
		for _, l := range r.Limits {
			w.Limits = append(w.Limits, wireLimit(l))
		}
		for _, rt := range r.Rates {
			w.Rates = append(w.Rates, wireRate{Arg: rt.Arg, Limit: rt.Limit, Per: rt.Per.Microseconds(), Scope: rt.Scope, Drop: rt.Drop})
		}
		if w.Debounce != nil || w.Cooldowns != nil || w.Limits != nil || w.Rates != nil {
			out[name] = w
		}
	}
	if len(out) == 0 {
		return Rules{}
	}
	b, _ := json.Marshal(out) // plain data: cannot fail
	return Rules{encoded: string(b)}
}
