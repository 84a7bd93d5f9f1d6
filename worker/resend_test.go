package worker_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// A worker's exchange (the outcomes it reports and its claim for more)
// whose reply the network lost is sent again by go-redis, which Redis had
// carried out: the worker still gets the tasks the first send leased to
// it, at once, rather than after their lease lapsed, with a delivery
// counted against each.
func TestAClaimWhoseReplyWasLostStillDeliversItsTasks(t *testing.T) {
	backend := redistest.Redis(t).URL
	u, err := url.Parse(backend)
	require.NoError(t, err)
	p := redistest.NewProxy(t, u.Host)
	d := openDocket(t, "redis://"+p.Addr+"/0")
	ctx := context.Background()

	ran := make(chan string, 2)
	var step *sdk.Task[Greeting]
	step = sdk.NewTask("step", func(ctx context.Context, in Greeting) error {
		if in.Name == "first" {
			// Added while the one slot is taken: the exchange that reports
			// this task's outcome, whose reply is lost, claims it.
			if _, err := step.Add(ctx, d, Greeting{Name: "second"}, sdk.Key("second")); err != nil {
				return err
			}
			p.LoseReply("lost-reply-of-first")
		}
		ran <- sdk.Current(ctx).Key()
		return nil
	})
	require.NoError(t, d.Register(step))
	_, err = step.Add(ctx, d, Greeting{Name: "first"}, sdk.Key("lost-reply-of-first"))
	require.NoError(t, err)
	// The default lease: a claim's record is kept a third of it, which a
	// busy CI machine's resend never outlasts; the old script failed this
	// test only once the lease had lapsed (the task delivered again).
	runWorker(t, worker.New(d, worker.Options{Concurrency: 1}))

	assert.Equal(t, []string{"lost-reply-of-first", "second"}, waitFor(t, ran, 2))
	require.Equal(t, 1, p.Lost(), "the exchange's reply was lost, and the exchange sent again")
	for _, key := range []string{"lost-reply-of-first", "second"} {
		ex, err := d.Execution(key).Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, ex.State, key)
		assert.Equal(t, 1, ex.Deliveries, "%s was delivered once", key)
	}
}
