// Backups shows a concurrency limit that protects a shared resource: the
// task backup_database_table declares policy.Concurrency("db_name", 2), so
// at most two backups run against each database at once, however many
// workers and worker slots there are. The program backs up five tables on
// "production" and five on "staging"; a backup that cannot get a slot waits
// in the queue and starts the instant another backup of its database ends,
// first come first served.
//
// The program prints when each backup starts and ends, a snapshot of the
// docket midway (each limit in use, the backups holding its slots and those
// waiting for one), and the most backups it saw running at once per
// database:
//
//	go run ./samples/backups
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/backups
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

// Backup is the input of backup_database_table.
type Backup struct {
	DB    string `json:"db_name"`
	Table string `json:"table_name"`
}

// perDatabase is the most backups of one database that run at once.
const perDatabase = 2

var (
	databases = []string{"production", "staging"}
	tables    = []string{"users", "orders", "products", "analytics", "logs"}

	// size is how many units of work a table's backup takes. Staging holds
	// a sample of the data: each of its tables takes one unit.
	size = map[string]int{"users": 2, "orders": 1, "products": 3, "analytics": 2, "logs": 1}
)

// duration is how long the backup of db.table takes.
func duration(db, table string, unit time.Duration) time.Duration {
	if db == "staging" {
		return unit
	}
	return time.Duration(size[table]) * unit
}

// key names the backup of a table: its place in the list keeps the keys in
// the order the backups are added, so that those added at the same instant
// are also taken in that order.
func key(db string, i int) string {
	return fmt.Sprintf("%s-%d-%s", db, i+1, tables[i])
}

// monitor counts the backups running per database and remembers the peak;
// it prints each start and end with its offset from t0.
type monitor struct {
	mu      sync.Mutex
	out     io.Writer
	t0      time.Time
	running map[string][]string
	peak    map[string]int
}

func newMonitor(out io.Writer) *monitor {
	return &monitor{out: out, t0: time.Now(), running: map[string][]string{}, peak: map[string]int{}}
}

func (m *monitor) start(in Backup) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running[in.DB] = append(m.running[in.DB], in.Table)
	m.peak[in.DB] = max(m.peak[in.DB], len(m.running[in.DB]))
	m.print("start", in)
}

func (m *monitor) end(in Backup) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running[in.DB] = slices.DeleteFunc(m.running[in.DB], func(t string) bool { return t == in.Table })
	m.print("end  ", in)
}

func (m *monitor) print(what string, in Backup) {
	fmt.Fprintf(m.out, "%7s  %s %-20s %s now running: %s\n",
		"+"+time.Since(m.t0).Round(10*time.Millisecond).String(), what, in.DB+"."+in.Table,
		in.DB, orNone(m.running[in.DB]))
}

// peaks returns the most backups seen running at once, per database.
func (m *monitor) peaks() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.peak))
	for k, v := range m.peak {
		out[k] = v
	}
	return out
}

// newBackupTask builds backup_database_table; each backup reports to m and
// works by sleeping for its table's duration.
func newBackupTask(m *monitor, unit time.Duration) *sdk.Task[Backup] {
	return sdk.NewTask("backup_database_table", func(ctx context.Context, in Backup) error {
		m.start(in)
		defer m.end(in)
		select {
		case <-time.After(duration(in.DB, in.Table, unit)):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, policy.Concurrency("db_name", perDatabase))
}

// addBackups adds a backup of every table of every database, alternating
// between the databases as the tables go, and returns them by key.
func addBackups(ctx context.Context, d *sdk.Docket, task *sdk.Task[Backup]) (map[string]*sdk.Execution, error) {
	added := map[string]*sdk.Execution{}
	for i, table := range tables {
		for _, db := range databases {
			ex, err := task.Add(ctx, d, Backup{DB: db, Table: table}, sdk.Key(key(db, i)))
			if err != nil {
				return nil, err
			}
			added[ex.Key()] = ex
		}
	}
	return added, nil
}

// printLimits prints the concurrency limits in use in snap: the keys of
// the backups holding a slot, and those waiting for one, first in line
// first.
func printLimits(out io.Writer, snap sdk.Snapshot) {
	limits := slices.Clone(snap.Limits)
	slices.SortFunc(limits, func(a, b sdk.LimitInfo) int { return strings.Compare(a.ID, b.ID) })
	fmt.Fprintf(out, "snapshot: %d running, %d waiting\n", snap.TotalRunning, snap.TotalWaiting)
	for _, l := range limits {
		inUse := slices.Clone(l.InUse)
		slices.Sort(inUse)
		fmt.Fprintf(out, "  limit %s\n", l.ID)
		fmt.Fprintf(out, "    in use:  %s\n", orNone(inUse))
		fmt.Fprintf(out, "    waiting: %s\n", orNone(l.Waiting))
	}
}

func orNone(keys []string) string {
	if len(keys) == 0 {
		return "(none)"
	}
	return strings.Join(keys, ", ")
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// unit is one unit of backup work in the program.
const unit = 400 * time.Millisecond

func run(ctx context.Context, out io.Writer) error {
	d, err := sample.Open(ctx, "backups")
	if err != nil {
		return err
	}
	defer d.Close()

	m := newMonitor(out)
	backup := newBackupTask(m, unit)
	if err := d.Register(backup); err != nil {
		return err
	}
	added, err := addBackups(ctx, d, backup)
	if err != nil {
		return err
	}

	// Plenty of worker slots: the limit, not the worker, makes backups wait.
	w := worker.New(d, worker.Options{Concurrency: 20})
	done := make(chan error, 1)
	go func() { done <- w.RunUntilIdle(ctx) }()

	// Midway through production's first units: two backups of each
	// database hold the slots, the others wait in line.
	time.Sleep(unit + unit/2)
	snap, err := d.Snapshot(ctx)
	if err != nil {
		<-done
		return err
	}
	m.mu.Lock()
	printLimits(out, snap)
	m.mu.Unlock()

	if err := <-done; err != nil {
		return err
	}

	peaks := m.peaks()
	for _, db := range databases {
		fmt.Fprintf(out, "%s: at most %d backups at once (limit %d)\n", db, peaks[db], perDatabase)
	}
	completed := 0
	for _, ex := range added {
		info, err := ex.Info(ctx)
		if err != nil {
			return err
		}
		if info.State == sdk.StateCompleted {
			completed++
		}
	}
	fmt.Fprintf(out, "%d of %d backups completed\n", completed, len(added))
	return nil
}
