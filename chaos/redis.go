package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redisServer is the redis-server of the run: appendonly, in the run's
// directory, on a loopback port it keeps across restarts.
//
// appendfsync is "always": Redis writes and fsyncs the AOF before it
// replies, so every Add a producer saw succeed survives a SIGKILL of the
// server. With "everysec" Redis may postpone the write itself while a slow
// fsync runs (up to 2s), and an acknowledged write can then die with the
// process: an Add that succeeded could vanish, and the "every added key ran"
// check would have to forgive it.
type redisServer struct {
	bin   string
	dir   string
	port  int
	major int // version, 0 if unknown

	mu  sync.Mutex
	cmd *exec.Cmd
}

func startRedis(dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not on PATH (Debian/Ubuntu: apt-get install redis-server; scripts/chaos.sh installs it when run as root)")
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &redisServer{bin: bin, dir: dir, port: port}
	v, _, _ := strings.Cut(s.version(), ".")
	s.major, _ = strconv.Atoi(v)
	return s, s.start()
}

func (s *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func (s *redisServer) url() string { return "redis://" + s.addr() + "/0" }

func (s *redisServer) version() string {
	out, err := exec.Command(s.bin, "--version").Output()
	if err != nil {
		return "?"
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return strings.TrimSpace(string(out))
}

func (s *redisServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--loglevel", "warning"}
	if s.major >= 7 {
		// DEBUG SLEEP stalls the server; Redis 7 refuses DEBUG unless
		// enabled ("local": from loopback connections only). Earlier
		// versions allow it, and know no such option.
		args = append(args, "--enable-debug-command", "local")
	}
	cmd := exec.Command(s.bin, args...)
	log, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd = cmd
	if err := waitPong(s.addr()); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		s.cmd = nil
		tail, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		return fmt.Errorf("%w; redis.log:\n%s", err, tail)
	}
	return nil
}

// kill SIGKILLs the server: what a crash looks like to its clients.
func (s *redisServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// restart kills the server, waits down, and starts it again on the same
// port and directory: the AOF brings the data back.
func (s *redisServer) restart(down time.Duration) error {
	s.kill()
	time.Sleep(down) // the outage
	var err error
	for range 3 { // the port is ours, but give a slow release a chance
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// waitPong waits until the server answers PING with PONG (not LOADING).
func waitPong(addr string) error {
	deadline := time.Now().Add(20 * time.Second)
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
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING within 20s", addr)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stallKind is how the driver stalls Redis: every client waits, none is
// disconnected, and Redis's clock runs on, so that leases lapse meanwhile.
type stallKind int

const (
	clientPause stallKind = iota // CLIENT PAUSE <ms> ALL: the server holds every client's commands
	debugSleep                   // DEBUG SLEEP <s>: the server does nothing at all, not even accept
)

var stallKinds = []stallKind{clientPause, debugSleep}

func (k stallKind) String() string {
	if k == debugSleep {
		return "DEBUG SLEEP"
	}
	return "CLIENT PAUSE"
}

// stall stalls the server for d. A CLIENT PAUSE returns at once; a DEBUG
// SLEEP returns when the server wakes up.
func (s *redisServer) stall(kind stallKind, d time.Duration) error {
	if kind == debugSleep {
		_, err := command(s.addr(), d+10*time.Second, "DEBUG", "SLEEP", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
		return err
	}
	_, err := command(s.addr(), 5*time.Second, "CLIENT", "PAUSE", strconv.FormatInt(d.Milliseconds(), 10), "ALL")
	return err
}

// command sends one command on a connection of its own and reads a
// one-line reply. Not through go-redis: it would send a DEBUG SLEEP longer
// than its read timeout again, on another connection, and stall the server
// twice.
func command(addr string, timeout time.Duration, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	req := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(req)); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "-"); ok {
		return "", redisError(strings.Join(args, " ") + ": " + msg)
	}
	return line, nil
}

// redisError is an error reply of the server, not of the connection.
type redisError string

func (e redisError) Error() string { return string(e) }
