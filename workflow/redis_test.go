package workflow_test

import (
	"context"
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
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// openDocket opens a docket with a fresh name (and opts), checks for leaked keys when
// the test ends (after its workers stopped), and closes it.
func openDocket(t *testing.T, url string, opts ...sdk.Option) *sdk.Docket {
	t.Helper()
	name := redistest.Name(t)
	d, err := sdk.Open(context.Background(), url, append([]sdk.Option{sdk.WithName(name)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, d.Redis(), name)
	return d
}

// runWorkers runs n workers on d until the test ends.
func runWorkers(t *testing.T, d *sdk.Docket, n int) {
	t.Helper()
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		w := worker.New(d, worker.Options{Name: fmt.Sprint("w", i), Concurrency: 20})
		go func() { done <- w.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			assert.NoError(t, <-done)
		})
	}
}

// The workflow primitives on every backend — memory, a real redis-server,
// and a Redis Cluster — with two workers: steps, a fan-out of 1,000
// children and its fan-in, a signal, a durable sleep, a child's failure;
// and nothing leaks.
func TestWorkflowOnEveryBackend(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		ctx := context.Background()
		square := sdk.NewResultTask("square", func(ctx context.Context, in N) (int, error) {
			if in.N < 0 {
				return 0, sdk.Permanent(errors.New("negative"))
			}
			return in.N * in.N, nil
		})
		type Report struct {
			Sum     int    `json:"sum"`
			Greeted string `json:"greeted"`
			Failed  string `json:"failed"`
		}
		report := sdk.NewResultTask("report", func(ctx context.Context, in N) (Report, error) {
			hello, err := workflow.Step(ctx, "hello", func(ctx context.Context) (string, error) { return "hello", nil })
			if err != nil {
				return Report{}, err
			}
			ins := make([]N, in.N)
			for i := range ins {
				ins[i] = N{N: i}
			}
			children, err := workflow.StartMany(ctx, square, "sq", ins)
			if err != nil {
				return Report{}, err
			}
			squares, err := workflow.All(ctx, children)
			if err != nil {
				return Report{}, err
			}
			sum := 0
			for _, s := range squares {
				sum += s
			}
			bad, err := workflow.Start(ctx, square, "bad", N{N: -1})
			if err != nil {
				return Report{}, err
			}
			_, failure := bad.Get(ctx)
			if errors.Is(failure, workflow.ErrParked) {
				return Report{}, failure
			}
			if err := workflow.Sleep(ctx, "nap", 50*time.Millisecond); err != nil {
				return Report{}, err
			}
			who, err := workflow.WaitSignal[string](ctx, "who", 0)
			if err != nil {
				return Report{}, err
			}
			return Report{Sum: sum, Greeted: hello + " " + who, Failed: failure.Error()}, nil
		})
		require.NoError(t, d.Register(square))
		require.NoError(t, d.Register(report))
		runWorkers(t, d, 2)
		ex, err := report.Add(ctx, d, N{N: 1000}, sdk.Key("report"))
		require.NoError(t, err)
		require.NoError(t, d.Signal(ctx, "report", "who", "ada"), "a signal waits for the workflow to reach its wait")

		got, err := report.Result(ctx, ex)
		require.NoError(t, err)
		want := 0
		for i := range 1000 {
			want += i * i
		}
		assert.Equal(t, Report{Sum: want, Greeted: "hello ada", Failed: `docket: child "report/bad" failed: negative`}, got)
		info, err := d.Execution("report/sq/999").Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.JSONEq(t, fmt.Sprint(999*999), string(info.Result))

		err = d.Signal(ctx, "report", "who", "bob")
		assert.ErrorIs(t, err, sdk.ErrNotFound, "a finished workflow takes no signal")
	})
}

