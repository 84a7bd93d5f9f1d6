package sdk_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/workflow"
)

// lossyDockets opens a docket on a redis-server, checked for leaks, and the
// same docket again through a proxy that can lose a reply (see
// redistest.Proxy.LoseReply): the producer whose calls go-redis sends again.
func lossyDockets(t *testing.T) (d, producer *sdk.Docket, p *redistest.Proxy) {
	t.Helper()
	backend := redistest.Redis(t).URL
	name := redistest.Name(t)
	d = openNamed(t, backend, name)
	u, err := url.Parse(backend)
	require.NoError(t, err)
	p = redistest.NewProxy(t, u.Host)
	producer, err = sdk.Open(context.Background(), "redis://"+p.Addr+"/0", sdk.WithName(name), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = producer.Close() })
	return d, producer, p
}

// Approval is the payload of the signals of these tests.
type Approval struct {
	By string `json:"by"`
}

// A signal whose reply the network lost is sent again by go-redis (it
// retries a command whose connection failed, by default three times):
// the workflow still receives it once. It was queued twice.
func TestSignalSentAgainIsDeliveredOnce(t *testing.T) {
	d, producer, p := lossyDockets(t) // the producer reaches Redis through a proxy that loses one reply
	ctx := context.Background()
	expense := sdk.NewResultTask("expense", func(ctx context.Context, in Job) (string, error) {
		a, err := workflow.WaitSignal[Approval](ctx, "approve", time.Hour)
		return a.By, err
	})
	require.NoError(t, d.Register(expense))
	ex, err := expense.Add(ctx, d, Job{Customer: 1}, sdk.After(time.Hour))
	require.NoError(t, err)

	// The first signal loads the script: a request Redis refuses
	// (NOSCRIPT) is not carried out, however often it is sent.
	require.NoError(t, producer.Signal(ctx, ex.Key(), "approve", Approval{By: "bob"}))
	p.LoseReply("lost-reply-of-ann")
	require.NoError(t, producer.Signal(ctx, ex.Key(), "approve", Approval{By: "lost-reply-of-ann"}))
	require.Equal(t, 1, p.Lost(), "the reply was lost, and the call sent again")

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

// An Add whose reply the network lost, sent again by go-redis, finds the
// task it added under the key it made: it reports it Scheduled, as the
// first send did, not AlreadyScheduled. A task keyed by the caller may
// have been added by anyone: that stays AlreadyScheduled.
func TestAddSentAgainIsScheduled(t *testing.T) {
	d, producer, p := lossyDockets(t)
	ctx := context.Background()
	later := sdk.NewTask("later", func(context.Context, Approval) error { return nil })

	// The first add loads the script: a request Redis refuses (NOSCRIPT)
	// is not carried out, however often it is sent.
	_, err := later.Add(ctx, producer, Approval{By: "first"}, sdk.After(time.Hour))
	require.NoError(t, err)
	p.LoseReply("lost-reply-of-one")
	one, err := later.Add(ctx, producer, Approval{By: "lost-reply-of-one"}, sdk.After(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 1, p.Lost(), "the reply was lost, and the call sent again")
	assert.Equal(t, sdk.Scheduled, one.Disposition())
	p.LoseReply("lost-reply-of-many")
	many, err := later.AddMany(ctx, producer, []Approval{{By: "lost-reply-of-many"}, {By: "its second"}}, sdk.After(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 2, p.Lost(), "the reply was lost, and the call sent again")
	for _, ex := range many {
		assert.Equal(t, sdk.Scheduled, ex.Disposition())
	}
	snap, err := d.Snapshot(ctx)
	require.NoError(t, err)
	assert.Len(t, snap.Scheduled, 4, "each added once")

	p.LoseReply("lost-reply-of-keyed")
	keyed, err := later.Add(ctx, producer, Approval{By: "lost-reply-of-keyed"}, sdk.Key("keyed"), sdk.After(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 3, p.Lost(), "the reply was lost, and the call sent again")
	assert.Equal(t, sdk.AlreadyScheduled, keyed.Disposition(), "a key the caller gave may be anyone's")
	n, err := d.Clear(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, n)
}

// A Cancel whose reply the network lost, sent again by go-redis, reports
// the cancel it made: it returned ErrNotFound, the task being cancelled
// already. A second Cancel, on purpose, finds nothing live.
func TestCancelSentAgainReportsItsCancel(t *testing.T) {
	d, producer, p := lossyDockets(t)
	ctx := context.Background()
	later := sdk.NewTask("later", func(context.Context, Approval) error { return nil })
	for _, key := range []string{"first", "lost-reply-of-cancel"} {
		_, err := later.Add(ctx, d, Approval{}, sdk.Key(key), sdk.After(time.Hour))
		require.NoError(t, err)
	}

	// The first cancel loads the script: a request Redis refuses
	// (NOSCRIPT) is not carried out, however often it is sent.
	require.NoError(t, producer.Cancel(ctx, "first"))
	p.LoseReply("lost-reply-of-cancel")
	require.NoError(t, producer.Cancel(ctx, "lost-reply-of-cancel"))
	require.Equal(t, 1, p.Lost(), "the reply was lost, and the call sent again")
	info, err := d.Execution("lost-reply-of-cancel").Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, sdk.StateCancelled, info.State)
	assert.ErrorIs(t, producer.Cancel(ctx, "lost-reply-of-cancel"), sdk.ErrNotFound)
}

// A Retry whose reply the network lost, sent again by go-redis, reports
// the retry it made: it returned ErrWrongState, the execution being live
// again already.
func TestRetrySentAgainReportsItsRetry(t *testing.T) {
	d, producer, p := lossyDockets(t)
	ctx := context.Background()
	var mu sync.Mutex
	runs := map[string]int{}
	declined := sdk.NewTask("declined", func(ctx context.Context, _ Approval) error {
		mu.Lock()
		defer mu.Unlock()
		runs[sdk.Current(ctx).Key()]++
		return sdk.Permanent(errors.New("card declined"))
	})
	require.NoError(t, d.Register(declined))
	runWorker(t, d)
	var failed []*sdk.Execution
	for _, key := range []string{"first", "lost-reply-of-retry"} {
		ex, err := declined.Add(ctx, d, Approval{}, sdk.Key(key))
		require.NoError(t, err)
		waitUntil(t, ex, "it fails", func(i sdk.Info) bool { return i.State == sdk.StateFailed })
		failed = append(failed, ex)
	}

	// The first retry loads the script: a request Redis refuses (NOSCRIPT)
	// is not carried out, however often it is sent.
	require.NoError(t, producer.Retry(ctx, "first"))
	p.LoseReply("lost-reply-of-retry")
	require.NoError(t, producer.Retry(ctx, "lost-reply-of-retry"))
	require.Equal(t, 1, p.Lost(), "the reply was lost, and the call sent again")
	for _, ex := range failed {
		info := waitUntil(t, ex, "it fails again", func(i sdk.Info) bool { return i.State == sdk.StateFailed && !i.Retried.IsZero() })
		assert.Equal(t, 1, info.Attempt)
	}
	// Every send has been answered: a second retry would be due by now.
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]int{"first": 2, "lost-reply-of-retry": 2}, runs, "each retried once")
}

// A Restore whose reply the network lost, sent again by go-redis, reports
// the strike it removed: it returned ErrNotFound.
func TestRestoreSentAgainReportsItsRestore(t *testing.T) {
	d, producer, p := lossyDockets(t)
	ctx := context.Background()
	for _, task := range []string{"first", "lost-reply-of-restore"} {
		require.NoError(t, d.Strike(ctx, task, "", "", nil))
	}

	// The first restore loads the script: a request Redis refuses
	// (NOSCRIPT) is not carried out, however often it is sent.
	require.NoError(t, producer.Restore(ctx, "first", "", "", nil))
	p.LoseReply("lost-reply-of-restore")
	require.NoError(t, producer.Restore(ctx, "lost-reply-of-restore", "", "", nil))
	require.Equal(t, 1, p.Lost(), "the reply was lost, and the call sent again")
	strikes, err := d.Strikes(ctx)
	require.NoError(t, err)
	assert.Empty(t, strikes)
	assert.ErrorIs(t, producer.Restore(ctx, "lost-reply-of-restore", "", "", nil), sdk.ErrNotFound, "a second call, on purpose")
}
