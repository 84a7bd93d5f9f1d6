package sdk_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

// logRecorder is a slog handler that keeps what is logged, a line per
// record: its level, message and attributes.
type logRecorder struct {
	mu    sync.Mutex
	lines map[slog.Level][]string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == nil {
		l.lines = map[slog.Level][]string{}
	}
	l.lines[r.Level] = append(l.lines[r.Level], line)
	return nil
}

// at returns the lines logged at a level.
func (l *logRecorder) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines[level]...)
}

// count returns how many lines were logged, at any level.
func (l *logRecorder) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, lines := range l.lines {
		n += len(lines)
	}
	return n
}

// Open says, once, when the Redis it opens loses tasks without a word: a
// WARN when its eviction policy lets it delete keys when memory runs out
// (4,647 of 5,000 accepted tasks never ran under allkeys-lru), an INFO when
// nothing is written to disk (a restart loses every task). It reads the
// settings from INFO, and with CONFIG GET what INFO does not show (the RDB
// save points) or all of them when INFO is refused; a user who may run
// neither opens the docket all the same, without a word.
func TestOpenWarnsOfSettingsThatLoseTasks(t *testing.T) {
	const (
		everything = "+@all"
		noConfig   = "+@all -config"
		noInfo     = "+@all -info"
		neither    = "+@all -config -info"
	)
	lru := []string{"--maxmemory-policy", "allkeys-lru"}
	noAOF := []string{"--appendonly", "no"} // and no save points: the helper's
	warnLRU := []string{"maxmemory-policy is allkeys-lru", "set maxmemory-policy noeviction"}
	infoNoDisk := []string{"no AOF and no RDB save points", "set appendonly yes"}
	for _, tc := range []struct {
		name  string
		args  []string // redis-server arguments, after the helper's (appendonly yes, save "")
		perms string   // the ACL of the user the docket opens as
		warn  []string // what the one WARN says; nil: no WARN
		info  []string // what the one INFO says; nil: no INFO
	}{
		{"noeviction and AOF", nil, everything, nil, nil},
		{"allkeys-lru", lru, everything, warnLRU, nil},
		{"volatile-ttl", []string{"--maxmemory-policy", "volatile-ttl"}, everything,
			[]string{"maxmemory-policy is volatile-ttl", "set maxmemory-policy noeviction"}, nil},
		{"no persistence", noAOF, everything, nil, infoNoDisk},
		{"RDB snapshots alone", []string{"--appendonly", "no", "--save", "3600 1"}, everything, nil, nil},
		{"allkeys-lru, CONFIG refused", lru, noConfig, warnLRU, nil},
		// INFO does not show the RDB save points: without CONFIG GET there
		// is no telling whether a server without AOF persists.
		{"no persistence, CONFIG refused", noAOF, noConfig, nil, nil},
		{"allkeys-lru and no persistence, INFO refused", append(lru, noAOF...), noInfo, warnLRU, infoNoDisk},
		{"allkeys-lru and no persistence, CONFIG and INFO refused", append(lru, noAOF...), neither, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.NewServer(t, tc.args...)
			admin, err := sdk.Open(ctx, srv.URL(), sdk.WithLogger(quiet))
			require.NoError(t, err)
			t.Cleanup(func() { _ = admin.Close() })
			acl := append([]any{"ACL", "SETUSER", "app", "on", ">app-pw", "~*", "&*"}, anys(strings.Fields(tc.perms))...)
			require.NoError(t, admin.Redis().Do(ctx, acl...).Err())

			logs := &logRecorder{}
			d, err := sdk.Open(ctx, "redis://app:app-pw@"+srv.Addr+"/0", sdk.WithName(redistest.Name(t)), sdk.WithLogger(slog.New(logs)))
			require.NoError(t, err, "settings it cannot read never make Open fail")
			t.Cleanup(func() { _ = d.Close() })
			_, err = d.Snapshot(ctx)
			require.NoError(t, err, "the docket works")

			assertLogged(t, logs.at(slog.LevelWarn), tc.warn, "WARN")
			assertLogged(t, logs.at(slog.LevelInfo), tc.info, "INFO")
			assert.Empty(t, logs.at(slog.LevelError))
		})
	}
}

// assertLogged checks that lines is one line that holds each of want, or
// none when want is nil.
func assertLogged(t *testing.T, lines, want []string, level string) {
	t.Helper()
	if want == nil {
		assert.Empty(t, lines, "no %s", level)
		return
	}
	if assert.Len(t, lines, 1, "one %s", level) {
		for _, w := range want {
			assert.Contains(t, lines[0], w)
		}
	}
}

// The embedded memory:// backend neither evicts nor persists, by design:
// Open says nothing of it.
func TestOpenMemorySaysNothingOfSettings(t *testing.T) {
	t.Parallel()
	logs := &logRecorder{}
	d, err := sdk.Open(context.Background(), redistest.Memory(t).URL, sdk.WithLogger(slog.New(logs)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	_, err = d.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Zero(t, logs.count(), "nothing logged")
}

// On a Redis Cluster, Open reads the settings of the master that holds the
// docket's slot: the other masters' do not concern its tasks.
func TestOpenWarnsOfTheDocketsOwnClusterNode(t *testing.T) {
	ctx := context.Background()
	b := redistest.Cluster(t)
	admin, err := sdk.Open(ctx, b.URL, sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = admin.Close() })
	cluster := admin.Redis().(*redis.ClusterClient)
	masterOf := func(name string) *redis.Client {
		// A docket's keys share the hash tag {name}.
		node, err := cluster.MasterForKey(ctx, "{"+name+"}")
		require.NoError(t, err)
		return node
	}
	evicting := redistest.Name(t)
	node := masterOf(evicting)
	other := redistest.Name(t)
	for masterOf(other).Options().Addr == node.Options().Addr {
		other = redistest.Name(t)
	}
	require.NoError(t, node.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
	t.Cleanup(func() { require.NoError(t, node.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err()) })

	for name, warn := range map[string][]string{evicting: {"maxmemory-policy is allkeys-lru"}, other: nil} {
		logs := &logRecorder{}
		d, err := sdk.Open(ctx, b.URL, sdk.WithName(name), sdk.WithLogger(slog.New(logs)))
		require.NoError(t, err)
		require.NoError(t, d.Close())
		assertLogged(t, logs.at(slog.LevelWarn), warn, "WARN")
	}
}
