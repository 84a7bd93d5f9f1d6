package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// faults carries out the stalls and the partitions, which last a while:
// the schedule goes on meanwhile (a worker may be killed while it is cut
// off, Redis restarted while it sleeps).
type faults struct {
	stop     chan struct{} // closed when the run is abandoned: heal at once
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu  sync.Mutex
	cut map[int]bool // worker slots cut off now
	err error        // a fault that could not be carried out

	stalls     map[stallKind]int
	stallsLong int // longer than the lease
	stallsCut  int // cut short by a Redis restart
	stallRange [2]time.Duration

	partitions map[cutKind]int
	partsLong  int
	cutOff     int // workers cut off, over all partitions
	partRange  [2]time.Duration
}

func newFaults() *faults {
	return &faults{stop: make(chan struct{}), cut: map[int]bool{},
		stalls: map[stallKind]int{}, partitions: map[cutKind]int{}}
}

func widen(r *[2]time.Duration, d time.Duration) {
	if r[0] == 0 || d < r[0] {
		r[0] = d
	}
	r[1] = max(r[1], d)
}

// than says how a fault's duration compares with the workers' lease.
func than(d time.Duration) string {
	if d >= lease {
		return "longer than the lease"
	}
	return "shorter than the lease"
}

func (f *faults) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

// failed reports a fault that could not be carried out.
func (f *faults) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *faults) stalled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.stalls {
		n += c
	}
	return n
}

func (f *faults) partitioned() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.partitions {
		n += c
	}
	return n
}

// stall stalls Redis for d: every client's commands wait, the workers'
// lease renewals among them, while Redis's clock, by which leases lapse,
// runs on.
func (f *faults) stall(s *redisServer, kind stallKind, d time.Duration, logf func(string, ...any)) {
	f.mu.Lock()
	f.stalls[kind]++
	if d >= lease {
		f.stallsLong++
	}
	widen(&f.stallRange, d)
	f.mu.Unlock()
	logf("stall: %s for %v (%s)", kind, d.Round(time.Millisecond), than(d))
	f.wg.Go(func() {
		began := time.Now()
		err := s.stall(kind, d)
		if _, refused := errors.AsType[redisError](err); refused {
			f.fail(fmt.Errorf("the server refused the stall: %w", err))
			return
		}
		if err != nil {
			// The connection broke: Redis was restarted meanwhile, which
			// ends the stall too.
			f.mu.Lock()
			f.stallsCut++
			f.mu.Unlock()
			logf("stall: %s cut short after %v: %v", kind, time.Since(began).Round(time.Millisecond), err)
			return
		}
		if kind == debugSleep {
			logf("stall: DEBUG SLEEP is over (%v)", time.Since(began).Round(time.Millisecond))
			return
		}
		select { // CLIENT PAUSE returned at once; the pause is over after d
		case <-time.After(time.Until(began.Add(d))):
		case <-f.stop:
		}
	})
}

// partition cuts n workers off from Redis (fewer if the others are cut off
// already), the given way, for d.
func (f *faults) partition(proxies []*proxy, rng *rand.Rand, n int, kind cutKind, d time.Duration, logf func(string, ...any)) {
	f.mu.Lock()
	var slots []int
	for _, slot := range rng.Perm(len(proxies)) {
		if len(slots) < n && !f.cut[slot] {
			slots = append(slots, slot)
		}
	}
	if len(slots) == 0 {
		f.mu.Unlock()
		logf("partition skipped: every worker is cut off already")
		return
	}
	slices.Sort(slots)
	for _, slot := range slots {
		f.cut[slot] = true
		proxies[slot].cut(kind)
	}
	f.partitions[kind]++
	if d >= lease {
		f.partsLong++
	}
	f.cutOff += len(slots)
	widen(&f.partRange, d)
	f.mu.Unlock()
	names := slotNames(slots)
	logf("partition: worker %s cut off from Redis (%s) for %v (%s)", names, kind, d.Round(time.Millisecond), than(d))
	began := time.Now()
	f.wg.Go(func() {
		select {
		case <-time.After(d):
		case <-f.stop:
		}
		for _, slot := range slots {
			if err := proxies[slot].restore(); err != nil {
				f.fail(err)
			}
		}
		f.mu.Lock()
		for _, slot := range slots {
			delete(f.cut, slot)
		}
		f.mu.Unlock()
		logf("partition healed: worker %s reaches Redis again (%v after the cut)", names, time.Since(began).Round(time.Millisecond))
	})
}

func slotNames(slots []int) string {
	s := make([]string, len(slots))
	for i, slot := range slots {
		s[i] = fmt.Sprint(slot)
	}
	return strings.Join(s, ", ")
}

// wait waits for the last stall and partition to end: the drain that
// follows must find every worker connected and Redis answering.
func (f *faults) wait(ctx context.Context, logf func(string, ...any)) bool {
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		f.abort()
		return false
	}
	if err := f.failed(); err != nil {
		logf("%v", err)
		return false
	}
	return true
}

// abort heals every partition at once: the run is being abandoned.
func (f *faults) abort() {
	f.stopOnce.Do(func() { close(f.stop) })
}

// summary describes the stalls and the partitions, for the results.
func (f *faults) summary() (stalls, partitions string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, var1 := 0, []string{}
	for _, k := range stallKinds {
		n += f.stalls[k]
		var1 = append(var1, fmt.Sprintf("%s %d", k, f.stalls[k]))
	}
	stalls = fmt.Sprintf("%d (%s), %d longer than the lease (%v)", n, strings.Join(var1, ", "), f.stallsLong, lease)
	if n > 0 {
		stalls += fmt.Sprintf("; %v to %v", f.stallRange[0].Round(10*time.Millisecond), f.stallRange[1].Round(10*time.Millisecond))
	}
	if f.stallsCut > 0 {
		stalls += fmt.Sprintf("; %d cut short by a Redis restart", f.stallsCut)
	}
	n, var2 := 0, []string{}
	for _, k := range cutKinds {
		n += f.partitions[k]
		var2 = append(var2, fmt.Sprintf("%s %d", k, f.partitions[k]))
	}
	partitions = fmt.Sprintf("%d cutting %d workers off (%s), %d longer than the lease", n, f.cutOff, strings.Join(var2, ", "), f.partsLong)
	if n > 0 {
		partitions += fmt.Sprintf("; %v to %v", f.partRange[0].Round(10*time.Millisecond), f.partRange[1].Round(10*time.Millisecond))
	}
	return stalls, partitions
}
