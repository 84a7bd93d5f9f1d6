package worker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

// offsets lists, for each run of the task, its input and its start relative
// to t0.
func offsets(env *testsuite.Env, name string, t0 time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, r := range env.Runs(name) {
		out[string(r.Input)] = r.Start.Sub(t0)
	}
	return out
}

type CustomerJob struct {
	CustomerID int    `json:"customer_id"`
	Step       string `json:"step"`
}

// Only one task per customer runs at a time; different customers run in
// parallel. The second job of a customer starts the instant the first ends.
func TestConcurrencyPerArgument(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		process := sdk.NewTask("process_customer_data", func(ctx context.Context, in CustomerJob) error {
			time.Sleep(time.Minute)
			return nil
		}, policy.Concurrency("customer_id", 1))
		env.Register(process)
		t0 := env.Now()
		for _, in := range []CustomerJob{{1001, "a"}, {1001, "b"}, {2001, "a"}, {1001, "c"}} {
			_, err := process.Add(t.Context(), env.Docket(), in)
			require.NoError(t, err)
		}
		env.Advance(10 * time.Minute)
		assert.Equal(t, map[string]time.Duration{
			`{"customer_id":1001,"step":"a"}`: 0,
			`{"customer_id":2001,"step":"a"}`: 0,
			`{"customer_id":1001,"step":"b"}`: time.Minute,
			`{"customer_id":1001,"step":"c"}`: 2 * time.Minute,
		}, offsets(env, "process_customer_data", t0))
	})
}

type Computation struct {
	Data string `json:"data"`
}

// At most three of the task at once, whatever the input; the others wait
// their turn, first come first served.
func TestTaskConcurrency(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		compute := sdk.NewTask("expensive_computation", func(ctx context.Context, in Computation) error {
			time.Sleep(time.Minute)
			return nil
		}, policy.TaskConcurrency(3))
		env.Register(compute)
		t0 := env.Now()
		for i := range 7 {
			_, err := compute.Add(t.Context(), env.Docket(), Computation{Data: fmt.Sprint(i)}, sdk.After(time.Duration(i)*time.Millisecond))
			require.NoError(t, err)
		}
		env.Advance(time.Second)
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Limits, 1)
		assert.Equal(t, "t:expensive_computation::", snap.Limits[0].ID)
		assert.Len(t, snap.Limits[0].InUse, 3)
		assert.Len(t, snap.Limits[0].Waiting, 4)
		assert.Len(t, snap.Running, 3)
		assert.Len(t, snap.Queued, 4)
		assert.Equal(t, "t:expensive_computation::", snap.Queued[0].WaitingFor)
		info, err := env.Docket().Execution(snap.Limits[0].Waiting[0]).Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State)
		assert.Equal(t, "t:expensive_computation::", info.WaitingFor)

		env.Advance(5 * time.Minute)
		got := offsets(env, "expensive_computation", t0)
		want := map[string]time.Duration{}
		for i := range 7 {
			want[fmt.Sprintf(`{"data":"%d"}`, i)] = time.Duration(i) * time.Millisecond
			if i >= 3 { // first come, first served: 3, 4, 5 when 0, 1, 2 end
				want[fmt.Sprintf(`{"data":"%d"}`, i)] = time.Minute + time.Duration(i-3)*time.Millisecond
			}
			if i == 6 {
				want[`{"data":"6"}`] = 2 * time.Minute
			}
		}
		assert.Equal(t, want, got)
		snap, err = env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		assert.Empty(t, snap.Limits, "no limit in use once all ran")
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 20}))
}

type Backup struct {
	DB    string `json:"db_name"`
	Table string `json:"table_name"`
}

// Maximum two backups per database at once, over many tables.
func TestConcurrencyDatabasePool(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex // tasks run in parallel goroutines
		running := map[string]int{}
		peak := map[string]int{}
		backup := sdk.NewTask("backup_database_table", func(ctx context.Context, in Backup) error {
			mu.Lock()
			running[in.DB]++
			peak[in.DB] = max(peak[in.DB], running[in.DB])
			mu.Unlock()
			time.Sleep(10 * time.Second)
			mu.Lock()
			running[in.DB]--
			mu.Unlock()
			return nil
		}, policy.Concurrency("db_name", 2))
		env.Register(backup)
		t0 := env.Now()
		for _, table := range []string{"users", "orders", "products", "analytics", "logs"} {
			for _, db := range []string{"production", "staging"} {
				_, err := backup.Add(t.Context(), env.Docket(), Backup{DB: db, Table: table})
				require.NoError(t, err)
			}
		}
		env.RunUntilIdle()
		assert.Equal(t, map[string]int{"production": 2, "staging": 2}, peak)
		assert.Len(t, env.Runs("backup_database_table"), 10)
		assert.Equal(t, t0.Add(30*time.Second), env.Now(), "five tables, two at a time, ten seconds each")
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 50}))
}

