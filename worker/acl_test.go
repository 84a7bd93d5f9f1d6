package worker_test

import (
	"context"
	"fmt"
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

// A Redis user without the right to the docket's channels (Redis 7 gives a
// user none unless told: ACL SETUSER app on >pw ~* +@all) adds, and its
// worker runs tasks, late but whole: a script's notification that Redis
// refused ended the script halfway, its writes kept. An Add failed after
// writing its task; a claim that freed a concurrency slot and handed it on
// failed, was sent again, and handed it on again: seven tasks of a limit of
// one ran at once.
func TestUserWithoutChannelsKeepsLimits(t *testing.T) {
	backend := redistest.Redis(t)
	ctx := context.Background()
	admin := openDocket(t, backend.URL) // the leak check's, with every right
	user := fmt.Sprintf("nochan-%d", time.Now().UnixNano())
	require.NoError(t, admin.Redis().Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "resetchannels", "+@all").Err())
	t.Cleanup(func() { admin.Redis().Do(context.Background(), "ACL", "DELUSER", user) })
	u, err := url.Parse(backend.URL)
	require.NoError(t, err)
	u.User = url.UserPassword(user, "pw")
	d, err := sdk.Open(ctx, u.String(), sdk.WithName(admin.Name()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })

	var running, most atomic.Int64
	limited := sdk.NewTask("limited", func(ctx context.Context, in Order) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond) // long enough for others to try the slot (this times nothing)
		return nil
	}, policy.Concurrency("id", 1))
	require.NoError(t, d.Register(limited))
	var exs []*sdk.Execution
	for i := range 8 {
		ex, err := limited.Add(ctx, d, Order{ID: 1}, sdk.Key(fmt.Sprint("limited-", i)))
		require.NoError(t, err, "an add without the channel right")
		exs = append(exs, ex)
	}
	runWorker(t, worker.New(d, worker.Options{Concurrency: 8, PollInterval: 20 * time.Millisecond}))
	for _, ex := range exs {
		require.Eventually(t, func() bool {
			info, err := ex.Info(ctx)
			return err == nil && info.State == sdk.StateCompleted
		}, time.Minute, 5*time.Millisecond)
	}
	assert.EqualValues(t, 1, most.Load(), "Concurrency(id, 1)")
}
