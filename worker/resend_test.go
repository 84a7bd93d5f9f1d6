package worker_test

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// A worker's exchange (the outcomes it reports and its claim for more)
// whose reply the network lost is sent again by go-redis, which Redis had
// carried out: the worker still gets the tasks the first send leased to
// it, at once, rather than after their lease lapsed, with a delivery
// counted against each.
//
// The task is perpetual, every millisecond: the exchange that reports a
// run's outcome schedules the next run, and claims it (outcomes are
// recorded first), so that no other exchange can have claimed it.
func TestAClaimWhoseReplyWasLostStillDeliversItsTasks(t *testing.T) {
	backend := redistest.Redis(t).URL
	u, err := url.Parse(backend)
	require.NoError(t, err)
	p := redistest.NewProxy(t, u.Host)
	d := openDocket(t, "redis://"+p.Addr+"/0")
	ctx := context.Background()

	deliveries := make(chan int, 2)
	var runs atomic.Int32
	tick := sdk.NewTask("tick", func(ctx context.Context, in Greeting) error {
		switch runs.Add(1) {
		case 1:
			// The exchange that reports this run claims the next: its
			// reply is lost.
			p.LoseReply("lost-reply-of-tick")
		case 2:
			info, err := d.Execution(sdk.Current(ctx).Key()).Info(ctx)
			if err != nil {
				return err
			}
			deliveries <- info.Deliveries
		}
		return nil
	}, policy.Perpetual(time.Millisecond))
	require.NoError(t, d.Register(tick))
	_, err = tick.Add(ctx, d, Greeting{}, sdk.Key("lost-reply-of-tick"))
	require.NoError(t, err)
	// The default lease: a claim's record is kept a third of it, which a
	// busy CI machine's resend never outlasts; with the old script the
	// second run came only once the lease had lapsed, delivered twice.
	runWorker(t, worker.New(d, worker.Options{Concurrency: 1}))

	assert.Equal(t, []int{1}, waitFor(t, deliveries, 1), "the second run was delivered once")
	assert.Equal(t, 1, p.Lost(), "the exchange's reply was lost, and the exchange sent again")
	require.NoError(t, d.Cancel(ctx, "lost-reply-of-tick")) // the chain ends
}
