package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/docket-go/docket/internal/core"
)

// ErrNotPerpetual reports a Perpetuate call from a task without a Perpetual
// or Cron policy, or from outside a task.
var ErrNotPerpetual = errors.New("docket: not inside a perpetual or cron task")

// Perpetual is the run's control of its chain, for a task with a Perpetual
// or Cron policy. For any other task its methods do nothing.
func (h *Handle) Perpetual() *PerpetualControl {
	if h == nil || h.a == nil {
		return &PerpetualControl{}
	}
	return &PerpetualControl{s: h.a.Schedule}
}

// PerpetualControl decides about the run after this one.
type PerpetualControl struct {
	s *core.Schedule
}

// Cancel ends the chain: no run follows this one. The execution then ends
// as this run does (completed or failed). It applies to this attempt: one
// that fails and is retried leaves the retry to decide again. An automatic
// task is started again by the workers that register it; see
// policy.Automatic.
func (p *PerpetualControl) Cancel() {
	if p != nil && p.s != nil {
		p.s.Cancel()
	}
}

// SetEvery sets the interval before the next run: it is due d after this
// run's start. The decision is this run's: the next run starts from the
// policy's interval again, and calls SetEvery if it wants another. It does
// nothing for a cron task, whose expression decides, and for d <= 0.
func (p *PerpetualControl) SetEvery(d time.Duration) {
	if p != nil && p.s != nil {
		p.s.SetEvery(d)
	}
}

// Every is the interval after which the next run will be due; zero for a
// cron task or a task that is not perpetual.
func (p *PerpetualControl) Every() time.Duration {
	if p == nil || p.s == nil {
		return 0
	}
	_, every, _ := p.s.State()
	return every
}

// Perpetuate sets the input of the next run of the perpetual or cron task
// running in ctx. next must be of the task's own input type, and encode
// within the docket's WithMaxInputSize.
func Perpetuate[In any](ctx context.Context, next In) error {
	if ctx == nil {
		return fmt.Errorf("%w: the context.Context is nil (pass the task's own context)", ErrNilArgument)
	}
	a := core.AttemptFrom(ctx)
	if a == nil || a.Schedule == nil {
		return ErrNotPerpetual
	}
	if t := reflect.TypeFor[In](); t != a.Input {
		return fmt.Errorf("%w: task %q takes %v, not %v", ErrBadInput, a.Task, a.Input, t)
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("%w: task %q: %w", ErrBadInput, a.Task, err)
	}
	if a.Flow != nil {
		if err := core.CheckSize(raw, a.Flow.MaxOutput, func() string { return fmt.Sprintf("task %q: its next input", a.Task) }); err != nil {
			return err
		}
	}
	a.Schedule.SetNext(raw)
	return nil
}
