package worker_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// The test binary doubles as a worker process: with childEnv set, TestMain
// runs childWorker instead of the tests.
const childEnv = "DOCKET_TEST_CHILD_WORKER"

// crashLease is the lease of the crash test's workers: short, so a dead
// worker's task is redelivered soon.
const crashLease = time.Second

var hang = sdk.NewTask("hang", hangForever)

// beat is perpetual: the crash must leave its chain, once.
var beat = sdk.NewTask("beat", hangForever, policy.Perpetual(time.Hour))

func hangForever(ctx context.Context, in Order) error {
	p := sdk.Current(ctx).Progress()
	if err := p.SetTotal(ctx, 10); err != nil {
		return err
	}
	if err := p.Increment(ctx, 4); err != nil {
		return err
	}
	fmt.Printf("started %s\n", sdk.Current(ctx).Key())
	<-ctx.Done()
	return ctx.Err()
}

// childWorker runs a worker whose task announces itself and hangs, until
// the parent kills the process.
func childWorker() int {
	d, err := sdk.Open(context.Background(), os.Getenv("DOCKET_URL"), sdk.WithName(os.Getenv("DOCKET_NAME")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := d.Register(hang, beat); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_ = worker.New(d, worker.Options{Lease: crashLease, Name: "child"}).Run(context.Background())
	return 0
}

// killChildMidTask starts a worker process, waits until it runs the task
// with key, and SIGKILLs it.
func killChildMidTask(t *testing.T, url string, d *sdk.Docket, key string) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"=1", "DOCKET_URL="+url, "DOCKET_NAME="+d.Name())
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "started "+key, strings.TrimSpace(line))
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
}

// A worker SIGKILLed mid-task: once its lease lapses, another worker runs
// the task again, as the same attempt, whose progress counts from nothing
// (the new run redoes the work).
func TestKilledWorkersTaskIsRedelivered(t *testing.T) {
	url := redistest.Redis(t).URL
	d := openDocket(t, url)
	ex, err := hang.Add(context.Background(), d, Order{ID: 1}, sdk.Key("survivor"))
	require.NoError(t, err)
	killChildMidTask(t, url, d, "survivor")
	info, err := ex.Info(context.Background())
	require.NoError(t, err)
	require.Equal(t, sdk.StateRunning, info.State, "as far as Redis knows")
	childWorkerID := info.Worker

	attempts := make(chan int, 1)
	done := make(chan int64, 1)
	rescue := sdk.NewTask("hang", func(ctx context.Context, in Order) error {
		attempts <- sdk.Current(ctx).Attempt()
		p := sdk.Current(ctx).Progress()
		if err := p.Increment(ctx); err != nil {
			return err
		}
		done <- p.Current().Current
		return nil
	})
	require.NoError(t, d.Register(rescue))
	w := worker.New(d, worker.Options{Lease: crashLease, Name: "rescuer"})
	runWorker(t, w)

	assert.Equal(t, []int{1}, waitFor(t, attempts, 1), "a redelivery is the same attempt")
	assert.Equal(t, []int64{1}, waitFor(t, done, 1), "work done by the new run alone")
	require.Eventually(t, func() bool {
		info, err = ex.Info(context.Background())
		return err == nil && info.State == sdk.StateCompleted
	}, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2, info.Deliveries)
	assert.Equal(t, w.ID(), info.Worker)

	// The dead worker drops out of the live workers once its TTL passes.
	require.Eventually(t, func() bool {
		snap, err := d.Snapshot(context.Background())
		if err != nil {
			return false
		}
		for _, wi := range snap.Workers {
			if wi.ID == childWorkerID {
				return false
			}
		}
		return len(snap.Workers) == 1
	}, 10*time.Second, 10*time.Millisecond)
}

// A worker SIGKILLed in the middle of a perpetual run: the run is
// redelivered, and the chain goes on, exactly once.
func TestKilledWorkersPerpetualChainGoesOn(t *testing.T) {
	url := redistest.Redis(t).URL
	d := openDocket(t, url)
	_, err := beat.Add(context.Background(), d, Order{ID: 1}, sdk.Key("beat"))
	require.NoError(t, err)
	killChildMidTask(t, url, d, "beat")

	ran := make(chan time.Time, 10)
	rescue := sdk.NewTask("beat", func(ctx context.Context, in Order) error {
		ran <- time.Now()
		return nil
	}, policy.Perpetual(time.Hour))
	require.NoError(t, d.Register(rescue))
	runWorker(t, worker.New(d, worker.Options{Lease: crashLease, Name: "rescuer"}))
	waitFor(t, ran, 1)

	var snap sdk.Snapshot
	require.Eventually(t, func() bool {
		snap, err = d.Snapshot(context.Background())
		return err == nil && len(snap.Running) == 0
	}, 10*time.Second, 5*time.Millisecond)
	require.Len(t, snap.Scheduled, 1, "exactly one chain")
	info, err := d.Execution("beat").Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, info.Started.Add(time.Hour), snap.Scheduled[0].Due, "the next run, an hour after the redelivered one")
	assert.Equal(t, sdk.StateScheduled, info.State)
	assert.Equal(t, 1, info.Attempt)
	select {
	case <-ran:
		t.Fatal("a second run")
	default:
	}
}
