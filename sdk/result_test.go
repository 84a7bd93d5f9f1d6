package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

// Thumb is the result of the resize task.
type Thumb struct {
	URL   string `json:"url"`
	Width int    `json:"width"`
}

// Image is the input of the resize task.
type Image struct {
	Path  string `json:"path"`
	Width int    `json:"width"`
	Fail  string `json:"fail"`
}

var errCorrupt = errors.New("corrupt image")

// A task returns a typed value; a producer waits for it, on every backend.
// The error of an execution that did not complete comes back as the task
// ended: errors.Is and errors.As work on it.
func TestResultTask(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openChecked(t, b.URL)
		resize := sdk.NewResultTask("resize", func(ctx context.Context, in Image) (Thumb, error) {
			switch in.Fail {
			case "error":
				return Thumb{}, fmt.Errorf("%s: %w", in.Path, errCorrupt)
			case "permanent":
				return Thumb{}, sdk.Permanent(errCorrupt)
			case "panic":
				panic("out of memory\n\nwhile resizing") // a blank line of its own: the value is all of it
			case "slow":
				<-ctx.Done()
				return Thumb{}, ctx.Err()
			}
			return Thumb{URL: "thumbs/" + in.Path, Width: in.Width}, nil
		}, policy.Timeout(time.Second))
		require.NoError(t, d.Register(resize))
		runWorker(t, d)
		ctx := context.Background()

		thumb, err := resize.Call(ctx, d, Image{Path: "a.png", Width: 64})
		require.NoError(t, err)
		assert.Equal(t, Thumb{URL: "thumbs/a.png", Width: 64}, thumb)

		ex, err := resize.Add(ctx, d, Image{Path: "b.png", Width: 32}, sdk.Key("thumb-b"))
		require.NoError(t, err)
		thumb, err = resize.Result(ctx, ex)
		require.NoError(t, err)
		assert.Equal(t, 32, thumb.Width)
		again, err := sdk.Result[Thumb](ctx, d.Execution("thumb-b"))
		require.NoError(t, err, "a finished execution's result, by key")
		assert.Equal(t, thumb, again)
		info, err := d.Execution("thumb-b").Info(ctx)
		require.NoError(t, err)
		assert.JSONEq(t, `{"url":"thumbs/b.png","width":32}`, string(info.Result))

		_, err = resize.Call(ctx, d, Image{Path: "c.png", Fail: "error"})
		var te *sdk.TaskError
		require.ErrorAs(t, err, &te)
		assert.Equal(t, "c.png: corrupt image", err.Error(), "the task's error, with its message")
		assert.Equal(t, sdk.ReasonError, te.Reason)
		assert.Equal(t, sdk.StateFailed, te.State)

		_, err = resize.Call(ctx, d, Image{Path: "d.png", Fail: "permanent"})
		assert.ErrorIs(t, err, sdk.ErrPermanent)

		_, err = resize.Call(ctx, d, Image{Path: "e.png", Fail: "panic"})
		var pe *sdk.PanicError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "out of memory\n\nwhile resizing", pe.Value)
		assert.True(t, strings.HasPrefix(string(pe.Stack), "goroutine "), "%s", pe.Stack)

		_, err = resize.Call(ctx, d, Image{Path: "f.png", Fail: "slow"})
		assert.ErrorIs(t, err, sdk.ErrTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)

		later, err := resize.Add(ctx, d, Image{Path: "g.png"}, sdk.After(time.Hour))
		require.NoError(t, err)
		waited := make(chan error, 1)
		go func() {
			_, err := resize.Result(ctx, later)
			waited <- err
		}()
		require.NoError(t, d.Cancel(ctx, later.Key()))
		err = <-waited
		assert.ErrorIs(t, err, sdk.ErrCancelled, "a waiter learns of the cancellation at once")

		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		pending, err := resize.Add(ctx, d, Image{Path: "h.png"}, sdk.After(time.Hour))
		require.NoError(t, err)
		_, err = resize.Result(short, pending)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the wait ends with its context")
		require.NoError(t, d.Cancel(ctx, pending.Key()))

		_, err = sdk.Result[Thumb](ctx, d.Execution("no-such-key"))
		assert.ErrorIs(t, err, sdk.ErrNotFound)
	})
}

