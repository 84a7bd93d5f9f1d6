package worker_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

// startsBy counts a task's run starts by their offset from t0.
func startsBy(env *testsuite.Env, name string, t0 time.Time) map[time.Duration]int {
	out := map[time.Duration]int{}
	for _, r := range env.Runs(name) {
		out[r.Start.Sub(t0)]++
	}
	return out
}

// Ten per minute, 35 submissions at once: they start at 0s×10, 60s×10,
// 120s×10 and 180s×5, each due at the instant the window has room — no
// polling, no worker held.
func TestRateLimitToTheExactInstant(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		call := sdk.NewTask("call_api", func(ctx context.Context, in Tenant) error { return nil },
			policy.TaskRateLimit(10, time.Minute))
		env.Register(call)
		t0 := env.Now()
		_, err := call.AddMany(t.Context(), env.Docket(), make([]Tenant, 35))
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.Equal(t, map[time.Duration]int{0: 10, time.Minute: 10, 2 * time.Minute: 10, 3 * time.Minute: 5},
			startsBy(env, "call_api", t0))
	})
}

// Per value, with a scope shared across tasks, and dropping submissions
// over the limit.
func TestRateLimitPerValueScopeAndDrop(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		sync := sdk.NewTask("sync", func(ctx context.Context, in Tenant) error { return nil },
			policy.RateLimit("tenant", 2, time.Hour, policy.Scope("crm")))
		export := sdk.NewTask("export", func(ctx context.Context, in Tenant) error { return nil },
			policy.RateLimit("tenant", 2, time.Hour, policy.Scope("crm")))
		ping := sdk.NewTask("ping", func(ctx context.Context, in Tenant) error { return nil },
			policy.RateLimit("tenant", 1, time.Hour, policy.DropOverLimit()))
		env.Register(sync)
		env.Register(export)
		env.Register(ping)
		t0 := env.Now()
		d := env.Docket()
		for _, tn := range []string{"a", "a", "b"} {
			_, err := sync.Add(t.Context(), d, Tenant{Tenant: tn})
			require.NoError(t, err)
			_, err = export.Add(t.Context(), d, Tenant{Tenant: tn})
			require.NoError(t, err)
		}
		p1, err := ping.Add(t.Context(), d, Tenant{Tenant: "a"})
		require.NoError(t, err)
		p2, err := ping.Add(t.Context(), d, Tenant{Tenant: "a"}, sdk.After(time.Minute))
		require.NoError(t, err)
		env.RunUntilFinished()

		var aStarts []time.Duration
		for _, name := range []string{"sync", "export"} {
			for _, r := range env.Runs(name) {
				if string(r.Input) == `{"tenant":"a","n":0}` {
					aStarts = append(aStarts, r.Start.Sub(t0))
				}
			}
		}
		sort.Slice(aStarts, func(i, j int) bool { return aStarts[i] < aStarts[j] })
		assert.Equal(t, []time.Duration{0, 0, time.Hour, time.Hour}, aStarts, "tenant a: two per hour across both tasks of the scope")
		info, err := p1.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		info, err = p2.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCancelled, info.State, "dropped over the limit")
		assert.Equal(t, "rate limit: tenant=a reached 1 per 3600s", info.Error)
	}, testsuite.WithDocketOptions(sdk.WithRetention(24*time.Hour)))
}

// The limit holds across a fleet of real workers: in any window of the
// limit's length, by the Redis clock, no more starts than the limit.
func TestRateLimitAcrossWorkers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		call := sdk.NewTask("call_api", func(ctx context.Context, in Tenant) error { return nil },
			policy.TaskRateLimit(5, 200*time.Millisecond))
		require.NoError(t, d.Register(call))
		exs, err := call.AddMany(context.Background(), d, make([]Tenant, 30))
		require.NoError(t, err)
		for i := range 3 {
			runWorker(t, worker.New(d, worker.Options{Name: string(rune('a' + i)), Concurrency: 10}))
		}
		var starts []time.Time
		for _, ex := range exs {
			require.Eventually(t, func() bool {
				info, err := ex.Info(context.Background())
				if err == nil && info.State == sdk.StateCompleted {
					starts = append(starts, info.Started)
					return true
				}
				return false
			}, time.Minute, time.Millisecond)
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
		for i := range starts {
			if i+5 < len(starts) {
				assert.GreaterOrEqual(t, starts[i+5].Sub(starts[i]), 200*time.Millisecond,
					"six starts within one window: %v and %v", starts[i], starts[i+5])
			}
		}
	})
}

// Two rate limits, both full: the task waiting for them is due when both
// have room, not when the first has (it would be claimed only to wait
// again).
func TestATaskOverTwoRateLimitsIsDueWhenBothHaveRoom(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		type Call struct {
			Region   string `json:"region"`
			Customer string `json:"customer"`
		}
		call := sdk.NewTask("call", func(ctx context.Context, in Call) error { return nil },
			policy.RateLimit("region", 1, time.Minute), policy.RateLimit("customer", 1, 2*time.Minute))
		env.Register(call)
		t0 := env.Now()
		d := env.Docket()
		_, err := call.Add(t.Context(), d, Call{Region: "eu", Customer: "c1"})
		require.NoError(t, err)
		env.RunUntilIdle()
		second, err := call.Add(t.Context(), d, Call{Region: "eu", Customer: "c1"})
		require.NoError(t, err)
		env.RunUntilIdle()
		info, err := second.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State)
		assert.Equal(t, t0.Add(2*time.Minute), info.Due, "when the customer's window has room too")
		env.RunUntilFinished()
		assert.Equal(t, map[time.Duration]int{0: 1, 2 * time.Minute: 1}, startsBy(env, "call", t0))
	})
}