type TenantOp struct {
	TenantID  string `json:"tenant_id"`
	Operation string `json:"operation"`
}

// A scope shares slots across tasks: two operations per tenant, whichever
// task runs them.
func TestConcurrencyScopeAcrossTasks(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex // tasks run in parallel goroutines
		inScope := map[string]int{}
		peak := 0
		body := func(ctx context.Context, in TenantOp) error {
			mu.Lock()
			inScope[in.TenantID]++
			peak = max(peak, inScope[in.TenantID])
			mu.Unlock()
			time.Sleep(time.Minute)
			mu.Lock()
			inScope[in.TenantID]--
			mu.Unlock()
			return nil
		}
		scope := policy.Scope("tenant_operations")
		imports := sdk.NewTask("import_tenant_data", body, policy.Concurrency("tenant_id", 2, scope))
		exports := sdk.NewTask("export_tenant_data", body, policy.Concurrency("tenant_id", 2, scope))
		env.Register(imports, exports)
		t0 := env.Now()
		for i := range 3 {
			_, err := imports.Add(t.Context(), env.Docket(), TenantOp{"acme", fmt.Sprint("import", i)})
			require.NoError(t, err)
			_, err = exports.Add(t.Context(), env.Docket(), TenantOp{"acme", fmt.Sprint("export", i)})
			require.NoError(t, err)
		}
		_, err := imports.Add(t.Context(), env.Docket(), TenantOp{"globex", "import"})
		require.NoError(t, err)
		env.Advance(time.Second)
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		ids := map[string]int{}
		for _, l := range snap.Limits {
			ids[l.ID] = len(l.InUse)
		}
		assert.Equal(t, map[string]int{"s:tenant_operations:acme": 2, "s:tenant_operations:globex": 1}, ids)
		env.RunUntilIdle()
		assert.Equal(t, 2, peak)
		assert.Equal(t, t0.Add(3*time.Minute), env.Now(), "six acme operations, two at a time")
	}, testsuite.WithWorkerOptions(worker.Options{Concurrency: 50}))
}

// A task's slot is freed whatever ends it: failure with a retry, panic,
// timeout, cancellation.
func TestSlotsAreFreedWhateverEndsTheTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		guarded := sdk.NewTask("guarded", func(ctx context.Context, in CustomerJob) error {
			switch in.Step {
			case "fail":
				return fmt.Errorf("failed")
			case "panic":
				panic("boom")
			case "timeout", "cancel":
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}, policy.Concurrency("customer_id", 1), policy.Timeout(time.Minute), policy.Retry(2, time.Hour))
		env.Register(guarded)
		t0 := env.Now()
		d := env.Docket()
		// Tasks due at the same instant are claimed in key order.
		for i, step := range []string{"fail", "panic", "timeout", "cancel", "ok"} {
			_, err := guarded.Add(t.Context(), d, CustomerJob{1, step}, sdk.Key(fmt.Sprint(i, step)))
			require.NoError(t, err)
		}
		env.Advance(2 * time.Minute) // fail, panic at 0; timeout until 1m; cancel from 1m
		require.NoError(t, d.Cancel(t.Context(), "3cancel"))
		env.Advance(time.Second)
		starts := map[string]time.Duration{}
		for _, r := range env.Runs("guarded") {
			if _, seen := starts[r.Key]; !seen {
				starts[r.Key] = r.Start.Sub(t0)
			}
		}
		assert.Equal(t, map[string]time.Duration{
			"0fail": 0, "1panic": 0, "2timeout": 0, "3cancel": time.Minute, "4ok": 2 * time.Minute,
		}, starts)
		for _, retrying := range []string{"0fail", "1panic", "2timeout"} {
			require.NoError(t, d.Cancel(t.Context(), retrying))
		}
	})
}

