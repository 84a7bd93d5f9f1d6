package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

// errInjected is the failure scriptHook makes a script call return.
var errInjected = errors.New("injected failure")

// scriptHook is a go-redis hook on the docket's client. With fail, it fails
// its client's script call (EVALSHA) numbered failAt before sending it; with
// cancel, it cancels a context as soon as a script call succeeded.
type scriptHook struct {
	calls  atomic.Int32
	failAt int32
	cancel context.CancelFunc
}

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := strings.ToLower(cmd.Name())
		if name == "evalsha" && h.failAt > 0 && h.calls.Add(1) == h.failAt {
			cmd.SetErr(errInjected)
			return errInjected
		}
		err := next(ctx, cmd)
		if err == nil && (name == "evalsha" || name == "eval") && h.cancel != nil {
			h.cancel()
		}
		return err
	}
}

// inputs are n jobs, the i-th for customer i.
func inputs(n int) []Job {
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{Customer: i}
	}
	return jobs
}

// jobKey is the key the tests give the i-th job.
func jobKey(i int) string { return fmt.Sprintf("job-%d", i) }

// checkPartial checks what an AddMany that failed midway returned: one
// element per input, the execution of each input whose call Redis
// confirmed, nil for the others; and that every execution returned is in
// Redis, with its input. It returns which inputs were confirmed.
func checkPartial(t *testing.T, ins []Job, exs []*sdk.Execution) map[int]bool {
	t.Helper()
	ctx := context.Background()
	require.Len(t, exs, len(ins), "one element per input, even on error")
	confirmed := map[int]bool{}
	for i, ex := range exs {
		if ex == nil {
			continue
		}
		confirmed[i] = true
		assert.Equal(t, sdk.Scheduled, ex.Disposition(), "input %d", i)
		info, err := ex.Info(ctx)
		require.NoError(t, err, "input %d was reported added", i)
		assert.JSONEq(t, fmt.Sprintf(`{"customer":%d,"step":0}`, i), string(info.Input), "exs[%d] is the execution of ins[%d]", i, i)
	}
	assert.NotEmpty(t, confirmed, "the calls before the failure were confirmed")
	assert.Less(t, len(confirmed), len(ins), "the calls from the failure on were not")
	return confirmed
}

// retry makes the AddMany again with the same inputs and keys, and checks
// that it adds none twice: those confirmed before are AlreadyScheduled, and
// Redis holds one task per input.
func retry(t *testing.T, d *sdk.Docket, task *sdk.Task[Job], ins []Job, confirmed map[int]bool) {
	t.Helper()
	ctx := context.Background()
	exs, err := task.AddMany(ctx, d, ins, sdk.Keys(jobKey))
	require.NoError(t, err)
	require.Len(t, exs, len(ins))
	for i, ex := range exs {
		require.NotNil(t, ex, "input %d", i)
		assert.Equal(t, jobKey(i), ex.Key())
		if confirmed[i] {
			assert.Equal(t, sdk.AlreadyScheduled, ex.Disposition(), "input %d was added before", i)
		}
	}
	snap, err := d.Snapshot(ctx, sdk.Limit(0))
	require.NoError(t, err)
	assert.Equal(t, len(ins), snap.TotalWaiting, "one task per input, none twice")
}

// When Redis fails one of the calls of a large AddMany, AddMany returns the
// error and, index by index, the executions of the inputs Redis confirmed:
// exactly the tasks in Redis, since the failed call never reached it and no
// call started after it. Made again with the same keys, it adds the rest
// and none twice.
//
// A real Redis only: the embedded one runs a call of a thousand tasks
// slowly.
func TestAddManyFailingMidwayReturnsTheAdded(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, redistest.Redis(t).URL)
	task := sdk.NewTask("job", func(context.Context, Job) error { return nil })
	d.Redis().AddHook(&scriptHook{failAt: 3})

	ins := inputs(4500) // five calls, one after the other
	exs, err := task.AddMany(ctx, d, ins, sdk.Keys(jobKey))
	require.ErrorIs(t, err, errInjected)
	confirmed := checkPartial(t, ins, exs)
	assert.Len(t, confirmed, 2000, "the two calls before the failure")
	snap, err := d.Snapshot(ctx, sdk.Limit(0))
	require.NoError(t, err)
	assert.Equal(t, len(confirmed), snap.TotalWaiting, "Redis holds exactly the tasks reported")

	retry(t, d, task, ins, confirmed)
}

