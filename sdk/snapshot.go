package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// Snapshot is what a docket holds at one instant of the Redis clock.
type Snapshot struct {
	Now       time.Time     // the Redis clock's reading when the snapshot was taken
	Running   []TaskSummary // by lease expiry
	Queued    []TaskSummary // due, waiting for a worker, in due order
	Scheduled []TaskSummary // not yet due, in due order
	// Totals count every task, even beyond the listing limit.
	TotalRunning int
	// TotalWaiting counts the queued (waiting for a slot included) and the
	// scheduled, workflows parked until an instant (a sleep, a signal's
	// timeout) included: they are in the schedule.
	TotalWaiting int
	// Parked are the workflows parked until children, a signal or a
	// sleep's end wakes them (see package workflow); Due is when a timer
	// or a deadline wakes one, zero for none. TotalParked counts those
	// without one (those with one count in TotalWaiting).
	Parked      []TaskSummary
	TotalParked int
	// Strikes are the strikes in effect (see Docket.Strike), Held the
	// tasks they hold (up to the listing limit), and TotalHeld how many
	// they hold.
	Strikes   []Strike
	Held      []TaskSummary
	TotalHeld int
	// Workers are the live workers, as their last heartbeat described them.
	Workers []WorkerInfo
	// Limits are the concurrency limits in use (see "How it is stored" in
	// the README for their ids).
	Limits []LimitInfo
	// RateLimits are the rate limits whose window holds a start (ids as
	// for Limits), at most as many as the snapshot's Limit, those whose
	// window empties last first; TotalRateLimits counts them all.
	RateLimits      []RateLimitInfo
	TotalRateLimits int
	// DeadLetters are the tasks dead-lettered within the retention, latest
	// first: their workers died while running them too many times (see
	// worker.Options.MaxDeliveries). Error says so.
	DeadLetters []TaskSummary
}

// RateLimitInfo is a rate limit whose window holds a start: how many of
// its Limit starts per Per the window holds now, under the rule that
// counted the latest (see policy.RateLimit).
type RateLimitInfo struct {
	ID      string        // the limit's id, as a concurrency limit's: t:<task>:<field>:<value> or s:<scope>:<value>
	Limit   int           // the most starts its window holds
	Per     time.Duration // the window
	Started int           // the starts within the window now
	// Next is when a full window lets the next start: when as many of its
	// starts have left it as it holds beyond Limit, and one more. Zero
	// while the window has room.
	Next time.Time
}

// Full reports whether the window holds as many starts as its limit: the
// next task it limits starts at Next (or, with DropOverLimit, is dropped
// until then).
func (r RateLimitInfo) Full() bool { return r.Started >= r.Limit }

// LimitInfo is a concurrency limit in use: the keys of the tasks holding
// its slots (running, or just handed a freed slot) and of those waiting for
// one, first in line first. InUse and Waiting list at most as many keys as
// the snapshot's Limit; the totals count them all.
type LimitInfo struct {
	ID           string   // the limit's id (see "How it is stored" in the README)
	InUse        []string // keys of the tasks holding its slots
	Waiting      []string // keys of the tasks waiting for a slot, first in line first
	TotalInUse   int      // how many hold a slot
	TotalWaiting int      // how many wait for one
}

// TaskSummary is one live task in a Snapshot.
type TaskSummary struct {
	Key        string    // the execution's key
	Task       string    // the name of its task
	State      State     // its state (as Info's)
	Due        time.Time // for queued and scheduled tasks
	LeaseUntil time.Time // for running tasks
	Attempt    int       // the current attempt, 1-based
	Deliveries int       // times the current attempt was handed to a worker
	Started    time.Time // when a worker claimed the current attempt; zero before
	Worker     string    // the worker of the current attempt
	Created    time.Time // when the execution was added
	WaitingFor string    // the concurrency limit a queued task waits for
	Error      string    // why a dead-lettered task failed
}

// WorkerInfo describes a live worker. Workers publish it with each
// heartbeat.
type WorkerInfo struct {
	ID          string    `json:"id"`          // the worker's id, unique to its run
	Host        string    `json:"host"`        // the host name of its process
	PID         int       `json:"pid"`         // the process id
	Tasks       []string  `json:"tasks"`       // the names of the tasks it has registered
	Concurrency int       `json:"concurrency"` // how many tasks it runs at once at most
	Started     time.Time `json:"started"`     // when it started
	// LiveUntil is when the worker stops counting as live unless it sends
	// another heartbeat; a worker beats several times within its lease.
	LiveUntil time.Time `json:"-"`
}

