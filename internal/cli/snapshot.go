package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/sdk"
)

var snapshotCommand = &command{
	name:    "snapshot",
	summary: "list the running, queued, scheduled, parked and held tasks, the limits, the workers and the dead letters",
	help: `Flags:
  --json        print the snapshot as JSON instead of tables
  --limit N     list at most N running and N waiting tasks, the N latest
                dead letters, N rate limits (those whose window empties
                last), and (--json) N holders and N waiters of each limit
                (default 1000; the totals count the tasks and the rate
                limits, not the dead letters)

Times in the tables are relative to the Redis clock ("in 5m", "3s ago");
--json gives them as RFC 3339 instants, along with the lease expiries,
deliveries and creation times.
`,
	run: runSnapshot,
}

func runSnapshot(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	asJSON := fs.Bool("json", false, "")
	limit := fs.Int("limit", 1000, "")
	if err := s.parseNone(cmd, fs, args); err != nil {
		return err
	}
	if *limit < 1 {
		return usageErrorf(cmd.name, "--limit must be at least 1, got %d", *limit)
	}
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	snap, err := d.Snapshot(ctx, sdk.Limit(*limit))
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if *asJSON {
		return writeJSON(s.stdout, snapshotToJSON(d.Name(), snap))
	}
	writeSnapshot(s.stdout, d.Name(), snap, *limit)
	return nil
}

// writeSnapshot writes a snapshot as a summary line and tables of tasks,
// limits, dead letters and workers; limit is the listing's (--limit).
func writeSnapshot(w io.Writer, name string, snap sdk.Snapshot, limit int) {
	// Waiting counts the workflows parked until an instant (a sleep) too:
	// they are due then, as scheduled tasks are; parked, those only a
	// child or a signal wakes.
	fmt.Fprintf(w, "docket %q at %s: %d running, %d waiting, %d parked, %d held, %s\n",
		name, utc(snap.Now), snap.TotalRunning, snap.TotalWaiting, snap.TotalParked, snap.TotalHeld, plural(len(snap.Workers), "worker"))

	fmt.Fprintln(w)
	tasks := len(snap.Running) + len(snap.Queued) + len(snap.Scheduled) + len(snap.Parked) + len(snap.Held)
	if tasks == 0 {
		fmt.Fprintln(w, "No running, queued, scheduled, parked or held tasks.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STATE\tKEY\tTASK\tATTEMPT\tDUE\tSTARTED\tWORKER\tWAITING FOR")
		for _, list := range [][]sdk.TaskSummary{snap.Running, snap.Queued, snap.Scheduled, snap.Parked, snap.Held} {
			for _, t := range list {
				due := relative(t.Due, snap.Now)
				if t.State == sdk.StateRunning {
					due = "-" // its due time has passed; the lease matters now
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
					t.State, printable(t.Key), printable(t.Task), t.Attempt, due, relative(t.Started, snap.Now),
					orDash(printable(t.Worker)), orDash(printable(t.WaitingFor)))
			}
		}
		_ = tw.Flush()
		if more := snap.TotalRunning + snap.TotalWaiting + snap.TotalParked + snap.TotalHeld - tasks; more > 0 {
			fmt.Fprintf(w, "… and %s more (see --limit)\n", plural(more, "task"))
		}
	}

	if len(snap.Limits) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "LIMIT\tIN USE\tWAITING")
		for _, l := range snap.Limits {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", printable(l.ID), l.TotalInUse, l.TotalWaiting)
		}
		_ = tw.Flush()
	}

	if len(snap.RateLimits) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RATE LIMIT\tSTARTED\tPER\tNEXT START")
		for _, r := range snap.RateLimits {
			next := "now"
			if r.Full() {
				next = relative(r.Next, snap.Now)
			}
			fmt.Fprintf(tw, "%s\t%d of %d\t%s\t%s\n", printable(r.ID), r.Started, r.Limit, short(r.Per), next)
		}
		_ = tw.Flush()
		if more := snap.TotalRateLimits - len(snap.RateLimits); more > 0 {
			fmt.Fprintf(w, "… and %s not listed (see --limit)\n", plural(more, "rate limit"))
		}
	}

	if len(snap.DeadLetters) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DEAD LETTER\tTASK\tATTEMPT\tCREATED\tERROR")
		for _, t := range snap.DeadLetters {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", printable(t.Key), printable(t.Task), t.Attempt,
				relative(t.Created, snap.Now), printable(t.Error))
		}
		_ = tw.Flush()
		if len(snap.DeadLetters) == limit {
			fmt.Fprintln(w, "… and maybe more dead letters (see --limit)")
		}
	}

	fmt.Fprintln(w)
	writeWorkers(w, snap, "--limit lists more")
	if snap.TotalRunning+snap.TotalWaiting+snap.TotalParked+snap.TotalHeld == 0 && len(snap.Workers) == 0 &&
		len(snap.Strikes) == 0 && len(snap.DeadLetters) == 0 {
		// A name mistyped reads as an empty docket: say which one this is.
		fmt.Fprintf(w, "\nDocket %q holds nothing, and no worker serves it: is that its name (--name, DOCKET_NAME)?\n", name)
	}
}

