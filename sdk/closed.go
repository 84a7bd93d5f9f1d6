package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// closedHook makes the commands that a call sends as its docket closes
// fail with ErrClosed. A call checks that the docket is open when it
// starts; one that started before Close and sends its command after Close
// closed the client got the client's own error ("redis: client is closed",
// "io: read/write on closed pipe" on memory://), which errors.Is could not
// tell from a network failure. Only the clients Open makes have it: Close
// does not close a client OpenClient was given.
type closedHook struct{ closed func() bool }

func (h closedHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h closedHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return h.mark(next(ctx, cmd), cmd)
	}
}

func (h closedHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			h.mark(cmd.Err(), cmd)
		}
		return h.mark(err, nil)
	}
}

// mark wraps err with ErrClosed when it comes of the docket's closing, and
// sets it as cmd's error, where the caller reads it.
func (h closedHook) mark(err error, cmd redis.Cmder) error {
	marked := closedError(h.closed(), err)
	if marked != err && cmd != nil {
		cmd.SetErr(marked)
	}
	return marked
}

// closedError is err, of a call that failed once its docket was closed,
// wrapped with ErrClosed: the client's own error for its closing varies
// with the moment (its "client is closed", a connection's "use of closed
// network connection", the pool's "invalid state transition"), and each
// reads as a network failure. Redis's own reply and the caller's context
// ending are left as they are. The original stays in the chain.
func closedError(closed bool, err error) error {
	if err == nil || !closed || errors.Is(err, ErrClosed) {
		return err
	}
	var reply redis.Error
	if errors.As(err, &reply) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w (%w)", ErrClosed, err)
}
