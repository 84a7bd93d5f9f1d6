package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrBadURL reports a docket URL that cannot be used.
var ErrBadURL = errors.New("docket: bad URL")

// ErrUnreachable reports a Redis server that did not answer.
var ErrUnreachable = errors.New("docket: redis is unreachable")

// Schemes lists the URL schemes Open understands.
const Schemes = "redis, rediss, unix, redis+cluster, rediss+cluster, redis+sentinel, rediss+sentinel, memory"

// Open connects to the Redis a URL names and checks that it answers. The
// returned close function releases the client (and, for memory://, the
// embedded server once its last user is gone).
//
// Before go-redis dials, Open dials the URL's addresses itself, once each
// (see probe): go-redis retries a failed dial five times for each try of a
// command, and logs every failed round to its process-wide logger (stderr
// unless the program set another), so a server that is down cost seconds
// and printed lines on the program's stderr that a library has no business
// printing.
func Open(ctx context.Context, rawURL string) (redis.UniversalClient, func() error, error) {
	shown := RedactURL(rawURL)
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: %w", ErrBadURL, shown, err)
	}
	b, err := parse(u, rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: %w", ErrBadURL, shown, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if b.probe != nil {
		if err := b.probe(pingCtx); err != nil {
			return nil, nil, fmt.Errorf("%w at %q: %w", ErrUnreachable, shown, err)
		}
	}
	rdb, closeFn := b.connect()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		_ = closeFn()
		return nil, nil, fmt.Errorf("%w at %q: %w", ErrUnreachable, shown, err)
	}
	return rdb, closeFn, nil
}

// backend is what a URL names: how to check that it answers without
// go-redis, and how to make the go-redis client.
type backend struct {
	probe   func(ctx context.Context) error // nil: nothing to dial
	connect func() (redis.UniversalClient, func() error)
}

func parse(u *url.URL, rawURL string) (backend, error) {
	switch u.Scheme {
	case "redis", "rediss", "unix":
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return backend{}, err
		}
		if opt.DB < 0 { // go-redis takes it, and selects no database: 0
			return backend{}, fmt.Errorf("invalid database number: %d", opt.DB)
		}
		if opt.Network == "tcp" {
			if err := checkPorts(opt.Addr); err != nil {
				return backend{}, err
			}
		}
		opt.Protocol = protocol(u, opt.Protocol)
		opt.ContextTimeoutEnabled = boundByContext
		opt.OnConnect = logIn(opt.Username, opt.Password)
		return backend{
			probe: func(ctx context.Context) error {
				_, err := probe(ctx, opt.Network, []string{opt.Addr}, opt.DialTimeout, opt.TLSConfig)
				return err
			},
			connect: func() (redis.UniversalClient, func() error) {
				c := redis.NewClient(opt)
				return c, c.Close
			},
		}, nil
	case "redis+cluster", "rediss+cluster":
		opt, err := redis.ParseClusterURL(baseScheme(u, rawURL))
		if err != nil {
			return backend{}, err
		}
		if err := checkPorts(opt.Addrs...); err != nil {
			return backend{}, err
		}
		opt.Protocol = protocol(u, opt.Protocol)
		opt.ContextTimeoutEnabled = boundByContext
		opt.OnConnect = logIn(opt.Username, opt.Password)
		return backend{
			// One seed that answers is enough: go-redis learns the other
			// nodes from it.
			probe: func(ctx context.Context) error {
				_, err := probe(ctx, "tcp", opt.Addrs, opt.DialTimeout, opt.TLSConfig)
				return err
			},
			connect: func() (redis.UniversalClient, func() error) {
				c := redis.NewClusterClient(opt)
				return c, c.Close
			},
		}, nil
	case "redis+sentinel", "rediss+sentinel":
		opt, err := redis.ParseFailoverURL(baseScheme(u, rawURL))
		if err != nil {
			return backend{}, err
		}
		if opt.MasterName == "" {
			return backend{}, errors.New("a sentinel URL needs the master's name: add ?master_name=NAME")
		}
		if opt.DB < 0 {
			return backend{}, fmt.Errorf("invalid database number: %d", opt.DB)
		}
		if err := checkPorts(opt.SentinelAddrs...); err != nil {
			return backend{}, err
		}
		if opt.Password == "" {
			// One password in the URL usually serves sentinels and master alike.
			opt.Username, opt.Password = opt.SentinelUsername, opt.SentinelPassword
		}
		opt.Protocol = protocol(u, opt.Protocol)
		opt.ContextTimeoutEnabled = boundByContext
		opt.OnConnect = logIn(opt.Username, opt.Password)
		return backend{
			probe: func(ctx context.Context) error { return probeSentinel(ctx, opt) },
			connect: func() (redis.UniversalClient, func() error) {
				c := redis.NewFailoverClient(opt)
				return c, c.Close
			},
		}, nil
	case "memory":
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return backend{}, errors.New("a memory URL is memory:// or memory://NAME, with nothing more")
		}
		return backend{connect: func() (redis.UniversalClient, func() error) {
			return sharedMemory(u.Host)
		}}, nil
	case "":
		return backend{}, fmt.Errorf("no scheme; use one of: %s", Schemes)
	default:
		return backend{}, fmt.Errorf("unknown scheme %q; use one of: %s", u.Scheme, Schemes)
	}
}

// checkPorts refuses an address whose port no server can listen on, which
// go-redis would only find out by failing to dial it (an unreachable
// server, rather than a bad URL).
func checkPorts(addrs ...string) error {
	for _, addr := range addrs {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("address %q: %w", addr, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("address %q: the port is not a number from 1 to 65535", addr)
		}
	}
	return nil
}

// logIn makes a connection log in as a URL's user that has no password
// (redis://user@host, a user Redis lets in without one: nopass), which
// go-redis does only with a password: it stayed the default user, who may
// have more rights. A user that needs a password is refused, rather than
// let in as another. nil (nothing to do) otherwise.
func logIn(user, password string) func(context.Context, *redis.Conn) error {
	if user == "" || password != "" {
		return nil
	}
	return func(ctx context.Context, cn *redis.Conn) error {
		return cn.AuthACL(ctx, user, "").Err()
	}
}

// boundByContext: every call of a client Open makes gives up when its
// context's deadline comes, Open's ping included, rather than when its
// read timeout ends (3 s by default, per try): a server that accepts
// connections and never answers held an Open with a 1.5 s context for 5 s.
// (go-redis leaves this off by default; sdk.OpenClient takes the client's
// own setting.)
const boundByContext = true

// protocol is the RESP version to speak: the URL's protocol parameter, or
// RESP2. A docket needs nothing of RESP3, and go-redis checks every RESP3
// reply for push notifications, which costs on each call.
func protocol(u *url.URL, parsed int) int {
	if u.Query().Has("protocol") {
		return parsed
	}
	return 2
}

// baseScheme rewrites redis+cluster://… to redis://… for go-redis's parsers.
func baseScheme(u *url.URL, rawURL string) string {
	base, _, _ := strings.Cut(u.Scheme, "+")
	return base + rawURL[len(u.Scheme):]
}
