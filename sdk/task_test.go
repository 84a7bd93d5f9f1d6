package sdk_test

import (
	"context"
	"encoding/json"
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
)

type SyncInput struct {
	CustomerID int    `json:"customer_id"`
	Region     string `json:"region"`
}

func syncCustomer(ctx context.Context, in SyncInput) error { return nil }

func memoryDocket(t *testing.T, opts ...sdk.Option) *sdk.Docket {
	t.Helper()
	d, err := sdk.Open(context.Background(), redistest.Memory(t).URL, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestRegisterValidatesPolicies(t *testing.T) {
	d := memoryDocket(t)
	good := sdk.NewTask("sync_customer", syncCustomer,
		policy.Cooldown("customer_id", 30*time.Second),
		policy.Concurrency("region", 2, policy.Scope("crm")),
		policy.ExponentialRetry(5, time.Second, 5*time.Minute),
		policy.Timeout(10*time.Minute),
	)
	require.NoError(t, d.Register(good))
	require.NoError(t, d.Register(good), "registering the same task again is harmless")

	for _, tc := range []struct {
		name   string
		task   sdk.Registrable
		target error
		words  []string
	}{
		{"unknown field", sdk.NewTask("t1", syncCustomer, policy.Cooldown("customer", time.Second)),
			policy.ErrUnknownField, []string{`"t1"`, `Cooldown("customer", 1s)`, `"customer_id"`}},
		{"second debounce", sdk.NewTask("t2", syncCustomer, policy.Debounce("region", time.Second), policy.TaskDebounce(time.Second)),
			policy.ErrDuplicate, []string{`"t2"`, "TaskDebounce(1s)"}},
		{"second retry", sdk.NewTask("t3", syncCustomer, policy.Retry(2, time.Second), policy.ExponentialRetry(2, time.Second, time.Minute)),
			policy.ErrDuplicate, []string{`"t3"`, "ExponentialRetry"}},
		{"automatic with input", sdk.NewTask("t4", syncCustomer, policy.Cron("@daily")),
			policy.ErrAutomaticInput, []string{`"t4"`, `Cron("@daily")`}},
		{"bad cron", sdk.NewTask("t5", func(context.Context, struct{}) error { return nil }, policy.Cron("61 * * * *")),
			policy.ErrBadCron, []string{`"t5"`, `"61 * * * *"`}},
		{"cron written as a struct literal", sdk.NewTask("t6", func(context.Context, struct{}) error { return nil }, policy.CronPolicy{Expr: "* * * * *"}),
			policy.ErrNotBuilt, []string{`"t6"`, `policy.CronPolicy{Expr: "* * * * *"}`, "build it with policy.Cron("}},
		{"retry written as a struct literal", sdk.NewTask("t7", syncCustomer, policy.Timeout(time.Minute), policy.RetryPolicy{Attempts: 3}),
			policy.ErrNotBuilt, []string{`"t7"`, "policy.RetryPolicy{Attempts: 3}", "build it with policy.Retry("}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Register(tc.task)
			require.ErrorIs(t, err, tc.target)
			var pe *policy.Error
			require.ErrorAs(t, err, &pe)
			for _, w := range tc.words {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// requireTaskConflict checks that err is ErrTaskConflict for the task
// called name, with a message that says what happened and mentions no type.
func requireTaskConflict(t *testing.T, err error, name string) {
	t.Helper()
	require.ErrorIs(t, err, sdk.ErrTaskConflict)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "docket: "), msg)
	assert.Contains(t, msg, fmt.Sprintf("%q", name))
	assert.Contains(t, msg, "another sdk.NewTask")
	// The old message named the input types, which read "registered with
	// input X, now X" when both tasks took the same type.
	assert.NotContains(t, msg, "input")
	assert.NotContains(t, msg, "SyncInput")
}

func TestRegisterTellsTasksApartByTheirNewTaskCall(t *testing.T) {
	// Tasks made in a loop: each NewTask call makes a task of its own, though
	// their functions come from one literal and share their code.
	var fromLiteral []sdk.Registrable
	for range 2 {
		fromLiteral = append(fromLiteral, sdk.NewTask("sync_customer", func(ctx context.Context, in SyncInput) error { return nil }))
	}
	for _, tc := range []struct {
		name       string
		first, two sdk.Registrable
	}{
		{"same named function", sdk.NewTask("sync_customer", syncCustomer), sdk.NewTask("sync_customer", syncCustomer)},
		{"same function literal", fromLiteral[0], fromLiteral[1]},
		{"different functions", sdk.NewTask("sync_customer", syncCustomer),
			sdk.NewTask("sync_customer", func(ctx context.Context, in SyncInput) error { return errors.New("other") })},
		{"different input types", sdk.NewTask("sync_customer", syncCustomer),
			sdk.NewTask("sync_customer", func(ctx context.Context, in struct{ A int }) error { return nil })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := memoryDocket(t)
			require.NoError(t, d.Register(tc.first))
			requireTaskConflict(t, d.Register(tc.two), "sync_customer")
			requireTaskConflict(t, d.Register(tc.two), "sync_customer") // every time they meet
			require.NoError(t, d.Register(tc.first), "the registered task is still the first")

			// In one call, in either order: nothing is registered.
			other := memoryDocket(t)
			requireTaskConflict(t, other.Register(tc.first, tc.two), "sync_customer")
			requireTaskConflict(t, other.Register(tc.two, tc.first), "sync_customer")
			require.NoError(t, other.Register(tc.two), "a refused call registers nothing")
			requireTaskConflict(t, other.Register(tc.first), "sync_customer")
		})
	}
}

func TestRegisterTheSameTaskAgain(t *testing.T) {
	d := memoryDocket(t)
	task := sdk.NewTask("sync_customer", syncCustomer, policy.Retry(3, time.Second))
	require.NoError(t, d.Register(task, task), "twice in one call")
	require.NoError(t, d.Register(task), "again in another call")
	require.NoError(t, d.Register(sdk.NewTask("other", syncCustomer), task), "beside another task")

	// What looks a task up by name finds it.
	_, err := d.AddByName(context.Background(), "sync_customer", json.RawMessage(`{"customer_id":"not a number"}`))
	require.ErrorIs(t, err, sdk.ErrBadInput, "AddByName checks input against the registered task")
	ex, err := d.AddByName(context.Background(), "sync_customer", json.RawMessage(`{"customer_id":1}`))
	require.NoError(t, err)
	assert.Equal(t, sdk.Scheduled, ex.Disposition())
}

func TestTaskNeedsNameFunctionAndStructInput(t *testing.T) {
	d := memoryDocket(t)
	assert.ErrorContains(t, d.Register(sdk.NewTask("", syncCustomer)), "needs a name")
	assert.ErrorContains(t, d.Register(sdk.NewTask[SyncInput]("nil_fn", nil)), "nil function")
	for _, task := range []sdk.Registrable{sdk.NewTask("", syncCustomer), sdk.NewTask[SyncInput]("nil_fn", nil),
		sdk.NewTask(strings.Repeat("n", 2000), syncCustomer)} {
		assert.ErrorIs(t, d.Register(task), sdk.ErrBadTask)
	}
	// An input that is not a struct is bad input, as an input type JSON
	// cannot decode is (it was a policy error once, matching neither).
	for _, task := range []sdk.Registrable{
		sdk.NewTask("string_input", func(ctx context.Context, in string) error { return nil }),
		sdk.NewTask("int_input", func(ctx context.Context, in int) error { return nil }),
		sdk.NewTask("pointer_input", func(ctx context.Context, in *SyncInput) error { return nil }),
		sdk.NewTask("any_input", func(ctx context.Context, in any) error { return nil }),
	} {
		err := d.Register(task)
		assert.ErrorIs(t, err, sdk.ErrBadInput)
		assert.ErrorContains(t, err, "is not a struct")
	}
	err := d.Register(sdk.NewTask("int_input", func(ctx context.Context, in int) error { return nil }))
	assert.EqualError(t, err, `docket: bad task input: task "int_input": its input type int is not a struct`)
}

// A call that names a task by a key no task can have says what is wrong
// with the key (ErrBadKey) and that no task has it (ErrNotFound): Cancel
// and Info of an empty key matched ErrNotFound alone.
func TestCallsByAKeyNoTaskCanHave(t *testing.T) {
	d := memoryDocket(t)
	ctx := context.Background()
	for _, key := range []string{"", strings.Repeat("k", sdk.MaxKeyLength+1)} {
		ex := d.Execution(key)
		_, infoErr := ex.Info(ctx)
		_, progressErr := ex.Progress(ctx)
		_, watchErr := d.Watch(ctx, key)
		_, resultErr := sdk.Result[int](ctx, ex)
		for call, err := range map[string]error{
			"Cancel": d.Cancel(ctx, key), "RunNow": d.RunNow(ctx, key), "Retry": d.Retry(ctx, key),
			"Signal": d.Signal(ctx, key, "go", nil), "Info": infoErr, "Progress": progressErr,
			"Watch": watchErr, "Result": resultErr,
		} {
			assert.ErrorIs(t, err, sdk.ErrBadKey, "%s of a key of %d bytes", call, len(key))
			assert.ErrorIs(t, err, sdk.ErrNotFound, "%s of a key of %d bytes", call, len(key))
		}
	}
}

func TestAddRefusesWhatCannotRun(t *testing.T) {
	d := memoryDocket(t, sdk.WithMaxInputSize(64))
	ctx := context.Background()
	task := sdk.NewTask("sync_customer", syncCustomer)

	_, err := task.Add(ctx, d, SyncInput{Region: strings.Repeat("x", 100)})
	assert.ErrorIs(t, err, sdk.ErrInputTooLarge)
	assert.ErrorContains(t, err, "the limit is 64")
	_, err = task.Add(ctx, d, SyncInput{}, sdk.Key(""))
	assert.ErrorIs(t, err, sdk.ErrBadKey)
	_, err = task.Add(ctx, d, SyncInput{}, sdk.Key(strings.Repeat("k", sdk.MaxKeyLength+1)))
	assert.ErrorIs(t, err, sdk.ErrBadKey)
	_, err = d.AddByName(ctx, "", json.RawMessage(`{}`))
	assert.ErrorIs(t, err, sdk.ErrBadInput)

	invalid := sdk.NewTask("invalid", syncCustomer, policy.Cooldown("nope", time.Second))
	_, err = invalid.Add(ctx, d, SyncInput{})
	assert.ErrorIs(t, err, policy.ErrUnknownField, "a task with invalid policies cannot be added either")
	literal := sdk.NewTask("literal", syncCustomer, policy.ConcurrencyPolicy{Arg: "region", Max: 1})
	_, err = literal.Add(ctx, d, SyncInput{})
	assert.ErrorIs(t, err, policy.ErrNotBuilt, "nor can a task whose policy is a struct literal")

	snap, err := d.Snapshot(ctx)
	require.NoError(t, err)
	assert.Zero(t, snap.TotalWaiting, "nothing was added")
}

func TestDispositionStrings(t *testing.T) {
	assert.Equal(t, "scheduled", sdk.Scheduled.String())
	assert.Equal(t, "already scheduled", sdk.AlreadyScheduled.String())
	assert.Equal(t, "replaced", sdk.Replaced.String())
}

func TestCurrentOutsideATask(t *testing.T) {
	h := sdk.Current(context.Background())
	assert.Equal(t, "", h.Key())
	assert.Equal(t, 0, h.Attempt())
	h.Timeout().Extend(time.Hour) // does nothing, and does not panic
	left, ok := h.Timeout().Remaining()
	assert.False(t, ok, "no deadline outside a task")
	assert.Zero(t, left)
}

// A result or input type that JSON cannot decode into is refused at
// Register, naming the type, rather than failing each task or each read of
// a result once the work is done. One that decodes itself is accepted.
func TestRegisterRefusesTypesJSONCannotDecode(t *testing.T) {
	d := memoryDocket(t)
	errResult := sdk.NewResultTask("err-result", func(ctx context.Context, in SyncInput) (error, error) { return nil, nil })
	err := d.Register(errResult)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `task "err-result": its result type error: JSON cannot decode into an interface with methods`)

	chanInput := sdk.NewTask("chan-input", func(ctx context.Context, in chan int) error { return nil })
	err = d.Register(chanInput)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `its input type chan int: JSON cannot encode or decode a chan`)

	anyResult := sdk.NewResultTask("any-result", func(ctx context.Context, in SyncInput) (any, error) { return 1, nil })
	require.NoError(t, d.Register(anyResult))
	selfDecoding := sdk.NewResultTask("raw-result", func(ctx context.Context, in SyncInput) (json.RawMessage, error) { return nil, nil })
	require.NoError(t, d.Register(selfDecoding))
	timeResult := sdk.NewResultTask("time-result", func(ctx context.Context, in SyncInput) (time.Time, error) { return time.Time{}, nil })
	require.NoError(t, d.Register(timeResult))
}

// sdk.At with an instant in the past means now: the task is due at the
// instant it was added, not at the past one (which would skew its lateness
// and put it ahead of tasks that were due before it was added).
func TestAtInThePastMeansNow(t *testing.T) {
	ctx := context.Background()
	d := memoryDocket(t)
	task := sdk.NewTask("sync", syncCustomer)
	before := time.Now()
	ex, err := task.Add(ctx, d, SyncInput{}, sdk.At(before.Add(-time.Hour)))
	require.NoError(t, err)
	assert.False(t, ex.Due().Before(before.Add(-time.Second)), "due %v, added at %v", ex.Due(), before)
	info, err := ex.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, ex.Due(), info.Due)
	assert.Equal(t, sdk.StateQueued, info.State)
}

