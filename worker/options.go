package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	DefaultConcurrency   = 10
	DefaultLease         = 30 * time.Second
	DefaultDrainTimeout  = 30 * time.Second
	DefaultPollInterval  = 2 * time.Second
	DefaultMaxDeliveries = 5
)

// Options configure a Worker. The zero value of every field means its
// default.
type Options struct {
	// Concurrency is the most tasks the worker runs at once. Defaults to 10.
	Concurrency int

	// Lease is how long a claimed task stays this worker's without renewal.
	// The worker renews its leases (and its heartbeat) every Lease/3; when it
	// dies, its tasks go to other workers once the lease lapses. Defaults to
	// 30s.
	Lease time.Duration

	// DrainTimeout bounds shutdown: once Run's context ends, running tasks
	// have this long to finish before their contexts are cancelled (with
	// sdk.ErrShutdown) and they are handed back to the queue. Defaults to
	// 30s.
	DrainTimeout time.Duration

	// PollInterval is the longest the worker goes without asking Redis for
	// due tasks. Producers wake idle workers at once through pub/sub; the
	// poll only guards against a lost wake-up. Defaults to 2s.
	PollInterval time.Duration

	// MaxDeliveries is how many times one attempt of a task may be handed to
	// a worker. A task whose worker dies (or stops renewing its lease) that
	// many times is a poison task: it is dead-lettered, ending failed with
	// the reason in its state and listed in Snapshot.DeadLetters, instead
	// of being redelivered forever. Defaults to 5.
	MaxDeliveries int

	// Fallback runs messages that name a task this worker does not have, or
	// whose input does not decode into the task's type. Its error fails the
	// execution; nil completes it. Without a Fallback such messages fail
	// with the reason recorded.
	Fallback func(ctx context.Context, task string, input json.RawMessage) error

	// Name labels the worker in its ID and in Snapshot. Defaults to the host
	// name.
	Name string

	// Logger overrides the docket's logger.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = DefaultMaxDeliveries
	}
	return o
}
