package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/store"
)

// Event is a change in an execution, from Watch.
type Event struct {
	// IsProgress is true for a progress report; false for a change of state.
	IsProgress bool
	// State is the execution's state after the change (running, for a
	// progress report).
	State    State
	Attempt  int          // the attempt the change is about, 1-based
	Error    string       // for a change to failed or cancelled, or a retry: why
	Progress ProgressInfo // for a progress report, the progress
	// Err, when not nil, ends the watch without a final state: it wraps
	// ErrLost when the execution's record vanished while the watch could
	// not see it (State is then the last state the watch knew), ErrClosed
	// when the docket was closed. Only a completion the watch observed is
	// reported as one.
	Err error
}

// Progress reads the execution's progress: live while it runs (a workflow's
// between its runs too, which its next run carries on), and the last
// reported once it ended. It returns ErrNotFound when there is no execution.
func (e *Execution) Progress(ctx context.Context) (ProgressInfo, error) {
	if err := e.usable(ctx); err != nil {
		return ProgressInfo{}, err
	}
	live, ok, err := e.d.core.Store.ReadProgress(ctx, e.key)
	if err != nil {
		return ProgressInfo{}, err
	}
	if ok {
		return progressInfo(live), nil
	}
	info, err := e.Info(ctx)
	return info.Progress, err
}

// Watch streams the execution's changes of state and progress reports,
// starting with its state now, until it ends (completed, failed or
// cancelled), ctx does, or the docket is closed (a last Event's Err then
// wraps ErrClosed; a watch whose reader fell 16 events behind ends without
// it); then it closes the channel. It returns ErrNotFound when there is no
// execution.
//
// When the watch's connection drops it reconnects and reads the record to
// catch up; every 10 seconds while connected it checks that the record is
// still there. A record
// that vanished (Redis lost it: a restart, an eviction, a flush) ends the
// watch with an Event whose Err wraps ErrLost, never with a completion the
// watch did not see.
// (On a docket that keeps no completed records, WithCompletedRetention(0),
// a watched task that completes leaves a record that says so for a minute,
// so a watcher cut off for less than that still sees it complete.)
func (e *Execution) Watch(ctx context.Context) (<-chan Event, error) {
	if err := e.usable(ctx); err != nil {
		return nil, err
	}
	if watching := e.d.core.Hooks.Watching; watching != nil {
		watching()
	}
	s := e.d.core.Store
	ps := s.Watch(ctx, e.key)
	if _, err := ps.Receive(ctx); err != nil { // subscribed before reading the state: nothing missed
		_ = ps.Close()
		// A subscription's commands pass no hook: see closedHook.
		return nil, closedError(e.d.core.Closed(), ctxErr(ctx, err))
	}
	// Registered before reading the state, too: every change after the
	// read is announced.
	if _, err := s.Follow(ctx, e.key, e.d.core.WatchDuration()); err != nil {
		_ = ps.Close()
		return nil, ctxErr(ctx, err)
	}
	info, err := e.Info(ctx)
	if err != nil {
		_ = ps.Close()
		return nil, ctxErr(ctx, err)
	}
	events := make(chan Event, 16)
	go e.follow(ctx, ps, info, events)
	return events, nil
}

// Watch streams the changes of the execution with key; see Execution.Watch.
func (d *Docket) Watch(ctx context.Context, key string) (<-chan Event, error) {
	if err := usableKey(ctx, d, key); err != nil {
		return nil, err
	}
	return d.Execution(key).Watch(ctx)
}