// Policies hands out a copy: editing it changes neither what Policies
// returns next nor how the task runs (it ran once, where Retry(2) says
// twice).
func TestPoliciesIsACopy(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		task := sdk.NewTask("flaky", func(context.Context, struct{}) error { return errors.New("down") },
			policy.Retry(2, time.Second), policy.TaskConcurrency(1))
		env.Register(task)
		set, err := task.Policies()
		require.NoError(t, err)
		set.Retry.Attempts = 1
		set.Concurrency[0].Max = 5
		again, err := task.Policies()
		require.NoError(t, err)
		assert.Equal(t, 2, again.Retry.Attempts)
		assert.Equal(t, 1, again.Concurrency[0].Max)
		_, err = task.Add(t.Context(), env.Docket(), struct{}{})
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.Len(t, env.Runs("flaky"), 2)
	})
}

// Past June 2255 (2^53 µs after 1970) Redis's numbers hold every 2nd to
// 32nd microsecond only: an instant there is kept rounded up to the next
// it holds, never early, by the task's due time as by its place in the
// schedule. (It was kept rounded to the nearest: year 5000's .000005 came
// back as .000000.) The last microseconds of the year 9999 are taken, and
// kept in it, rounded down: a time in the year 10000 has no JSON.
func TestFarInstantsAreNeverEarly(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		d := openChecked(t, b.URL)
		task := sdk.NewTask("far", func(context.Context, Job) error { return nil })
		for _, at := range []time.Time{
			time.Date(2255, 6, 5, 23, 47, 34, 740991000, time.UTC), // 2^53 − 1 µs: kept exactly
			time.Date(2260, 6, 1, 0, 0, 0, 5000, time.UTC),
			time.Date(2300, 6, 1, 0, 0, 0, 33000, time.UTC),
			time.Date(5000, 6, 1, 0, 0, 0, 5000, time.UTC),
			time.Date(9999, 6, 1, 0, 0, 0, 17000, time.UTC),
			time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		} {
			ex, err := task.Add(ctx, d, Job{}, sdk.At(at))
			require.NoError(t, err, "%v", at)
			info, err := ex.Info(ctx)
			require.NoError(t, err)
			assert.Equal(t, ex.Due(), info.Due)
			assert.False(t, info.Due.Before(at), "%v kept as %v: early", at, info.Due)
			assert.Less(t, info.Due.Sub(at), 32*time.Microsecond, "%v kept as %v", at, info.Due)
			if at.Year() == 2255 {
				assert.True(t, info.Due.Equal(at), "%v kept as %v", at, info.Due)
			}
			require.NoError(t, d.Cancel(ctx, ex.Key()))
		}
		last := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
		ex, err := task.Add(ctx, d, Job{}, sdk.At(last))
		require.NoError(t, err)
		assert.Equal(t, 9999, ex.Due().UTC().Year(), "due %v", ex.Due())
		assert.Less(t, last.Sub(ex.Due()), 32*time.Microsecond, "due %v", ex.Due())
		info, err := ex.Info(ctx)
		require.NoError(t, err)
		_, err = json.Marshal(info)
		require.NoError(t, err, "its Info has JSON")
		require.NoError(t, d.Cancel(ctx, ex.Key()))
		_, err = task.Add(ctx, d, Job{}, sdk.At(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)))
		assert.ErrorIs(t, err, sdk.ErrBadInput)
	})
}

