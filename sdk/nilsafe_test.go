package sdk_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
)

// Close, Name and Redis of a nil Docket (what a failed Open returns) or a
// zero one do not panic: `defer d.Close()` before the error check is safe.
// Close says the docket is nil; Name and Redis report zero values.
func TestNilDocketCloseNameRedis(t *testing.T) {
	d, err := sdk.Open(context.Background(), "redis://127.0.0.1:1/0", sdk.WithLogger(quiet))
	require.Error(t, err)
	require.Nil(t, d)
	assert.ErrorIs(t, d.Close(), sdk.ErrNilArgument)
	assert.Empty(t, d.Name())
	assert.Nil(t, d.Redis())

	zero := &sdk.Docket{}
	assert.ErrorIs(t, zero.Close(), sdk.ErrNilArgument)
	assert.ErrorContains(t, zero.Close(), "sdk.Open")
	assert.Empty(t, zero.Name())
	assert.Nil(t, zero.Redis())
}

// A nil Option or SnapshotOption is skipped, as a nil AddOption is: the
// call does what it would without it.
func TestNilOptionsAreSkipped(t *testing.T) {
	d := openChecked(t, "memory://")
	other, err := sdk.OpenClient(d.Redis(), nil, sdk.WithName(d.Name()), nil, sdk.WithLogger(quiet))
	require.NoError(t, err)
	assert.Equal(t, d.Name(), other.Name())
	require.NoError(t, other.Close())

	_, err = d.Snapshot(context.Background(), nil, sdk.Limit(1), nil)
	assert.NoError(t, err)
}

// OpenClient refuses a nil client, and a nil *redis.Client in the
// interface: accepted, it panicked at the first Add, and in a worker's
// goroutine, where it killed the process.
func TestOpenClientRefusesNilClient(t *testing.T) {
	d, err := sdk.OpenClient(nil, sdk.WithLogger(quiet))
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
	assert.ErrorContains(t, err, "Redis client is nil")
	assert.Nil(t, d)

	var typed *redis.Client
	d, err = sdk.OpenClient(typed, sdk.WithLogger(quiet))
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
	assert.Nil(t, d)
}

// Snapshot refuses a negative Limit (it listed nothing, silently), and
// takes a huge one as "list them all" rather than failing in Redis's
// script.
func TestSnapshotLimitBounds(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	_, err := d.Snapshot(ctx, sdk.Limit(-5))
	assert.ErrorIs(t, err, sdk.ErrBadInput)
	assert.ErrorContains(t, err, "sdk.Limit(-5)")

	task := sdk.NewTask("snap", func(ctx context.Context, in Job) error { return nil })
	_, err = task.AddMany(ctx, d, make([]Job, 3), sdk.After(time.Hour))
	require.NoError(t, err)
	for _, n := range []int{1e17, math.MaxInt, sdk.MaxSnapshotLimit} {
		snap, err := d.Snapshot(ctx, sdk.Limit(n))
		require.NoError(t, err, "Limit(%d)", n)
		assert.Len(t, snap.Scheduled, 3, "Limit(%d)", n)
	}
	_, err = d.Clear(ctx)
	require.NoError(t, err)
}

// Spread and Jitter beyond MaxSpread are refused with ErrBadInput, and so
// is a window that After pushes past time.Duration's range: before, a
// huge Jitter panicked in AddMany and a huge Spread wrapped to "due now".
func TestSpreadAndJitterBounds(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	task := sdk.NewTask("spread", func(ctx context.Context, in Job) error { return nil })
	ins := make([]Job, 3)
	for name, opts := range map[string][]sdk.AddOption{
		"Jitter(MaxInt64)":        {sdk.Jitter(math.MaxInt64)},
		"Spread(MaxInt64)":        {sdk.Spread(math.MaxInt64)},
		"Spread(MaxSpread+1)":     {sdk.Spread(sdk.MaxSpread + 1)},
		"Jitter(MaxSpread+1)":     {sdk.Jitter(sdk.MaxSpread + 1)},
		"After(MaxInt64), Spread": {sdk.After(math.MaxInt64), sdk.Spread(time.Hour)},
	} {
		var exs []*sdk.Execution
		var err error
		require.NotPanics(t, func() { exs, err = task.AddMany(ctx, d, ins, opts...) }, name)
		assert.ErrorIs(t, err, sdk.ErrBadInput, name)
		assert.Nil(t, exs, name)
	}

	start := time.Now()
	exs, err := task.AddMany(ctx, d, ins, sdk.Spread(sdk.MaxSpread), sdk.Jitter(sdk.MaxSpread))
	require.NoError(t, err, "MaxSpread is allowed")
	for i, ex := range exs {
		assert.WithinRange(t, ex.Due(), start.Add(-time.Minute), start.Add(sdk.MaxSpread+sdk.MaxSpread/2), "task %d", i)
	}
	_, err = d.Clear(ctx)
	require.NoError(t, err)
}

// Key, Disposition and Due of a nil Execution (AddMany's element for a
// task it could not confirm) are zero values, not a panic; its methods
// that return an error say it is nil.
func TestNilExecutionAccessors(t *testing.T) {
	var ex *sdk.Execution
	assert.Empty(t, ex.Key())
	assert.Zero(t, ex.Disposition())
	assert.Zero(t, ex.Due())
	_, err := ex.Progress(context.Background())
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
	_, err = ex.Watch(context.Background())
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
}

// AddMany refuses Keys(nil): it meant no Keys, and every task got a new
// random key, so that a retry meant to be safe added them all again.
func TestAddManyRefusesNilKeys(t *testing.T) {
	ctx := context.Background()
	d := openChecked(t, "memory://")
	task := sdk.NewTask("keys", func(ctx context.Context, in Job) error { return nil })
	exs, err := task.AddMany(ctx, d, make([]Job, 2), sdk.Keys(nil))
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
	assert.ErrorContains(t, err, "sdk.Keys(nil)")
	assert.Nil(t, exs)
	_, err = task.Add(ctx, d, Job{}, sdk.Keys(nil))
	assert.Error(t, err, "Keys is for AddMany")

	snap, err := d.Snapshot(ctx)
	require.NoError(t, err)
	assert.Zero(t, snap.TotalWaiting, "nothing was added")
}
