package sdk

import (
	"context"
	"math"
	"time"

	"github.com/docket-go/docket/internal/core"
)

// Handle is a running task's view of itself, from Current. A nil *Handle
// behaves as one outside a task: zero values, and controls that do nothing.
type Handle struct {
	a *core.Attempt
}

// Current returns the handle of the task running in ctx. Outside a task it
// returns a handle whose methods report zero values and do nothing.
func Current(ctx context.Context) *Handle {
	if ctx == nil {
		return &Handle{}
	}
	return &Handle{a: core.AttemptFrom(ctx)}
}

// Key is the task's key; empty outside a task.
func (h *Handle) Key() string {
	if h == nil || h.a == nil {
		return ""
	}
	return h.a.Key
}

// Task is the task's name; empty outside a task.
func (h *Handle) Task() string {
	if h == nil || h.a == nil {
		return ""
	}
	return h.a.Task
}

// Attempt is the number of this attempt: 1 for the first run, 2 for the
// first retry, and so on. A run redelivered after its worker died keeps its
// number. Zero outside a task.
func (h *Handle) Attempt() int {
	if h == nil || h.a == nil {
		return 0
	}
	return h.a.Number
}

// LastAttempt reports whether this is the last attempt: the task's retry
// policy will not retry it if it fails (always, without a retry policy). A
// workflow may then compensate, say, rather than leave it to a retry. False
// outside a task.
func (h *Handle) LastAttempt() bool {
	return h != nil && h.a != nil && h.a.Last
}

// Due is when this attempt was due.
func (h *Handle) Due() time.Time {
	if h == nil || h.a == nil {
		return time.Time{}
	}
	return h.a.Due
}

// Timeout is the attempt's deadline control, for a task with a Timeout
// policy. The deadline is also the task context's: ctx.Deadline() reports
// it, moved by every Extend, so database/sql, net/http and gRPC calls made
// inside the task see it. For a task without a Timeout policy the control
// does nothing and Remaining reports no deadline.
func (h *Handle) Timeout() *TimeoutControl {
	if h == nil || h.a == nil {
		return &TimeoutControl{}
	}
	return &TimeoutControl{d: h.a.Deadline}
}

// TimeoutControl moves and reads an attempt's deadline.
type TimeoutControl struct {
	d *core.Deadline
}

// Extend moves the deadline later: by the Timeout policy's duration when
// called with no argument, or by the durations given, added up. It does
// nothing once the deadline has passed, for a total that is not positive
// (a deadline only moves later), and for a task without a Timeout policy.
func (t *TimeoutControl) Extend(by ...time.Duration) {
	if t == nil || t.d == nil {
		return
	}
	if len(by) == 0 {
		t.d.ExtendByBase()
		return
	}
	var d time.Duration
	for _, b := range by {
		switch { // added up without wrapping round: huge durations stay huge
		case b > 0 && d > math.MaxInt64-b:
			d = math.MaxInt64
		case b < 0 && d < math.MinInt64-b:
			d = math.MinInt64
		default:
			d += b
		}
	}
	t.d.Extend(d)
}

// Remaining is the time left before the deadline (zero once it passed), and
// whether there is one: ok is false for a task without a Timeout policy,
// and outside a task.
func (t *TimeoutControl) Remaining() (left time.Duration, ok bool) {
	if t == nil || t.d == nil {
		return 0, false
	}
	return t.d.Remaining(), true
}