// SnapshotOption adjusts a Snapshot. A nil SnapshotOption is skipped.
type SnapshotOption func(*snapshotOptions)

type snapshotOptions struct{ limit int }

// Limit lists at most n tasks of each kind: running; queued and scheduled
// (at most n of each place they wait in: the schedule, the tasks added to
// run at once, the lines behind drains; queued first, in due order);
// parked; held; waiting for a slot;
// dead-lettered; and of each concurrency limit at most n tasks holding its slots and the
// first n waiting for one; with 0, Snapshot lists none and only counts them.
// Defaults to 1000. The work Redis does grows with n and the number of
// limits in use, not with the number of tasks. An n above MaxSnapshotLimit
// counts as MaxSnapshotLimit, more tasks than a Redis holds: Limit(math.MaxInt)
// lists them all. A negative n is an error matching ErrBadInput.
func Limit(n int) SnapshotOption { return func(o *snapshotOptions) { o.limit = n } }

// MaxSnapshotLimit is the largest Limit a Snapshot uses. Redis's scripts
// count in floating point: a count of 1e17 would reach Redis as "1e+17",
// which is not a number of tasks to Redis.
const MaxSnapshotLimit = math.MaxInt32

// Snapshot lists the running, queued and scheduled tasks and the live
// workers, in one atomic read.
func (d *Docket) Snapshot(ctx context.Context, opts ...SnapshotOption) (Snapshot, error) {
	if err := usable(ctx, d); err != nil {
		return Snapshot{}, err
	}
	o := snapshotOptions{limit: 1000}
	for _, opt := range opts {
		if opt != nil { // as for AddOption: a nil option is no choice
			opt(&o)
		}
	}
	if o.limit < 0 {
		return Snapshot{}, fmt.Errorf("%w: sdk.Limit(%d): a snapshot lists 0 tasks or more", ErrBadInput, o.limit)
	}
	raw, err := d.core.Store.Snapshot(ctx, min(o.limit, MaxSnapshotLimit))
	if err != nil {
		return Snapshot{}, err
	}
	strikes, err := d.Strikes(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	s := Snapshot{Now: raw.Now, TotalRunning: raw.TotalRunning, TotalWaiting: raw.TotalScheduled + raw.TotalWaiting,
		TotalParked: raw.TotalParked, TotalHeld: raw.TotalHeld, Strikes: strikes}
	for _, l := range raw.Limits {
		s.Limits = append(s.Limits, LimitInfo{ID: l.ID, InUse: l.Holders, Waiting: l.Waiters,
			TotalInUse: l.TotalHolders, TotalWaiting: l.TotalWaiters})
	}
	for _, r := range raw.Rates {
		s.RateLimits = append(s.RateLimits, RateLimitInfo{ID: r.ID, Limit: r.Limit, Per: r.Per, Started: r.Started, Next: r.Next})
	}
	s.TotalRateLimits = raw.TotalRates
	for _, w := range raw.Workers {
		var info WorkerInfo
		if json.Unmarshal(w.Description, &info) != nil {
			info = WorkerInfo{}
		}
		info.ID, info.LiveUntil = w.ID, w.LiveUntil
		s.Workers = append(s.Workers, info)
	}
	for _, t := range raw.Tasks {
		sum := TaskSummary{
			Key: t.Key, Task: t.Name, Due: t.Due, LeaseUntil: t.LeaseUntil,
			Attempt: t.Attempt, Deliveries: t.Deliveries, Started: t.Started, Worker: t.Worker, Created: t.Created,
			WaitingFor: t.WaitingFor, Error: t.Error,
		}
		switch {
		case t.State == store.StateFailed:
			sum.State = StateFailed
			s.DeadLetters = append(s.DeadLetters, sum)
		case t.State == store.StateRunning:
			sum.State = StateRunning
			s.Running = append(s.Running, sum)
		case t.State == store.StateParked:
			sum.State = StateParked
			s.Parked = append(s.Parked, sum)
		case t.State == store.StateStruck:
			sum.State = StateStruck
			s.Held = append(s.Held, sum)
		case t.State == store.StateWaiting || !t.Due.After(raw.Now):
			sum.State = StateQueued
			s.Queued = append(s.Queued, sum)
		default:
			sum.State = StateScheduled
			s.Scheduled = append(s.Scheduled, sum)
		}
	}
	// Listed from several sets (the schedule, the lines behind a drain and
	// behind each limit): in due order again, ties as listed.
	for _, list := range [][]TaskSummary{s.Queued, s.Scheduled} {
		slices.SortStableFunc(list, func(a, b TaskSummary) int { return a.Due.Compare(b.Due) })
	}
	return s, nil
}