// A task cancelled while it waits for a slot waits no more: its Info names
// no limit.
func TestCancelledWaiterWaitsForNothing(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		compute := sdk.NewTask("expensive_computation", func(ctx context.Context, in Computation) error {
			time.Sleep(time.Minute)
			return nil
		}, policy.TaskConcurrency(1))
		env.Register(compute)
		_, err := compute.Add(t.Context(), env.Docket(), Computation{Data: "first"})
		require.NoError(t, err)
		waiter, err := compute.Add(t.Context(), env.Docket(), Computation{Data: "second"})
		require.NoError(t, err)
		env.Advance(time.Second)
		info, err := waiter.Info(t.Context())
		require.NoError(t, err)
		require.Equal(t, "t:expensive_computation::", info.WaitingFor)

		require.NoError(t, env.Docket().Cancel(t.Context(), waiter.Key()))
		info, err = waiter.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCancelled, info.State)
		assert.Empty(t, info.WaitingFor)
	})
}

// CustomerSync has a narrow limit (one customer) and a wide one (a
// region), as the README's sync_customer does.
type CustomerSync struct {
	CustomerID int    `json:"customer_id"`
	Region     string `json:"region"`
	Cluster    string `json:"cluster"`
}

// A task that waits for its customer's slot holds none of its region's
// meanwhile: a task takes the slots of its own limits first, in the order
// it declares them, then those it shares through a scope. Customer 1's
// backlog leaves the region's second slot to customer 2, whether the
// region's limit is shared (it would sort first by id) or the task's own
// and declared after the customer's (it would sort first by field name).
func TestAWaitingTaskHoldsNoSlotOfTheLimitsAfterItsWait(t *testing.T) {
	for name, wide := range map[string]policy.Policy{
		"shared":   policy.Concurrency("region", 2, policy.Scope("crm")),
		"declared": policy.Concurrency("cluster", 2),
	} {
		t.Run(name, func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				var mu sync.Mutex // tasks run in parallel goroutines
				started := map[string]time.Duration{}
				var t0 time.Time
				task := sdk.NewTask("sync_customer", func(ctx context.Context, in CustomerSync) error {
					mu.Lock()
					started[sdk.Current(ctx).Key()] = env.Now().Sub(t0)
					mu.Unlock()
					time.Sleep(time.Minute)
					return nil
				}, policy.Concurrency("customer_id", 1), wide)
				env.Register(task)
				t0 = env.Now()
				for i := range 3 {
					_, err := task.Add(t.Context(), env.Docket(), CustomerSync{CustomerID: 1, Region: "eu", Cluster: "a"},
						sdk.Key(fmt.Sprint("customer-1-", i)))
					require.NoError(t, err)
				}
				env.Advance(time.Second)
				_, err := task.Add(t.Context(), env.Docket(), CustomerSync{CustomerID: 2, Region: "eu", Cluster: "a"},
					sdk.Key("customer-2"))
				require.NoError(t, err)
				env.RunUntilIdle()
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, map[string]time.Duration{
					"customer-1-0": 0,
					"customer-2":   time.Second, // the wide limit's second slot is free
					"customer-1-1": time.Minute,
					"customer-1-2": 2 * time.Minute,
				}, started)
			})
		})
	}
}

// A task handed a freed slot that a strike then holds gives the slot up:
// the next in line runs, rather than every task of the limit waiting for
// the strike to be restored.
func TestAStruckTaskGivesUpTheSlotItWasHanded(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var mu sync.Mutex
		started := map[int]time.Duration{}
		var t0 time.Time
		task := sdk.NewTask("sync_one", func(ctx context.Context, in CustomerSync) error {
			mu.Lock()
			started[in.CustomerID] = env.Now().Sub(t0)
			mu.Unlock()
			time.Sleep(time.Minute)
			return nil
		}, policy.TaskConcurrency(1))
		env.Register(task)
		d := env.Docket()
		t0 = env.Now()
		for id := 1; id <= 3; id++ {
			_, err := task.Add(t.Context(), d, CustomerSync{CustomerID: id})
			require.NoError(t, err)
			env.Advance(time.Second) // in line in this order
		}
		require.NoError(t, d.Strike(t.Context(), "", "customer_id", "==", 2))
		env.RunUntilIdle()
		mu.Lock()
		assert.Equal(t, map[int]time.Duration{1: 0, 3: time.Minute}, started, "customer 3 runs once customer 1 is done")
		mu.Unlock()

		require.NoError(t, d.Restore(t.Context(), "", "customer_id", "==", 2))
		env.RunUntilIdle()
		mu.Lock()
		assert.Equal(t, 2*time.Minute, started[2], "customer 2 once restored, after customer 3")
		mu.Unlock()
	})
}

