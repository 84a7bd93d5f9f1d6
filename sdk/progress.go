package sdk

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
)

// Progress reports the running task's progress: every update is atomic in
// Redis and announced to watchers (Execution.Watch, docket watch). Outside
// a task its methods do nothing.
func (h *Handle) Progress() *Progress {
	if h.a == nil {
		return &Progress{}
	}
	return &Progress{p: h.a.Progress}
}

// Progress is a running task's progress reporter. Its updates are no-ops
// once the run no longer holds its task (cancelled, replaced, redelivered).
type Progress struct {
	p *core.Progress
}

// ProgressInfo is a task's progress at one instant.
type ProgressInfo struct {
	Current int64
	Total   int64 // zero when the task has not set it
	Message string
	Updated time.Time
}

func progressInfo(s store.ProgressState) ProgressInfo {
	return ProgressInfo(s)
}

// SetTotal sets the amount of work to do; a negative total is
// ErrBadInput.
func (p *Progress) SetTotal(ctx context.Context, total int64) error {
	if total < 0 {
		return fmt.Errorf("%w: a progress total of %d: it must not be negative", ErrBadInput, total)
	}
	return p.do(ctx, store.ProgressTotal, strconv.FormatInt(total, 10))
}

// Increment adds n to the work done (1 when n is omitted, the sum when
// several are given), atomically: any number of goroutines may report at
// once. Work done is not taken back: a negative n is ErrBadInput.
func (p *Progress) Increment(ctx context.Context, n ...int64) error {
	by := int64(1)
	if len(n) > 0 {
		by = 0
		for _, v := range n {
			if v < 0 {
				return fmt.Errorf("%w: a progress increment of %d: work done is not taken back", ErrBadInput, v)
			}
			by += v
		}
	}
	return p.do(ctx, store.ProgressIncrement, strconv.FormatInt(by, 10))
}

// SetMessage sets a short status message.
func (p *Progress) SetMessage(ctx context.Context, msg string) error {
	return p.do(ctx, store.ProgressMessage, msg)
}

// Sync refreshes the local view of the progress from Redis.
func (p *Progress) Sync(ctx context.Context) error {
	return p.do(ctx, store.ProgressRead, "")
}

// Current is the progress as of the last update or Sync.
func (p *Progress) Current() ProgressInfo {
	if p.p == nil {
		return ProgressInfo{}
	}
	return progressInfo(p.p.Last())
}

func (p *Progress) do(ctx context.Context, op, value string) error {
	if p.p == nil {
		return nil
	}
	return p.p.Do(ctx, op, value)
}
