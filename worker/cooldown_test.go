package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// state reads an execution's state and error.
func state(t *testing.T, ex *sdk.Execution) (sdk.State, string) {
	t.Helper()
	info, err := ex.Info(t.Context())
	require.NoError(t, err)
	return info.State, info.Error
}

// The first submission runs at once and opens a window; those within it are
// dropped, with the reason in their state; after it, submissions run again.
func TestTaskCooldown(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		process := sdk.NewTask("process_webhooks", func(ctx context.Context, in struct{}) error { return nil },
			policy.TaskCooldown(30*time.Second))
		env.Register(process)
		t0 := env.Now()
		d := env.Docket()
		first, err := process.Add(t.Context(), d, struct{}{})
		require.NoError(t, err)
		env.Advance(5 * time.Second)
		second, err := process.Add(t.Context(), d, struct{}{})
		require.NoError(t, err)
		env.Advance(25*time.Second - time.Microsecond)
		third, err := process.Add(t.Context(), d, struct{}{}) // a microsecond before the window closes
		require.NoError(t, err)
		env.Advance(time.Microsecond)
		fourth, err := process.Add(t.Context(), d, struct{}{}) // the window has closed
		require.NoError(t, err)
		env.Advance(time.Second)

		runs := env.Runs("process_webhooks")
		require.Len(t, runs, 2)
		assert.Equal(t, t0, runs[0].Start)
		assert.Equal(t, first.Key(), runs[0].Key)
		assert.Equal(t, t0.Add(30*time.Second), runs[1].Start)
		assert.Equal(t, fourth.Key(), runs[1].Key)
		for _, dropped := range []*sdk.Execution{second, third} {
			st, why := state(t, dropped)
			assert.Equal(t, sdk.StateCancelled, st)
			assert.Equal(t, "cooldown: the task ran less than 30s ago", why)
		}
	}, testsuite.WithDocketOptions(sdk.WithRetention(time.Hour)))
}

type Customer struct {
	CustomerID int `json:"customer_id"`
}

// A window per value of the argument.
func TestCooldownPerArgument(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		sync := sdk.NewTask("sync_customer", func(ctx context.Context, in Customer) error { return nil },
			policy.Cooldown("customer_id", 30*time.Second))
		env.Register(sync)
		d := env.Docket()
		a, _ := sync.Add(t.Context(), d, Customer{1001})
		b, _ := sync.Add(t.Context(), d, Customer{1001})
		c, _ := sync.Add(t.Context(), d, Customer{2002})
		env.RunUntilIdle()
		runs := env.Runs("sync_customer")
		require.Len(t, runs, 2)
		ran := map[string]bool{runs[0].Key: true, runs[1].Key: true}
		assert.True(t, ran[c.Key()], "another customer runs at once")
		assert.True(t, ran[a.Key()] != ran[b.Key()], "one of the two for 1001 runs")
		dropped := b
		if ran[b.Key()] {
			dropped = a
		}
		st, why := state(t, dropped)
		assert.Equal(t, sdk.StateCancelled, st)
		assert.Equal(t, "cooldown: customer_id=1001 ran less than 30s ago", why)
	})
}

type SyncData struct {
	CustomerID int    `json:"customer_id"`
	Region     string `json:"region"`
}

// Several cooldowns: a submission runs only if every window is clear, and a
// blocked one opens no window.
func TestMultipleCooldowns(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		sync := sdk.NewTask("sync_data", func(ctx context.Context, in SyncData) error { return nil },
			policy.Cooldown("customer_id", 30*time.Second), policy.Cooldown("region", 60*time.Second))
		env.Register(sync)
		d := env.Docket()
		var exs []*sdk.Execution
		for _, in := range []SyncData{{1, "us"}, {1, "eu"}, {2, "us"}, {2, "eu"}} {
			ex, err := sync.Add(t.Context(), d, in)
			require.NoError(t, err)
			exs = append(exs, ex)
			env.Advance(time.Second) // in this order
		}
		got := []sdk.State{}
		for _, ex := range exs {
			st, _ := state(t, ex)
			got = append(got, st)
		}
		assert.Equal(t, []sdk.State{sdk.StateCompleted, sdk.StateCancelled, sdk.StateCancelled, sdk.StateCompleted}, got)
		_, why := state(t, exs[1])
		assert.Equal(t, "cooldown: customer_id=1 ran less than 30s ago", why)
		_, why = state(t, exs[2])
		assert.Equal(t, "cooldown: region=us ran less than 60s ago", why)
	})
}

type Webhook struct {
	Event string `json:"event"`
}

