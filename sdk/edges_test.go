package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

// selfEncoded is a channel that writes itself as JSON: its own business.
type selfEncoded chan int

func (selfEncoded) MarshalJSON() ([]byte, error) { return []byte("0"), nil }
func (*selfEncoded) UnmarshalJSON([]byte) error  { return nil }

// textKey is a map key JSON writes and reads as text.
type textKey struct{ A, B string }

func (k textKey) MarshalText() ([]byte, error) { return []byte(k.A + "/" + k.B), nil }
func (k *textKey) UnmarshalText(b []byte) error {
	k.A, k.B, _ = strings.Cut(string(b), "/")
	return nil
}

// A struct field JSON can never encode (a channel, a function, a complex
// number, a map with keys JSON refuses), at any depth, is refused at
// Register with ErrBadInput naming the type and the field's path, rather
// than failing every Add, or every attempt once its work is done. Fields
// JSON leaves out, types that encode themselves, interfaces and recursive
// types are fine.
func TestRegisterRefusesFieldsJSONCannotEncode(t *testing.T) {
	type Place struct{ X, Y int }
	type Order struct {
		ID     int      `json:"id"`
		Notify chan int `json:"notify,omitempty"`
	}
	type Hook struct{ Fn func() }
	type Line struct{ Amount complex128 }
	type Deep struct{ Lines []*Line }
	type ByPlace struct{ Stock map[Place]int }
	type Values struct{ Hooks map[string][2]Hook }
	type Base struct{ Done chan struct{} }
	type Embeds struct{ Base }
	type base struct{ Cancel func() }
	type EmbedsUnexported struct{ *base }
	d := memoryDocket(t)
	refused := map[string]sdk.Registrable{
		"field Order.Notify (chan int)":                sdk.NewTask("chan", func(context.Context, Order) error { return nil }),
		"field Hook.Fn (func())":                       sdk.NewTask("func", func(context.Context, Hook) error { return nil }),
		"field Deep.Lines[].Amount (complex128)":       sdk.NewTask("deep", func(context.Context, Deep) error { return nil }),
		"field ByPlace.Stock (map[sdk_test.Place]int)": sdk.NewTask("key", func(context.Context, ByPlace) error { return nil }),
		"field Values.Hooks[][].Fn (func())":           sdk.NewTask("values", func(context.Context, Values) error { return nil }),
		"field Embeds.Base.Done (chan struct {})":      sdk.NewTask("embeds", func(context.Context, Embeds) error { return nil }),
		"field EmbedsUnexported.base.Cancel":           sdk.NewTask("embeds_unexported", func(context.Context, EmbedsUnexported) error { return nil }),
		"its result type sdk_test.Hook: field Hook.Fn": sdk.NewResultTask("result", func(context.Context, SyncInput) (Hook, error) {
			return Hook{}, nil
		}),
	}
	for says, task := range refused {
		err := d.Register(task)
		assert.ErrorIs(t, err, sdk.ErrBadInput, says)
		assert.ErrorContains(t, err, says)
		assert.ErrorContains(t, err, "cannot be encoded as JSON", says)
	}

	type List struct {
		Next  *List
		Tree  map[string][]List
		_     chan int        // unexported: JSON leaves it out
		Skip  func()          `json:"-"`
		Own   selfEncoded     `json:"own"`
		At    time.Time       `json:"at"`
		Any   any             `json:"any"`
		Err   error           `json:"err"`
		ByKey map[textKey]int `json:"by_key"`
		ByID  map[int64]string
	}
	fine := sdk.NewTask("fine", func(context.Context, List) error { return nil })
	require.NoError(t, d.Register(fine))
	_, err := fine.Add(t.Context(), d, List{ByKey: map[textKey]int{{"a", "b"}: 1}})
	assert.NoError(t, err, "what Register accepts, Add encodes")
}

// Register on a closed docket is ErrClosed, as every other call on it is.
func TestRegisterAfterClose(t *testing.T) {
	d, err := sdk.Open(context.Background(), "memory://", sdk.WithLogger(quiet))
	require.NoError(t, err)
	require.NoError(t, d.Close())
	err = d.Register(sdk.NewTask("sync_customer", syncCustomer))
	assert.ErrorIs(t, err, sdk.ErrClosed)
}