// A primitive waiting for Redis returns as soon as the run's context ends,
// with its cause: go-redis finishes a call in progress whatever its
// context, so a Redis that stalls (or a worker cut off from it) would hold
// the run past its end — past its timeout, or past a lost lease while
// another worker runs the workflow. Found by the chaos driver: a step's
// save, sent into a frozen partition, returned 3s after the run's lease was
// lost and another worker had taken the workflow over. The save left
// behind may still apply (the run still held its task): the next run then
// finds the step done, as after a lost reply.
func TestPrimitivesReturnWhenTheRunEndsWithRedisStalled(t *testing.T) {
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	d := openDocket(t, srv.URL())
	ctx := context.Background()
	const stall = 3 * time.Second
	var mu sync.Mutex
	var charges int
	var returned []time.Duration // from each run's deadline to its return
	var errs []error
	wf := sdk.NewTask("wf", func(ctx context.Context, in N) error {
		_, err := workflow.Step(ctx, "charge", func(ctx context.Context) (int, error) {
			mu.Lock()
			charges++
			first := charges == 1
			mu.Unlock()
			if first {
				// Every client's commands wait, the step's save among them;
				// the run's timeout goes by meanwhile.
				if err := d.Redis().Do(ctx, "CLIENT", "PAUSE", stall.Milliseconds(), "ALL").Err(); err != nil {
					return 0, err
				}
			}
			return 1, nil
		})
		if deadline, ok := ctx.Deadline(); ok && ctx.Err() != nil {
			mu.Lock()
			returned = append(returned, time.Since(deadline))
			errs = append(errs, err)
			mu.Unlock()
		}
		return err
	}, policy.Timeout(500*time.Millisecond), policy.Retry(3, 10*time.Millisecond))
	require.NoError(t, d.Register(wf))
	runWorkers(t, d, 1)
	ex, err := wf.Add(ctx, d, N{}, sdk.Key("wf"))
	require.NoError(t, err)
	_, err = sdk.Result[struct{}](ctx, ex)
	require.NoError(t, err, "the retry completes it, after the stall")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, returned, 1, "the first run timed out in its step's save")
	assert.Less(t, returned[0], time.Second, "it returned when its timeout ended it, not when Redis answered (%v later)", stall)
	assert.ErrorIs(t, errs[0], sdk.ErrTimeout)
	assert.LessOrEqual(t, charges, 2, "the step ran again only if its save came too late")
}

// A workflow whose key is not UTF-8 (keys are bytes) starts children whose
// keys are not either, and waits for them: the park named them in JSON,
// which wrote each bad byte as U+FFFD, and awaited children that did not
// exist, for ever. Now it resumes as any other, on either backend, and so
// does one with two such children, whatever their order.
func TestAWorkflowWhoseKeyIsNotUTF8Resumes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		ctx := context.Background()
		double := sdk.NewResultTask("double", func(ctx context.Context, in N) (int, error) { return 2 * in.N, nil })
		flow := sdk.NewResultTask("odd", func(ctx context.Context, in N) (int, error) {
			children, err := workflow.StartMany(ctx, double, "c", []N{{N: in.N}, {N: in.N + 1}})
			if err != nil {
				return 0, err
			}
			got, err := workflow.All(ctx, children)
			if err != nil {
				return 0, err
			}
			return got[0] + got[1], nil
		})
		require.NoError(t, d.Register(double))
		require.NoError(t, d.Register(flow))
		runWorkers(t, d, 1)
		for i, key := range []string{"wf-\xff\xfe", "wf-plain", "wf-\x80"} {
			ex, err := flow.Add(ctx, d, N{N: i}, sdk.Key(key))
			require.NoError(t, err)
			wait, cancel := context.WithTimeout(ctx, 30*time.Second) // a failing test ends, rather than hangs
			got, err := flow.Result(wait, ex)
			cancel()
			require.NoError(t, err, "the workflow keyed %q resumes", key)
			assert.Equal(t, 2*i+2*(i+1), got)
		}
	})
}

// A signal whose name is not UTF-8 wakes the workflow that waits for it, on
// every backend (see TestASleepAndASignalWhoseNamesAreNotUTF8).
func TestASignalWhoseNameIsNotUTF8Wakes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		ctx := context.Background()
		wf := sdk.NewResultTask("waits", func(ctx context.Context, in N) (string, error) {
			return workflow.WaitSignal[string](ctx, "go\xfe", 0)
		})
		require.NoError(t, d.Register(wf))
		ex, err := wf.Add(ctx, d, N{})
		require.NoError(t, err)
		wait, cancel := context.WithTimeout(ctx, 30*time.Second) // a failing test ends, rather than hangs
		defer cancel()
		events, err := ex.Watch(wait)
		require.NoError(t, err)
		runWorkers(t, d, 1)
		for e := range events { // sent once it parked: a signal sent before its run is found without a park
			require.NoError(t, e.Err)
			if e.State == sdk.StateParked {
				break
			}
		}
		require.NoError(t, d.Signal(ctx, ex.Key(), "go\xfe", "yes"))
		got, err := wf.Result(wait, ex)
		require.NoError(t, err)
		assert.Equal(t, "yes", got)
	})
}
