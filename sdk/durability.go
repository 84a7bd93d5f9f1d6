package sdk

import (
	"context"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// durabilityTimeout bounds how long Open waits for the server's settings:
// they only decide what Open logs, never whether it succeeds.
const durabilityTimeout = 5 * time.Second

// warnOfLosses logs what in the server's settings loses tasks without a
// word: an eviction policy that lets Redis delete keys when it runs out of
// memory (WARN: accepted tasks vanish, and nothing else says so), and no
// persistence at all (INFO: only a restart loses tasks, and some run Redis
// so on purpose). Open calls it, once per docket, rather than the worker:
// producers lose tasks to eviction whether a worker runs or not, and the
// docket command, which operators run, opens a docket too. Settings it
// cannot read (CONFIG and INFO refused) leave it silent but for a DEBUG
// line: a restricted user is no fault.
func (d *Docket) warnOfLosses(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, durabilityTimeout)
	defer cancel()
	log := d.core.Logger
	dur, err := d.core.Store.Durability(ctx)
	if err != nil {
		log.Debug("cannot read the Redis server's eviction and persistence settings", "err", err)
		return
	}
	if p := dur.EvictionPolicy; p != "" && p != "noeviction" {
		log.Warn("Redis may evict this docket's tasks: its maxmemory-policy is "+p+
			", so when it is full it deletes keys, tasks among them, and nothing says so;"+
			" set maxmemory-policy noeviction (see \"Running Redis for Docket\" in the docket README)",
			"maxmemory_policy", p)
	}
	if dur.Persistence == store.PersistenceOff {
		log.Info("Redis keeps this docket's tasks in memory only: no AOF and no RDB save points, so a restart"+
			" loses them all; set appendonly yes, with appendfsync everysec or always"+
			" (see \"Running Redis for Docket\" in the docket README)",
			"appendonly", "no", "save", "")
	}
}
