// Customers shows concurrency limits keyed by a task's input: a run that
// cannot get a slot waits in the queue and starts the instant a slot frees,
// first come first served.
//
//   - process_customer_data: policy.Concurrency("customer_id", 1), one run
//     per customer at a time; different customers run side by side.
//   - sync_user_with_external_service: policy.Concurrency("service_name", 5),
//     at most five calls per external service at once.
//   - import_tenant_data and export_tenant_data: both declare
//     policy.Concurrency("tenant_id", 2, policy.Scope("tenant_operations")),
//     so the two tasks share two slots per tenant.
//
// The tasks simulate work by sleeping, and count how many runs are in
// progress for each customer, service and tenant. The program prints when
// each run starts and ends, then the peak it saw for each, which never
// exceeds the limit:
//
//	go run ./samples/customers
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/customers
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// CustomerJob is the input of process_customer_data.
type CustomerJob struct {
	CustomerID int    `json:"customer_id"`
	Step       string `json:"step"`
}

// UserSync is the input of sync_user_with_external_service. Pages is how
// much there is to send: each page takes a quarter of the work unit.
type UserSync struct {
	UserID      int    `json:"user_id"`
	ServiceName string `json:"service_name"`
	Pages       int    `json:"pages"`
}

// TenantOp is the input of import_tenant_data and export_tenant_data.
type TenantOp struct {
	TenantID  string `json:"tenant_id"`
	Operation string `json:"operation"`
}

// The limits, as declared on the tasks.
const (
	perCustomer = 1
	perService  = 5
	perTenant   = 2
)

// tracker counts the runs in progress for each limited value ("customer
// 1001", "service salesforce", "tenant acme") and remembers the peak. It
// prints each start and end with its offset from t0.
type tracker struct {
	mu      sync.Mutex
	out     io.Writer
	t0      time.Time
	running map[string]int
	peak    map[string]int
}

func newTracker(out io.Writer) *tracker {
	return &tracker{out: out, t0: time.Now(), running: map[string]int{}, peak: map[string]int{}}
}

// enter records the start of a run that holds a slot of group.
func (tr *tracker) enter(group, what string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.running[group]++
	tr.peak[group] = max(tr.peak[group], tr.running[group])
	fmt.Fprintf(tr.out, "%7s  start %-68s %s: %d running\n", tr.since(), what, group, tr.running[group])
}

// leave records the end of a run that held a slot of group.
func (tr *tracker) leave(group, what string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.running[group]--
	fmt.Fprintf(tr.out, "%7s  end   %-68s %s: %d running\n", tr.since(), what, group, tr.running[group])
}

func (tr *tracker) since() string {
	return "+" + time.Since(tr.t0).Round(10*time.Millisecond).String()
}

// peaks returns the peak number of runs seen for each group.
func (tr *tracker) peaks() map[string]int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[string]int, len(tr.peak))
	for k, v := range tr.peak {
		out[k] = v
	}
	return out
}

// tasks are the sample's tasks.
type tasks struct {
	Process *sdk.Task[CustomerJob]
	Sync    *sdk.Task[UserSync]
	Import  *sdk.Task[TenantOp]
	Export  *sdk.Task[TenantOp]
}

func (ts tasks) all() []sdk.Registrable {
	return []sdk.Registrable{ts.Process, ts.Sync, ts.Import, ts.Export}
}