// Mail is the input of the rate-limited task of the snapshot's test.
type Mail struct {
	To string `json:"to"`
}

// A snapshot lists the rate limits whose window holds a start: how many
// starts of how many it may hold, and the first, from which a full window
// frees; a window that has emptied is not listed.
func TestSnapshotListsRateLimitsWhileTheirWindowHoldsAStart(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ctx := t.Context()
		send := sdk.NewTask("send", func(ctx context.Context, in Mail) error { return nil },
			policy.RateLimit("to", 2, time.Minute))
		env.Register(send)
		d := env.Docket()
		start := env.Now()
		_, err := send.AddMany(ctx, d, []Mail{{To: "ann"}, {To: "ann"}, {To: "bob"}, {To: "ann"}})
		require.NoError(t, err)
		env.RunUntilIdle()

		snap, err := d.Snapshot(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, snap.TotalRateLimits)
		require.Len(t, snap.RateLimits, 2)
		rates := map[string]sdk.RateLimitInfo{}
		for _, r := range snap.RateLimits {
			rates[r.ID] = r
		}
		ann, bob := rates["t:send:to:ann"], rates["t:send:to:bob"]
		assert.Equal(t, sdk.RateLimitInfo{ID: "t:send:to:ann", Limit: 2, Per: time.Minute, Started: 2, Next: start.Add(time.Minute)}, ann)
		assert.True(t, ann.Full(), "the third mail to ann waits for the window")
		assert.Equal(t, sdk.RateLimitInfo{ID: "t:send:to:bob", Limit: 2, Per: time.Minute, Started: 1}, bob)
		assert.False(t, bob.Full())
		assert.Len(t, snap.Scheduled, 1, "the third mail to ann")

		one, err := d.Snapshot(ctx, sdk.Limit(1))
		require.NoError(t, err)
		assert.Len(t, one.RateLimits, 1)
		assert.Equal(t, 2, one.TotalRateLimits)

		env.Advance(time.Minute) // the third mail to ann starts as the first leaves the window
		snap, err = d.Snapshot(ctx)
		require.NoError(t, err)
		require.Len(t, snap.RateLimits, 1, "bob's window has emptied")
		assert.Equal(t, "t:send:to:ann", snap.RateLimits[0].ID)
		assert.Equal(t, 1, snap.RateLimits[0].Started, "the third mail's start")
		assert.True(t, snap.RateLimits[0].Next.IsZero(), "room for another")

		env.Advance(time.Minute)
		snap, err = d.Snapshot(ctx)
		require.NoError(t, err)
		assert.Empty(t, snap.RateLimits)
		assert.Zero(t, snap.TotalRateLimits)
	})
}