// Colon inputs: a rule on field "send:to" of task "email" and one on field
// "to" of task "email:send" name different things.
type sendTo struct {
	To string `json:"send:to"`
}

type to struct {
	To string `json:"to"`
}

// Rules of different tasks, fields or scopes are apart even when their
// names hold ':' and, joined, spell the same thing: each of these pairs
// ran one task at 0 and the other a minute later (they shared a slot), or
// dropped the second (it shared a cooldown window).
func TestRulesWhoseNamesHoldAColonAreApart(t *testing.T) {
	for name, rules := range map[string][2]policy.Policy{
		"concurrency": {policy.Concurrency("send:to", 1), policy.Concurrency("to", 1)},
		"scope":       {policy.Concurrency("send:to", 1, policy.Scope("crm")), policy.Concurrency("to", 1, policy.Scope("crm:a"))},
		"rate":        {policy.RateLimit("send:to", 1, time.Hour), policy.RateLimit("to", 1, time.Hour)},
		"cooldown":    {policy.Cooldown("send:to", time.Hour), policy.Cooldown("to", time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				var mu sync.Mutex
				started := map[string]time.Duration{}
				t0 := env.Now()
				run := func(ctx context.Context) {
					mu.Lock()
					started[sdk.Current(ctx).Key()] = env.Now().Sub(t0)
					mu.Unlock()
					time.Sleep(time.Minute)
				}
				first := sdk.NewTask("email", func(ctx context.Context, _ sendTo) error { run(ctx); return nil }, rules[0])
				second := sdk.NewTask("email:send", func(ctx context.Context, _ to) error { run(ctx); return nil }, rules[1])
				env.Register(first)
				env.Register(second)
				value := "x"
				if name == "scope" {
					value = "a:x" // scope "crm" value "a:x" against scope "crm:a" value "x"
				}
				_, err := first.Add(t.Context(), env.Docket(), sendTo{To: value}, sdk.Key("first"))
				require.NoError(t, err)
				_, err = second.Add(t.Context(), env.Docket(), to{To: "x"}, sdk.Key("second"))
				require.NoError(t, err)
				env.RunUntilIdle()
				mu.Lock()
				defer mu.Unlock()
				assert.Equal(t, map[string]time.Duration{"first": 0, "second": 0}, started)
			})
		})
	}
}

// Snowflake ids: int64 values a double cannot tell apart.
type snowflakeCharge struct {
	CustomerID int64 `json:"customer_id"`
}

const snowflakeA, snowflakeB int64 = 1234567890123456789, 1234567890123456790

// Two int64 values that differ only beyond a double's precision are two
// values to a concurrency limit and a cooldown, as they are to Go: the
// scripts read them as doubles, so customer B waited for A's slot, and
// A's cooldown dropped B's task.
func TestLargeIntegerValuesAreDifferentValues(t *testing.T) {
	for name, rule := range map[string]policy.Policy{
		"concurrency": policy.Concurrency("customer_id", 1),
		"cooldown":    policy.Cooldown("customer_id", time.Hour),
	} {
		t.Run(name, func(t *testing.T) {
			testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
				task := sdk.NewTask("charge", func(ctx context.Context, in snowflakeCharge) error {
					time.Sleep(time.Minute)
					return nil
				}, rule)
				env.Register(task)
				t0 := env.Now()
				for _, id := range []int64{snowflakeA, snowflakeB} {
					_, err := task.Add(t.Context(), env.Docket(), snowflakeCharge{id}, sdk.Key(fmt.Sprint(id)))
					require.NoError(t, err)
				}
				env.RunUntilFinished()
				for _, id := range []int64{snowflakeA, snowflakeB} {
					info, err := env.Docket().Execution(fmt.Sprint(id)).Info(t.Context())
					require.NoError(t, err)
					assert.Equal(t, sdk.StateCompleted, info.State, "customer %d", id)
					assert.Equal(t, t0, info.Started, "customer %d", id)
				}
			})
		})
	}
}
