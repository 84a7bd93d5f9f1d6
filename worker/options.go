package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	DefaultConcurrency     = 10
	DefaultLease           = 30 * time.Second
	DefaultDrainTimeout    = 30 * time.Second
	DefaultPollInterval    = 2 * time.Second
	DefaultMaxDeliveries   = 5
	DefaultUnknownTaskWait = 24 * time.Hour
)

// Bounds of Options, checked by Validate.
const (
	// DefaultClaimAhead is ClaimAhead's default.
	DefaultClaimAhead = 256
	// MaxClaimAhead bounds ClaimAhead.
	MaxClaimAhead = 10_000
	// NoClaimAhead, as ClaimAhead, turns claiming ahead off.
	NoClaimAhead = -1

	// MaxConcurrency bounds Concurrency: each slot costs memory up front.
	MaxConcurrency = 100_000
	// MinLease bounds Lease from below: leases are renewed every Lease/3,
	// and a renewal is a round trip to Redis that must fit well within it.
	MinLease = time.Second
	// MinPollInterval bounds PollInterval from below: the poll only guards
	// against a lost wake-up, and a shorter one only loads Redis.
	MinPollInterval = 10 * time.Millisecond
)

// Options configure a Worker. The zero value of every field means its
// default; a value out of range is an error that Run returns (see
// Validate).
type Options struct {
	// Concurrency is the most tasks the worker runs at once: 1 to
	// MaxConcurrency. Defaults to 10.
	Concurrency int

	// Lease is how long a claimed task stays this worker's without renewal:
	// MinLease or more. The worker renews its leases (and its heartbeat)
	// every Lease/3; when it dies, its tasks go to other workers once the
	// lease lapses. Defaults to 30s.
	Lease time.Duration

	// DrainTimeout bounds shutdown: once Run's context ends, running tasks
	// have this long to finish before their contexts are cancelled (with
	// sdk.ErrShutdown) and they are handed back to the queue. Closing the
	// docket (Docket.Close) cuts it short, during a drain too. Handing
	// them back takes a round trip, which DrainTimeout does not bound (see
	// the README's Workers). Positive. Defaults to 30s.
	DrainTimeout time.Duration

	// PollInterval is the longest the worker goes without asking Redis for
	// due tasks: MinPollInterval or more. Producers wake idle workers at
	// once through pub/sub; the poll only guards against a lost wake-up.
	// Defaults to 2s.
	PollInterval time.Duration

	// MaxDeliveries is how many times one attempt of a task may be handed to
	// a worker: 1 or more. A task whose worker dies (or stops renewing its
	// lease) that many times is a poison task: it is dead-lettered, ending
	// failed with the reason in its state and listed in
	// Snapshot.DeadLetters, instead of being redelivered forever. Defaults
	// to 5.
	MaxDeliveries int

	// UnknownTaskWait is how long a task whose name no worker has
	// registered waits for one (producers deployed before the workers that
	// run their tasks, or a fleet running two versions): handed back with a
	// backoff of up to a minute, it is due at once when a worker that has
	// it starts (a worker without it, still running, that takes it first
	// hands it back after 100ms), and fails with reason unknown_task once
	// it has waited this long. Positive. Defaults to 24h. With a Fallback,
	// such tasks go to the Fallback instead.
	UnknownTaskWait time.Duration

	// ClaimAhead bounds how many tasks the worker claims beyond its free
	// slots: 1 to MaxClaimAhead, or NoClaimAhead to claim only for free
	// slots. Defaults to DefaultClaimAhead (256).
	//
	// When tasks are short, a slot frees many times during one round trip
	// to Redis, and a worker that claimed only for its free slots would
	// spend most of its time waiting for claims. So it claims about as
	// many tasks ahead as its slots start during eight round trips (two
	// claims are in flight at once, and a reply also waits for the
	// worker's CPU; none when tasks take longer than eight round trips per
	// slot, none before 64 attempts have shown their pace,
	// none for slots whose attempts have run over 8 times that pace), up
	// to this bound. A task claimed
	// ahead is the worker's as a running task is: Info shows it running
	// on this worker from its claim, its lease is held and renewed, and
	// it holds its concurrency limits. Its Timeout counts from its start.
	// A task with a rate limit or a cooldown, whose windows count its
	// claim, is never claimed ahead: only for a free slot. It starts as soon as a slot frees, in
	// the order claimed; one that waits longer than Lease/10 (it was
	// claimed while tasks were short, and the tasks ahead of it turned out
	// long) is handed back, for any worker, as are those in line when the
	// worker stops, and one cancelled leaves the line at once. A perpetual
	// task's next run counts from its run's claim, a moment before its
	// start.
	ClaimAhead int

	// Fallback runs messages that name a task this worker does not have, or
	// whose input does not decode into the task's type. Its error fails the
	// execution; nil completes it. Without a Fallback, a task this worker
	// does not have waits for one that has it (UnknownTaskWait), and input
	// that does not decode fails with the reason recorded.
	Fallback func(ctx context.Context, task string, input json.RawMessage) error

	// Middleware wraps every attempt the worker runs, the first given
	// outermost: for logging fields, authentication contexts, per-tenant
	// setup, measurements (see Middleware). None by default; a nil element
	// is ErrBadOption.
	Middleware []Middleware

	// Name labels the worker in its ID and in Snapshot. Defaults to the host
	// name.
	Name string

	// Logger overrides the docket's logger (sdk.WithLogger); nil, the
	// default, logs with the docket's.
	Logger *slog.Logger
}