// An operator or a value without a field is ErrBadStrike: striking the
// whole task would hold more than the comparison asked for. The whole
// task is struck with none of the three.
func TestStrikeComparisonNeedsAField(t *testing.T) {
	ctx := context.Background()
	d := memoryDocket(t)
	for _, c := range []struct {
		op    string
		value any
	}{{">=", 1000}, {"", 1000}, {">=", nil}, {"", ""}} {
		assert.ErrorIs(t, d.Strike(ctx, "sync", "", c.op, c.value), sdk.ErrBadStrike, "%q %v", c.op, c.value)
		assert.ErrorIs(t, d.Restore(ctx, "sync", "", c.op, c.value), sdk.ErrBadStrike, "%q %v", c.op, c.value)
	}
	strikes, err := d.Strikes(ctx)
	require.NoError(t, err)
	assert.Empty(t, strikes, "nothing struck")
	require.NoError(t, d.Strike(ctx, "sync", "", "", nil))
	strikes, err = d.Strikes(ctx)
	require.NoError(t, err)
	require.Len(t, strikes, 1)
	assert.Equal(t, "sync", strikes[0].String())
}

// A strike's value is compared as the input's field is written, so a
// named type of an input field strikes as its JSON does: Region("eu") was
// refused, though the input's field is a Region. A value whose JSON is not
// a number, a string or a boolean is refused.
func TestStrikeValueOfANamedType(t *testing.T) {
	type Region string
	type Weight float64
	type shipment struct {
		Region Region `json:"region"`
		Weight Weight `json:"weight"`
	}
	ctx := context.Background()
	d := memoryDocket(t)
	ship := sdk.NewTask("ship", func(context.Context, shipment) error { return nil })
	require.NoError(t, d.Register(ship))
	require.NoError(t, d.Strike(ctx, "ship", "region", "==", Region("eu")))
	require.NoError(t, d.Strike(ctx, "ship", "weight", ">", Weight(99.5)))
	for in, want := range map[shipment]sdk.Disposition{
		{Region: "eu", Weight: 1}:   sdk.Struck,
		{Region: "us", Weight: 100}: sdk.Struck,
		{Region: "us", Weight: 1}:   sdk.Scheduled,
	} {
		ex, err := ship.Add(ctx, d, in)
		require.NoError(t, err)
		assert.Equal(t, want, ex.Disposition(), "%+v", in)
	}
	for _, value := range []any{nil, struct{ A int }{1}, []string{"eu"}, map[string]int{}} {
		assert.ErrorIs(t, d.Strike(ctx, "ship", "region", "==", value), sdk.ErrBadStrike, "%#v", value)
	}
}

// A strike holds an input whose member Go binds to the field in another
// case ({"Customer": "acme"} is customer "acme" to the task): it ran.
func TestStrikeMatchesAFieldWrittenInAnotherCase(t *testing.T) {
	type order struct {
		Customer string `json:"customer"`
	}
	ctx := context.Background()
	d := memoryDocket(t)
	require.NoError(t, d.Register(sdk.NewTask("bill", func(context.Context, order) error { return nil })))
	require.NoError(t, d.Strike(ctx, "bill", "customer", "==", "acme"))
	for raw, want := range map[string]sdk.Disposition{
		`{"Customer": "acme"}`:                       sdk.Struck,
		`{"CUSTOMER": "acme"}`:                       sdk.Struck,
		`{"cu\u017ftomer": "acme"}`:                  sdk.Struck, // a long s, which Go folds to s
		`{"customer": "acme"}`:                       sdk.Struck,
		`{"customer": "globex"}`:                     sdk.Scheduled,
		`{"customer": "globex", "Customer": "acme"}`: sdk.Struck, // Go reads the last: acme
	} {
		ex, err := d.AddByName(ctx, "bill", json.RawMessage(raw))
		require.NoError(t, err)
		assert.Equal(t, want, ex.Disposition(), raw)
	}
}

