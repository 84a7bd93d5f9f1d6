package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

// unit is one unit of simulated work in these tests; fake time makes a
// minute cost nothing.
const unit = time.Minute

// scenario registers the sample's tasks in env, submits the sample's work at
// env.Now() and returns the tracker, the submitted executions and t0.
func scenario(t *testing.T, env *testsuite.Env) (*tracker, submitted, time.Time) {
	t.Helper()
	tr := newTracker(io.Discard)
	ts := newTasks(tr, unit)
	env.Register(ts.all()...)
	t0 := env.Now()
	s, err := submit(t.Context(), env.Docket(), ts)
	require.NoError(t, err)
	return tr, s, t0
}

// withSlots gives the worker more slots than the limits allow at once, so
// only the limits make runs wait.
var withSlots = testsuite.WithWorkerOptions(worker.Options{Concurrency: 50})

// input is the JSON a run of in receives, as env.Runs reports it.
func input(t *testing.T, in any) string {
	t.Helper()
	b, err := json.Marshal(in)
	require.NoError(t, err)
	return string(b)
}

// starts maps each run's input to its start, relative to t0.
func starts(env *testsuite.Env, task string, t0 time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, r := range env.Runs(task) {
		out[string(r.Input)] = r.Start.Sub(t0)
	}
	return out
}

// One run per customer at a time: customer 1001's second job starts the
// instant its first ends, its third the instant its second ends, while
// customer 2001 runs from the start.
func TestOneRunPerCustomer(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		tr, _, t0 := scenario(t, env)
		env.RunUntilIdle()

		assert.Equal(t, map[string]time.Duration{
			input(t, CustomerJob{1001, "update_profile"}):      0,
			input(t, CustomerJob{1001, "recalculate_metrics"}): unit,
			input(t, CustomerJob{2001, "update_profile"}):      0,
			input(t, CustomerJob{1001, "send_report"}):         2 * unit,
		}, starts(env, "process_customer_data", t0))

		var of1001 []testsuite.Attempt
		for _, r := range env.Runs("process_customer_data") {
			if bytes.Contains(r.Input, []byte(`"customer_id":1001`)) {
				of1001 = append(of1001, r)
			}
		}
		require.Len(t, of1001, 3)
		for i := 1; i < len(of1001); i++ {
			assert.Equal(t, of1001[i-1].End, of1001[i].Start, "each job of 1001 starts when the one before ends")
		}
		assert.Equal(t, 1, tr.peaks()["customer 1001"])
		assert.Equal(t, 1, tr.peaks()["customer 2001"])
	}, withSlots)
}

// Five syncs per service at once: the sixth for salesforce starts the
// instant the shortest of the first five ends (user 103, two pages), the
// seventh when the next slot frees; hubspot is not held up by salesforce.
func TestFiveSyncsPerService(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		tr, _, t0 := scenario(t, env)
		env.RunUntilIdle()

		want := map[string]time.Duration{}
		for _, in := range userSyncs {
			want[input(t, in)] = 0
		}
		want[input(t, UserSync{106, "salesforce", 4})] = unit / 2 // user 103's two pages
		want[input(t, UserSync{107, "salesforce", 4})] = unit     // users 101, 102, 104, 105's four pages
		assert.Equal(t, want, starts(env, "sync_user_with_external_service", t0))

		ended := map[time.Time]bool{}
		for _, r := range env.Runs("sync_user_with_external_service") {
			ended[r.End] = true
		}
		for _, r := range env.Runs("sync_user_with_external_service") {
			if r.Start != t0 {
				assert.True(t, ended[r.Start], "a waiting sync starts when another ends")
			}
		}
		assert.Equal(t, perService, tr.peaks()["service salesforce"])
		assert.Equal(t, 2, tr.peaks()["service hubspot"])
	}, withSlots)
}

// The tenant scope is one limit for two tasks: acme's two imports and two
// exports run two at a time, whichever task runs them; globex has slots of
// its own.
func TestTenantScopeIsSharedByBothTasks(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		tr, _, t0 := scenario(t, env)
		env.RunUntilIdle()

		assert.Equal(t, map[string]time.Duration{
			input(t, TenantOp{"acme", "customers"}):   0,
			input(t, TenantOp{"acme", "orders"}):      unit,
			input(t, TenantOp{"globex", "customers"}): 0,
		}, starts(env, "import_tenant_data", t0))
		assert.Equal(t, map[string]time.Duration{
			input(t, TenantOp{"acme", "invoices"}): 0,
			input(t, TenantOp{"acme", "reports"}):  unit,
		}, starts(env, "export_tenant_data", t0), "separate limits per task would start both exports at 0")
		assert.Equal(t, perTenant, tr.peaks()["tenant acme"])
		assert.Equal(t, 1, tr.peaks()["tenant globex"])
	}, withSlots)
}