// newTasks builds the tasks. Each one reports to tr and works by sleeping:
// a customer step or a tenant operation takes one unit of work, a user sync
// a quarter of a unit per page.
func newTasks(tr *tracker, work time.Duration) tasks {
	// sleep is simulated work that stops early if the run is cancelled.
	sleep := func(ctx context.Context, d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	process := sdk.NewTask("process_customer_data", func(ctx context.Context, in CustomerJob) error {
		group := fmt.Sprintf("customer %d", in.CustomerID)
		what := fmt.Sprintf("process_customer_data customer=%d step=%s", in.CustomerID, in.Step)
		tr.enter(group, what)
		defer tr.leave(group, what)
		return sleep(ctx, work)
	}, policy.Concurrency("customer_id", perCustomer))

	syncUser := sdk.NewTask("sync_user_with_external_service", func(ctx context.Context, in UserSync) error {
		group := "service " + in.ServiceName
		what := fmt.Sprintf("sync_user_with_external_service user=%d service=%s pages=%d", in.UserID, in.ServiceName, in.Pages)
		tr.enter(group, what)
		defer tr.leave(group, what)
		return sleep(ctx, time.Duration(in.Pages)*work/4)
	}, policy.Concurrency("service_name", perService))

	// One function, two tasks, one scope: the tasks share the tenant's slots.
	tenantOp := func(task string) func(context.Context, TenantOp) error {
		return func(ctx context.Context, in TenantOp) error {
			group := "tenant " + in.TenantID
			what := fmt.Sprintf("%s tenant=%s operation=%s", task, in.TenantID, in.Operation)
			tr.enter(group, what)
			defer tr.leave(group, what)
			return sleep(ctx, work)
		}
	}
	tenantLimit := policy.Concurrency("tenant_id", perTenant, policy.Scope("tenant_operations"))
	imports := sdk.NewTask("import_tenant_data", tenantOp("import_tenant_data"), tenantLimit)
	exports := sdk.NewTask("export_tenant_data", tenantOp("export_tenant_data"), tenantLimit)

	return tasks{Process: process, Sync: syncUser, Import: imports, Export: exports}
}

// The work the program submits, in this order.
var (
	customerJobs = []CustomerJob{
		{1001, "update_profile"}, {1001, "recalculate_metrics"}, {2001, "update_profile"}, {1001, "send_report"},
	}
	userSyncs = []UserSync{
		{101, "salesforce", 4}, {102, "salesforce", 4}, {103, "salesforce", 2}, {104, "salesforce", 4},
		{105, "salesforce", 4}, {106, "salesforce", 4}, {107, "salesforce", 4},
		{201, "hubspot", 4}, {202, "hubspot", 4},
	}
	// tenantOps alternate between the two tasks: Import for even indexes.
	tenantOps = []TenantOp{
		{"acme", "customers"}, {"acme", "invoices"}, {"acme", "orders"}, {"acme", "reports"}, {"globex", "customers"},
	}
)

// submitted holds the executions submit added, in the order of the lists
// above.
type submitted struct {
	Customers, Syncs, Tenants []*sdk.Execution
}

// submit adds the sample's work, in the order of the lists above. Runs due
// at the same instant are taken in the order of their keys; the keys Add
// makes (UUIDv7) follow the order of the calls, so the waiting lines form in
// the order of the lists.
func submit(ctx context.Context, d *sdk.Docket, ts tasks) (submitted, error) {
	var s submitted
	for _, in := range customerJobs {
		ex, err := ts.Process.Add(ctx, d, in)
		if err != nil {
			return s, err
		}
		s.Customers = append(s.Customers, ex)
	}
	for _, in := range userSyncs {
		ex, err := ts.Sync.Add(ctx, d, in)
		if err != nil {
			return s, err
		}
		s.Syncs = append(s.Syncs, ex)
	}
	for i, in := range tenantOps {
		task := ts.Import
		if i%2 == 1 {
			task = ts.Export
		}
		ex, err := task.Add(ctx, d, in)
		if err != nil {
			return s, err
		}
		s.Tenants = append(s.Tenants, ex)
	}
	return s, nil
}

// limitOf is the limit that applies to a tracker group.
func limitOf(group string) string {
	switch {
	case strings.HasPrefix(group, "customer "):
		return fmt.Sprintf("limit %d", perCustomer)
	case strings.HasPrefix(group, "service "):
		return fmt.Sprintf("limit %d", perService)
	default:
		return fmt.Sprintf("limit %d, shared by import_tenant_data and export_tenant_data", perTenant)
	}
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// work is one unit of simulated work in the program.
const work = 400 * time.Millisecond

func run(ctx context.Context, out io.Writer) error {
	d, err := sample.Open(ctx, "customers")
	if err != nil {
		return err
	}
	defer d.Close()

	tr := newTracker(out)
	ts := newTasks(tr, work)
	if err := d.Register(ts.all()...); err != nil {
		return err
	}
	if _, err := submit(ctx, d, ts); err != nil {
		return err
	}

	// Enough worker slots for every run the limits allow at once: the limits,
	// not the worker, decide who waits.
	w := worker.New(d, worker.Options{Concurrency: 50})
	if err := w.RunUntilIdle(ctx); err != nil {
		return err
	}

	peaks := tr.peaks()
	groups := make([]string, 0, len(peaks))
	for g := range peaks {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	fmt.Fprintln(out, "peak concurrent runs:")
	for _, g := range groups {
		fmt.Fprintf(out, "  %-20s %d (%s)\n", g+":", peaks[g], limitOf(g))
	}
	return nil
}
