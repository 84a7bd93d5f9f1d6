package sdk_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// A redis+sentinel:// URL finds the master through a real sentinel, and the
// whole scenario runs through it.
func TestSentinelURL(t *testing.T) {
	master := redistest.NewServer(t)
	sentinel := redistest.NewSentinel(t, master, "mymaster")
	d := openChecked(t, sentinel.URL())
	assert.Equal(t, master.Addr, serverAddr(t, d.Redis()), "the docket talks to the master the sentinel names")
	runScenario(t, d, nil)
}

// When the sentinel fails the master over to its replica, the docket follows:
// a running worker goes on, and a task added after the failover runs on the
// new master. (Sentinel promotes the replica it has, so the docket's state
// survives as far as replication had carried it.)
func TestSentinelFailover(t *testing.T) {
	ctx := context.Background()
	master := redistest.NewServer(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	replica := redistest.NewServer(t, "--replicaof", host, port)
	sentinel := redistest.NewSentinel(t, master, "mymaster")
	d := openChecked(t, sentinel.URL())

	ran := make(chan Job, 10)
	greet := sdk.NewTask("greet", func(ctx context.Context, in Job) error {
		ran <- in
		return nil
	})
	require.NoError(t, d.Register(greet))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	// The default PollInterval (2s) matters here: go-redis's failover client
	// moves its command connections to the new master on +switch-master, but
	// not its pub/sub connections, so the worker's subscription stays on the
	// old master, and misses the producers' wake-ups, until the sentinel
	// demotes the old master to a replica (which then relays what the new
	// master publishes). The poll picks the task up meanwhile.
	go func() { done <- worker.New(d, worker.Options{}).Run(runCtx) }()
	defer func() {
		stop()
		assert.NoError(t, <-done)
	}()

	before, err := greet.Add(ctx, d, Job{Step: 1})
	require.NoError(t, err)
	assert.Equal(t, sdk.StateCompleted, waitFinished(t, before).State)
	assert.Equal(t, Job{Step: 1}, <-ran)

	// The sentinel must know the replica, and the replica be in sync,
	// before it can promote it.
	sc := sentinel.Client(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		replicas, err := sc.Replicas(ctx, "mymaster").Result()
		require.NoError(t, err)
		if len(replicas) == 1 && replicas[0]["flags"] == "slave" && replicas[0]["master-link-status"] == "ok" {
			break
		}
		require.True(t, time.Now().Before(deadline), "the sentinel did not see the replica in sync within 30s: %v", replicas)
		time.Sleep(100 * time.Millisecond) // waiting for a real sentinel
	}
	require.NoError(t, sc.Failover(ctx, "mymaster").Err())
	require.Equal(t, replica.Addr, sentinel.WaitMaster(t, replica.Addr, 30*time.Second), "the sentinel promoted the replica")
	// go-redis's failover client follows when the sentinel announces the
	// switch (+switch-master). Until then it still writes to the old master,
	// and what it writes there is lost when the old master turns replica: the
	// usual window of Sentinel with asynchronous replication.
	deadline = time.Now().Add(30 * time.Second)
	for serverAddr(t, d.Redis()) != replica.Addr {
		require.True(t, time.Now().Before(deadline), "the client did not follow the failover within 30s")
		time.Sleep(50 * time.Millisecond) // waiting for the sentinel's announcement
	}

	after, err := greet.Add(ctx, d, Job{Step: 2})
	require.NoError(t, err)
	assert.Equal(t, sdk.StateCompleted, waitFinished(t, after).State)
	assert.Equal(t, Job{Step: 2}, <-ran)

	promoted := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer promoted.Close()
	role, err := promoted.Do(ctx, "ROLE").Slice()
	require.NoError(t, err)
	assert.Equal(t, "master", role[0])
}

// serverAddr asks the server a client talks to for its loopback address.
func serverAddr(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	info, err := rdb.Info(context.Background(), "server").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\n") {
		if port, ok := strings.CutPrefix(strings.TrimSpace(line), "tcp_port:"); ok {
			return net.JoinHostPort("127.0.0.1", port)
		}
	}
	t.Fatalf("no tcp_port in INFO server:\n%s", info)
	return ""
}