// Limits of one kind in one scope are one limit: tasks that share a scope
// must declare the same numbers, or Register refuses the later one,
// naming both. Left to the claims,
// a task of a smaller max would take a slot a larger one's run freed, and
// a shorter window would forget starts a longer one counts.
func TestRegisterRefusesAScopeDeclaredWithOtherNumbers(t *testing.T) {
	d := memoryDocket(t)
	type Job struct {
		Region string `json:"region"`
	}
	run := func(ctx context.Context, in Job) error { return nil }
	big := sdk.NewTask("big", run, policy.Concurrency("region", 5, policy.Scope("crm")),
		policy.RateLimit("region", 10, time.Minute, policy.Scope("api")))
	require.NoError(t, d.Register(big))

	small := sdk.NewTask("small", run, policy.Concurrency("region", 2, policy.Scope("crm")))
	other := sdk.NewTask("other", run)
	err := d.Register(other, small)
	require.ErrorIs(t, err, policy.ErrConflict)
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "small", pe.Task)
	assert.Contains(t, err.Error(), `scope "crm" allows 5 runs at once, as task "big" declares it`)

	slower := sdk.NewTask("slower", run, policy.RateLimit("region", 10, time.Hour, policy.Scope("api")))
	assert.ErrorIs(t, d.Register(slower), policy.ErrConflict, "the same limit over another window")
	twice := sdk.NewTask("twice", run, policy.Concurrency("region", 3, policy.Scope("s")),
		policy.TaskConcurrency(4, policy.Scope("s")))
	assert.ErrorIs(t, d.Register(twice), policy.ErrConflict, "one task, one scope, two maxima")

	same := sdk.NewTask("same", run, policy.Concurrency("region", 5, policy.Scope("crm")),
		policy.RateLimit("region", 10, time.Minute, policy.Scope("api")))
	assert.NoError(t, d.Register(same), "the same numbers share the scope")
	assert.NoError(t, d.Register(big), "registering a task again")
}
