package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ProgressState is a task's progress.
type ProgressState struct {
	Current int64
	Total   int64
	Message string
	Updated time.Time
}

// Progress operations.
const (
	ProgressTotal     = "total"
	ProgressIncrement = "increment"
	ProgressMessage   = "message"
	ProgressRead      = "read"
)

// ErrOverflow reports a progress increment that would take the work done
// past the largest int64 (nothing was written).
var ErrOverflow = errors.New("docket: progress: the work done would pass the largest int64")

// Progress applies one progress operation for the run of key holding gen,
// and returns the progress after it. applied is false when that run no
// longer holds the task (nothing was written); an increment that would
// overflow is ErrOverflow.
//
// Each call has a random id, and the progress keeps the last increment's:
// an increment go-redis sends again after the network lost its reply
// counts once.
func (s *Store) Progress(ctx context.Context, key, gen, op, value string) (state ProgressState, applied bool, err error) {
	return s.progress(ctx, key, gen, op, value, callID())
}

func (s *Store) progress(ctx context.Context, key, gen, op, value, id string) (state ProgressState, applied bool, err error) {
	reply, err := progressScript.Run(ctx, s.rdb, []string{s.k.task(key)}, s.k.prefix, key, gen, op, value, id).Slice()
	if err != nil {
		return ProgressState{}, false, fmt.Errorf("docket: progress: %w", err)
	}
	if len(reply) != 5 {
		return ProgressState{}, false, fmt.Errorf("%w: progress reply has %d elements", ErrMalformed, len(reply))
	}
	var d decoder
	code := d.int(reply[0])
	applied = code == 1
	state = ProgressState{
		Current: d.int(reply[1]),
		Total:   d.int(reply[2]),
		Message: d.str(reply[3]),
		Updated: d.instant(d.str(reply[4])),
	}
	if state.Updated.Equal(time.UnixMicro(0)) {
		state.Updated = time.Time{}
	}
	if code == -1 && d.err == nil {
		return state, false, ErrOverflow
	}
	return state, applied, d.err
}

// ReadProgress reads a running task's live progress; ok is false when it
// has none (see Record for a finished task's last progress).
func (s *Store) ReadProgress(ctx context.Context, key string) (state ProgressState, ok bool, err error) {
	m, err := s.rdb.HGetAll(ctx, s.k.progress(key)).Result()
	if err != nil || len(m) == 0 {
		return ProgressState{}, false, err
	}
	var d decoder
	state = ProgressState{Message: m["message"], Updated: d.instant(m["updated"])}
	if v, ok := m["current"]; ok {
		state.Current = d.int(v)
	}
	if v, ok := m["total"]; ok {
		state.Total = d.int(v)
	}
	return state, true, d.err
}

// WatchFor is how long one call of Follow keeps a task's state changes
// announced, unless told otherwise; a watcher calls it again well before
// that.
const WatchFor = 30 * time.Second

// Watch subscribes to the state and progress events of one task. Call
// Follow before reading the task's state, and every third of its duration
// after.
func (s *Store) Watch(ctx context.Context, key string) *redis.PubSub {
	return s.rdb.Subscribe(ctx, s.k.watch(key))
}

// Follow asks the scripts to announce the task's state changes for the
// next d (progress is always announced), and reports whether the task has
// a record.
func (s *Store) Follow(ctx context.Context, key string, d time.Duration) (exists bool, err error) {
	n, err := watchScript.Run(ctx, s.rdb, []string{s.k.watchers}, s.k.prefix, key, d.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("docket: watch: %w", err)
	}
	return n == 1, nil
}

// WatchEvent is one message of a task's watch channel.
type WatchEvent struct {
	Type    string `json:"type"` // "state" or "progress"
	State   string `json:"state"`
	Attempt int    `json:"attempt"`
	Error   string `json:"error"`
	Current int64  `json:"current"`
	Total   int64  `json:"total"`
	Message string `json:"message"`
	Updated int64  `json:"updated"` // a progress report's instant, unix µs
}

// ParseWatchEvent decodes a watch channel payload.
func ParseWatchEvent(payload string) (WatchEvent, error) {
	var e WatchEvent
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return WatchEvent{}, fmt.Errorf("%w: watch event %s: %v", ErrMalformed, strconv.Quote(payload), err)
	}
	if e.Type != "state" && e.Type != "progress" {
		return WatchEvent{}, fmt.Errorf("%w: watch event of type %q", ErrMalformed, e.Type)
	}
	return e, nil
}
