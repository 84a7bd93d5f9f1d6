package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a Redis Sentinel process (redis-server --sentinel) of this
// test run, monitoring one master.
type Sentinel struct {
	Addr       string
	MasterName string
	dir        string
	cmd        *exec.Cmd
}

// NewSentinel starts a sentinel that monitors master under masterName, with
// a quorum of one, and stops it when the test ends. It returns once the
// sentinel answers and names the master.
func NewSentinel(t testing.TB, master *Server, masterName string) *Sentinel {
	t.Helper()
	bin := findServer(t)
	host, port, err := net.SplitHostPort(master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &Sentinel{MasterName: masterName, dir: t.TempDir()}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	_, sport, _ := net.SplitHostPort(s.Addr)
	// A sentinel rewrites its configuration file: it must be its own.
	conf := filepath.Join(s.dir, "sentinel.conf")
	text := fmt.Sprintf(`port %s
bind 127.0.0.1
daemonize no
dir %s
loglevel warning
sentinel monitor %s %s %s 1
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 10000
`, sport, s.dir, masterName, host, port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(s.dir, "sentinel.log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, conf, "--sentinel")
	s.cmd.SysProcAttr = childAttr()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server --sentinel: %v", err)
	}
	_ = out.Close()
	t.Cleanup(s.Stop)
	if err := waitReady(s.Addr, logPath); err != nil {
		t.Fatal(err)
	}
	if got := s.WaitMaster(t, master.Addr, 10*time.Second); got != master.Addr {
		t.Fatalf("sentinel names %s as master %q, not %s", got, masterName, master.Addr)
	}
	return s
}

// URL is the redis+sentinel:// URL of the monitored master's database 0.
func (s *Sentinel) URL() string {
	return "redis+sentinel://" + s.Addr + "/0?master_name=" + s.MasterName
}

// Client is a plain client of the sentinel itself, closed when the test ends.
func (s *Sentinel) Client(t testing.TB) *redis.SentinelClient {
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// WaitMaster waits up to timeout until the sentinel names want as the
// master's address, and returns the address it names last.
func (s *Sentinel) WaitMaster(t testing.TB, want string, timeout time.Duration) string {
	t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		addr, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
		cancel()
		got := ""
		if err == nil && len(addr) == 2 {
			got = net.JoinHostPort(addr[0], addr[1])
		}
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond) // waiting for a real sentinel
	}
}

// Stop kills the sentinel.
func (s *Sentinel) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