func (e *Execution) follow(ctx context.Context, ps *redis.PubSub, info Info, events chan<- Event) {
	defer close(events)
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // unblocks ReceiveMessage
	defer stop()
	defer ps.Close()
	done := make(chan struct{})
	defer close(done)
	go e.keepFollowing(ctx, ps, done)

	// A reader that stopped reading holds the watch until ctx ends, or the
	// docket closes: then the watch ends, its events unread. An event the
	// channel has room for goes in first, the last one at a close included.
	closing := e.d.core.Closing()
	send := func(ev Event) bool {
		select {
		case events <- ev:
			return true
		default:
		}
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		case <-closing:
			return false
		}
	}
	first := Event{State: info.State, Attempt: info.Attempt, Error: info.Error, Progress: info.Progress}
	if p, ok, err := e.d.core.Store.ReadProgress(ctx, e.key); err == nil && ok {
		first.Progress = progressInfo(p)
	}
	if !send(first) || info.State.Finished() {
		return
	}
	current := first
	caughtUp := false // current was read by a catch-up: its announcement may follow
	for {
		received, err := ps.Receive(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		if errors.Is(err, redis.ErrClosed) { // the docket was closed
			send(Event{State: current.State, Attempt: current.Attempt, Progress: current.Progress,
				Err: fmt.Errorf("%w: the docket was closed while watching %q, %s", ErrClosed, e.key, current.State)})
			return
		}
		msg, isMessage := received.(*redis.Message)
		if err != nil || !isMessage {
			// The connection dropped (go-redis resubscribes on the next
			// receive), or keepFollowing found no record (a pong): catch
			// up on what may have been missed, a record lost included.
			if now, changed := e.catchUp(ctx, current); changed {
				current, caughtUp = now, true
				if !send(current) || current.State.Finished() || current.Err != nil {
					return
				}
			}
			continue
		}
		seen := caughtUp
		caughtUp = false
		ev, err := store.ParseWatchEvent(msg.Payload)
		if err != nil {
			continue
		}
		if ev.Type == "progress" {
			current.IsProgress = true
			current.Progress = ProgressInfo{Current: ev.Current, Total: ev.Total, Message: ev.Message, Updated: current.Progress.Updated}
			if ev.Updated > 0 { // announced by a version that says when
				current.Progress.Updated = time.UnixMicro(ev.Updated)
			}
		} else {
			if seen && State(ev.State) == current.State && ev.Attempt == current.Attempt {
				continue // the catch-up read this change before its announcement came
			}
			current = Event{State: State(ev.State), Attempt: ev.Attempt, Error: ev.Error, Progress: current.Progress}
		}
		if !send(current) || !current.IsProgress && current.State.Finished() {
			return
		}
		current.IsProgress = false
	}
}

// catchUp reads the execution's state after the watch lost its connection,
// and reports whether it changed since current, which is not finished. A
// live record has no TTL: one that vanished was lost with Redis's data.
// (A completion on a docket that keeps no completed records deletes the
// record, but that of a watched task leaves a tombstone in its place,
// saying it completed, which outlives the watch's registration.) So a
// missing record is reported lost, never completed.
func (e *Execution) catchUp(ctx context.Context, current Event) (Event, bool) {
	info, err := e.Info(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		return Event{State: current.State, Attempt: current.Attempt, Progress: current.Progress,
			Err: fmt.Errorf("%w: the record of %q vanished while it was %s (Redis lost it: a restart without persistence, an eviction, a flush); whether it ran is unknown",
				ErrLost, e.key, current.State)}, true
	case err != nil || info.State == current.State:
		return current, false // on an error, the next drop or event tells
	}
	// The progress as of the read: an ended execution's last, or a live
	// one's; the last the watch knew if there is none.
	progress := current.Progress
	if info.State.Finished() && info.Progress != (ProgressInfo{}) {
		progress = info.Progress
	} else if p, ok, err := e.d.core.Store.ReadProgress(ctx, e.key); err == nil && ok {
		progress = progressInfo(p)
	}
	return Event{State: info.State, Attempt: info.Attempt, Error: info.Error, Progress: progress}, true
}

// keepFollowing renews the watch registration until done closes. A renewal
// that finds no record pings the subscription: the pong makes the watch
// catch up with the record, so that a record Redis lost (an eviction, a
// flush) while the watch stayed connected ends it with ErrLost rather than
// a wait for ever.
func (e *Execution) keepFollowing(ctx context.Context, ps *redis.PubSub, done <-chan struct{}) {
	every := e.d.core.WatchDuration()
	tick := time.NewTicker(every / 3)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
			// An error is made up for at the next tick.
			if exists, err := e.d.core.Store.Follow(ctx, e.key, every); err == nil && !exists {
				_ = ps.Ping(ctx)
			}
		}
	}
}

// ctxErr is ctx's error once ctx has ended, else err: a call cut short by
// its context reports the context's error (context.DeadlineExceeded, say),
// not what the cut did to the connection (go-redis's "i/o timeout": it
// reads with ctx's deadline, and may time out a moment before ctx's own
// timer marks it done).
func ctxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if deadline, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return err
}
