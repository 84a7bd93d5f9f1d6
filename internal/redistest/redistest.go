// Package redistest starts the Redis servers integration tests run against:
// a real redis-server on a free loopback port, and the embedded memory://
// backend. Every test gets its own docket name, so tests share one server and
// still run in parallel, and a key-leak check runs after each test.
package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/docket-go/docket/internal/store"
)

// RequireEnv is the variable that turns a missing redis-server from a skip
// into a failure.
const RequireEnv = "DOCKET_REQUIRE_REDIS"

// ClusterEnv is the variable that holds the redis+cluster:// URL of a Redis
// Cluster to run the "cluster" subtests of Each against (scripts/cluster.sh
// starts one). Without it those subtests are skipped.
const ClusterEnv = "DOCKET_CLUSTER_URL"

// RequireClusterEnv is the variable that turns a missing ClusterEnv from a
// skip into a failure.
const RequireClusterEnv = "DOCKET_REQUIRE_CLUSTER"

// Main runs a package's tests, stops the shared redis-server, and checks that
// no goroutine outlived the tests.
func Main(m *testing.M) {
	code := m.Run()
	shared.stop()
	if code == 0 {
		if err := goleak.Find(IgnoredGoroutines()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// IgnoredGoroutines are goroutines that belong to the process, not a test.
func IgnoredGoroutines() []goleak.Option {
	return []goleak.Option{
		// OpenTelemetry's global delegate and go-redis's pools start none of
		// their own; nothing to ignore yet. Kept as the one place to add one.
	}
}

// Backend is a Redis to run a test against.
type Backend struct {
	Name string // "memory", "redis" or "cluster"
	URL  string // a URL for sdk.Open
}

// Each runs fn as a subtest per backend: memory:// always, a real
// redis-server when one is on PATH, and the Redis Cluster that
// DOCKET_CLUSTER_URL names, when it is set. With DOCKET_REQUIRE_REDIS=1 a
// missing redis-server fails the test instead of skipping that subtest; with
// DOCKET_REQUIRE_CLUSTER=1, so does a missing DOCKET_CLUSTER_URL.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		fn(t, Memory(t))
	})
	t.Run("redis", func(t *testing.T) {
		fn(t, Redis(t))
	})
	t.Run("cluster", func(t *testing.T) {
		fn(t, Cluster(t))
	})
}

// Cluster returns the Redis Cluster DOCKET_CLUSTER_URL names, shared by every
// test (each has its own docket name, so its own slot). It skips the test
// when the variable is unset, or fails it with DOCKET_REQUIRE_CLUSTER=1.
func Cluster(t testing.TB) Backend {
	t.Helper()
	url := os.Getenv(ClusterEnv)
	if url == "" {
		if os.Getenv(RequireClusterEnv) == "1" {
			t.Fatalf("%s is not set and %s=1: start a cluster with scripts/cluster.sh start", ClusterEnv, RequireClusterEnv)
		}
		t.Skip(ClusterEnv + " is not set; scripts/cluster.sh start prints a URL for it")
	}
	if !strings.HasPrefix(url, "redis+cluster://") && !strings.HasPrefix(url, "rediss+cluster://") {
		t.Fatalf("%s=%q: want a redis+cluster:// URL", ClusterEnv, url)
	}
	return Backend{Name: "cluster", URL: url}
}

// Memory returns a fresh memory:// backend for this test.
func Memory(t *testing.T) Backend {
	return Backend{Name: "memory", URL: "memory://" + Name(t)}
}

// Redis returns the shared real redis-server, starting it on first use.
func Redis(t *testing.T) Backend {
	t.Helper()
	addr := shared.start(t)
	return Backend{Name: "redis", URL: "redis://" + addr + "/0"}
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Name returns a docket name unique to this test.
func Name(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := nameUnsafe.ReplaceAllString(t.Name(), "-")
	if len(n) > 60 {
		n = n[len(n)-60:]
	}
	return n + "-" + hex.EncodeToString(b)
}

// CheckLeaks registers a check, run when the test ends, that the docket left
// no key without a TTL that no live task needs. Register it before anything
// the test must stop first (cleanups run last-registered first), so that it
// runs after workers have stopped.
func CheckLeaks(t testing.TB, rdb redis.UniversalClient, name string) {
	t.Helper()
	s, err := store.New(rdb, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.CheckLeaks(ctx); err != nil {
			t.Error(err)
		}
	})
}

// Server is a redis-server process of this test run.
type Server struct {
	Addr string
	dir  string
	args []string // extra arguments
	cmd  *exec.Cmd
	mu   sync.Mutex
}

// NewServer starts a dedicated redis-server for one test (one it may stop
// and restart), and stops it when the test ends. args are extra
// redis-server arguments (say "--replicaof", "127.0.0.1", "6379"); they come
// last, so they override the defaults.
func NewServer(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := findServer(t)
	s := &Server{dir: t.TempDir(), args: args}
	if err := s.launch(bin, freePort(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// UnixSocket is the path of the server's Unix socket.
func (s *Server) UnixSocket() string {
	return filepath.Join(s.dir, "redis.sock")
}

// Stop kills the server (SIGKILL: what a crash looks like to clients).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, with an empty dataset
// unless appendonly kept it.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	_, port, _ := net.SplitHostPort(s.Addr)
	p, _ := strconv.Atoi(port)
	if err := s.launch(findServer(t), p); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) launch(bin string, port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--unixsocket", filepath.Join(s.dir, "redis.sock"), "--unixsocketperm", "700",
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Args = append(cmd.Args, s.args...)
	cmd.SysProcAttr = childAttr()
	out, err := os.Create(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	_ = out.Close()
	s.cmd = cmd
	return waitReady(s.Addr, filepath.Join(s.dir, "redis.log"))
}

func waitReady(addr, logPath string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond) // waiting for a real process to start
	}
	log, _ := os.ReadFile(logPath)
	return fmt.Errorf("redis-server on %s did not answer within 10s; its log:\n%s", addr, log)
}

func findServer(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("redis-server is not on PATH and %s=1: install it (apt-get install redis-server)", RequireEnv)
		}
		t.Skip("redis-server is not on PATH; set " + RequireEnv + "=1 to make this a failure")
	}
	return bin
}

func freePort(t testing.TB) int {
	t.Helper()
	port, err := pickPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// pickPort is a loopback port that was free a moment ago.
func pickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared is the one redis-server a test binary's tests share.
var shared sharedServer

type sharedServer struct {
	mu  sync.Mutex
	srv *Server
	err error
}

func (s *sharedServer) start(t testing.TB) string {
	t.Helper()
	bin := findServer(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil && s.err == nil {
		dir, err := os.MkdirTemp("", "docket-redis-")
		if err != nil {
			s.err = err
		} else {
			srv := &Server{dir: dir}
			if err := srv.launch(bin, freePort(t)); err != nil {
				s.err = err
			} else {
				s.srv = srv
			}
		}
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.srv.Addr
}

func (s *sharedServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Stop()
		_ = os.RemoveAll(s.srv.dir)
		s.srv = nil
	}
}