// ErrBadOption reports an Options field out of range; the error names the
// field, its value, and what it accepts.
var ErrBadOption = errors.New("docket: bad worker option")

// Validate reports the first field out of range, as an error that
// errors.Is ErrBadOption. Run calls it; call it to check a configuration
// before starting.
func (o Options) Validate() error {
	bad := func(field string, value any, want string) error {
		return fmt.Errorf("%w: %s is %v; want %s", ErrBadOption, field, value, want)
	}
	switch {
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return bad("Concurrency", o.Concurrency, fmt.Sprintf("1 to %d, or 0 for the default (%d)", MaxConcurrency, DefaultConcurrency))
	case o.Lease < 0 || o.Lease > 0 && o.Lease < MinLease:
		return bad("Lease", o.Lease, fmt.Sprintf("%v or more, or 0 for the default (%v)", MinLease, DefaultLease))
	case o.DrainTimeout < 0:
		return bad("DrainTimeout", o.DrainTimeout, fmt.Sprintf("a positive duration, or 0 for the default (%v)", DefaultDrainTimeout))
	case o.PollInterval < 0 || o.PollInterval > 0 && o.PollInterval < MinPollInterval:
		return bad("PollInterval", o.PollInterval, fmt.Sprintf("%v or more, or 0 for the default (%v)", MinPollInterval, DefaultPollInterval))
	case o.MaxDeliveries < 0:
		return bad("MaxDeliveries", o.MaxDeliveries, fmt.Sprintf("1 or more, or 0 for the default (%d)", DefaultMaxDeliveries))
	case o.ClaimAhead < NoClaimAhead || o.ClaimAhead > MaxClaimAhead:
		return bad("ClaimAhead", o.ClaimAhead, fmt.Sprintf("1 to %d, NoClaimAhead (%d), or 0 for the default (%d)", MaxClaimAhead, NoClaimAhead, DefaultClaimAhead))
	case o.UnknownTaskWait < 0:
		return bad("UnknownTaskWait", o.UnknownTaskWait, fmt.Sprintf("a positive duration, or 0 for the default (%v)", DefaultUnknownTaskWait))
	}
	for i, m := range o.Middleware {
		if m == nil {
			return bad(fmt.Sprintf("Middleware[%d]", i), "nil", "a function")
		}
	}
	return nil
}

// withDefaults replaces zero fields by their defaults.
func (o Options) withDefaults() Options {
	if o.ClaimAhead == 0 {
		o.ClaimAhead = DefaultClaimAhead
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxDeliveries == 0 {
		o.MaxDeliveries = DefaultMaxDeliveries
	}
	if o.UnknownTaskWait == 0 {
		o.UnknownTaskWait = DefaultUnknownTaskWait
	}
	return o
}
