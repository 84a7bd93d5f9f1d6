package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

type tenantKey struct{}

// Middleware wraps every attempt, the first given outermost: it sees the
// task, key, attempt and input, may add to the context, and its error (or
// its panic) is the attempt's.
func TestMiddleware(t *testing.T) {
	// trail is appended to by attempts that may run at once.
	var mu sync.Mutex
	var trail []string
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		trail = append(trail, fmt.Sprintf(format, args...))
	}
	taken := func() []string { // the trail so far, emptied
		mu.Lock()
		defer mu.Unlock()
		got := trail
		trail = nil
		return got
	}
	logging := func(ctx context.Context, a worker.AttemptInfo, next func(context.Context) error) error {
		note("log> %s %s #%d %s", a.Task, a.Key, a.Attempt, a.Input)
		err := next(ctx)
		note("log< %v", err)
		return err
	}
	tenant := func(ctx context.Context, a worker.AttemptInfo, next func(context.Context) error) error {
		var in Order
		if err := json.Unmarshal(a.Input, &in); err != nil {
			return err
		}
		switch {
		case in.ID == 666:
			panic("forbidden tenant")
		case in.ID == 0:
			return sdk.Permanent(errors.New("no tenant")) // refused: the task does not run
		}
		return next(context.WithValue(ctx, tenantKey{}, in.ID))
	}
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		work := sdk.NewTask("work", func(ctx context.Context, in Order) error {
			note("task tenant=%v", ctx.Value(tenantKey{}))
			if sdk.Current(ctx).Attempt() == 1 {
				return errors.New("flaky")
			}
			return nil
		}, policy.Retry(2, time.Second))
		env.Register(work)
		d := env.Docket()
		ok, err := work.Add(t.Context(), d, Order{ID: 7}, sdk.Key("ok"))
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.Equal(t, []string{
			`log> work ok #1 {"id":7,"email":""}`, "task tenant=7", "log< flaky",
			`log> work ok #2 {"id":7,"email":""}`, "task tenant=7", "log< <nil>",
		}, taken())
		info, err := ok.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)

		refused, err := work.Add(t.Context(), d, Order{ID: 0})
		require.NoError(t, err)
		panicked, err := work.Add(t.Context(), d, Order{ID: 666})
		require.NoError(t, err)
		env.RunUntilFinished()
		assert.NotContains(t, fmt.Sprint(taken()), "task tenant", "refused before the task ran")
		info, err = refused.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.ReasonPermanent, info.Reason)
		info, err = panicked.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, sdk.ReasonPanic, info.Reason)
		assert.Contains(t, info.Error, "forbidden tenant")
	}, testsuite.WithWorkerOptions(worker.Options{Middleware: []worker.Middleware{logging, tenant}}))
}

// A nil middleware is refused by Validate, and so by Run.
func TestNilMiddleware(t *testing.T) {
	err := worker.Options{Middleware: []worker.Middleware{nil}}.Validate()
	assert.ErrorIs(t, err, worker.ErrBadOption)
	assert.ErrorContains(t, err, "Middleware[0] is nil")
}

// On every backend, middleware wraps the attempts of real workers, and
// Spread spreads an AddMany by the Redis clock.
func TestMiddlewareAndSpreadOnEveryBackend(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		seen := make(chan string, 10)
		work := sdk.NewTask("work", func(ctx context.Context, in Order) error {
			seen <- fmt.Sprint(ctx.Value(tenantKey{}))
			return nil
		})
		require.NoError(t, d.Register(work))
		mw := func(ctx context.Context, a worker.AttemptInfo, next func(context.Context) error) error {
			return next(context.WithValue(ctx, tenantKey{}, a.Key))
		}
		runWorker(t, worker.New(d, worker.Options{Middleware: []worker.Middleware{mw}}))
		exs, err := work.AddMany(context.Background(), d, make([]Order, 4), sdk.Spread(200*time.Millisecond),
			sdk.Keys(func(i int) string { return fmt.Sprint("k", i) }))
		require.NoError(t, err)
		for i, ex := range exs {
			assert.Equal(t, time.Duration(i)*50*time.Millisecond, ex.Due().Sub(exs[0].Due()), "task %d", i)
		}
		assert.ElementsMatch(t, []string{"k0", "k1", "k2", "k3"}, waitFor(t, seen, 4))
	})
}
