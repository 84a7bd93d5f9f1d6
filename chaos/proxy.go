package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cutKind is how a partition cuts a worker off from Redis. They fail
// differently on the worker's side: a refused connection errors at once, a
// black hole only when go-redis's read timeout (3s) runs out, and a frozen
// connection, which is neither closed nor answered, also stalls the calls
// that were in flight when the cut came.
type cutKind int

const (
	open      cutKind = iota
	refuse            // connections closed (RST), new ones refused: nothing listens
	blackhole         // connections closed, new ones accepted and never forwarded
	freeze            // connections kept open, but nothing crosses them; new ones black-holed: a pulled cable
)

var cutKinds = []cutKind{refuse, blackhole, freeze}

func (k cutKind) String() string {
	switch k {
	case refuse:
		return "refused"
	case blackhole:
		return "black-holed"
	case freeze:
		return "frozen"
	}
	return "open"
}

// proxy forwards one worker slot's connections to Redis, so that the driver
// can cut that worker off (a network partition) while the others go on. It
// listens on the same port for the whole run, so that every process of the
// slot, and every Redis restart, goes through it.
type proxy struct {
	slot     int
	port     int
	upstream string

	mu    sync.Mutex
	state cutKind
	ln    net.Listener // nil while refusing
	links map[*link]struct{}
}

// link is one client connection through the proxy. server is nil for a
// connection accepted into a black hole.
type link struct {
	client, server net.Conn
	frozen         bool // under proxy.mu: bytes read are dropped, not forwarded
}

// newProxy listens on a loopback port below the kernel's ephemeral range:
// a refusing proxy stops listening, and its port must still be free when
// it listens again, which a port of the ephemeral range, taken meanwhile by
// some outgoing connection, may not be.
func newProxy(slot int, upstream string) (*proxy, error) {
	p := &proxy{slot: slot, upstream: upstream, links: map[*link]struct{}{}}
	lo, hi := portsBelowEphemeral()
	var err error
	for range 200 {
		port := lo + rand.IntN(hi-lo)
		if p.ln, err = net.Listen("tcp", p.addrOf(port)); err == nil {
			p.port = port
			go p.accept(p.ln)
			return p, nil
		}
	}
	return nil, fmt.Errorf("proxy for worker slot %d: no free port in %d-%d: %w", slot, lo, hi, err)
}

// portsBelowEphemeral is a range of ports no outgoing connection takes.
func portsBelowEphemeral() (lo, hi int) {
	lo, hi = 20000, 32768 // Linux's default ephemeral range starts at 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if start, err := strconv.Atoi(f[0]); err == nil && start > 2048 {
				hi, lo = start, max(1024, start-12768)
			}
		}
	}
	return lo, hi
}

func (p *proxy) addrOf(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func (p *proxy) url() string { return "redis://" + p.addrOf(p.port) + "/0" }

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed: refusing, or the run is over
		}
		go p.serve(c)
	}
}

func (p *proxy) serve(c net.Conn) {
	var server net.Conn
	p.mu.Lock()
	state := p.state
	p.mu.Unlock()
	if state == open {
		var err error
		if server, err = net.DialTimeout("tcp", p.upstream, time.Second); err != nil {
			_ = c.Close() // Redis is down: so it looks to the worker
			return
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case open:
		l := &link{client: c, server: server}
		p.links[l] = struct{}{}
		go p.pump(l, l.server, l.client)
		go p.pump(l, l.client, l.server)
	case refuse: // cut while dialling
		_ = c.Close()
		if server != nil {
			_ = server.Close()
		}
	default: // into the black hole, until restored
		if server != nil {
			_ = server.Close()
		}
		l := &link{client: c}
		p.links[l] = struct{}{}
		go p.pump(l, nil, l.client)
	}
}

// pump copies what src sends to dst (or drops it, while the link is frozen
// or dst is nil), until either end closes; then it closes the link.
func (p *proxy) pump(l *link, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			forward := dst != nil && !l.frozen
			p.mu.Unlock()
			// A frozen link is closed when restored, never thawed: what it
			// dropped would have left the RESP stream half a command short.
			if forward {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			p.drop(l)
			return
		}
	}
}

// drop closes both ends of a link and forgets it.
func (p *proxy) drop(l *link) {
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
	closeLink(l)
}

func closeLink(l *link) {
	_ = l.client.Close()
	if l.server != nil {
		_ = l.server.Close()
	}
}

// cut cuts the worker off from Redis, the given way, until restore.
func (p *proxy) cut(kind cutKind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = kind
	if kind == refuse && p.ln != nil {
		_ = p.ln.Close() // the kernel refuses connections to a port nobody listens on
		p.ln = nil
	}
	for l := range p.links {
		if kind == freeze {
			l.frozen = true
			continue
		}
		delete(p.links, l)
		closeLink(l)
	}
}

// restore lets the worker reach Redis again. The connections the cut
// froze or black-holed are closed: nothing sent into them is ever
// delivered.
func (p *proxy) restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		if l.frozen || l.server == nil {
			delete(p.links, l)
			closeLink(l)
		}
	}
	p.state = open
	if p.ln != nil {
		return nil
	}
	// Listen again on the same port. It is outside the ephemeral range, so
	// only a slow release of the old socket can stand in the way.
	var err error
	for range 100 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addrOf(p.port)); err == nil {
			p.ln = ln
			go p.accept(ln)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("proxy for worker slot %d cannot listen on port %d again: %w", p.slot, p.port, err)
}

// close ends the proxy and every connection through it.
func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.state = refuse
	for l := range p.links {
		delete(p.links, l)
		closeLink(l)
	}
}