// Trailing-edge debounce: a burst gives one run, settle after its last
// submission, with the burst's first submission's input.
func TestTaskDebounce(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		process := sdk.NewTask("process_webhooks", func(ctx context.Context, in Webhook) error { return nil },
			policy.TaskDebounce(5*time.Second))
		env.Register(process)
		t0 := env.Now()
		d := env.Docket()
		var burst []*sdk.Execution
		for i, ev := range []string{"a", "b", "c"} {
			ex, err := process.Add(t.Context(), d, Webhook{ev})
			require.NoError(t, err)
			burst = append(burst, ex)
			if i < 2 {
				env.Advance(time.Second)
			}
		}
		env.Advance(5*time.Second - time.Microsecond)
		assert.Empty(t, env.Runs("process_webhooks"), "not settled yet")
		env.Advance(time.Microsecond)
		runs := env.Runs("process_webhooks")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(7*time.Second), runs[0].Start, "5s after the last submission, at 2s")
		assert.Equal(t, burst[0].Key(), runs[0].Key)
		assert.JSONEq(t, `{"event":"a"}`, string(runs[0].Input))
		for _, ex := range burst[1:] {
			st, why := state(t, ex)
			assert.Equal(t, sdk.StateCancelled, st)
			assert.Equal(t, "debounced: the burst runs as "+burst[0].Key(), why)
		}

		// A new burst after the run.
		env.Advance(time.Minute)
		_, err := process.Add(t.Context(), d, Webhook{"d"})
		require.NoError(t, err)
		env.Advance(10 * time.Second)
		runs = env.Runs("process_webhooks")
		require.Len(t, runs, 2)
		assert.Equal(t, t0.Add(7*time.Second+time.Minute+5*time.Second), runs[1].Start)
	})
}

// A burst still gives one run when the worker comes to it late: its first
// submission runs once claimed, and the later ones, added before that run
// and claimed after it, are dropped as part of the burst that ran. A
// submission added after the run starts the next burst.
func TestDebounceWhenTheWorkerIsBehind(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(map[bool]string{false: "worker down", true: "worker busy"}[busy], func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				process := sdk.NewTask("process_webhooks", func(ctx context.Context, in Webhook) error {
					if in.Event == "slow" {
						time.Sleep(time.Minute)
					}
					return nil
				}, policy.TaskDebounce(5*time.Second), policy.TaskConcurrency(1))
				d := env.Docket()
				if busy { // a run holds the only slot for a minute
					env.Register(process)
					_, err := process.Add(t.Context(), d, Webhook{"slow"}, sdk.Key("slow"))
					require.NoError(t, err)
					env.Advance(6 * time.Second)
				}
				var burst []*sdk.Execution
				for _, ev := range []string{"a", "b", "c"} {
					env.Advance(time.Second)
					ex, err := process.Add(t.Context(), d, Webhook{ev})
					require.NoError(t, err)
					burst = append(burst, ex)
				}
				if !busy { // workers start 20s after the burst
					env.Advance(20 * time.Second)
					env.Register(process)
				}
				env.RunUntilFinished()
				var keys []string
				for _, r := range env.Runs("process_webhooks") {
					keys = append(keys, r.Key)
				}
				want := []string{burst[0].Key()}
				if busy {
					want = []string{"slow", burst[0].Key()}
				}
				assert.Equal(t, want, keys, "one run for the burst, its first submission")
				verb := "ran" // claimed after the first had run
				if busy {
					verb = "runs" // claimed while the first waited for the slot
				}
				for _, ex := range burst[1:] {
					st, why := state(t, ex)
					assert.Equal(t, sdk.StateCancelled, st)
					assert.Equal(t, "debounced: the burst "+verb+" as "+burst[0].Key(), why)
				}

				// A submission after that run is a new burst, and so is one
				// added for later: it is judged when it is due.
				ex, err := process.Add(t.Context(), d, Webhook{"d"})
				require.NoError(t, err)
				later, err := process.Add(t.Context(), d, Webhook{"e"}, sdk.After(30*time.Minute))
				require.NoError(t, err)
				env.RunUntilFinished()
				runs := env.Runs("process_webhooks")
				require.GreaterOrEqual(t, len(runs), 2)
				assert.Equal(t, []string{ex.Key(), later.Key()}, []string{runs[len(runs)-2].Key, runs[len(runs)-1].Key})
			})
		})
	}
}

