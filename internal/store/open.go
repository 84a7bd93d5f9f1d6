package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
func Open(ctx context.Context, rawURL string) (redis.UniversalClient, func() error, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadURL, err)
	}
	shown := u.Redacted()
	rdb, closeFn, err := dial(u, rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("%w %q: %w", ErrBadURL, shown, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		_ = closeFn()
		return nil, nil, fmt.Errorf("%w at %q: %w", ErrUnreachable, shown, err)
	}
	return rdb, closeFn, nil
}

func dial(u *url.URL, rawURL string) (redis.UniversalClient, func() error, error) {
	switch u.Scheme {
	case "redis", "rediss", "unix":
		opt, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, nil, err
		}
		opt.Protocol = protocol(u, opt.Protocol)
		c := redis.NewClient(opt)
		return c, c.Close, nil
	case "redis+cluster", "rediss+cluster":
		opt, err := redis.ParseClusterURL(baseScheme(u, rawURL))
		if err != nil {
			return nil, nil, err
		}
		opt.Protocol = protocol(u, opt.Protocol)
		c := redis.NewClusterClient(opt)
		return c, c.Close, nil
	case "redis+sentinel", "rediss+sentinel":
		opt, err := redis.ParseFailoverURL(baseScheme(u, rawURL))
		if err != nil {
			return nil, nil, err
		}
		if opt.MasterName == "" {
			return nil, nil, errors.New("a sentinel URL needs the master's name: add ?master_name=NAME")
		}
		if opt.Password == "" {
			// One password in the URL usually serves sentinels and master alike.
			opt.Username, opt.Password = opt.SentinelUsername, opt.SentinelPassword
		}
		opt.Protocol = protocol(u, opt.Protocol)
		c := redis.NewFailoverClient(opt)
		return c, c.Close, nil
	case "memory":
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return nil, nil, errors.New("a memory URL is memory:// or memory://NAME, with nothing more")
		}
		c, closeFn := sharedMemory(u.Host)
		return c, closeFn, nil
	case "":
		return nil, nil, fmt.Errorf("no scheme; use one of: %s", Schemes)
	default:
		return nil, nil, fmt.Errorf("unknown scheme %q; use one of: %s", u.Scheme, Schemes)
	}
}

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
