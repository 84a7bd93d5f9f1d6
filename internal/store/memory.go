package store

import (
	"context"
	"net"
	"sync"

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
			return m.Dial()
		},
		// Maintenance notifications are for managed Redis deployments; left
		// on, the client would resolve "memory" as a host name.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}
