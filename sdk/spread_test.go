package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// Spread spreads an AddMany evenly over a window, from when the other
// options make the tasks due; Jitter moves each within its bounds.
func TestSpread(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		remind := sdk.NewTask("remind", func(ctx context.Context, in Job) error { return nil })
		env.Register(remind)
		d := env.Docket()
		t0 := env.Now()
		ins := make([]Job, 10)
		exs, err := remind.AddMany(t.Context(), d, ins, sdk.Spread(time.Hour), sdk.After(time.Minute))
		require.NoError(t, err)
		for i, ex := range exs {
			assert.Equal(t, t0.Add(time.Minute+time.Duration(i)*6*time.Minute), ex.Due(), "task %d", i)
		}
		jittered, err := remind.AddMany(t.Context(), d, make([]Job, 100), sdk.Spread(time.Hour), sdk.Jitter(time.Minute))
		require.NoError(t, err)
		moved := 0
		for i, ex := range jittered {
			even := t0.Add(time.Duration(i) * 36 * time.Second)
			low := even.Add(-30 * time.Second)
			if low.Before(t0) {
				low = t0
			}
			assert.WithinRange(t, ex.Due(), low, even.Add(30*time.Second), "task %d", i)
			if !ex.Due().Equal(even) {
				moved++
			}
		}
		assert.Greater(t, moved, 50, "jitter moves most of them")
		env.Advance(2 * time.Hour)
		assert.Len(t, env.Runs("remind"), 110, "each at its instant")

		_, err = remind.Add(t.Context(), d, Job{}, sdk.Spread(time.Hour))
		assert.ErrorIs(t, err, sdk.ErrBadInput, "Spread is for AddMany")
		_, err = remind.AddMany(t.Context(), d, ins, sdk.Spread(-time.Hour))
		assert.ErrorIs(t, err, sdk.ErrBadInput)
	})
}
