package main

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/workflow"
)

// sumOfSquares is 1² + 2² + … + n².
func sumOfSquares(n int) int { return n * (n + 1) * (2*n + 1) / 6 }

// A thousand children, each a second of work, ten at a time (the
// testsuite worker's concurrency): the parent parks after starting them,
// holding none of the ten slots, and runs again the instant the last child
// ends, to aggregate. Each item is processed once.
func TestFanOutFanIn(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		const items = 1000
		counts := &tally{squared: map[int]int{}}
		square, sum := tasks(counts, time.Second)
		env.Register(square, sum)
		t0 := env.Now()
		ex, err := sum.Add(t.Context(), env.Docket(), Batch{Items: items}, sdk.Key("squares"))
		require.NoError(t, err)

		env.Advance(time.Minute) // about 600 children done, 10 running
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateParked, info.State)
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Parked, 1)
		assert.Equal(t, "squares", snap.Parked[0].Key)
		require.Len(t, snap.Running, 10, "every worker slot runs a child")
		for _, r := range snap.Running {
			assert.Equal(t, "square", r.Task)
		}
		_, children := counts.runs()
		assert.InDelta(t, 600, children, 10, "ten a second, less the worker's moments of batching")

		env.RunUntilFinished()
		total, err := sum.Result(t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, sumOfSquares(items), total)
		assert.Equal(t, 333_833_500, total)

		require.Len(t, counts.squared, items)
		for n := 1; n <= items; n++ {
			assert.Equal(t, 1, counts.squared[n], "item %d processed once", n)
		}
		runs := env.Runs("square")
		require.Len(t, runs, items)
		assert.Regexp(t, `^squares/item/\d+$`, runs[0].Key, "a child's key is its parent's and its name")
		last := runs[len(runs)-1].End
		assert.WithinRange(t, last, t0.Add(items/10*time.Second), t0.Add(items/10*time.Second+time.Second),
			"a hundred rounds of ten (and the worker's moments of batching)")

		parent := env.Runs("sum_of_squares")
		require.Len(t, parent, 2, "it parked, then aggregated")
		assert.Equal(t, t0, parent[0].Start)
		assert.ErrorIs(t, parent[0].Err, workflow.ErrParked)
		assert.Equal(t, last, parent[1].Start, "resumed the instant its last child ended")
		assert.Equal(t, 1, parent[1].Attempt, "parking is no failed attempt")
	})
}

// A child that does not complete (here, cancelled before it ran) fails the
// parent once every child has ended, with an error that names the child.
// (Returned as is, the child's error would read as the parent's own
// cancellation: the parent would record no outcome, and stay running.)
func TestCancelledChildFailsTheParent(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		counts := &tally{squared: map[int]int{}}
		square, sum := tasks(counts, time.Second)
		env.Register(square, sum)
		ex, err := sum.Add(t.Context(), env.Docket(), Batch{Items: 100}, sdk.Key("squares"))
		require.NoError(t, err)
		env.Advance(time.Second)
		require.NoError(t, env.Docket().Cancel(t.Context(), "squares/item/50"))

		env.RunUntilFinished()
		_, err = sum.Result(t.Context(), ex)
		require.ErrorIs(t, err, sdk.ErrPermanent)
		assert.EqualError(t, err, "squares/item/50 cancelled: cancelled")
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Len(t, env.Runs("sum_of_squares"), 2, "it parked, then failed when the last child ended")
		_, children := counts.runs()
		assert.Equal(t, 99, children)
		assert.Zero(t, counts.squared[51], "item 51 is the child item/50")
	})
}

// The program itself, on the embedded backend, in fake time.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, 1000, 10*time.Millisecond))
		assert.Equal(t, []string{
			"sum_of_squares is queued",
			"sum_of_squares is running",
			"sum_of_squares is parked: it holds no worker while its children run",
			"sum_of_squares is queued",
			"sum_of_squares is running",
			"sum_of_squares is completed",
			"sum of the squares of 1..1000: 333833500",
			"sum_of_squares ran 2 times, square 1000 times for 1000 items",
		}, out.Lines())
	})
}
