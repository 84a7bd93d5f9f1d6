package worker

import (
	"context"
	"encoding/json"
)

// Middleware wraps an attempt: it runs around the task's function (or the
// Fallback), and next runs the rest of the chain and then the function. It
// may add to the context next gets, act before and after, replace the
// error, or not call next at all (the attempt then ends with the error it
// returns, nil completing it). A panic in middleware is the attempt's
// failure, as a panic in the task is.
//
// Middleware runs inside the attempt: within its deadline and span, after
// admission control, and before the worker decides from the error what
// follows (a retry, a snooze, a park).
type Middleware func(ctx context.Context, attempt AttemptInfo, next func(ctx context.Context) error) error

// AttemptInfo describes the attempt a Middleware wraps.
type AttemptInfo struct {
	Task    string          // the task's name
	Key     string          // the execution's key
	Attempt int             // 1-based; a redelivery keeps its number
	Input   json.RawMessage // the attempt's input, as JSON
}

// wrap returns fn inside the worker's middleware, the first outermost.
func (r *run) wrap(a *attempt, fn func(context.Context) error) func(context.Context) error {
	mw := r.opts.Middleware
	if len(mw) == 0 {
		return fn
	}
	info := AttemptInfo{Task: a.msg.Name, Key: a.msg.Key, Attempt: a.msg.Attempt, Input: a.msg.Input}
	for i := len(mw) - 1; i >= 0; i-- {
		m, next := mw[i], fn
		fn = func(ctx context.Context) error { return m(ctx, info, next) }
	}
	return fn
}
