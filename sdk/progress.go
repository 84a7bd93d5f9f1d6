package sdk

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
)

// Progress reports the running task's progress: every update is atomic in
// Redis and announced to watchers (Execution.Watch, docket watch). Each run
// counts from nothing (a retry, a snoozed task run again, a run redelivered
// or handed back at a worker's shutdown, a perpetual task's next run redo
// the work), but a workflow's progress carries over from run to run (its
// steps, which report it, do not run again). Outside a task its methods do
// nothing.
func (h *Handle) Progress() *Progress {
	if h == nil || h.a == nil {
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
	Current int64     // how far the task is (see Progress.Increment)
	Total   int64     // zero when the task has not set it
	Message string    // what the task said last
	Updated time.Time // when it last reported
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
// once. Work done is not taken back: a negative n is ErrBadInput, and so
// is an increment that would take the work done past math.MaxInt64.
func (p *Progress) Increment(ctx context.Context, n ...int64) error {
	by, err := incrementOf(n)
	if err != nil {
		return err
	}
	err = p.do(ctx, store.ProgressIncrement, strconv.FormatInt(by, 10))
	if errors.Is(err, store.ErrOverflow) { // refused by the script, atomically
		return fmt.Errorf("%w: a progress increment of %d: %w", ErrBadInput, by, err)
	}
	return err
}

// incrementOf is the sum of Increment's arguments, 1 for none; a negative
// one, or a sum past math.MaxInt64, is ErrBadInput.
func incrementOf(n []int64) (int64, error) {
	if len(n) == 0 {
		return 1, nil
	}
	var by int64
	for _, v := range n {
		if v < 0 {
			return 0, fmt.Errorf("%w: a progress increment of %d: work done is not taken back", ErrBadInput, v)
		}
		if v > math.MaxInt64-by {
			return 0, fmt.Errorf("%w: progress increments of %v add up past the largest int64", ErrBadInput, n)
		}
		by += v
	}
	return by, nil
}

// SetMessage sets a short status message, of at most MaxProgressMessage
// bytes (a longer one is ErrInputTooLarge, and changes nothing).
func (p *Progress) SetMessage(ctx context.Context, msg string) error {
	if len(msg) > MaxProgressMessage {
		return fmt.Errorf("%w: a progress message of %d bytes; the limit is %d (sdk.MaxProgressMessage)",
			ErrInputTooLarge, len(msg), MaxProgressMessage)
	}
	return p.do(ctx, store.ProgressMessage, msg)
}

// MaxProgressMessage is the longest progress message, in bytes: every
// update is sent to each watcher of the task.
const MaxProgressMessage = 64 << 10

// Sync refreshes the local view of the progress from Redis.
func (p *Progress) Sync(ctx context.Context) error {
	return p.do(ctx, store.ProgressRead, "")
}

// Current is the progress as of the last update or Sync.
func (p *Progress) Current() ProgressInfo {
	if p == nil || p.p == nil {
		return ProgressInfo{}
	}
	return progressInfo(p.p.Last())
}

func (p *Progress) do(ctx context.Context, op, value string) error {
	if p == nil || p.p == nil {
		return nil
	}
	if ctx == nil {
		return fmt.Errorf("%w: the context.Context is nil (pass the task's)", ErrNilArgument)
	}
	return p.p.Do(ctx, op, value)
}
