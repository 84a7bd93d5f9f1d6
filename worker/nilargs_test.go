package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// A worker given nothing to work with says so: a nil docket, a nil
// context. Neither panics.
func TestWorkerRefusesNilArguments(t *testing.T) {
	err := worker.New(nil, worker.Options{}).Run(context.Background())
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
	assert.ErrorContains(t, err, "sdk.Open")

	d := openDocket(t, "memory://")
	//lint:ignore SA1012 a nil context is what this test passes
	err = worker.New(d, worker.Options{}).Run(nil)
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
	assert.ErrorContains(t, err, "context.Context is nil")
}

// RunUntilIdle and RunUntilFinished that stop because their context ended,
// before the docket was idle or its tasks had finished, say so: their
// callers bound them with a context and must tell the two apart.
func TestRunUntilReturnsTheCauseWhenItsContextEnds(t *testing.T) {
	d := openDocket(t, "memory://")
	later := sdk.NewTask("later", func(ctx context.Context, in Order) error { return nil })
	require.NoError(t, d.Register(later))
	_, err := later.Add(context.Background(), d, Order{ID: 1}, sdk.After(time.Hour))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = worker.New(d, worker.Options{}).RunUntilFinished(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "stopped before every task had finished")

	_, err = later.Add(context.Background(), d, Order{ID: 2})
	require.NoError(t, err)
	err = worker.New(d, worker.Options{}).RunUntilIdle(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "stopped before the docket was idle")

	// Run's context ending is how Run stops: no error.
	assert.NoError(t, worker.New(d, worker.Options{}).Run(ctx))
	// Reached, they return nil.
	require.NoError(t, worker.New(d, worker.Options{}).RunUntilIdle(context.Background()))
}