// snapshotJSON is the --json form of a snapshot: snake_case keys, empty
// lists as [], zero times left out.
type snapshotJSON struct {
	Docket       string      `json:"docket"`
	Now          time.Time   `json:"now"`
	TotalRunning int         `json:"total_running"`
	TotalWaiting int         `json:"total_waiting"`
	TotalParked  int         `json:"total_parked"`
	TotalHeld    int         `json:"total_held"`
	Running      []taskJSON  `json:"running"`
	Queued       []taskJSON  `json:"queued"`
	Scheduled    []taskJSON  `json:"scheduled"`
	Parked       []taskJSON  `json:"parked"`
	Held         []taskJSON  `json:"held"`
	Limits       []limitJSON `json:"limits"`
	// RateLimits are those whose window holds a start, as many as the
	// limit lists; TotalRateLimits counts them all.
	RateLimits      []rateJSON   `json:"rate_limits"`
	TotalRateLimits int          `json:"total_rate_limits"`
	Workers         []workerJSON `json:"workers"`
	DeadLetters     []taskJSON   `json:"dead_letters"` // latest first, within the retention
}

type taskJSON struct {
	Key        string    `json:"key"`
	KeyBase64  string    `json:"key_base64,omitempty"` // see rawKey
	Task       string    `json:"task"`
	State      sdk.State `json:"state"`
	Attempt    int       `json:"attempt"`
	Deliveries int       `json:"deliveries"`
	Due        time.Time `json:"due,omitzero"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	Started    time.Time `json:"started,omitzero"`
	Created    time.Time `json:"created,omitzero"`
	Worker     string    `json:"worker,omitempty"`
	WaitingFor string    `json:"waiting_for,omitempty"`
	Error      string    `json:"error,omitempty"` // a dead letter's
}

type limitJSON struct {
	ID            string   `json:"id"`
	InUse         []string `json:"in_use"`
	InUseBase64   []string `json:"in_use_base64,omitempty"` // see rawKeys
	Waiting       []string `json:"waiting"`
	WaitingBase64 []string `json:"waiting_base64,omitempty"`
	TotalInUse    int      `json:"total_in_use"`
	TotalWaiting  int      `json:"total_waiting"`
}

type rateJSON struct {
	ID      string    `json:"id"`
	Limit   int       `json:"limit"`
	PerMS   int64     `json:"per_ms"`        // the window, in milliseconds
	Started int       `json:"started"`       // the starts within the window
	Next    time.Time `json:"next,omitzero"` // when a full window lets the next start
}

type workerJSON struct {
	ID          string `json:"id"`
	Host        string `json:"host"`
	PID         int    `json:"pid"`
	Concurrency int    `json:"concurrency"`
	Running     int    `json:"running"`
	// RunningPartial says Running counts only the running tasks listed
	// (the snapshot's limit), fewer than all.
	RunningPartial bool      `json:"running_partial,omitempty"`
	Tasks          []string  `json:"tasks"`
	Started        time.Time `json:"started,omitzero"`
	LiveUntil      time.Time `json:"live_until,omitzero"`
}

func snapshotToJSON(name string, snap sdk.Snapshot) snapshotJSON {
	out := snapshotJSON{
		Docket:          name,
		Now:             snap.Now,
		TotalRunning:    snap.TotalRunning,
		TotalWaiting:    snap.TotalWaiting,
		TotalParked:     snap.TotalParked,
		TotalHeld:       snap.TotalHeld,
		Running:         tasksToJSON(snap.Running),
		Queued:          tasksToJSON(snap.Queued),
		Scheduled:       tasksToJSON(snap.Scheduled),
		Parked:          tasksToJSON(snap.Parked),
		Held:            tasksToJSON(snap.Held),
		Limits:          make([]limitJSON, 0, len(snap.Limits)),
		RateLimits:      make([]rateJSON, 0, len(snap.RateLimits)),
		TotalRateLimits: snap.TotalRateLimits,
		Workers:         workersToJSON(snap),
		DeadLetters:     tasksToJSON(snap.DeadLetters),
	}
	for _, l := range snap.Limits {
		out.Limits = append(out.Limits, limitJSON{ID: l.ID, InUse: nonNil(l.InUse), InUseBase64: rawKeys(l.InUse),
			Waiting: nonNil(l.Waiting), WaitingBase64: rawKeys(l.Waiting), TotalInUse: l.TotalInUse, TotalWaiting: l.TotalWaiting})
	}
	for _, r := range snap.RateLimits {
		out.RateLimits = append(out.RateLimits, rateJSON{ID: r.ID, Limit: r.Limit, PerMS: r.Per.Milliseconds(),
			Started: r.Started, Next: r.Next})
	}
	return out
}

func tasksToJSON(ts []sdk.TaskSummary) []taskJSON {
	out := make([]taskJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, taskJSON{
			Key: t.Key, KeyBase64: rawKey(t.Key), Task: t.Task, State: t.State, Attempt: t.Attempt, Deliveries: t.Deliveries,
			Due: t.Due, LeaseUntil: t.LeaseUntil, Started: t.Started, Created: t.Created,
			Worker: t.Worker, WaitingFor: t.WaitingFor, Error: t.Error,
		})
	}
	return out
}

func workersToJSON(snap sdk.Snapshot) []workerJSON {
	running := runningByWorker(snap)
	out := make([]workerJSON, 0, len(snap.Workers))
	for _, w := range snap.Workers {
		out = append(out, workerJSON{
			ID: w.ID, Host: w.Host, PID: w.PID, Concurrency: w.Concurrency, Running: running[w.ID],
			RunningPartial: len(snap.Running) < snap.TotalRunning,
			Tasks:          nonNil(w.Tasks), Started: w.Started, LiveUntil: w.LiveUntil,
		})
	}
	return out
}

// runningByWorker counts the listed running tasks of each worker.
func runningByWorker(snap sdk.Snapshot) map[string]int {
	n := map[string]int{}
	for _, t := range snap.Running {
		n[t.Worker]++
	}
	return n
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rawKey is a key's bytes in base 64 when the key is not UTF-8, for the
// key_base64 that --json writes beside it: JSON text cannot hold such bytes
// (each is written as U+FFFD), so two such keys would read alike, and a
// script could not act on either. Empty, and left out, for any other key
// (every key docket makes is UTF-8).
func rawKey(key string) string {
	if utf8.ValidString(key) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(key))
}

// rawKeys is every key of a list in base 64, in its order, when any of them
// is not UTF-8 (see rawKey), and nil, left out, when all are: the twin of a
// limit's in_use or waiting list, from which a script reads the keys
// exactly.
func rawKeys(keys []string) []string {
	if !slices.ContainsFunc(keys, func(k string) bool { return !utf8.ValidString(k) }) {
		return nil
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = base64.StdEncoding.EncodeToString([]byte(k))
	}
	return out
}

// writeJSON writes v as indented JSON, with the characters that hide or
// reorder text (U+202E and the like) written as JSON escapes, which mean
// the same: the plain output escapes them too.
func writeJSON(w io.Writer, v any) error {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<b>" as written: this is not HTML, and the plain output writes it so
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := io.WriteString(w, text.PrintableJSON(b.String()))
	return err
}