// A context cancelled in the middle of a large AddMany: AddMany returns the
// context's error and the executions Redis confirmed, at least those of the
// call whose reply came before the cancellation. A call cut short may have
// been added without being confirmed; made again with the same keys,
// AddMany adds none twice.
func TestAddManyCancelledMidwayReturnsTheAdded(t *testing.T) {
	d := openChecked(t, redistest.Redis(t).URL)
	task := sdk.NewTask("job", func(context.Context, Job) error { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Redis().AddHook(&scriptHook{cancel: cancel})

	ins := inputs(4500)
	exs, err := task.AddMany(ctx, d, ins, sdk.Keys(jobKey))
	require.ErrorIs(t, err, context.Canceled)
	confirmed := checkPartial(t, ins, exs)
	assert.GreaterOrEqual(t, len(confirmed), 1000, "the first call's thousand")
	snap, err := d.Snapshot(context.Background(), sdk.Limit(0))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, snap.TotalWaiting, len(confirmed))

	retry(t, d, task, ins, confirmed)
}

// Keys is for AddMany, Key for a single task; a key Keys gives is checked
// like any other, before anything is sent.
func TestKeysIsForAddMany(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		d := openChecked(t, b.URL)
		task := sdk.NewTask("job", func(context.Context, Job) error { return nil })

		_, err := task.Add(ctx, d, Job{}, sdk.Keys(jobKey))
		assert.ErrorIs(t, err, sdk.ErrBadKey)
		_, err = task.AddMany(ctx, d, inputs(2), sdk.Key("k"))
		assert.ErrorIs(t, err, sdk.ErrBadKey)
		exs, err := task.AddMany(ctx, d, inputs(3), sdk.Keys(func(i int) string { return strings.Repeat("k", i) }))
		assert.ErrorIs(t, err, sdk.ErrBadKey)
		assert.ErrorContains(t, err, "input 0")
		assert.Nil(t, exs, "nothing was sent")
		exs, err = task.AddMany(ctx, d, nil)
		require.NoError(t, err)
		assert.Empty(t, exs)

		snap, err := d.Snapshot(ctx, sdk.Limit(0))
		require.NoError(t, err)
		assert.Zero(t, snap.TotalWaiting)

		exs, err = task.AddMany(ctx, d, inputs(3), sdk.Keys(func(int) string { return "same" }))
		require.NoError(t, err)
		assert.Equal(t, []sdk.Disposition{sdk.Scheduled, sdk.AlreadyScheduled, sdk.AlreadyScheduled},
			[]sdk.Disposition{exs[0].Disposition(), exs[1].Disposition(), exs[2].Disposition()}, "one key, one task")
		require.NoError(t, d.Cancel(ctx, "same"))
	})
}

// writes is an input that encodes itself as whatever it holds.
type writes struct{ JSON string }

func (w writes) MarshalJSON() ([]byte, error) { return []byte(w.JSON), nil }
func (*writes) UnmarshalJSON([]byte) error    { return nil }

// AddMany checks the inputs json.Marshal wrote for size and null only
// (json.Marshal refuses a MarshalJSON that writes anything but JSON):
// each of the three is still refused with its error, naming the task, and
// nothing of the call is added.
func TestAddManyRefusesInputsThatEncodeBadly(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://", sdk.WithMaxInputSize(64))
	task := sdk.NewTask("selfish", func(context.Context, writes) error { return nil })
	for _, c := range []struct {
		in   writes
		want error
		says string
	}{
		{writes{`{"open":`}, sdk.ErrBadInput, "MarshalJSON"},
		{writes{` null `}, sdk.ErrBadInput, `task "selfish": input is null`},
		{writes{`"` + strings.Repeat("x", 80) + `"`}, sdk.ErrInputTooLarge, `task "selfish": its input is 82 bytes`},
	} {
		exs, err := task.AddMany(ctx, d, []writes{{`{"fine":1}`}, c.in})
		require.ErrorIs(t, err, c.want, "input %q", c.in)
		assert.ErrorContains(t, err, c.says)
		assert.Nil(t, exs)
	}
	snap, err := d.Snapshot(ctx)
	require.NoError(t, err)
	assert.Zero(t, snap.TotalWaiting, "a call with an input refused adds none")
}

// The keys AddMany makes are UUIDv7s, each new and in the order of the
// inputs, across the reads of randomness it makes for many keys at once.
func TestAddManyMakesNewOrderedKeys(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	task := sdk.NewTask("job", func(context.Context, Job) error { return nil })
	exs, err := task.AddMany(ctx, d, inputs(1100))
	require.NoError(t, err)
	seen := map[string]bool{}
	last := ""
	for i, ex := range exs {
		u, err := uuid.Parse(ex.Key())
		require.NoError(t, err, "key %d", i)
		assert.Equal(t, uuid.Version(7), u.Version(), "key %d", i)
		assert.Equal(t, u.String(), ex.Key(), "key %d is written as uuid writes it", i)
		assert.False(t, seen[ex.Key()], "key %d is new", i)
		seen[ex.Key()] = true
		assert.Greater(t, ex.Key(), last, "key %d follows the one before", i)
		last = ex.Key()
	}
	// Their random bits differ too: the 74 bits past the time.
	tails := map[string]bool{}
	for k := range seen {
		tails[k[24:]] = true
	}
	assert.Len(t, tails, len(exs), "no two keys share their random tail")
}