// A strike of a task name no task can have (longer than NewTask takes, or
// not UTF-8 text) is ErrBadStrike: it would hold nothing, silently.
func TestStrikeOfANameNoTaskCanHave(t *testing.T) {
	ctx := context.Background()
	d := memoryDocket(t)
	for _, name := range []string{strings.Repeat("n", 1025), "sync\xff"} {
		_, err := sdk.NewTask(name, func(context.Context, struct{}) error { return nil }).Add(ctx, d, struct{}{})
		require.ErrorIs(t, err, sdk.ErrBadTask, "no task has that name")
		assert.ErrorIs(t, d.Strike(ctx, name, "", "", nil), sdk.ErrBadStrike)
		assert.ErrorIs(t, d.Strike(ctx, name, "n", "==", 1), sdk.ErrBadStrike)
		_, err = d.AddByName(ctx, name, json.RawMessage(`{}`))
		require.ErrorIs(t, err, sdk.ErrBadInput, "nor by name")
		// A strike an earlier version struck on such a name can be restored.
		assert.ErrorIs(t, d.Restore(ctx, name, "", "", nil), sdk.ErrNotFound)
	}
	require.NoError(t, d.Strike(ctx, strings.Repeat("n", 1024), "", "", nil), "the longest name a task can have")
}

// A task whose name is not UTF-8 text is refused at Register, saying why:
// names travel as JSON text, which writes each bad byte as U+FFFD, so its
// admission rules were never found for it, and it ran unlimited.
func TestATaskNameThatIsNotUTF8IsRefused(t *testing.T) {
	d := memoryDocket(t)
	task := sdk.NewTask("sync\xff", func(context.Context, struct{}) error { return nil }, policy.TaskConcurrency(1))
	err := d.Register(task)
	require.ErrorIs(t, err, sdk.ErrBadTask)
	assert.Contains(t, err.Error(), "not UTF-8")
	require.NoError(t, d.Register(sdk.NewTask("sync-é", func(context.Context, struct{}) error { return nil }, policy.TaskConcurrency(1))))
}

// Progress never overflows: an increment that would take the work done
// past math.MaxInt64, in one call or over several, is ErrBadInput and
// changes nothing.
func TestProgressIncrementOverflow(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var errs []error
		var seen sdk.ProgressInfo
		task := sdk.NewTask("count", func(ctx context.Context, in Job) error {
			p := sdk.Current(ctx).Progress()
			errs = append(errs, p.Increment(ctx, math.MaxInt64, 1), p.Increment(ctx, math.MaxInt64-1))
			errs = append(errs, sdk.Current(ctx).Progress().Increment(ctx, 2), p.Increment(ctx))
			seen = p.Current()
			return nil
		})
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), Job{})
		require.NoError(t, err)
		env.RunUntilIdle()
		require.Len(t, errs, 4)
		assert.ErrorIs(t, errs[0], sdk.ErrBadInput, "one call's sum overflows")
		assert.NoError(t, errs[1])
		assert.ErrorIs(t, errs[2], sdk.ErrBadInput, "the sum with the work done overflows")
		assert.NoError(t, errs[3], "up to MaxInt64 itself")
		assert.Equal(t, int64(math.MaxInt64), seen.Current)
		p, err := ex.Progress(t.Context())
		require.NoError(t, err)
		assert.Equal(t, int64(math.MaxInt64), p.Current)
	})
}

// A nil *Handle, and nil controls, behave as they do outside a task: zero
// values, and nothing done. Never a panic.
func TestNilHandleAndControls(t *testing.T) {
	ctx := context.Background()
	var h *sdk.Handle
	assert.Empty(t, h.Key())
	assert.Empty(t, h.Task())
	assert.Zero(t, h.Attempt())
	assert.False(t, h.LastAttempt())
	assert.Zero(t, h.Due())
	h.Timeout().Extend(time.Hour)
	_, ok := h.Timeout().Remaining()
	assert.False(t, ok)
	h.Perpetual().Cancel()
	assert.Zero(t, h.Perpetual().Every())
	assert.NoError(t, h.Progress().Increment(ctx))

	var timeout *sdk.TimeoutControl
	timeout.Extend()
	left, ok := timeout.Remaining()
	assert.False(t, ok)
	assert.Zero(t, left)
	var perpetual *sdk.PerpetualControl
	perpetual.Cancel()
	perpetual.SetEvery(time.Minute)
	assert.Zero(t, perpetual.Every())
	var progress *sdk.Progress
	assert.NoError(t, progress.SetTotal(ctx, 1))
	assert.NoError(t, progress.Increment(ctx))
	assert.NoError(t, progress.SetMessage(ctx, "m"))
	assert.NoError(t, progress.Sync(ctx))
	assert.Zero(t, progress.Current())
}

