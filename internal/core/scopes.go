package core

import (
	"fmt"

	"github.com/docket-go/docket/policy"
)

// scopes collects the scoped limits of tasks, one task at a time, and
// refuses a task whose scoped limit contradicts one collected before.
// Limits of one kind in one scope are one limit (their slots, their
// window: see policy.Scope), so every task that declares it must declare the same
// numbers: the same max for a concurrency limit, the same limit and window
// for a rate limit. Left to the claims, each would apply its own: a task
// of a smaller max would take a slot a larger one's run freed, and a
// shorter window would forget the starts a longer one counts. The zero
// value is ready to use.
type scopes struct {
	concurrency map[string]scopedConcurrency
	rate        map[string]scopedRate
}

type scopedConcurrency struct {
	task string
	p    policy.ConcurrencyPolicy
}

type scopedRate struct {
	task string
	p    policy.RateLimitPolicy
}

// add collects the scoped limits of the task called name, whose policies
// are set. A limit that contradicts one collected before, this task's own
// included, is an *Error naming this task and its policy, wrapping
// policy.ErrConflict.
func (s *scopes) add(name string, set *policy.Set) error {
	if set == nil {
		return nil
	}
	for _, c := range set.Concurrency {
		if c.Scope == "" {
			continue
		}
		was, ok := s.concurrency[c.Scope]
		if !ok {
			if s.concurrency == nil {
				s.concurrency = map[string]scopedConcurrency{}
			}
			s.concurrency[c.Scope] = scopedConcurrency{name, c}
		} else if was.p.Max != c.Max {
			return &policy.Error{Task: name, Policy: c.String(), Err: fmt.Errorf(
				"%w: scope %q allows %d runs at once, as task %q declares it (%s); the tasks of a scope share one limit, so each must declare the same",
				policy.ErrConflict, c.Scope, was.p.Max, was.task, was.p)}
		}
	}
	for _, r := range set.RateLimit {
		if r.Scope == "" {
			continue
		}
		was, ok := s.rate[r.Scope]
		if !ok {
			if s.rate == nil {
				s.rate = map[string]scopedRate{}
			}
			s.rate[r.Scope] = scopedRate{name, r}
		} else if was.p.Limit != r.Limit || was.p.Per != r.Per {
			return &policy.Error{Task: name, Policy: r.String(), Err: fmt.Errorf(
				"%w: scope %q allows %d starts per %v, as task %q declares it (%s); the tasks of a scope share one window, so each must declare the same",
				policy.ErrConflict, r.Scope, was.p.Limit, was.p.Per, was.task, was.p)}
		}
	}
	return nil
}
