package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

// A workflow's flow that another program rewrote with another type leaves
// its record readable (Info, without Workflow) and cancellable, and every
// other Cancel well: the reaper failed on it, and every Cancel after it
// reported that failure.
func TestGarbledFlowStaysItsWorkflows(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		name := redistest.Name(t)
		d := openNamed(t, b.URL, name)
		ctx := context.Background()
		later := sdk.NewTask("later", func(context.Context, Approval) error { return nil })
		wf, err := later.Add(ctx, d, Approval{}, sdk.After(time.Hour))
		require.NoError(t, err)
		other, err := later.Add(ctx, d, Approval{}, sdk.After(time.Hour))
		require.NoError(t, err)
		require.NoError(t, d.Signal(ctx, wf.Key(), "go", 1))
		flow := "docket:{" + name + "}:flow:" + wf.Key()
		require.NoError(t, d.Redis().Del(ctx, flow).Err())
		require.NoError(t, d.Redis().Set(ctx, flow, "not a hash", 0).Err())

		info, err := wf.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State)
		assert.Nil(t, info.Workflow)
		require.NoError(t, d.Cancel(ctx, wf.Key()))
		require.NoError(t, d.Cancel(ctx, other.Key()))
	})
}
