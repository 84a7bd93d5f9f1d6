package sdk_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"", "no scheme"},
		{"localhost:6379", "unknown scheme"},
		{"http://localhost:6379", `unknown scheme "http"`},
		{"redis://localhost:6379/notanumber", "invalid database number"},
		{"redis://localhost:6379/-1", "invalid database number: -1"},
		{"unix:///tmp/redis.sock?db=-2", "invalid database number: -2"},
		{"redis+sentinel://localhost:26379/-3?master_name=m", "invalid database number: -3"},
		{"redis://[::1", "missing ']'"},
		{"redis+sentinel://localhost:26379/0", "master_name"},
		{"memory://name/path", "memory://NAME"},
		{"memory://u:p@name", "memory://NAME"},
		// No server listens on such a port: a bad URL, not an unreachable
		// server (as they were, after a dial).
		{"redis://127.0.0.1:99999/0", `address "127.0.0.1:99999": the port is not a number from 1 to 65535`},
		{"redis://127.0.0.1:0/0", "the port is not a number from 1 to 65535"},
		{"redis+cluster://127.0.0.1:6379?addr=127.0.0.1:70000", `"127.0.0.1:70000": the port is not`},
		{"redis+sentinel://127.0.0.1:70000/0?master_name=m", `"127.0.0.1:70000": the port is not`},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := sdk.Open(context.Background(), tc.url)
			require.Error(t, err)
			assert.ErrorIs(t, err, sdk.ErrBadURL)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "docket: "), err.Error())
		})
	}
}

func TestOpenHidesThePassword(t *testing.T) {
	_, err := sdk.Open(context.Background(), "redis://user:s3cret@localhost:6379/x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestOpenReportsAnUnreachableServer(t *testing.T) {
	srv := redistest.NewServer(t)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := sdk.Open(ctx, "redis://:pw@"+srv.Addr+"/0?dial_timeout=200ms&max_retries=-1")
	require.Error(t, err)
	assert.ErrorIs(t, err, sdk.ErrUnreachable)
	assert.Contains(t, err.Error(), srv.Addr)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NotContains(t, err.Error(), ":pw@")
}

// A name WithName cannot take is an option Open cannot use: ErrBadOption,
// as the README says of every such option, and ErrBadName. A space or a
// control character of any kind is refused, and a name that is not UTF-8;
// letters of any script are not.
func TestOpenRejectsABadName(t *testing.T) {
	for _, name := range []string{"", "a{b", "a}b", "a b", "a\nb", "a\x7fb", strings.Repeat("n", 201),
		"a\u0085b", "a\u009bb", "a\u00a0b", "a\u2028b", "a\u202eb", "a\xffb"} { // C1 controls, spaces, U+202E, not UTF-8
		_, err := sdk.Open(context.Background(), "memory://", sdk.WithName(name))
		assert.ErrorIs(t, err, sdk.ErrBadName, "%q", name)
		assert.ErrorIs(t, err, sdk.ErrBadOption, "%q", name)
	}
	for _, name := range []string{"orders", "billing-eu.v2", "commandes_été", "注文"} {
		d, err := sdk.Open(context.Background(), "memory://", sdk.WithName(name))
		require.NoError(t, err, "%q", name)
		require.NoError(t, d.Close())
	}
}

func TestOpenBackends(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d, err := sdk.Open(context.Background(), b.URL, sdk.WithName(redistest.Name(t)))
		require.NoError(t, err)
		require.NoError(t, d.Redis().Ping(context.Background()).Err())
		require.NoError(t, d.Close())
		require.NoError(t, d.Close(), "Close is idempotent")
	})
}

func TestMemoryURLsShareAServerPerName(t *testing.T) {
	ctx := context.Background()
	name := redistest.Name(t)
	a, err := sdk.Open(ctx, "memory://"+name)
	require.NoError(t, err)
	defer a.Close()
	b, err := sdk.Open(ctx, "memory://"+name)
	require.NoError(t, err)
	defer b.Close()
	other, err := sdk.Open(ctx, "memory://"+name+"-other")
	require.NoError(t, err)
	defer other.Close()

	require.NoError(t, a.Redis().Set(ctx, "k", "v", time.Minute).Err())
	assert.Equal(t, "v", b.Redis().Get(ctx, "k").Val())
	assert.Equal(t, int64(0), other.Redis().Exists(ctx, "k").Val())
}

func TestUnixSocket(t *testing.T) {
	srv := redistest.NewServer(t)
	sock := srv.UnixSocket()
	d, err := sdk.Open(context.Background(), "unix://"+sock+"?db=2", sdk.WithName(redistest.Name(t)))
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.Redis().Ping(context.Background()).Err())
}

func TestUsernameAndPasswordComeFromTheURL(t *testing.T) {
	srv := redistest.NewServer(t)
	ctx := context.Background()
	admin, err := sdk.Open(ctx, srv.URL())
	require.NoError(t, err)
	defer admin.Close()
	require.NoError(t, admin.Redis().Do(ctx, "ACL", "SETUSER", "app", "on", ">app-pw", "~*", "&*", "+@all").Err())

	d, err := sdk.Open(ctx, "redis://app:app-pw@"+srv.Addr+"/0")
	require.NoError(t, err)
	defer d.Close()
	who, err := d.Redis().Do(ctx, "ACL", "WHOAMI").Text()
	require.NoError(t, err)
	assert.Equal(t, "app", who)

	_, err = sdk.Open(ctx, "redis://app:wrong@"+srv.Addr+"/0")
	require.Error(t, err)
	assert.ErrorIs(t, err, sdk.ErrUnreachable)
	assert.Contains(t, err.Error(), "WRONGPASS")
}

