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
	if err := ping(pingCtx, rdb, closeFn); err != nil {
		return nil, nil, fmt.Errorf("%w at %q: %w", ErrUnreachable, shown, err)
	}
	return rdb, closeFn, nil
}

// ping checks that the server answers, giving up when ctx ends: go-redis
// bounds a read by its read timeout (3 s a try), not by the context,
// unless ContextTimeoutEnabled is set, which would also cut off a worker's
// last claim at its Run's deadline, its tasks leased and never seen. A
// server that took connections and never answered held an Open with a
// 1.5 s context for 5 s. Closing the client ends the ping's read. A ping
// that fails closes the client (closeFn), once.
func ping(ctx context.Context, rdb redis.UniversalClient, closeFn func() error) error {
	done := make(chan error, 1)
	go func() { done <- rdb.Ping(ctx).Err() }()
	select {
	case err := <-done:
		if err != nil {
			_ = closeFn()
		}
		return err
	case <-ctx.Done():
		_ = closeFn()
		<-done
		return context.Cause(ctx)
	}
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
		opt.Password = logInAs(opt.Username, opt.Password)
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
		opt.Password = logInAs(opt.Username, opt.Password)
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
		opt.Password = logInAs(opt.Username, opt.Password)
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

// logInAs is the password to give go-redis for a URL's user and password.
// go-redis logs in (HELLO's AUTH, before anything else) only with a
// password: a user without one (redis://reader@host, a user Redis lets in
// without a password: nopass) stayed the default user, who may have more
// rights. Such a user gets a password it ignores, anyPassword; one that
// needs a password is refused (WRONGPASS), rather than let in as another.
func logInAs(user, password string) string {
	if user != "" && password == "" {
		return anyPassword
	}
	return password
}

// anyPassword is what a nopass user is asked for: any password will do.
const anyPassword = "nopass"

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