// A result that does not encode, or is too large, fails the attempt with a
// clear error; a plain task's execution has no result.
func TestResultEncoding(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openChecked(t, b.URL, sdk.WithMaxInputSize(100))
		bad := sdk.NewResultTask("bad", func(ctx context.Context, in Image) (any, error) {
			if in.Fail == "big" {
				return strings.Repeat("x", 200), nil
			}
			return func() {}, nil
		})
		plain := sdk.NewTask("plain", func(ctx context.Context, in Image) error { return nil })
		require.NoError(t, d.Register(bad))
		require.NoError(t, d.Register(plain))
		runWorker(t, d)
		ctx := context.Background()
		_, err := bad.Call(ctx, d, Image{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "does not encode as JSON")
		_, err = bad.Call(ctx, d, Image{Fail: "big"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the limit is 100")
		ex, err := plain.Add(ctx, d, Image{})
		require.NoError(t, err)
		got, err := sdk.Result[struct{}](ctx, ex)
		require.NoError(t, err)
		assert.Equal(t, struct{}{}, got)
	})
}

// outcome holds an error: JSON writes a non-nil one as {}, which it cannot
// read back into the field.
type outcome struct {
	Charged bool  `json:"charged"`
	Err     error `json:"err"`
}

// A result or an input whose JSON does not decode back into its type (a
// field of type error holding an error) is refused where it is made: the
// result fails its attempt, for good, rather than complete the execution
// with a result Call could not read; the input is refused by Add, rather
// than fail on the worker. Values that read back are fine.
func TestValuesThatDoNotReadBack(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		charge := sdk.NewResultTask("charge", func(ctx context.Context, in struct{ Fail bool }) (outcome, error) {
			if in.Fail {
				return outcome{Err: errors.New("card declined")}, nil
			}
			return outcome{Charged: true}, nil
		}, policy.Retry(3, time.Second))
		env.Register(charge)
		got, err := charge.Call(t.Context(), env.Docket(), struct{ Fail bool }{})
		require.NoError(t, err)
		assert.Equal(t, outcome{Charged: true}, got)

		ex, err := charge.Add(t.Context(), env.Docket(), struct{ Fail bool }{Fail: true})
		require.NoError(t, err)
		env.RunUntilFinished()
		_, err = charge.Result(t.Context(), ex)
		assert.ErrorIs(t, err, sdk.ErrPermanent)
		assert.ErrorContains(t, err, "does not decode into sdk_test.outcome")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, 1, info.Attempt, "not retried: the same type fails the same way")

		record := sdk.NewTask("record", func(context.Context, outcome) error { return nil })
		env.Register(record)
		_, err = record.Add(t.Context(), env.Docket(), outcome{Err: errors.New("no")})
		assert.ErrorIs(t, err, sdk.ErrBadInput)
		_, err = record.AddMany(t.Context(), env.Docket(), []outcome{{}, {Err: errors.New("no")}})
		assert.ErrorIs(t, err, sdk.ErrBadInput)
		_, err = record.Add(t.Context(), env.Docket(), outcome{Charged: true})
		require.NoError(t, err)
		env.RunUntilFinished()
	})
}

// A batch of tasks added at once and run by one worker, whose outcomes
// reach Redis together (in groups of those alike): each producer gets its
// own task's result or error, whether its neighbours completed, failed with
// another message, failed for good or were retried.
func TestEveryResultOfABatchIsItsOwn(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openChecked(t, b.URL)
		square := sdk.NewResultTask("square", func(ctx context.Context, in Image) (Thumb, error) {
			switch in.Fail {
			case "same":
				return Thumb{}, sdk.Permanent(errors.New("refused"))
			case "own":
				return Thumb{}, sdk.Permanent(fmt.Errorf("refused %s", in.Path))
			}
			return Thumb{URL: in.Path, Width: in.Width * in.Width}, nil
		})
		require.NoError(t, d.Register(square))
		ins := make([]Image, 300)
		for i := range ins {
			ins[i] = Image{Path: fmt.Sprint("p", i), Width: i}
			switch i % 7 {
			case 3, 4:
				ins[i].Fail = "same"
			case 5:
				ins[i].Fail = "own"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exs, err := square.AddMany(ctx, d, ins)
		require.NoError(t, err)
		runWorker(t, d)
		for i, ex := range exs {
			got, err := square.Result(ctx, ex)
			switch ins[i].Fail {
			case "same":
				assert.ErrorIs(t, err, sdk.ErrPermanent, i)
				assert.ErrorContains(t, err, "refused", i)
			case "own":
				assert.ErrorContains(t, err, "refused "+ins[i].Path, i)
			default:
				require.NoError(t, err, i)
				assert.Equal(t, Thumb{URL: ins[i].Path, Width: i * i}, got, i)
			}
		}
	})
}