// Submissions added for later form their burst as they fall due: settle
// after the last of them, one run. A lone one settles too.
func TestDebounceOfSubmissionsAddedForLater(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		process := sdk.NewTask("process_webhooks", func(ctx context.Context, in Webhook) error { return nil },
			policy.TaskDebounce(5*time.Second))
		env.Register(process)
		d := env.Docket()
		t0 := env.Now()
		first, err := process.Add(t.Context(), d, Webhook{"a"}, sdk.After(time.Hour))
		require.NoError(t, err)
		second, err := process.Add(t.Context(), d, Webhook{"b"}, sdk.After(time.Hour+2*time.Second))
		require.NoError(t, err)
		env.RunUntilFinished()
		runs := env.Runs("process_webhooks")
		require.Len(t, runs, 1, "one run for the burst")
		assert.Equal(t, first.Key(), runs[0].Key)
		assert.Equal(t, t0.Add(time.Hour+7*time.Second), runs[0].Start, "5s after the last submission's instant")
		st, why := state(t, second)
		assert.Equal(t, sdk.StateCancelled, st)
		assert.Equal(t, "debounced: the burst runs as "+first.Key(), why)

		t1 := env.Now()
		_, err = process.Add(t.Context(), d, Webhook{"c"}, sdk.After(time.Hour))
		require.NoError(t, err)
		env.RunUntilFinished()
		runs = env.Runs("process_webhooks")
		require.Len(t, runs, 2)
		assert.Equal(t, t1.Add(time.Hour+5*time.Second), runs[1].Start, "a lone submission settles too")
	})
}

// RunNow of a debounced task added for later makes it a submission of
// now: it runs settle after now, not settle after the instant it was added
// for.
func TestDebounceRunNow(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		process := sdk.NewTask("process_webhooks", func(ctx context.Context, in Webhook) error { return nil },
			policy.TaskDebounce(time.Second))
		env.Register(process)
		d := env.Docket()
		t0 := env.Now()
		ex, err := process.Add(t.Context(), d, Webhook{"a"}, sdk.After(24*time.Hour))
		require.NoError(t, err)
		require.NoError(t, d.RunNow(t.Context(), ex.Key()))
		env.Advance(2 * time.Second)
		runs := env.Runs("process_webhooks")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(time.Second), runs[0].Start)
	})
}

// Independent settle windows per value.
func TestDebouncePerArgument(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		sync := sdk.NewTask("sync_customer", func(ctx context.Context, in Customer) error { return nil },
			policy.Debounce("customer_id", 5*time.Second))
		env.Register(sync)
		t0 := env.Now()
		d := env.Docket()
		_, _ = sync.Add(t.Context(), d, Customer{1001})
		env.Advance(time.Second)
		_, _ = sync.Add(t.Context(), d, Customer{1001}) // resets 1001's timer
		env.Advance(time.Second)
		_, _ = sync.Add(t.Context(), d, Customer{2002}) // its own window
		env.Advance(time.Minute)
		assert.Equal(t, map[string]time.Duration{
			`{"customer_id":1001}`: 6 * time.Second,
			`{"customer_id":2002}`: 7 * time.Second,
		}, offsets(env, "sync_customer", t0))
	})
}

type OrderJob struct {
	OrderID int `json:"order_id"`
}

// Debounce, cooldown and concurrency on one task: each checked, all needed.
func TestAdmissionControlsTogether(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		finalize := sdk.NewTask("process_order", func(ctx context.Context, in OrderJob) error {
			time.Sleep(10 * time.Second)
			return nil
		}, policy.Concurrency("order_id", 1), policy.Cooldown("order_id", time.Minute), policy.Debounce("order_id", 2*time.Second))
		env.Register(finalize)
		t0 := env.Now()
		d := env.Docket()
		for range 3 { // a burst: one run, 2s after the last
			_, err := finalize.Add(t.Context(), d, OrderJob{7})
			require.NoError(t, err)
		}
		_, err := finalize.Add(t.Context(), d, OrderJob{8})
		require.NoError(t, err)
		env.Advance(30 * time.Second)
		late, err := finalize.Add(t.Context(), d, OrderJob{7}) // debounced 2s, then within 7's cooldown
		require.NoError(t, err)
		env.Advance(5 * time.Second)
		runs := env.Runs("process_order")
		require.Len(t, runs, 2)
		assert.Equal(t, map[string]time.Duration{`{"order_id":7}`: 2 * time.Second, `{"order_id":8}`: 2 * time.Second},
			offsets(env, "process_order", t0))
		st, why := state(t, late)
		assert.Equal(t, sdk.StateCancelled, st)
		assert.Contains(t, why, "cooldown: order_id=7")
	})
}
