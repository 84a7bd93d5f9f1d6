package core

import (
	"context"
	"errors"
	"sync"
)

// Idle lets a waiter learn when the workers of a docket have nothing due and
// nothing running. Each wait starts a new round: workers are woken, and only
// an idle report from a claim that began after the wake counts, so a report
// older than the waiter's last Add cannot end the wait.
type Idle struct {
	mu      sync.Mutex
	round   uint64
	wakers  map[int]func()
	nextID  int
	waiters []idleWaiter
}

type idleWaiter struct {
	round uint64
	done  chan struct{}
}

// ErrNoWorker is returned by Wait when no worker is running.
var ErrNoWorker = errors.New("docket: no worker is running")

// Join registers a running worker's wake function; call leave when it stops.
func (i *Idle) Join(wake func()) (leave func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.wakers == nil {
		i.wakers = map[int]func(){}
	}
	id := i.nextID
	i.nextID++
	i.wakers[id] = wake
	return func() {
		i.mu.Lock()
		defer i.mu.Unlock()
		delete(i.wakers, id)
	}
}

// Round is the current round; a worker reads it before each claim.
func (i *Idle) Round() uint64 {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.round
}

// Report says a worker found nothing due and nothing running in a claim
// that began in round.
func (i *Idle) Report(round uint64) {
	i.mu.Lock()
	defer i.mu.Unlock()
	kept := i.waiters[:0]
	for _, w := range i.waiters {
		if round >= w.round {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	i.waiters = kept
}

// Wait wakes the workers and returns once one reports idle in a new round.
func (i *Idle) Wait(ctx context.Context) error {
	i.mu.Lock()
	if len(i.wakers) == 0 {
		i.mu.Unlock()
		return ErrNoWorker
	}
	i.round++
	w := idleWaiter{round: i.round, done: make(chan struct{})}
	i.waiters = append(i.waiters, w)
	wakers := make([]func(), 0, len(i.wakers))
	for _, wake := range i.wakers {
		wakers = append(wakers, wake)
	}
	i.mu.Unlock()
	for _, wake := range wakers {
		wake()
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
