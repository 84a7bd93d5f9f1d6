package worker_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
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

// A Redis at its maxmemory under noeviction refuses producers' adds (with
// Redis's OOM error), and workers drain the backlog that filled it, which
// frees the memory: they were refused too, retried for ever, and nothing
// ran until an operator stepped in.
func TestWorkersDrainAFullRedis(t *testing.T) {
	srv := redistest.NewServer(t, "--save", "", "--appendonly", "no", "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	d := openDocket(t, "redis://"+srv.Addr+"/0", sdk.WithCompletedRetention(0))
	var ran atomic.Int64
	big := sdk.NewTask("big", func(ctx context.Context, in struct {
		I   int    `json:"i"`
		Pad string `json:"pad"`
	}) error {
		ran.Add(1)
		return nil
	})
	type n struct {
		N int `json:"n"`
	}
	var flowGot atomic.Int64
	child := sdk.NewResultTask("child", func(ctx context.Context, in n) (int, error) { return in.N + 1, nil })
	flow := sdk.NewResultTask("flow", func(ctx context.Context, in n) (int, error) {
		v, err := workflow.Step(ctx, "step", func(ctx context.Context) (int, error) { return in.N * 2, nil })
		if err != nil {
			return 0, err
		}
		f, err := workflow.Start(ctx, child, "child", n{v})
		if err != nil {
			return 0, err
		}
		got, err := f.Get(ctx)
		flowGot.Store(int64(got))
		return got, err
	})
	require.NoError(t, d.Register(big, child, flow))
	ctx := context.Background()
	_, err := flow.Add(ctx, d, n{20}) // a workflow's steps and children write as it runs
	require.NoError(t, err)
	accepted := 0
	for i := 0; i < 10_000; i++ {
		if _, err = big.Add(ctx, d, struct {
			I   int    `json:"i"`
			Pad string `json:"pad"`
		}{i, strings.Repeat("x", 2000)}, sdk.Key(fmt.Sprint("big-", i))); err != nil {
			break
		}
		accepted++
	}
	require.ErrorContains(t, err, "OOM", "the producer is refused")
	require.Greater(t, accepted, 100)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, worker.New(d, worker.Options{Concurrency: 50}).RunUntilFinished(wctx))
	assert.EqualValues(t, accepted, ran.Load(), "every accepted task ran")
	assert.EqualValues(t, 41, flowGot.Load(), "the workflow's step and child ran over maxmemory")
	_, err = big.Add(ctx, d, struct {
		I   int    `json:"i"`
		Pad string `json:"pad"`
	}{-1, ""})
	assert.NoError(t, err, "drained, Redis takes adds again")
}