// A user without a password in the URL (one Redis lets in without: nopass)
// is the user the docket runs as; go-redis logged in only with a password,
// and such a URL ran as the default user. One that needs a password is
// refused, not let in as the default user.
func TestAUserWithoutAPasswordIsThatUser(t *testing.T) {
	srv := redistest.NewServer(t)
	ctx := context.Background()
	admin, err := sdk.Open(ctx, srv.URL())
	require.NoError(t, err)
	defer admin.Close()
	require.NoError(t, admin.Redis().Do(ctx, "ACL", "SETUSER", "free", "on", "nopass", "~*", "&*", "+@all").Err())
	require.NoError(t, admin.Redis().Do(ctx, "ACL", "SETUSER", "app", "on", ">app-pw", "~*", "&*", "+@all").Err())
	// The default user needs a password from now: the nopass user logs in
	// before anything else (SELECT of database 2 included).
	require.NoError(t, admin.Redis().Do(ctx, "ACL", "SETUSER", "default", "resetpass", ">admin-pw").Err())
	for _, url := range []string{"redis://free@" + srv.Addr + "/0", "redis://free:@" + srv.Addr + "/2"} {
		d, err := sdk.Open(ctx, url, sdk.WithName(redistest.Name(t)))
		require.NoError(t, err, url)
		who, err := d.Redis().Do(ctx, "ACL", "WHOAMI").Text()
		require.NoError(t, err)
		assert.Equal(t, "free", who, url)
		require.NoError(t, d.Close())
	}
	_, err = sdk.Open(ctx, "redis://app@"+srv.Addr+"/0")
	require.Error(t, err)
	assert.ErrorIs(t, err, sdk.ErrUnreachable)
	assert.Contains(t, err.Error(), "WRONGPASS")
}

// Cluster and Sentinel URLs are understood: with nothing listening, Open
// reports the server unreachable, not the URL bad.
func TestClusterAndSentinelURLsParse(t *testing.T) {
	for _, url := range []string{
		"redis+cluster://127.0.0.1:1?addr=127.0.0.1:2&dial_timeout=100ms&max_retries=-1",
		"rediss+cluster://user:pw@127.0.0.1:1?dial_timeout=100ms&max_retries=-1",
		"redis+sentinel://127.0.0.1:1/0?master_name=main&dial_timeout=100ms&max_retries=-1",
	} {
		t.Run(url, func(t *testing.T) {
			_, err := sdk.Open(context.Background(), url)
			require.Error(t, err)
			assert.ErrorIs(t, err, sdk.ErrUnreachable)
			assert.NotErrorIs(t, err, sdk.ErrBadURL)
		})
	}
}

// deadAddr is a loopback address nothing listens on: a port that was free a
// moment ago.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// Open on a Redis that does not answer returns ErrUnreachable with the
// reason, promptly, and go-redis logs nothing: go-redis's logger belongs to
// the process (it prints to stderr unless the program says otherwise), and
// its dial retries are what made Open slow. The bound on the time is loose:
// a refused connection takes milliseconds; go-redis's retries took seconds.
func TestOpenUnreachableLogsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
		want string
	}{
		{"redis", func(t *testing.T) string { return "redis://" + deadAddr(t) + "/0" }, "connection refused"},
		{"rediss", func(t *testing.T) string { return "rediss://" + deadAddr(t) + "/0" }, "connection refused"},
		{"unix", func(t *testing.T) string { return "unix://" + filepath.Join(t.TempDir(), "none.sock") }, "no such file"},
		{"redis+cluster", func(t *testing.T) string {
			return "redis+cluster://" + deadAddr(t) + "?addr=" + deadAddr(t)
		}, "connection refused"},
		{"redis+sentinel", func(t *testing.T) string {
			return "redis+sentinel://" + deadAddr(t) + "/0?master_name=main&addr=" + deadAddr(t)
		}, "connection refused"},
		{"sentinel names a master that is down", func(t *testing.T) string {
			master := redistest.NewServer(t)
			sentinel := redistest.NewSentinel(t, master, "main")
			master.Stop()
			return sentinel.URL()
		}, "connection refused"},
		{"TLS certificate not trusted", func(t *testing.T) string {
			return redistest.NewTLSServer(t, false).URL()
		}, "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url(t)
			logged := redistest.CaptureRedisLog(t)
			start := time.Now()
			_, err := sdk.Open(context.Background(), url)
			elapsed := time.Since(start)
			require.ErrorIs(t, err, sdk.ErrUnreachable)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, logged.Lines(), "go-redis logged")
			assert.Less(t, elapsed, 3*time.Second, "Open took %v", elapsed)
		})
	}
}

// A server that takes connections and never answers: Open gives up when
// its context does, not when go-redis's read timeout (3 s a try) ends. It
// took 5 s with a 1.5 s context.
func TestOpenGivesUpWithItsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); held.Wait() })
	asked := make(chan struct{}, 1)
	held.Add(1)
	go func() {
		defer held.Done()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // answer nothing
			held.Add(1)
			go func() {
				defer held.Done()
				if _, err := c.Read(make([]byte, 1)); err == nil {
					select {
					case asked <- struct{}{}:
					default:
					}
				}
			}()
		}
	}()
	// The context ends once a command of Open's has come and waits for an
	// answer; its timeouts are an hour, so that only the context can end
	// the wait (an Open that ignored it would hang the test until go
	// test's timeout).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-asked:
			cancel()
		case <-ctx.Done(): // Open returned without a command
		}
	}()
	_, err = sdk.Open(ctx, "redis://"+ln.Addr().String()+"/0?dial_timeout=1h&read_timeout=1h&write_timeout=1h")
	require.Error(t, err)
	assert.ErrorIs(t, err, sdk.ErrUnreachable)
	assert.ErrorIs(t, err, context.Canceled)
}
