package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// limitPerValue is the concurrency limit of the limited task, per value of
// its "value" field.
const limitPerValue = 2

type Limited struct {
	Value int `json:"value"`
	N     int `json:"n"`
}

// recordKey names the external record of the limited task: Redis keys
// outside the docket, kept by the tasks themselves.
func recordKey(name, what string) string { return "record:" + name + ":" + what }

// limitedTask enters and leaves an external record of what runs, and flags
// any moment a value has more runs than its limit.
func limitedTask(rec redis.UniversalClient, name string) *sdk.Task[Limited] {
	return sdk.NewTask("limited", func(ctx context.Context, in Limited) error {
		key := sdk.Current(ctx).Key()
		running := recordKey(name, "running:"+strconv.Itoa(in.Value))
		var card *redis.IntCmd
		if _, err := rec.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SAdd(ctx, running, key)
			card = p.SCard(ctx, running)
			return nil
		}); err != nil {
			return err
		}
		if card.Val() > limitPerValue {
			rec.RPush(ctx, recordKey(name, "violations"), fmt.Sprintf("value %d: %d running", in.Value, card.Val()))
		}
		time.Sleep(2 * time.Millisecond) // real work, in a real process
		rec.SRem(ctx, running, key)
		rec.SAdd(ctx, recordKey(name, "done"), key)
		return nil
	}, policy.Concurrency("value", limitPerValue))
}

// limitedWorker is a worker process for TestConcurrencyLimitAcrossProcesses.
func limitedWorker() int {
	url, name := os.Getenv("DOCKET_URL"), os.Getenv("DOCKET_NAME")
	d, err := sdk.Open(context.Background(), url, sdk.WithName(name))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := d.Register(limitedTask(d.Redis(), name)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_ = worker.New(d, worker.Options{Concurrency: 10, Lease: crashLease}).Run(context.Background())
	return 0
}

// A thousand tasks over ten values, three worker processes, one of them
// SIGKILLed midway: an external record shows no value ever had more runs at
// once than its limit, and every task ran.
func TestConcurrencyLimitAcrossProcesses(t *testing.T) {
	url := redistest.Redis(t).URL
	d := openDocket(t, url)
	rec := d.Redis()
	name := d.Name()
	t.Cleanup(func() {
		keys, _ := rec.Keys(context.Background(), "record:"+name+":*").Result()
		if len(keys) > 0 {
			rec.Del(context.Background(), keys...)
		}
	})

	ins := make([]Limited, 1000)
	for i := range ins {
		ins[i] = Limited{Value: i % 10, N: i}
	}
	_, err := limitedTask(rec, name).AddMany(context.Background(), d, ins)
	require.NoError(t, err)

	var children []*exec.Cmd
	for range 3 {
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), childEnv+"=limited", "DOCKET_URL="+url, "DOCKET_NAME="+name)
		child.Stderr = os.Stderr
		require.NoError(t, child.Start())
		children = append(children, child)
	}
	t.Cleanup(func() {
		for _, c := range children {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})

	done := func() int64 { return rec.SCard(context.Background(), recordKey(name, "done")).Val() }
	require.Eventually(t, func() bool { return done() >= 300 }, time.Minute, 5*time.Millisecond)
	require.NoError(t, children[0].Process.Kill()) // mid-flight: it holds slots
	_ = children[0].Wait()

	require.Eventually(t, func() bool { return done() == 1000 }, time.Minute, 10*time.Millisecond,
		"every task ran (the killed worker's after their lease lapsed)")
	require.Eventually(t, func() bool {
		snap, err := d.Snapshot(context.Background())
		return err == nil && snap.TotalRunning == 0 && snap.TotalWaiting == 0 && len(snap.Limits) == 0
	}, time.Minute, 10*time.Millisecond, "every slot freed")
	violations, err := rec.LRange(context.Background(), recordKey(name, "violations"), 0, -1).Result()
	require.NoError(t, err)
	assert.Empty(t, violations, "the limit was never exceeded")
}