// A task name longer than a key may be is refused by Register, rather
// than registered and then refused by every Add for "a bad key" the user
// never gave (an automatic task's chain is keyed by its name).
func TestRegisterRefusesATooLongName(t *testing.T) {
	d, err := sdk.Open(context.Background(), "memory://", sdk.WithName("long-name"), sdk.WithLogger(quiet))
	require.NoError(t, err)
	defer d.Close()
	long := sdk.NewTask(strings.Repeat("n", 2000), func(context.Context, struct{}) error { return nil })
	err = d.Register(long)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "task name of 2000 bytes; the limit is 1024")
	assert.NoError(t, d.Register(sdk.NewTask(strings.Repeat("n", 1024), func(context.Context, struct{}) error { return nil })))
}

// A progress message is short: a long one is refused and changes nothing;
// a docket name is at most 200 bytes (it is in every key).
func TestProgressMessageAndNameLimits(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var long, short, nilCtx error
		task := sdk.NewTask("report", func(ctx context.Context, in struct{}) error {
			p := sdk.Current(ctx).Progress()
			short = p.SetMessage(ctx, "half way")
			long = p.SetMessage(ctx, strings.Repeat("x", sdk.MaxProgressMessage+1))
			//lint:ignore SA1012 a nil context is what this checks
			nilCtx = errors.Join(p.SetTotal(nil, 1), p.Increment(nil), p.SetMessage(nil, "x"), p.Sync(nil))
			return nil
		})
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.RunUntilFinished()
		require.NoError(t, short)
		assert.ErrorIs(t, long, sdk.ErrInputTooLarge)
		assert.ErrorIs(t, nilCtx, sdk.ErrNilArgument, "a nil context is an error, not a panic")
		p, err := ex.Progress(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "half way", p.Message)
	})
	_, err := sdk.Open(context.Background(), "memory://", sdk.WithName(strings.Repeat("n", 201)))
	assert.ErrorIs(t, err, sdk.ErrBadName)
	d, err := sdk.Open(context.Background(), "memory://", sdk.WithName(strings.Repeat("n", 200)), sdk.WithLogger(quiet))
	require.NoError(t, err)
	require.NoError(t, d.Close())
}

// Call of a task a strike matches returns ErrStruck at once: nothing was
// added, so there is nothing to wait for (it said "task not found").
func TestCallOfAStruckTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		resize := sdk.NewResultTask("resize", func(ctx context.Context, in struct{ W int }) (int, error) { return in.W, nil })
		env.Register(resize)
		d := env.Docket()
		require.NoError(t, d.Strike(t.Context(), "resize", "", "", nil))
		_, err := resize.Call(t.Context(), d, struct{ W int }{W: 3})
		assert.ErrorIs(t, err, sdk.ErrStruck)
		assert.NotErrorIs(t, err, sdk.ErrNotFound)
		ex, err := resize.Add(t.Context(), d, struct{ W int }{W: 3})
		require.NoError(t, err)
		require.Equal(t, sdk.Struck, ex.Disposition())
		_, err = resize.Result(t.Context(), ex)
		assert.ErrorIs(t, err, sdk.ErrStruck)
	})
}

// A record Redis loses while a watch stays connected (an eviction, a
// FLUSHALL: no connection drops) ends the watch, and Result, with ErrLost
// within the watch's periodic check (every 10 s; every 20 minutes of fake
// time under the testsuite); they waited for ever.
func TestWatchNoticesARecordLostWhileConnected(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		resize := sdk.NewResultTask("resize", func(ctx context.Context, in struct{ W int }) (int, error) { return in.W, nil })
		env.Register(resize)
		d := env.Docket()
		ex, err := resize.Add(t.Context(), d, struct{ W int }{W: 3}, sdk.After(24*time.Hour))
		require.NoError(t, err)
		got := make(chan error, 1)
		go func() {
			_, err := resize.Result(t.Context(), ex)
			got <- err
		}()
		env.Advance(time.Second)
		require.NoError(t, d.Redis().FlushAll(t.Context()).Err())
		env.Advance(21 * time.Minute)
		select {
		case err := <-got:
			assert.ErrorIs(t, err, sdk.ErrLost)
		default:
			t.Fatal("Result still waits 21 minutes after the record was lost")
		}
	})
}

