package sdk_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/workflow"
)

// Approval is the payload of the signals of these tests.
type Approval struct {
	By string `json:"by"`
}

// A signal whose reply the network lost is sent again by go-redis (it
// retries a command whose connection failed, by default three times):
// the workflow still receives it once. It was queued twice.
func TestSignalSentAgainIsDeliveredOnce(t *testing.T) {
	backend := redistest.Redis(t).URL
	name := redistest.Name(t)
	d := openNamed(t, backend, name)
	ctx := context.Background()
	expense := sdk.NewResultTask("expense", func(ctx context.Context, in Job) (string, error) {
		a, err := workflow.WaitSignal[Approval](ctx, "approve", time.Hour)
		return a.By, err
	})
	require.NoError(t, d.Register(expense))
	ex, err := expense.Add(ctx, d, Job{Customer: 1}, sdk.After(time.Hour))
	require.NoError(t, err)

	// The producer reaches Redis through a proxy that loses one reply.
	u, err := url.Parse(backend)
	require.NoError(t, err)
	p := redistest.NewProxy(t, u.Host)
	producer, err := sdk.Open(ctx, "redis://"+p.Addr+"/0", sdk.WithName(name), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = producer.Close() })
	// The first signal loads the script: a request Redis refuses
	// (NOSCRIPT) is not carried out, however often it is sent.
	require.NoError(t, producer.Signal(ctx, ex.Key(), "approve", Approval{By: "bob"}))
	p.LoseReply("lost-reply-of-ann")
	require.NoError(t, producer.Signal(ctx, ex.Key(), "approve", Approval{By: "lost-reply-of-ann"}))

	info, err := ex.Info(ctx)
	require.NoError(t, err)
	require.NotNil(t, info.Workflow)
	assert.Equal(t, map[string]int{"approve": 2}, info.Workflow.Signals, "the second queued once")

	// A signal sent on purpose with the same payload is a signal of its own.
	require.NoError(t, producer.Signal(ctx, ex.Key(), "approve", Approval{By: "lost-reply-of-ann"}))
	info, err = ex.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"approve": 3}, info.Workflow.Signals)
	require.NoError(t, d.Cancel(ctx, ex.Key()))
}
