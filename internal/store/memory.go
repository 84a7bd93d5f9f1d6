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
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	c := memoryClient(m)
	return c, func() error {
		err := c.Close()
		m.Close()
		return err
	}
}

// The memory:// servers of this process, by name. Every Open of the same
// memory URL shares one server, so a producer and a worker in one program see
// the same tasks; the server is discarded when its last client closes.
var memory = struct {
	sync.Mutex
	servers map[string]*memoryServer
}{servers: map[string]*memoryServer{}}

type memoryServer struct {
	m    *miniredis.Miniredis
	refs int
}

func sharedMemory(name string) (redis.UniversalClient, func() error) {
	memory.Lock()
	defer memory.Unlock()
	srv := memory.servers[name]
	if srv == nil {
		srv = &memoryServer{m: miniredis.NewMiniRedis()}
		srv.m.ClockTTL(true)
		memory.servers[name] = srv
	}
	srv.refs++
	c := memoryClient(srv.m)
	var once sync.Once
	return c, func() error {
		err := c.Close()
		once.Do(func() {
			memory.Lock()
			defer memory.Unlock()
			if srv.refs--; srv.refs == 0 {
				delete(memory.servers, name)
				srv.m.Close()
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

func memoryClient(m *miniredis.Miniredis) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: memoryAddr,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			c, err := m.Dial()
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
