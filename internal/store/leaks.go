package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// CheckLeaks inspects every key of the docket and reports those that break
// the storage rules: a key without a TTL that no live task needs, a live
// task whose record has a TTL (it could vanish), or a live task without a
// record. Tests call it after stopping their workers.
func (s *Store) CheckLeaks(ctx context.Context) error {
	all, err := s.scan(ctx)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, z := range []string{s.k.scheduled, s.k.running} {
		members, err := s.rdb.ZRange(ctx, z, 0, -1).Result()
		if err != nil {
			return err
		}
		for _, m := range members {
			live[m] = true
		}
	}
	// One command at a time, not a pipeline: the memory backend's pipes have
	// no buffer, and a large pipeline would block against its replies.
	ttls := make([]time.Duration, len(all))
	for i, k := range all {
		if ttls[i], err = s.rdb.PTTL(ctx, k).Result(); err != nil {
			return err
		}
	}

	var problems []string
	present := map[string]bool{}
	for i, k := range all {
		// go-redis reports PTTL's -1 (no TTL) and -2 (no key) as those many nanoseconds.
		ttl := ttls[i]
		if ttl == -2 {
			continue // deleted since the scan
		}
		forever := ttl == -1
		switch {
		case k == s.k.scheduled || k == s.k.running:
			// containers of live tasks: empty ones do not exist
		case strings.HasPrefix(k, s.k.taskPrefix()):
			key := strings.TrimPrefix(k, s.k.taskPrefix())
			present[key] = true
			if live[key] && !forever {
				problems = append(problems, fmt.Sprintf("%s: live task's record has a TTL (%v) and could vanish", k, ttl))
			}
			if !live[key] && forever {
				problems = append(problems, fmt.Sprintf("%s: finished task's record has no TTL", k))
			}
		default:
			if forever {
				problems = append(problems, fmt.Sprintf("%s: no TTL", k))
			}
		}
	}
	for key := range live {
		if !present[key] {
			problems = append(problems, fmt.Sprintf("task %q is scheduled or running but has no record", key))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New("docket: leaked or inconsistent keys:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

// scan lists the docket's keys, on every master of a cluster.
func (s *Store) scan(ctx context.Context) ([]string, error) {
	scanOne := func(ctx context.Context, c redis.Cmdable) ([]string, error) {
		var out []string
		iter := c.Scan(ctx, 0, s.k.pattern(), 1000).Iterator()
		for iter.Next(ctx) {
			out = append(out, iter.Val())
		}
		return out, iter.Err()
	}
	cluster, ok := s.rdb.(*redis.ClusterClient)
	if !ok {
		return scanOne(ctx, s.rdb)
	}
	var mu sync.Mutex
	var all []string
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := scanOne(ctx, c)
		mu.Lock()
		defer mu.Unlock()
		all = append(all, keys...)
		return err
	})
	return all, err
}
