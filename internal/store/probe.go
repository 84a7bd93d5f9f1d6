package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// defaultDialTimeout is go-redis's dial timeout when the URL sets none.
const defaultDialTimeout = 5 * time.Second

// probe dials each address once, all at once, as go-redis would (the same
// network, dial timeout and TLS configuration, TLS handshake included), and
// hangs up. It returns the addresses that answered, in the order given, or,
// when none did, why not.
//
// Open calls it before go-redis dials, because a failed dial inside go-redis
// is retried and logged to its process-wide logger: the program's stderr,
// unless the program replaced that logger, which a library must not do. A
// server that goes away between the probe and go-redis's dial can still make
// go-redis log; the probe only keeps the common case, a server that is
// down or a name that is wrong, quiet and quick.
func probe(ctx context.Context, network string, addrs []string, timeout time.Duration, conf *tls.Config) ([]string, error) {
	if timeout == 0 {
		timeout = defaultDialTimeout
	}
	errs := make([]error, len(addrs))
	done := make(chan struct{}, len(addrs))
	for i, addr := range addrs {
		go func() {
			defer func() { done <- struct{}{} }()
			d := &net.Dialer{Timeout: timeout}
			var c net.Conn
			var err error
			if conf != nil {
				c, err = (&tls.Dialer{NetDialer: d, Config: conf}).DialContext(ctx, network, addr)
			} else {
				c, err = d.DialContext(ctx, network, addr)
			}
			if err != nil {
				errs[i] = err
				return
			}
			_ = c.Close()
		}()
	}
	// Wait for every dial, not just the first that answers: no goroutine
	// of Open outlives it.
	for range addrs {
		<-done
	}
	var reached []string
	for i, err := range errs {
		if err == nil {
			reached = append(reached, addrs[i])
		}
	}
	if len(reached) == 0 {
		return nil, joinErrors(errs)
	}
	return reached, nil
}

// probeSentinel checks that a sentinel answers, asks the sentinels that do
// for the master's address, and checks that the master answers: go-redis
// would otherwise dial a master that is down, and log it, as it would a
// sentinel that is down.
func probeSentinel(ctx context.Context, opt *redis.FailoverOptions) error {
	sentinels, err := probe(ctx, "tcp", opt.SentinelAddrs, opt.DialTimeout, opt.TLSConfig)
	if err != nil {
		return err
	}
	var errs []error
	for _, addr := range sentinels {
		// The sentinel answered a moment ago, so this client's dial does
		// not fail but by a race.
		sc := redis.NewSentinelClient(&redis.Options{
			Addr:        addr,
			Username:    opt.SentinelUsername,
			Password:    opt.SentinelPassword,
			TLSConfig:   opt.TLSConfig,
			DialTimeout: opt.DialTimeout,
			MaxRetries:  -1,
		})
		master, err := sc.GetMasterAddrByName(ctx, opt.MasterName).Result()
		_ = sc.Close()
		switch {
		case errors.Is(err, redis.Nil):
			errs = append(errs, fmt.Errorf("sentinel %s does not know master %q", addr, opt.MasterName))
		case err != nil:
			errs = append(errs, fmt.Errorf("sentinel %s: %w", addr, err))
		case len(master) != 2:
			errs = append(errs, fmt.Errorf("sentinel %s: unexpected reply for master %q: %q", addr, opt.MasterName, master))
		default:
			masterAddr := net.JoinHostPort(master[0], master[1])
			if _, err := probe(ctx, "tcp", []string{masterAddr}, opt.DialTimeout, opt.TLSConfig); err != nil {
				return fmt.Errorf("master %q at %s (as sentinel %s says): %w", opt.MasterName, masterAddr, addr, err)
			}
			return nil
		}
	}
	return joinErrors(errs)
}

// joinErrors is errors.Join on one line: Open's errors are one line each.
func joinErrors(errs []error) error {
	var out multiError
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

type multiError []error

func (m multiError) Error() string {
	msgs := make([]string, len(m))
	for i, err := range m {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (m multiError) Unwrap() []error { return m }