// No limit is ever exceeded, the busiest values reach their limit, and the
// whole scenario ends after three units: customer 1001's three jobs in a row.
func TestPeaksEqualTheLimits(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		tr, _, t0 := scenario(t, env)
		env.RunUntilIdle()
		assert.Equal(t, map[string]int{
			"customer 1001":      1,
			"customer 2001":      1,
			"service salesforce": 5,
			"service hubspot":    2,
			"tenant acme":        2,
			"tenant globex":      1,
		}, tr.peaks())
		assert.Len(t, env.Runs(""), len(customerJobs)+len(userSyncs)+len(tenantOps))
		var last time.Time
		for _, r := range env.Runs("") {
			assert.NoError(t, r.Err)
			if r.End.After(last) {
				last = r.End
			}
		}
		assert.Equal(t, t0.Add(3*unit), last, "customer 1001's three jobs in a row take longest")
		assert.Equal(t, t0.Add(3*unit), env.Now())
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		assert.Zero(t, snap.TotalRunning+snap.TotalWaiting)
	}, withSlots)
}

// A quarter unit in, the snapshot lists every limit in use with the keys
// holding its slots and those waiting, first come first served; a waiting
// run is queued and names its limit.
func TestSnapshotShowsHoldersAndWaiters(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		_, s, _ := scenario(t, env)
		env.Advance(unit / 4)

		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		type limit struct{ InUse, Waiting []string }
		got := map[string]limit{}
		for _, l := range snap.Limits {
			inUse := slices.Clone(l.InUse)
			slices.Sort(inUse)
			got[l.ID] = limit{inUse, append([]string{}, l.Waiting...)}
		}
		keys := func(exs ...*sdk.Execution) []string {
			out := []string{}
			for _, ex := range exs {
				out = append(out, ex.Key())
			}
			return out
		}
		sorted := func(exs ...*sdk.Execution) []string {
			out := keys(exs...)
			slices.Sort(out)
			return out
		}
		c, u, tn := s.Customers, s.Syncs, s.Tenants
		assert.Equal(t, map[string]limit{
			"t:process_customer_data:customer_id:1001":                  {sorted(c[0]), keys(c[1], c[3])},
			"t:process_customer_data:customer_id:2001":                  {sorted(c[2]), keys()},
			"t:sync_user_with_external_service:service_name:salesforce": {sorted(u[0], u[1], u[2], u[3], u[4]), keys(u[5], u[6])},
			"t:sync_user_with_external_service:service_name:hubspot":    {sorted(u[7], u[8]), keys()},
			"s:tenant_operations:acme":                                  {sorted(tn[0], tn[1]), keys(tn[2], tn[3])},
			"s:tenant_operations:globex":                                {sorted(tn[4]), keys()},
		}, got)
		assert.Len(t, snap.Running, 12)
		assert.Len(t, snap.Queued, 6)

		info, err := u[6].Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State)
		assert.Equal(t, "t:sync_user_with_external_service:service_name:salesforce", info.WaitingFor)
		info, err = tn[3].Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State)
		assert.Equal(t, "export_tenant_data", info.Task)
		assert.Equal(t, "s:tenant_operations:acme", info.WaitingFor)

		env.Advance(3 * unit)
		snap, err = env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		assert.Empty(t, snap.Limits, "no limit in use once everything ran")
	}, withSlots)
}

// The program itself, in a synctest bubble: its 400ms units of work pass in
// fake time, so the instants it prints are exact.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out))
		s := out.String()
		for _, line := range []string{
			`\+0s\s+start process_customer_data customer=1001 step=update_profile\s+customer 1001: 1 running`,
			`\+400ms\s+end\s+process_customer_data customer=1001 step=update_profile\s+customer 1001: 0 running`,
			`\+400ms\s+start process_customer_data customer=1001 step=recalculate_metrics\s+customer 1001: 1 running`,
			`\+800ms\s+start process_customer_data customer=1001 step=send_report\s+customer 1001: 1 running`,
			`\+0s\s+start process_customer_data customer=2001 step=update_profile\s+customer 2001: 1 running`,
			`\+0s\s+start sync_user_with_external_service user=105 service=salesforce pages=4\s+service salesforce: \d running`,
			`\+200ms\s+start sync_user_with_external_service user=106 service=salesforce pages=4\s+service salesforce: 5 running`,
			`\+400ms\s+start sync_user_with_external_service user=107 service=salesforce pages=4\s+service salesforce: \d running`,
			`\+400ms\s+start import_tenant_data tenant=acme operation=orders\s+tenant acme: \d running`,
			`\+400ms\s+start export_tenant_data tenant=acme operation=reports\s+tenant acme: \d running`,
			`\+1\.2s\s+end\s+process_customer_data customer=1001 step=send_report\s+customer 1001: 0 running`,
			`customer 1001:\s+1 \(limit 1\)`,
			`service salesforce:\s+5 \(limit 5\)`,
			`service hubspot:\s+2 \(limit 5\)`,
			`tenant acme:\s+2 \(limit 2, shared by import_tenant_data and export_tenant_data\)`,
		} {
			assert.Regexp(t, line, s)
		}
		limits := map[string]int{"customer": perCustomer, "service": perService, "tenant": perTenant}
		counts := regexp.MustCompile(`(customer|service|tenant) (\S+): (\d+) running`).FindAllStringSubmatch(s, -1)
		require.Len(t, counts, 2*(len(customerJobs)+len(userSyncs)+len(tenantOps)), "a start and an end per run")
		for _, m := range counts {
			n, err := strconv.Atoi(m[3])
			require.NoError(t, err)
			assert.LessOrEqual(t, n, limits[m[1]], "%s %s", m[1], m[2])
		}
	})
}
