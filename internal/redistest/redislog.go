package redistest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

// RedisLog holds the lines go-redis logged while it was capturing.
type RedisLog struct {
	mu    sync.Mutex
	lines []string
}

// Printf records one line; it is go-redis's logging interface.
func (l *RedisLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
}

// Lines returns the lines logged so far.
func (l *RedisLog) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// CaptureRedisLog makes go-redis log into the returned RedisLog instead of
// stderr until the test ends, then gives it back its default logger.
// go-redis has one logger for the whole process, so a test that captures it
// must not call t.Parallel: lines of tests running beside it would land in
// its log.
func CaptureRedisLog(t testing.TB) *RedisLog {
	t.Helper()
	l := &RedisLog{}
	redis.SetLogger(l)
	t.Cleanup(logging.Enable)
	return l
}