// A TaskError matches the sentinel of its reason, and docket's own errors
// that the task's failing error wrapped, told by their text where a wrap
// puts it (a sentence that merely mentions it does not); a message that is
// docket's account of the end (a timeout, a child) carries none.
func TestATaskErrorMatchesDocketsErrorsItsMessageCarries(t *testing.T) {
	tooLarge := fmt.Errorf("step %q: %w: 2 MiB", "render", sdk.ErrInputTooLarge).Error()
	badInput := fmt.Errorf("signal %q: %w: cannot read", "go", sdk.ErrBadInput).Error()
	for _, c := range []struct {
		reason, message string
		is, isNot       []error
	}{
		{sdk.ReasonError, tooLarge, []error{sdk.ErrInputTooLarge}, []error{sdk.ErrPermanent, sdk.ErrBadInput}},
		{sdk.ReasonPermanent, badInput, []error{sdk.ErrPermanent, sdk.ErrBadInput}, []error{sdk.ErrInputTooLarge}},
		{sdk.ReasonPermanent, "order 7: " + workflow.ErrSignalTimeout.Error(), []error{sdk.ErrPermanent, workflow.ErrSignalTimeout}, []error{sdk.ErrBadInput}},
		{sdk.ReasonError, "card declined", nil, []error{sdk.ErrPermanent, sdk.ErrBadInput, sdk.ErrInputTooLarge}},
		{sdk.ReasonPermanent, workflow.ErrNotAChild.Error() + `: "a/b" is not a child "c" started`, []error{sdk.ErrPermanent, workflow.ErrNotAChild}, []error{workflow.ErrKeyTaken}},
		{sdk.ReasonError, "charging: " + workflow.ErrNoName.Error() + ": a step without one", []error{workflow.ErrNoName}, []error{workflow.ErrDuplicateName, sdk.ErrPermanent}},
		{sdk.ReasonError, workflow.ErrNoName.Error() + ": a signal without one", []error{workflow.ErrNoName}, nil},
		{sdk.ReasonError, workflow.ErrDuplicateName.Error() + `: step "a"`, []error{workflow.ErrDuplicateName}, []error{workflow.ErrNoName}},
		{sdk.ReasonError, workflow.ErrKeyTaken.Error() + `: child "c"`, []error{workflow.ErrKeyTaken}, []error{workflow.ErrNotAChild}},
		{sdk.ReasonError, workflow.ErrNotInTask.Error(), []error{workflow.ErrNotInTask}, nil},
		{sdk.ReasonTimeout, badInput, []error{sdk.ErrTimeout}, []error{sdk.ErrBadInput}},
		{sdk.ReasonChild, badInput, []error{workflow.ErrChildFailed}, []error{sdk.ErrBadInput}},
		{sdk.ReasonError, "the server said docket: bad task input today", nil, []error{sdk.ErrBadInput}},
		{sdk.ReasonError, "the server said: docket: bad task inputs are rare", nil, []error{sdk.ErrBadInput}},
		{sdk.ReasonError, "two failed\n" + sdk.ErrBadInput.Error(), []error{sdk.ErrBadInput}, nil},
		{sdk.ReasonPermanent, sdk.ErrBadInput.Error(), []error{sdk.ErrPermanent, sdk.ErrBadInput}, nil},
	} {
		err := error(&sdk.TaskError{Key: "k", Task: "t", State: sdk.StateFailed, Reason: c.reason, Message: c.message})
		for _, target := range c.is {
			assert.ErrorIs(t, err, target, "%s: %s", c.reason, c.message)
		}
		for _, target := range c.isNot {
			assert.NotErrorIs(t, err, target, "%s: %s", c.reason, c.message)
		}
		assert.Equal(t, c.message, err.Error())
	}
}
