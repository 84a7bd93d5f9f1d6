package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

// Nil where a context, a docket, an execution or a task is needed is an
// error that errors.Is ErrNilArgument, and says which: never a panic.
//
//lint:file-ignore SA1012 nil contexts are what this test passes
func TestNilArguments(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	resize := sdk.NewResultTask("resize", func(ctx context.Context, in Image) (Image, error) { return in, nil })
	var nilDocket *sdk.Docket
	var nilTask *sdk.ResultTask[Image, Image]
	var nilEx *sdk.Execution

	check := func(what string, err error, says string) {
		t.Helper()
		assert.ErrorIs(t, err, sdk.ErrNilArgument, what)
		assert.ErrorContains(t, err, says, what)
	}
	_, err := sdk.Open(nil, "memory://")
	check("Open", err, "context.Context is nil")
	_, err = resize.Add(nil, d, Image{})
	check("Add, nil context", err, "context.Context is nil")
	_, err = resize.Add(ctx, nil, Image{})
	check("Add, nil docket", err, "sdk.Open")
	_, err = resize.AddMany(ctx, nilDocket, []Image{{}})
	check("AddMany", err, "sdk.Open")
	_, err = resize.Call(ctx, nil, Image{})
	check("Call", err, "sdk.Open")
	_, err = nilTask.Call(ctx, d, Image{})
	check("Call, nil task", err, "task is nil")
	_, err = nilTask.Add(ctx, d, Image{})
	check("Add, nil task", err, "task is nil")
	_, err = nilTask.Replace(ctx, d, Image{}, sdk.Key("k"))
	check("Replace, nil task", err, "task is nil")
	_, err = nilTask.AddMany(ctx, d, []Image{{}})
	check("AddMany, nil task", err, "task is nil")
	_, err = nilTask.Policies()
	check("Policies, nil task", err, "task is nil")
	assert.Empty(t, nilTask.Name())
	_, err = nilDocket.AddByName(ctx, "resize", json.RawMessage(`{}`))
	check("AddByName", err, "sdk.Open")
	check("Cancel", nilDocket.Cancel(ctx, "k"), "sdk.Open")
	check("Cancel, nil context", d.Cancel(nil, "k"), "context.Context is nil")
	check("Signal", nilDocket.Signal(ctx, "k", "s", 1), "sdk.Open")
	check("RunNow", nilDocket.RunNow(ctx, "k"), "sdk.Open")
	check("Retry", nilDocket.Retry(ctx, "k"), "sdk.Open")
	check("Strike", nilDocket.Strike(ctx, "t", "", "", nil), "sdk.Open")
	_, err = nilDocket.Snapshot(ctx)
	check("Snapshot", err, "sdk.Open")
	_, err = d.Snapshot(nil)
	check("Snapshot, nil context", err, "context.Context is nil")
	_, err = nilDocket.Watch(ctx, "k")
	check("Watch", err, "sdk.Open")
	_, err = nilEx.Info(ctx)
	check("Info", err, "Execution is nil")
	_, err = d.Execution("k").Info(nil)
	check("Info, nil context", err, "context.Context is nil")
	_, err = sdk.Result[Image](ctx, nilEx)
	check("Result", err, "Execution is nil")
	check("Register, nil docket", nilDocket.Register(resize), "sdk.Open")
	check("Register, nil task", d.Register(nilTask), "task is nil")
	check("Register, nil", d.Register(nil), "task is nil")
	assert.Empty(t, sdk.Current(nil).Key(), "outside a task")
}

