package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// CheckLeaks inspects every key of the docket and reports those that break
// the storage rules: a key without a TTL that no live task needs, a live
// task whose record has a TTL (it could vanish), a live task without a
// record, a concurrency slot held by no live task (nor by the run of a
// cancelled or replaced one, still ending), or a task waiting for a drain
// that is not on. Tests call it after
// stopping their workers.
func (s *Store) CheckLeaks(ctx context.Context) error {
	all, err := s.scan(ctx)
	if err != nil {
		return err
	}
	// Live tasks are those in the schedule, running, or waiting for a slot.
	live := map[string]bool{}
	add := func(members []string, err error) error {
		for _, m := range members {
			live[m] = true
		}
		return err
	}
	scheduled, err := s.rdb.ZRange(ctx, s.k.scheduled, 0, -1).Result()
	if err := add(scheduled, err); err != nil {
		return err
	}
	ready, err := s.rdb.LRange(ctx, s.k.ready, 0, -1).Result()
	if err := add(ready, err); err != nil {
		return err
	}
	if err := add(s.rdb.ZRange(ctx, s.k.running, 0, -1).Result()); err != nil {
		return err
	}
	if err := add(s.rdb.ZRange(ctx, s.k.parked, 0, -1).Result()); err != nil {
		return err
	}
	if err := add(s.rdb.ZRange(ctx, s.k.struck, 0, -1).Result()); err != nil {
		return err
	}
	deferred, err := s.rdb.ZRange(ctx, s.k.deferred, 0, -1).Result()
	if err := add(deferred, err); err != nil {
		return err
	}
	for _, k := range all {
		if _, ok := s.k.is(k, "waiting"); ok {
			if err := add(s.rdb.ZRange(ctx, k, 0, -1).Result()); err != nil {
				return err
			}
		}
	}
	// Draining keys (see start_drain in lib.lua): the run of a cancelled or
	// replaced execution, which may still hold slots. Each has its entry in
	// drains, and each entry its key in draining.
	draining := map[string]bool{}
	members, err := s.rdb.ZRange(ctx, s.k.draining, 0, -1).Result()
	if err != nil {
		return err
	}
	for _, m := range members {
		draining[m] = true
	}
	drains, err := s.rdb.HKeys(ctx, s.k.drains).Result()
	if err != nil {
		return err
	}
	registry, err := s.rdb.SMembers(ctx, s.k.limits).Result()
	if err != nil {
		return err
	}
	registered := map[string]bool{}
	for _, id := range registry {
		registered[id] = true
	}

	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	present, inUse := map[string]bool{}, map[string]bool{}
	for _, k := range all {
		// One command at a time, not a pipeline: the memory backend's pipes
		// have no buffer, and a large pipeline would block against its
		// replies. go-redis reports PTTL's -1 (no TTL) and -2 (no key) as
		// those many nanoseconds.
		ttl, err := s.rdb.PTTL(ctx, k).Result()
		if err != nil {
			return err
		}
		if ttl == -2 {
			continue // deleted since the scan
		}
		forever := ttl == -1
		if key, ok := s.k.is(k, "task"); ok {
			present[key] = true
			if live[key] && !forever {
				problem("%s: live task's record has a TTL (%v) and could vanish", k, ttl)
			}
			if !live[key] && forever {
				problem("%s: finished task's record has no TTL", k)
			}
			continue
		}
		if key, ok := s.k.is(k, "progress"); ok {
			if !live[key] {
				problem("%s: progress of a task that is not live", k)
			}
			continue
		}
		if key, ok := s.k.is(k, "flow"); ok {
			if live[key] && !forever {
				problem("%s: live workflow's flow has a TTL (%v) and could vanish", k, ttl)
			}
			if !live[key] && forever {
				problem("%s: flow of a workflow that is not live has no TTL", k)
			}
			continue
		}
		id, isLimit := s.k.is(k, "limit")
		wid, isWaiting := s.k.is(k, "waiting")
		switch {
		case k == s.k.ready || k == s.k.scheduled || k == s.k.running || k == s.k.draining || k == s.k.drains || k == s.k.deferred ||
			k == s.k.limits || k == s.k.parked || k == s.k.struck:
			// containers of live tasks: empty ones do not exist
		case k == s.k.strikes:
			// an operator's decision: it lasts until restored
		case isLimit:
			inUse[id] = true
			holders, err := s.rdb.SMembers(ctx, k).Result()
			if err != nil {
				return err
			}
			for _, h := range holders {
				if !live[h] && !draining[h] {
					problem("%s: slot held by %q, which is not live", k, h)
				}
			}
		case isWaiting:
			inUse[wid] = true
		case forever:
			problem("%s: no TTL", k)
		}
	}
	for _, key := range drains {
		if !draining[key] {
			problem("%s: an entry for %q, whose key does not drain", s.k.drains, key)
		}
	}
	for key := range draining {
		if !slices.Contains(drains, key) {
			problem("%s: %q drains without an entry in %s", s.k.draining, key, s.k.drains)
		}
	}
	for _, key := range deferred {
		if !draining[key] {
			problem("%s: %q waits for a drain that is not on: it would never be scheduled", s.k.deferred, key)
		}
	}
	if err := s.checkReady(ctx, ready, slices.Concat(scheduled, deferred), problem); err != nil {
		return err
	}
	for key := range live {
		if !present[key] {
			problem("task %q is live but has no record", key)
		}
	}
	for id := range inUse {
		if !registered[id] {
			problem("limit %q is in use but not in %s", id, s.k.limits)
		}
	}
	for id := range registered {
		if !inUse[id] {
			problem("%s lists limit %q, which holds nothing", s.k.limits, id)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New("docket: leaked or inconsistent keys:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

// checkReady reports the entries of K.ready that a claim would hand over
// wrongly: a key listed twice, or also in the schedule or in line behind a
// drain (in lined: it would run twice), or whose record is not a scheduled
// task's (a stale entry).
func (s *Store) checkReady(ctx context.Context, ready, lined []string, problem func(string, ...any)) error {
	seen := map[string]bool{}
	for _, key := range lined {
		seen[key] = true
	}
	for _, key := range ready {
		if seen[key] {
			problem("%s: %q is listed twice, or in the schedule or a drain's line too", s.k.ready, key)
		}
		seen[key] = true
		rec, _, err := s.Info(ctx, key) // as the scripts read it: a record never claimed has no state field
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			problem("%s: %q has a record that cannot be read: %v", s.k.ready, key, err)
			continue
		}
		if rec.State != StateScheduled {
			problem("%s: %q is a task in state %q, not a scheduled one", s.k.ready, key, rec.State)
		}
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
