package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/telemetry"
)

// handle is core.Handle under a name of this package, so that embedding it
// adds no exported field to Docket.
type handle = core.Handle

// Defaults of a Docket's options.
const (
	DefaultName         = "docket"
	DefaultRetention    = 15 * time.Minute
	DefaultMaxInputSize = 1 << 20
)

// Docket is a named set of tasks in one Redis: the producer's handle, and
// what a worker executes from. It is safe for concurrent use.
type Docket struct {
	// handle lets the worker, the testsuite and the dashboard reach the
	// core (core.Unwrap) without a public method; see core.Handle.
	handle
	core      *core.Docket
	metrics   *telemetry.Metrics
	stopGauge func()
	closeOnce sync.Once
	closeFn   func() error
	closeErr  error
}

// Option configures a Docket. A nil Option is skipped.
type Option func(*options)

type options struct {
	name         string
	logger       *slog.Logger
	retention    time.Duration
	maxInputSize int
	// completedRetention is nil unless set: then it follows retention.
	completedRetention *time.Duration
}

// WithName names the docket. Dockets with different names share a Redis
// without seeing each other's tasks. Defaults to "docket". A name is at
// most 200 bytes of UTF-8, not empty, without braces, spaces or control
// characters (Unicode's, format characters such as U+202E included; Open
// refuses another with ErrBadName).
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithLogger sets the logger of the docket and its workers. Defaults to
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRetention sets how long finished executions (completed, failed,
// cancelled) stay inspectable. Defaults to 15 minutes; it must be positive
// (Open refuses zero or less).
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// WithCompletedRetention sets how long completed executions stay
// inspectable, apart from failed and cancelled ones (WithRetention). Zero
// deletes a completed execution's record as soon as it completes, as asynq
// does by default and BullMQ with removeOnComplete: it saves Redis memory
// and work on a busy docket. Then Info, Progress and Watch return
// ErrNotFound for a completed key, and the key can be added again at once.
// (A task that someone watches when it completes leaves, for a minute, a
// tombstone record instead: Info reports it completed, with its name and
// attempt but no input, so that a watcher cut off at that moment still
// learns it completed; see Execution.Watch.) Defaults to the retention; a
// negative d is ErrBadOption.
func WithCompletedRetention(d time.Duration) Option {
	return func(o *options) { o.completedRetention = &d }
}

// WithMaxInputSize sets the largest JSON, in bytes, that the docket
// stores for one task: its input (Add refuses a larger one), a signal's
// payload (Signal refuses it), a result and a workflow step's output (the
// attempt fails: Step returns an error matching ErrInputTooLarge, and an
// attempt whose result is too large fails as any failure does, retried by
// its Retry policy, Info.Error saying why). Defaults to 1 MiB; it must be
// positive.
func WithMaxInputSize(n int) Option { return func(o *options) { o.maxInputSize = n } }

// Open connects to the Redis a URL names and returns the docket there:
//
//	redis://[user:password@]host:port/db       a Redis server
//	rediss://…                                 the same over TLS
//	unix://[user:password@]/path/to/socket?db=N a Redis server on a Unix socket
//	redis+cluster://host:port?addr=host2:port  a Redis Cluster (rediss+cluster:// for TLS)
//	redis+sentinel://host:port/db?master_name=NAME&addr=host2:port
//	                                           a master found through Sentinel (rediss+sentinel:// for TLS)
//	memory://[NAME]                            an embedded in-process Redis, shared by
//	                                           every Open of the same URL in the process
//	                                           while one of them is open (closing the
//	                                           last discards it, and its tasks)
//
// Open logs, once, through the docket's logger (WithLogger), when the
// server's settings lose tasks without a word: a maxmemory-policy other than
// noeviction (WARN), or no persistence at all (INFO). See "Running Redis for
// Docket" in the README.
//
// Query parameters are go-redis's (dial_timeout, pool_size, …). A malformed
// URL, an unknown scheme or a server that does not answer is an error that
// says which (ErrBadURL, ErrUnreachable). The URL the error shows has its
// password, and the value of any query parameter that is not a go-redis
// setting, replaced by xxxxx; a URL whose password holds a raw '/', '?' or
// '#' cannot be told apart from its host and query, and is shown as its
// scheme alone. Percent-encode such characters (and '%', and spaces) in a
// password.
func Open(ctx context.Context, url string, opts ...Option) (*Docket, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: the context.Context is nil (pass context.Background())", ErrNilArgument)
	}
	rdb, closeFn, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	d, err := newDocket(rdb, opts)
	if err != nil {
		_ = closeFn()
		return nil, err
	}
	d.closeFn = closeFn
	rdb.AddHook(closedHook{closed: d.core.Closed})
	d.warnOfLosses(ctx)
	return d, nil
}

