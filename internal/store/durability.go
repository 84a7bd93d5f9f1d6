package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Persistence says whether a Redis server writes its data to disk.
type Persistence int

// What a server's settings say of its persistence.
const (
	// PersistenceUnknown: the server would not say, or said too little
	// (INFO shows whether AOF is on, not whether RDB snapshots are taken).
	PersistenceUnknown Persistence = iota
	// PersistenceOff: no AOF and no RDB save points. A restart loses every
	// task.
	PersistenceOff
	// PersistenceOn: AOF, or RDB save points, or both.
	PersistenceOn
)

// Durability is what a Redis server's settings say about keeping the tasks
// written to it.
type Durability struct {
	// EvictionPolicy is the server's maxmemory-policy, empty when it would
	// not say. Any policy but "noeviction" lets the server delete keys,
	// tasks among them, when it runs out of memory.
	EvictionPolicy string

	// Persistence says whether the server writes its data to disk.
	Persistence Persistence
}

// Durability reads the settings of the server that holds the docket's keys
// (for a cluster, the master of the docket's slot). It asks INFO first, and
// CONFIG GET only for what INFO cannot tell: the RDB save points, which
// matter only when AOF is off, or everything when INFO is refused. That
// order is for least-privilege users: INFO is harmless to grant (it shows no
// secret) where CONFIG GET is not (it shows requirepass), and every refused
// command leaves an entry in the server's ACL LOG, which operators read for
// real denials; a user granted INFO leaves none on a server with AOF on. A
// managed Redis that renames CONFIG is read through INFO alike. Durability
// returns an error only when the server refuses both.
//
// The embedded memory:// backend neither evicts nor persists, by design: it
// reports nothing, and is not asked.
func (s *Store) Durability(ctx context.Context) (Durability, error) {
	if isMemory(s.rdb) {
		return Durability{}, nil
	}
	var node redis.Cmdable = s.rdb
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		master, err := c.MasterForKey(ctx, s.k.scheduled)
		if err != nil {
			return Durability{}, fmt.Errorf("docket: find the node of the docket's keys: %w", err)
		}
		node = master
	}
	info, infoErr := readInfo(ctx, node)
	if infoErr == nil && info.EvictionPolicy != "" && info.Persistence == PersistenceOn {
		return info, nil
	}
	config, configErr := readConfig(ctx, node)
	switch {
	case infoErr != nil && configErr != nil:
		return Durability{}, fmt.Errorf("docket: read the server's settings: INFO: %w; CONFIG GET: %w", infoErr, configErr)
	case configErr != nil:
		return info, nil
	}
	if config.EvictionPolicy == "" {
		config.EvictionPolicy = info.EvictionPolicy
	}
	if config.Persistence == PersistenceUnknown {
		config.Persistence = info.Persistence
	}
	return config, nil
}

// readInfo reads the eviction policy and whether AOF is on from INFO. AOF
// off leaves the persistence unknown: INFO does not show the RDB save
// points.
func readInfo(ctx context.Context, node redis.Cmdable) (Durability, error) {
	// One section per INFO: Redis before 7 takes only one.
	memory, err := node.Info(ctx, "memory").Result()
	if err != nil {
		return Durability{}, err
	}
	persistence, err := node.Info(ctx, "persistence").Result()
	if err != nil {
		return Durability{}, err
	}
	d := Durability{EvictionPolicy: infoField(memory, "maxmemory_policy")}
	if infoField(persistence, "aof_enabled") == "1" {
		d.Persistence = PersistenceOn
	}
	return d, nil
}

// readConfig reads the eviction policy, AOF and the RDB save points with
// CONFIG GET.
func readConfig(ctx context.Context, node redis.Cmdable) (Durability, error) {
	// One parameter per CONFIG GET: Redis before 7 takes only one.
	var policy, aof, save *redis.MapStringStringCmd
	if _, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		policy = p.ConfigGet(ctx, "maxmemory-policy")
		aof = p.ConfigGet(ctx, "appendonly")
		save = p.ConfigGet(ctx, "save")
		return nil
	}); err != nil {
		return Durability{}, err
	}
	d := Durability{EvictionPolicy: policy.Val()["maxmemory-policy"]}
	aofOn, aofKnown := aof.Val()["appendonly"]
	savePoints, saveKnown := save.Val()["save"]
	switch {
	case aofKnown && aofOn == "yes", saveKnown && strings.TrimSpace(savePoints) != "":
		d.Persistence = PersistenceOn
	case aofKnown && saveKnown:
		d.Persistence = PersistenceOff
	}
	return d, nil
}

// infoField returns a field of an INFO reply ("name:value" lines), or "".
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if value, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
