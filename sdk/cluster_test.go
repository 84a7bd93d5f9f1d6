package sdk_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

// On a Redis Cluster (DOCKET_CLUSTER_URL; scripts/cluster.sh starts one),
// the scenario runs on a docket on each master at once, and each docket's
// keys all sit in one slot of one master.
func TestClusterDocketOnEachMaster(t *testing.T) {
	b := redistest.Cluster(t)
	ctx := context.Background()
	admin, err := sdk.Open(ctx, b.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() }) // after the parallel subtests
	cluster, ok := admin.Redis().(*redis.ClusterClient)
	require.True(t, ok, "a redis+cluster:// URL gives a *redis.ClusterClient, not %T", admin.Redis())

	shards, err := cluster.ClusterShards(ctx).Result()
	require.NoError(t, err)
	var masters []string // one address per shard
	slotMaster := map[int64]string{}
	for _, sh := range shards {
		for _, n := range sh.Nodes {
			if n.Role != "master" {
				continue
			}
			addr := net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
			masters = append(masters, addr)
			for _, r := range sh.Slots {
				for s := r.Start; s <= r.End; s++ {
					slotMaster[s] = addr
				}
			}
		}
	}
	slices.Sort(masters)
	master := func(slot int64) string {
		m, ok := slotMaster[slot]
		require.True(t, ok, "slot %d is not served", slot)
		return m
	}
	require.GreaterOrEqual(t, len(masters), 2, "a cluster of one master proves little")
	names := map[string]string{} // master address -> a docket name whose slot it serves
	base := redistest.Name(t)
	for i := 0; len(names) < len(masters) && i < 10000; i++ {
		name := fmt.Sprintf("%s-%d", base, i)
		slot, err := cluster.ClusterKeySlot(ctx, "docket:{"+name+"}:scheduled").Result()
		require.NoError(t, err)
		if m := master(slot); names[m] == "" {
			names[m] = name
		}
	}
	require.Len(t, names, len(masters))

	for _, m := range masters {
		name := names[m]
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			d := openNamed(t, b.URL, name)
			runScenario(t, d, nil)

			// The docket's keys, wherever they are: all on m, in one slot.
			var mu sync.Mutex
			where := map[string][]string{}
			require.NoError(t, cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
				keys, err := c.Keys(ctx, "docket:{"+name+"}:*").Result()
				mu.Lock()
				defer mu.Unlock()
				where[c.Options().Addr] = keys
				return err
			}))
			for addr, keys := range where {
				if addr != m {
					assert.Empty(t, keys, "keys of the docket on another master %s", addr)
				}
			}
			require.NotEmpty(t, where[m], "finished tasks are kept for the retention")
			want, err := cluster.ClusterKeySlot(ctx, "docket:{"+name+"}:").Result()
			require.NoError(t, err)
			for _, k := range where[m] {
				slot, err := cluster.ClusterKeySlot(ctx, k).Result()
				require.NoError(t, err)
				assert.Equal(t, want, slot, k)
			}
		})
	}
}