// OpenClient returns the docket on a Redis client the caller already has.
// Close leaves the client open. A nil client is an error matching
// ErrNilArgument. A hook of the client's sees the docket's commands; a
// worker's claims reuse their argument lists, so a hook must not keep a
// command's Args past its call.
func OpenClient(rdb redis.UniversalClient, opts ...Option) (*Docket, error) {
	if isNil(rdb) {
		return nil, fmt.Errorf("%w: the Redis client is nil (pass one from redis.NewClient, or use sdk.Open)", ErrNilArgument)
	}
	return newDocket(rdb, opts)
}

// isNil reports a nil client, or a nil pointer (a *redis.Client) in the
// interface: either panics at the first command, in a worker's goroutine
// where nothing can recover it.
func isNil(rdb redis.UniversalClient) bool {
	if rdb == nil {
		return true
	}
	v := reflect.ValueOf(rdb)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

func newDocket(rdb redis.UniversalClient, opts []Option) (*Docket, error) {
	o := options{name: DefaultName, retention: DefaultRetention, maxInputSize: DefaultMaxInputSize}
	for _, opt := range opts {
		if opt != nil { // as for AddOption: a nil option is no choice
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.retention <= 0 {
		return nil, fmt.Errorf("%w: retention must be positive, got %v", ErrBadOption, o.retention)
	}
	completed := o.retention
	if o.completedRetention != nil {
		completed = *o.completedRetention
	}
	if completed < 0 {
		return nil, fmt.Errorf("%w: completed retention must not be negative, got %v", ErrBadOption, completed)
	}
	if o.maxInputSize <= 0 {
		return nil, fmt.Errorf("%w: the largest input must be positive, got %d bytes (see WithMaxInputSize)", ErrBadOption, o.maxInputSize)
	}
	s, err := store.New(rdb, o.name)
	if err != nil {
		// ErrBadName, an option Open cannot use: ErrBadOption too, as
		// every such option's error is.
		return nil, also(err, ErrBadOption)
	}
	c := &core.Docket{
		Name:               o.name,
		Store:              s,
		Logger:             o.logger.With("docket", o.name),
		Retention:          o.retention,
		CompletedRetention: completed,
		MaxInputSize:       o.maxInputSize,
	}
	d := &Docket{handle: core.NewHandle(c), core: c, metrics: telemetry.NewMetrics()}
	d.stopGauge = telemetry.DepthGauge(o.name, func(ctx context.Context) (map[string]int64, error) {
		c, err := s.Count(ctx)
		return map[string]int64{"queued": c.Queued, "scheduled": c.Scheduled, "running": c.Running, "waiting": c.Waiting,
			"parked": c.Parked, "struck": c.Struck}, err
	})
	return d, nil
}

// Name is the docket's name; empty for a nil Docket.
func (d *Docket) Name() string {
	if d == nil || d.core == nil {
		return ""
	}
	return d.core.Name
}

// Redis is the go-redis client the docket uses, for inspection; nil for a
// nil Docket.
func (d *Docket) Redis() redis.UniversalClient {
	if d == nil || d.core == nil {
		return nil
	}
	return d.core.Store.Client()
}

// Close stops the workers running on the docket, then releases the Redis
// connection (unless the docket was opened with OpenClient). The workers
// stop promptly: they claim nothing more, cancel their running tasks with
// ErrShutdown, hand them back to the queue for other workers, and their Run
// returns an error matching ErrClosed; Close returns once they have. A
// cancelled task may use the docket while it winds down (it may add a
// follow-up); calls made once the workers have stopped return ErrClosed. To let
// running tasks finish instead, end the workers' context first and wait for
// Run to return.
//
// Close of a nil Docket (what a failed Open returns) or of one not made by
// Open or OpenClient returns an error matching ErrNilArgument, so that a
// `defer d.Close()` placed before the error check does not panic.
func (d *Docket) Close() error {
	if d == nil || d.core == nil {
		return errNilDocket
	}
	d.closeOnce.Do(func() {
		d.core.StopRuns()
		d.stopGauge()
		if d.closeFn != nil {
			d.closeErr = d.closeFn()
		}
	})
	return d.closeErr
}
