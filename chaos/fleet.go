package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docket-go/docket/chaos/internal/tasks"
)

// fleet keeps a number of worker processes running: each slot starts a
// replacement as soon as its process dies, whether the driver killed it or
// an exiter task ended it.
type fleet struct {
	bin  string
	args func(slot int) []string // a slot's processes reach Redis through the slot's proxy
	dir  string
	logf func(format string, args ...any)

	mu       sync.Mutex
	procs    []*proc // by slot
	all      []*proc // every process started, for their run logs
	stopping bool
	wg       sync.WaitGroup

	kills   atomic.Int64 // SIGKILLs sent by the driver
	exits   atomic.Int64 // processes ended by an exiter task
	started atomic.Int64

	crashMu sync.Mutex
	crashes []string // unexpected exits, with the log's tail
	stuck   []string // did not stop gracefully in time
}

type proc struct {
	slot   int
	cmd    *exec.Cmd
	runs   string // its run log (tasks.RunLog)
	killed atomic.Bool
	done   chan struct{}
	code   int
	died   time.Time // when the driver saw it end: set before done closes
}

func newFleet(bin, dir string, args func(slot int) []string, logf func(string, ...any)) *fleet {
	return &fleet{bin: bin, dir: dir, args: args, logf: logf}
}

func (f *fleet) logPath(slot int) string {
	return filepath.Join(f.dir, fmt.Sprintf("worker-%02d.log", slot))
}

// runsPath is the run log of the n-th process started.
func (f *fleet) runsPath(slot int, n int64) string {
	return filepath.Join(f.dir, "runs", fmt.Sprintf("w%02d-%04d.log", slot, n))
}

// start starts n slots.
func (f *fleet) start(n int) error {
	if err := os.MkdirAll(filepath.Join(f.dir, "runs"), 0o755); err != nil {
		return err
	}
	f.procs = make([]*proc, n)
	for slot := range n {
		p, err := f.spawn(slot)
		if err != nil {
			return err
		}
		f.procs[slot] = p
		f.wg.Go(func() { f.keep(p) })
	}
	return nil
}

func (f *fleet) spawn(slot int) (*proc, error) {
	log, err := os.OpenFile(f.logPath(slot), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	runs := f.runsPath(slot, f.started.Add(1))
	args := append(f.args(slot), "-label", fmt.Sprintf("chaos-w%02d", slot), "-runs", runs)
	cmd := exec.Command(f.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	p := &proc{slot: slot, cmd: cmd, runs: runs, done: make(chan struct{})}
	f.mu.Lock()
	f.all = append(f.all, p)
	f.mu.Unlock()
	return p, nil
}

// processes lists every process started, once all have ended.
func (f *fleet) processes() []*proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*proc(nil), f.all...)
}

// keep waits for a slot's process to end and replaces it, until the fleet
// stops.
func (f *fleet) keep(p *proc) {
	for {
		err := p.cmd.Wait()
		p.died = time.Now()
		p.code = 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			p.code = ee.ExitCode()
		}
		close(p.done)
		f.mu.Lock()
		stopping := f.stopping
		f.mu.Unlock()
		switch {
		case p.killed.Load():
			// counted when killed
		case p.code == tasks.ExitCode:
			f.exits.Add(1)
		case stopping && p.code == 0:
			return
		default:
			f.crash(fmt.Sprintf("worker slot %d (pid %d) exited unexpectedly: %v", p.slot, p.cmd.Process.Pid, err))
			time.Sleep(200 * time.Millisecond) // a worker that cannot start must not spin
		}
		if stopping {
			return
		}
		next, err := f.spawn(p.slot)
		if err != nil {
			f.crash(err.Error())
			return
		}
		f.mu.Lock()
		if f.stopping { // stopped while spawning: stop this one too
			f.mu.Unlock()
			_ = next.cmd.Process.Signal(syscall.SIGTERM)
		} else {
			f.procs[p.slot] = next
			f.mu.Unlock()
		}
		p = next
	}
}

func (f *fleet) crash(msg string) {
	f.crashMu.Lock()
	defer f.crashMu.Unlock()
	f.crashes = append(f.crashes, msg)
	f.logf("%s", msg)
}

// kill SIGKILLs n random live workers.
func (f *fleet) kill(rng *rand.Rand, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopping {
		return
	}
	var pids []string
	for _, slot := range rng.Perm(len(f.procs))[:min(n, len(f.procs))] {
		p := f.procs[slot]
		select {
		case <-p.done:
			continue // already dead, being replaced
		default:
		}
		p.killed.Store(true)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err == nil {
			f.kills.Add(1)
			pids = append(pids, fmt.Sprintf("%d (pid %d)", slot, p.cmd.Process.Pid))
		}
	}
	if len(pids) > 0 {
		f.logf("SIGKILL worker %s", strings.Join(pids, ", "))
	}
}

// stop asks every worker to drain and exit (SIGTERM), waits up to grace,
// then SIGKILLs what is left.
func (f *fleet) stop(grace time.Duration) {
	f.mu.Lock()
	f.stopping = true
	procs := append([]*proc(nil), f.procs...)
	f.mu.Unlock()
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(grace)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline:
		}
	}
	for _, p := range procs {
		select {
		case <-p.done:
		default:
			f.crashMu.Lock()
			f.stuck = append(f.stuck, fmt.Sprintf("worker slot %d (pid %d) did not stop within %v of SIGTERM", p.slot, p.cmd.Process.Pid, grace))
			f.crashMu.Unlock()
			p.killed.Store(true)
			_ = p.cmd.Process.Kill()
		}
	}
	f.wg.Wait()
}

// abort kills every worker at once (the driver is giving up).
func (f *fleet) abort() {
	f.mu.Lock()
	f.stopping = true
	procs := append([]*proc(nil), f.procs...)
	f.mu.Unlock()
	for _, p := range procs {
		if p != nil {
			p.killed.Store(true)
			_ = p.cmd.Process.Kill()
		}
	}
	f.wg.Wait()
}