// Input that is null is refused when it is added (every input type would
// take it as its zero value), and so is input the task, when registered,
// cannot decode; a signal needs a name; the size limit must be positive.
func TestBadInputRefusedAtOnce(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	resize := sdk.NewResultTask("resize", func(ctx context.Context, in Image) (Image, error) { return in, nil })
	for _, raw := range []string{`null`, ` null `} {
		_, err := d.AddByName(ctx, "not-registered", json.RawMessage(raw))
		assert.ErrorIs(t, err, sdk.ErrBadInput, raw)
		assert.ErrorContains(t, err, "input is null", raw)
	}
	require.NoError(t, d.Register(resize))
	for _, raw := range []string{`null`, `[1]`, `"x"`} {
		_, err := d.AddByName(ctx, "resize", json.RawMessage(raw))
		assert.ErrorIs(t, err, sdk.ErrBadInput, raw)
	}
	_, err := d.AddByName(ctx, "resize", json.RawMessage(` {"path":"a"}`))
	assert.NoError(t, err)

	err = d.Signal(ctx, "any", "", "payload")
	assert.ErrorIs(t, err, sdk.ErrBadInput)
	assert.ErrorContains(t, err, "empty name")

	for _, n := range []int{0, -1} {
		_, err = sdk.Open(ctx, "memory://", sdk.WithMaxInputSize(n))
		assert.ErrorContains(t, err, "the largest input must be positive", n)
		assert.ErrorIs(t, err, sdk.ErrBadOption)
	}
	for _, opt := range []sdk.Option{sdk.WithRetention(0), sdk.WithRetention(-time.Second), sdk.WithCompletedRetention(-1)} {
		_, err = sdk.Open(ctx, "memory://", opt)
		assert.ErrorIs(t, err, sdk.ErrBadOption)
	}
}

// Two due times for one add (At and After, or either twice) are refused:
// one would silently win.
func TestTwoDueTimesAreRefused(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	resize := sdk.NewResultTask("resize", func(ctx context.Context, in Image) (Image, error) { return in, nil })
	at := sdk.At(time.Now().Add(time.Hour))
	for _, opts := range [][]sdk.AddOption{{sdk.After(time.Hour), at}, {at, sdk.After(time.Minute)}, {sdk.After(1), sdk.After(2)}} {
		_, err := resize.Add(ctx, d, Image{}, opts...)
		assert.ErrorIs(t, err, sdk.ErrBadInput)
		assert.ErrorContains(t, err, "2 due times given")
		_, err = resize.AddMany(ctx, d, []Image{{}}, opts...)
		assert.ErrorIs(t, err, sdk.ErrBadInput)
	}
	_, err := resize.Add(ctx, d, Image{}, sdk.After(time.Hour))
	assert.NoError(t, err)
}

// An option given twice is refused, as two due times are: the second
// would silently win, and the key the caller meant would be dropped.
func TestAnOptionGivenTwiceIsRefused(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	resize := sdk.NewResultTask("resize", func(ctx context.Context, in Image) (Image, error) { return in, nil })
	_, err := resize.Add(ctx, d, Image{}, sdk.Key("a1"), sdk.Key("a2"))
	assert.ErrorIs(t, err, sdk.ErrBadInput)
	assert.ErrorContains(t, err, "sdk.Key given twice")
	key := func(i int) string { return fmt.Sprint("k", i) }
	for name, opts := range map[string][]sdk.AddOption{
		"sdk.Keys":   {sdk.Keys(key), sdk.Keys(key)},
		"sdk.Spread": {sdk.Spread(time.Minute), sdk.Spread(time.Hour)},
		"sdk.Jitter": {sdk.Spread(time.Hour), sdk.Jitter(time.Second), sdk.Jitter(time.Minute)},
	} {
		_, err = resize.AddMany(ctx, d, []Image{{}, {}}, opts...)
		assert.ErrorIs(t, err, sdk.ErrBadInput, name)
		assert.ErrorContains(t, err, name+" given twice")
	}
	snap, err := d.Snapshot(ctx)
	require.NoError(t, err)
	assert.Zero(t, snap.TotalWaiting, "nothing added")

	_, err = resize.AddMany(ctx, d, []Image{{}, {}}, sdk.Keys(key), sdk.Spread(time.Minute), sdk.Jitter(time.Second))
	assert.NoError(t, err, "each once")
}

