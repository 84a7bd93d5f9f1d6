package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// server is the one redis-server of a benchmark run, shared by every
// contender, flushed between them.
type server struct {
	port   int
	cmd    *exec.Cmd
	admin  *redis.Client
	exited chan struct{}
	log    syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the writes of a child process's
// output copier and a concurrent read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRedis starts redis-server on a free loopback port, without
// persistence, and waits until it answers.
func startRedis(ctx context.Context, bin string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{port: port, exited: make(chan struct{})}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning", "--logfile", "",
		"--dir", os.TempDir(),
	)
	// Its log goes to a buffer, printed only if it fails to start: its
	// start-up warnings (overcommit and such) are noise here.
	cmd.Stdout = &s.log
	cmd.Stderr = &s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlive the benchmark
	s.cmd = cmd
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	s.admin = redis.NewClient(&redis.Options{Addr: s.addr()})
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.admin.Ping(ctx).Err()
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%s exited at start (port %d):\n%s", bin, port, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer: %w\n%s", port, err, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) stop() {
	_ = s.admin.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// flush empties Redis between contenders. Loaded scripts survive it.
func (s *server) flush(ctx context.Context) error {
	return s.admin.FlushAll(ctx).Err()
}

// info reads one INFO section as a map.
func (s *server) info(ctx context.Context, section string) (map[string]string, error) {
	text, err := s.admin.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

func (s *server) usedMemory(ctx context.Context) (int64, error) {
	m, err := s.info(ctx, "memory")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(m["used_memory"], 10, 64)
}

// cpu is the CPU time redis-server has used, in seconds.
func (s *server) cpu(ctx context.Context) (float64, error) {
	m, err := s.info(ctx, "cpu")
	if err != nil {
		return 0, err
	}
	user, err1 := strconv.ParseFloat(m["used_cpu_user"], 64)
	sys, err2 := strconv.ParseFloat(m["used_cpu_sys"], 64)
	return user + sys, errors.Join(err1, err2)
}

// cmdStat is one command's line of INFO commandstats.
type cmdStat struct {
	Calls int64
	Usec  int64
}

// commandStats reads INFO commandstats: calls and server time per command.
func (s *server) commandStats(ctx context.Context) (map[string]cmdStat, error) {
	m, err := s.info(ctx, "commandstats")
	if err != nil {
		return nil, err
	}
	out := map[string]cmdStat{}
	for k, v := range m {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		var st cmdStat
		for _, kv := range strings.Split(v, ",") {
			key, val, _ := strings.Cut(kv, "=")
			switch key {
			case "calls":
				st.Calls, _ = strconv.ParseInt(val, 10, 64)
			case "usec":
				st.Usec, _ = strconv.ParseInt(val, 10, 64)
			}
		}
		out[name] = st
	}
	return out, nil
}

// meter samples what a phase of a measurement cost: Redis CPU, this
// process's CPU, and Redis's per-command server time.
type meter struct {
	s        *server
	redisCPU float64
	selfCPU  float64
	cmds     map[string]cmdStat
}

func (s *server) startMeter(ctx context.Context) (*meter, error) {
	m := &meter{s: s, selfCPU: processCPU()}
	var err error
	if m.redisCPU, err = s.cpu(ctx); err != nil {
		return nil, err
	}
	if m.cmds, err = s.commandStats(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// cost is what a phase cost.
type cost struct {
	RedisCPU  float64 // seconds
	ClientCPU float64 // seconds, this process (Go contenders)
	Commands  map[string]cmdStat
}

func (m *meter) stop(ctx context.Context) (cost, error) {
	c := cost{ClientCPU: processCPU() - m.selfCPU, Commands: map[string]cmdStat{}}
	rcpu, err := m.s.cpu(ctx)
	if err != nil {
		return cost{}, err
	}
	c.RedisCPU = rcpu - m.redisCPU
	cmds, err := m.s.commandStats(ctx)
	if err != nil {
		return cost{}, err
	}
	for name, st := range cmds {
		before := m.cmds[name]
		if d := (cmdStat{Calls: st.Calls - before.Calls, Usec: st.Usec - before.Usec}); d.Calls > 0 {
			c.Commands[name] = d
		}
	}
	return c, nil
}

// processCPU is the CPU time (user and system) this process has used, in
// seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
