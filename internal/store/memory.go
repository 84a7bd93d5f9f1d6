package store

import (
	"context"
	"net"
	"os"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Embedded starts an in-process Redis (miniredis) whose key TTLs follow the
// clock, and returns a client connected to it through in-memory pipes: no
// socket, so it also works inside a testing/synctest bubble, where its clock
// is the bubble's fake clock. The close function stops both.
//
// The pipes have no buffer: a pipeline larger than the server's read buffer
// would block against its own replies. The store sends one command (or one
// script) at a time.
func Embedded() (redis.UniversalClient, func() error) {
	srv := newMemoryServer()
	c := memoryClient(srv)
	return c, func() error {
		err := c.Close()
		srv.close()
		return err
	}
}

// A memoryServer is an embedded server, and the clock of its key TTLs.
//
// The TTLs follow the clock (TIME follows it on its own: it reads
// time.Now), moved on by the server's clients before each command, at most
// once every ttlTick. Miniredis's own ClockTTL moves them before every
// command a script runs, and each move sorts every key: a few thousand
// queued tasks made each add cost milliseconds (an AddMany of 8,000 took
// 14 s). Expiry only collects garbage here (the scripts decide by the
// clock's value, never by whether a key has expired), so it may lag by a
// tick.
type memoryServer struct {
	m    *miniredis.Miniredis
	refs int // the clients of a shared server (see sharedMemory)

	mu     sync.Mutex
	last   time.Time // when the TTLs were last moved on
	closed bool      // the server was stopped: no connection is made any more
}

// ttlTick is how often at most the TTLs of an embedded server move on.
const ttlTick = 10 * time.Millisecond

func newMemoryServer() *memoryServer {
	return &memoryServer{m: miniredis.NewMiniRedis(), last: time.Now()}
}

// dial connects to the server, unless it was stopped: go-redis may finish
// a connection it began for a call in flight after its client closed.
func (s *memoryServer) dial() (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, net.ErrClosed
	}
	return s.m.Dial()
}

// close stops the server.
func (s *memoryServer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.m.Close()
}

// tick moves the TTLs on by the time since they last moved, once ttlTick
// has passed.
func (s *memoryServer) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if passed := now.Sub(s.last); passed >= ttlTick {
		s.m.FastForward(passed)
		s.last = now
	}
}

// ttlHook ticks a server's TTL clock before each command of its client.
type ttlHook struct{ srv *memoryServer }

func (h ttlHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h ttlHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.srv.tick()
		return next(ctx, cmd)
	}
}

func (h ttlHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.srv.tick()
		return next(ctx, cmds)
	}
}

// The memory:// servers of this process, by name. Every Open of the same
// memory URL shares one server, so a producer and a worker in one program see
// the same tasks; the server is discarded when its last client closes.
var memory = struct {
	sync.Mutex
	servers map[string]*memoryServer
}{servers: map[string]*memoryServer{}}

func sharedMemory(name string) (redis.UniversalClient, func() error) {
	memory.Lock()
	defer memory.Unlock()
	srv := memory.servers[name]
	if srv == nil {
		srv = newMemoryServer()
		memory.servers[name] = srv
	}
	srv.refs++
	c := memoryClient(srv)
	var once sync.Once
	return c, func() error {
		err := c.Close()
		once.Do(func() {
			memory.Lock()
			defer memory.Unlock()
			if srv.refs--; srv.refs == 0 {
				delete(memory.servers, name)
				srv.close()
			}
		})
		return err
	}
}

// memoryAddr is the address of every client of an embedded server: it
// tells them from clients of a real Redis.
const memoryAddr = "memory"

// isMemory reports whether rdb is a client of an embedded server.
func isMemory(rdb redis.UniversalClient) bool {
	c, ok := rdb.(*redis.Client)
	return ok && c.Options().Addr == memoryAddr
}

func memoryClient(srv *memoryServer) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: memoryAddr,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			c, err := srv.dial()
			if err != nil {
				return nil, err
			}
			return drained(c), nil
		},
		// No read or write deadline: the server is in the process, and a
		// big script on a loaded machine (a thousand outcomes under -race)
		// may take longer than go-redis's default of 3s, after which it
		// would run the script again.
		ReadTimeout:  -2,
		WriteTimeout: -2,
		// Maintenance notifications are for managed Redis deployments; left
		// on, the client would resolve "memory" as a host name.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	c.AddHook(ttlHook{srv})
	return c
}

// drainedConn is the client's end of a connection to the embedded server,
// which reads everything the server writes as soon as it is written, into
// memory: as a socket's buffer does for a real Redis. The connections are
// in-memory pipes without a buffer, and the embedded server publishes under
// its lock: without this, a subscriber that does not read at once (a watch
// reading the task's state before it reads its events) would block the
// server's next publication, and with it every client.
type drainedConn struct {
	net.Conn
	mu       sync.Mutex
	buf      []byte
	err      error
	deadline time.Time
	ready    chan struct{} // signalled when buf grows or err is set
}

func drained(c net.Conn) net.Conn {
	d := &drainedConn{Conn: c, ready: make(chan struct{}, 1)}
	go d.pump()
	return d
}

// pump reads what the server writes, until the connection closes.
func (d *drainedConn) pump() {
	b := make([]byte, 32<<10)
	for {
		n, err := d.Conn.Read(b)
		d.mu.Lock()
		d.buf = append(d.buf, b[:n]...)
		if err != nil {
			d.err = err
		}
		d.mu.Unlock()
		select {
		case d.ready <- struct{}{}:
		default: // a wake-up is pending already
		}
		if err != nil {
			return
		}
	}
}

// Read returns what the server wrote, waiting for it until the read
// deadline.
func (d *drainedConn) Read(p []byte) (int, error) {
	for {
		d.mu.Lock()
		if len(d.buf) > 0 {
			n := copy(p, d.buf)
			d.buf = d.buf[n:]
			d.mu.Unlock()
			return n, nil
		}
		err, deadline := d.err, d.deadline
		d.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if deadline.IsZero() {
			<-d.ready
			continue
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		timer := time.NewTimer(wait)
		select {
		case <-d.ready:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// SetReadDeadline bounds the reads that wait; the pipe itself is always
// read.
func (d *drainedConn) SetReadDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deadline = t
	return nil
}

// SetDeadline bounds reads and writes.
func (d *drainedConn) SetDeadline(t time.Time) error {
	_ = d.SetReadDeadline(t)
	return d.Conn.SetWriteDeadline(t)
}