// A bad strike says so in its own words, and is bad input for errors.Is.
func TestBadStrikeError(t *testing.T) {
	d := openChecked(t, "memory://")
	err := d.Strike(context.Background(), "sync", "id", "~=", 1)
	assert.ErrorIs(t, err, sdk.ErrBadStrike)
	assert.ErrorIs(t, err, sdk.ErrBadInput)
	assert.ErrorContains(t, err, `docket: bad strike: operator "~="`)
	assert.NotContains(t, err.Error(), "task input")

	// "*" is how the CLI and the dashboard write every task; here it is "".
	err = d.Strike(context.Background(), "*", "", "", nil)
	assert.ErrorIs(t, err, sdk.ErrBadStrike)
	assert.ErrorContains(t, err, `every task is "" here`)
	strikes, err := d.Strikes(context.Background())
	require.NoError(t, err)
	assert.Empty(t, strikes)
}

// Every call on a docket after its Close returns an error that matches
// ErrClosed.
func TestCallsAfterClose(t *testing.T) {
	ctx := context.Background()
	d, err := sdk.Open(ctx, "memory://", sdk.WithName("closed-calls"), sdk.WithLogger(quiet))
	require.NoError(t, err)
	resize := sdk.NewResultTask("resize", func(ctx context.Context, in Image) (Image, error) { return in, nil })
	require.NoError(t, d.Register(resize))
	ex, err := resize.Add(ctx, d, Image{}, sdk.Key("k"))
	require.NoError(t, err)
	require.NoError(t, d.Close())

	_, err = resize.Add(ctx, d, Image{})
	assert.ErrorIs(t, err, sdk.ErrClosed, "Add")
	_, err = resize.AddMany(ctx, d, []Image{{}})
	assert.ErrorIs(t, err, sdk.ErrClosed, "AddMany")
	_, err = ex.Info(ctx)
	assert.ErrorIs(t, err, sdk.ErrClosed, "Info")
	_, err = resize.Result(ctx, ex)
	assert.ErrorIs(t, err, sdk.ErrClosed, "Result")
	_, err = d.Snapshot(ctx)
	assert.ErrorIs(t, err, sdk.ErrClosed, "Snapshot")
	assert.ErrorIs(t, d.Cancel(ctx, "k"), sdk.ErrClosed, "Cancel")
	assert.ErrorIs(t, d.Signal(ctx, "k", "s", 1), sdk.ErrClosed, "Signal")
	assert.ErrorIs(t, d.Retry(ctx, "k"), sdk.ErrClosed, "Retry")
	assert.ErrorIs(t, d.RunNow(ctx, "k"), sdk.ErrClosed, "RunNow")
}

// Calls under way when the docket closes return errors that match
// ErrClosed too: a call that found the docket open and sent its command
// after Close closed the client got the client's own error ("redis: client
// is closed", or "io: read/write on closed pipe" on memory://; a
// connection's "use of closed network connection", the pool's "invalid
// state transition"), and a Watch (a Result, a Call) subscribing as it
// closed got it from the subscription, which no hook sees.
func TestCallsRacingClose(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d, err := sdk.Open(context.Background(), b.URL, sdk.WithName(redistest.Name(t)), sdk.WithLogger(quiet))
		require.NoError(t, err)
		plain := sdk.NewTask("plain", func(ctx context.Context, in Image) error { return nil })
		later, err := plain.Add(context.Background(), d, Image{}, sdk.After(time.Hour))
		require.NoError(t, err)
		calls := []func() error{
			func() error {
				_, err := plain.Add(context.Background(), d, Image{})
				if err == nil {
					_, err = d.Snapshot(context.Background(), sdk.Limit(1))
				}
				return err
			},
			func() error { _, err := later.Watch(context.Background()); return err },
			func() error { _, err := later.Info(context.Background()); return err },
			func() error { // waits until Close ends it
				_, err := sdk.Result[struct{}](context.Background(), later)
				if err == nil {
					err = errors.New("a task due in an hour has no result")
				}
				return err
			},
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4*len(calls))
		for i := range 4 * len(calls) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if err := calls[i%len(calls)](); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond) // the calls are under way (this times nothing)
		require.NoError(t, d.Close())
		wg.Wait()
		close(errs)
		for err := range errs {
			assert.ErrorIs(t, err, sdk.ErrClosed)
		}
	})
}
