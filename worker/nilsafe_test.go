package worker_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// A nil Worker, or a zero one not made by New, refuses to run with an error
// that says to use worker.New, rather than panicking; its ID is empty.
func TestNilOrZeroWorkerRefusesToRun(t *testing.T) {
	ctx := context.Background()
	var nilWorker *worker.Worker
	for name, w := range map[string]*worker.Worker{"nil": nilWorker, "zero": {}} {
		for run, f := range map[string]func(context.Context) error{
			"Run": w.Run, "RunUntilIdle": w.RunUntilIdle, "RunUntilFinished": w.RunUntilFinished,
		} {
			var err error
			assert.NotPanics(t, func() { err = f(ctx) }, "%s %s", name, run)
			assert.ErrorIs(t, err, sdk.ErrNilArgument, "%s %s", name, run)
			assert.ErrorContains(t, err, "worker.New", "%s %s", name, run)
		}
		assert.Empty(t, w.ID(), name)
	}
}