// A watch's progress events say when the progress was reported, as Info
// and Execution.Progress do (Updated was zero in them).
func TestWatchProgressEventsSayWhen(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		imp := sdk.NewTask("import", func(ctx context.Context, in struct{}) error {
			time.Sleep(time.Minute)
			return sdk.Current(ctx).Progress().SetTotal(ctx, 10)
		})
		env.Register(imp)
		t0 := env.Now()
		ex, err := imp.Add(t.Context(), env.Docket(), struct{}{}, sdk.After(time.Second))
		require.NoError(t, err)
		events, err := ex.Watch(t.Context())
		require.NoError(t, err)
		env.RunUntilFinished()
		var updated []time.Time
		for ev := range events {
			if ev.IsProgress {
				updated = append(updated, ev.Progress.Updated)
			}
		}
		require.Len(t, updated, 1)
		assert.True(t, updated[0].Equal(t0.Add(time.Minute+time.Second)), "%v", updated[0])
	})
}

// The bound on signals waiting to be received is public, and so is the
// error past it.
func TestTooManySignalsIsASentinel(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		wf := sdk.NewTask("waits", func(ctx context.Context, in struct{}) error {
			_, err := workflow.WaitSignal[int](ctx, "go", 0)
			return err
		})
		env.Register(wf)
		d := env.Docket()
		ex, err := wf.Add(t.Context(), d, struct{}{})
		require.NoError(t, err)
		env.RunUntilIdle()
		for i := range sdk.MaxSignals {
			require.NoError(t, d.Signal(t.Context(), ex.Key(), "other", i))
		}
		err = d.Signal(t.Context(), ex.Key(), "other", 0)
		assert.ErrorIs(t, err, sdk.ErrTooManySignals)
		require.NoError(t, d.Cancel(t.Context(), ex.Key()))
	})
}

// A watch reports every announced change, a repeat of the same state and
// attempt included (a Replace of a scheduled task: scheduled, then
// scheduled again with the new input); only the announcement of a change a
// catch-up already reported is skipped.
func TestWatchReportsRepeatedStates(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("later", func(ctx context.Context, in struct{ N int }) error { return nil })
		env.Register(task)
		d := env.Docket()
		ex, err := task.Add(t.Context(), d, struct{ N int }{1}, sdk.Key("later"), sdk.After(time.Hour))
		require.NoError(t, err)
		events, err := ex.Watch(t.Context())
		require.NoError(t, err)
		_, err = task.Replace(t.Context(), d, struct{ N int }{2}, sdk.Key("later"), sdk.After(time.Hour))
		require.NoError(t, err)
		env.Advance(time.Second)
		require.NoError(t, d.Cancel(t.Context(), "later"))
		var got []string
		for ev := range events {
			got = append(got, fmt.Sprint(ev.State, " ", ev.Attempt))
		}
		assert.Equal(t, []string{"scheduled 1", "scheduled 1", "cancelled 1"}, got)
	})
}

// Strikes gives a value with <, > or & as written, not as Go's encoder
// stored it (\u003c...), and Restore given that value finds the strike.
func TestAStrikeValueReadsAsWritten(t *testing.T) {
	ctx := context.Background()
	d := memoryDocket(t)
	require.NoError(t, d.Strike(ctx, "ship", "region", "==", "<eu> & co"))
	got, err := d.Strikes(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, `"<eu> & co"`, string(got[0].Value))
	require.NoError(t, d.Restore(ctx, got[0].Task, got[0].Field, got[0].Op, got[0].Value))
	got, err = d.Strikes(ctx)
	require.NoError(t, err)
	assert.Empty(t, got)
}

// A strike whose field or string value is not UTF-8 text is ErrBadStrike:
// JSON, which carries it to Redis, would write each bad byte as U+FFFD, so
// it would compare another field, or another value, than the one given,
// and hold nothing, silently.
func TestAStrikeThatIsNotUTF8IsRefused(t *testing.T) {
	ctx := context.Background()
	d := memoryDocket(t)
	type region string
	for _, c := range []struct {
		field string
		value any
	}{{"region\xff", "eu"}, {"region", "eu\xfe"}, {"region", region("eu\xfe")}} {
		err := d.Strike(ctx, "ship", c.field, "==", c.value)
		require.ErrorIs(t, err, sdk.ErrBadStrike, "%q %#v", c.field, c.value)
		assert.Contains(t, err.Error(), "not UTF-8 text")
	}
	got, err := d.Strikes(ctx)
	require.NoError(t, err)
	assert.Empty(t, got, "none struck")
}
