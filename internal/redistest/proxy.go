package redistest

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy forwards TCP connections to a Redis, so that a test can cut one
// client off from it (a network partition) while others go on, or lose the
// reply to one command (see LoseReply).
type Proxy struct {
	Addr     string // where clients connect
	upstream string
	mu       sync.Mutex
	down     bool
	conns    []net.Conn
	lose     []byte // see LoseReply
	lost     atomic.Int32
	t        testing.TB
}

// NewProxy listens on a free loopback port and forwards to upstream, until
// the test ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), upstream: upstream, t: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.serve(c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		p.Cut()
	})
	return p
}

func (p *Proxy) serve(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		_ = c.Close()
		return
	}
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		_ = c.Close()
		return
	}
	p.conns = append(p.conns, c, u)
	var losing atomic.Bool // set from a marked request on: its reply is lost
	go p.requests(u, c, &losing)
	go p.replies(c, u, &losing)
}

// requests forwards what the client sends. A request that holds the mark
// LoseReply set sets losing before Redis can answer it: replies then drops
// the answer and closes the connection.
func (p *Proxy) requests(u, c net.Conn, losing *atomic.Bool) {
	defer closeBoth(u, c)
	buf := make([]byte, 64<<10)
	var tail []byte // the end of the last read: a mark may straddle two
	for {
		n, err := c.Read(buf)
		if n > 0 {
			seen := append(tail, buf[:n]...)
			if p.marked(seen) {
				losing.Store(true)
			}
			tail = append(tail[:0], seen[max(len(seen)-markTail, 0):]...)
			if _, werr := u.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// replies forwards what Redis answers, unless requests has marked the
// request being answered: then the connection is closed, the reply lost.
func (p *Proxy) replies(c, u net.Conn, losing *atomic.Bool) {
	defer closeBoth(c, u)
	buf := make([]byte, 64<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			if losing.Load() {
				p.lost.Add(1)
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func closeBoth(a, b net.Conn) {
	_ = a.Close()
	_ = b.Close()
}

// markTail is how much of a request requests keeps to find a mark that
// straddles two reads: marks are shorter.
const markTail = 256

// marked reports whether request holds the mark LoseReply set, and if so
// clears it: one reply is lost per LoseReply.
func (p *Proxy) marked(request []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lose == nil || !bytes.Contains(request, p.lose) {
		return false
	}
	p.lose = nil
	return true
}

// LoseReply makes the proxy lose Redis's reply to the next request that
// contains mark: the request is carried out, then the connection is closed
// before its reply reaches the client, as when a network fails at the worst
// moment. A client that sends the request again (go-redis does, by
// default) has it carried out twice.
func (p *Proxy) LoseReply(mark string) {
	if len(mark) > markTail {
		p.t.Fatalf("redistest: a LoseReply mark is at most %d bytes", markTail)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lose = []byte(mark)
}

// Cut closes every connection through the proxy, and refuses new ones
// until Restore: a worker behind it is cut off from Redis.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Lost is how many replies the proxy has lost (see LoseReply): a test
// asserts it, or a reply that was never lost would pass it untested.
func (p *Proxy) Lost() int { return int(p.lost.Load()) }
