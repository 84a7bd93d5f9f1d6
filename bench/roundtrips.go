package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// roundTrips is a go-redis hook that tells apart docket's script calls, to
// show how many tasks each round trip carries. It sees only what goes over
// the wire (the scripts are the library's own business): the claim script is
// the only one with two keys, its eighth argument counts the outcomes it
// carries (a busy worker reports finished tasks as it claims more), and its
// reply's third element counts the tasks claimed; every other script call of
// the process phase (finish, and a rare renew) is counted with the length of
// its reply, one element per outcome for finish.
type roundTrips struct {
	mu       sync.Mutex
	claims   int
	claimed  int64
	reported int64
	others   int
	replies  int64
	other    map[string]int // commands that are not scripts
}

var _ redis.Hook = (*roundTrips)(nil)

func newRoundTrips() *roundTrips { return &roundTrips{other: map[string]int{}} }

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.other["pipeline"]++
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		name := strings.ToLower(cmd.Name())
		h.mu.Lock()
		defer h.mu.Unlock()
		if name != "evalsha" && name != "eval" || len(args) < 3 {
			h.other[name]++
			return err
		}
		reply, _ := cmd.(*redis.Cmd).Slice()
		if keys, _ := args[2].(int); keys == 2 {
			h.claims++
			if len(args) > 12 {
				if n, ok := args[12].(int); ok {
					h.reported += int64(n)
				}
			}
			if len(reply) > 2 {
				if n, ok := reply[2].(int64); ok {
					h.claimed += n
				}
			}
		} else {
			h.others++
			h.replies += int64(len(reply))
		}
		return err
	}
}

func (h *roundTrips) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := fmt.Sprintf("claim calls %d (%.1f tasks claimed and %.1f outcomes recorded each)", h.claims,
		float64(h.claimed)/float64(max(h.claims, 1)), float64(h.reported)/float64(max(h.claims, 1)))
	s += fmt.Sprintf(", other script calls %d (%.1f reply elements each)", h.others, float64(h.replies)/float64(max(h.others, 1)))
	for name, n := range h.other {
		s += fmt.Sprintf(", %s %d", name, n)
	}
	return s
}
