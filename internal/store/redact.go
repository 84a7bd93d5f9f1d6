package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// redacted stands for a secret in a shown URL, as in url.URL.Redacted.
const redacted = "xxxxx"

// shownOptions are the query parameters whose values a shown URL keeps:
// go-redis's options, all of which but password are settings, not secrets.
// Every other parameter's value is redacted, so that a secret under a name
// go-redis does not know (sentinel_password=…), or a piece of a password cut
// off at a raw '&', is not shown either.
var shownOptions = map[string]bool{}

func init() {
	for _, name := range strings.Fields(`addr client_name conn_max_idle_time conn_max_lifetime
		conn_max_lifetime_jitter context_timeout_enabled db dial_timeout dialer_retries
		dialer_retry_timeout disableIdentity failing_timeout_seconds identitySuffix idle_timeout
		master_name max_active_conns max_concurrent_dials max_conn_age max_idle_conns max_redirects
		max_retries max_retry_backoff min_idle_conns min_retry_backoff pipeline_pool_size
		pipeline_read_buffer_size pipeline_write_buffer_size pool_fifo pool_size pool_timeout
		protocol read_only read_timeout replica_only route_by_latency route_by_latency_tolerance
		route_randomly skip_verify unstable_resp3 use_disconnected_replicas username write_timeout`) {
		shownOptions[name] = true
	}
}

// RedactURL returns a docket URL fit to show in an error or a log line: the
// password, and the value of every query parameter that is not a known
// go-redis setting, replaced by xxxxx. It is the one function that makes a
// URL shown; everything that shows one calls it.
//
// It reads the URL as text, not through url.Parse, because the URLs that
// most need it are those url.Parse refuses or misreads: a generated password
// holds a '%', a space, a '/' or a '#' written raw. The user info is what
// comes before the last '@' of the host part (a password may hold an '@', a
// host never does). A user info without ':' is redacted whole, since it is
// often a password written where the user name goes. A URL with an '@' past
// its host part is redacted whole but for its scheme: the '@' ends a
// password that holds a '/', '?' or '#', or sits in a parameter's value,
// and which of these cannot be told. Whatever is past a '#' is redacted: a
// Redis URL has no fragment, so a '#' is a password's or a parameter's.
func RedactURL(rawURL string) string {
	var b strings.Builder
	rest := rawURL
	if scheme, after, ok := strings.Cut(rawURL, "://"); ok && isScheme(scheme) {
		b.WriteString(scheme + "://")
		rest = after
	}
	if misplacedAt(rawURL) {
		return b.String() + redacted
	}
	host := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		host = rest[:end]
	}
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		if user, _, ok := strings.Cut(host[:at], ":"); ok {
			b.WriteString(user + ":" + redacted + "@")
		} else {
			b.WriteString(redacted + "@")
		}
		rest = rest[at+1:]
	}
	rest, fragment, hasFragment := strings.Cut(rest, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	b.WriteString(rest)
	if hasQuery {
		b.WriteString("?" + redactQuery(query))
	}
	if hasFragment && fragment != "" {
		b.WriteString("#" + redacted)
	}
	return b.String()
}

// redactQuery redacts the values of the parameters shownOptions does not
// list, and the whole of a piece that is not name=value with a name that
// looks like one: it is a piece of something else, such as a password with
// a raw '&'.
func redactQuery(query string) string {
	params := strings.Split(query, "&")
	for i, param := range params {
		name, value, hasValue := strings.Cut(param, "=")
		switch {
		case shownOptions[name]:
		case !hasValue || !isOptionName(name):
			params[i] = redacted
		case value != "":
			params[i] = name + "=" + redacted
		}
	}
	return strings.Join(params, "&")
}

func isScheme(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isOptionName(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// parseURL parses a docket URL, refusing what url.Parse would misread and
// saying why in words of its own: url.Parse's errors quote the whole URL,
// password and all, and its misreadings put pieces of a password where
// later errors show them (a port, a path, an option name).
func parseURL(rawURL string) (*url.URL, error) {
	if misplacedAt(rawURL) {
		// url.Parse ends the host part at the first '/', '?' or '#', so a
		// password holding one is cut there, and its pieces are read as a
		// port, a path or a query.
		return nil, errors.New("an '@' after the host: write user and password as scheme://user:password@host, " +
			"and percent-encode a '/', '?' or '#' in them (%2F, %3F, %23)")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL it quotes
		}
		var ee url.EscapeError
		if errors.As(err, &ee) {
			// The escape it quotes may be a piece of a password.
			return nil, errors.New("a '%' that does not begin a %XX escape: percent-encode a '%' (in a password, say) as %25")
		}
		if err.Error() == "net/url: invalid userinfo" {
			return nil, fmt.Errorf("%w: percent-encode what a user or password holds but letters, digits and -._~!$&'()*+,;=:@ (a space as %%20)", err)
		}
		return nil, err
	}
	if strings.Contains(rawURL, "#") {
		return nil, errors.New("a '#': a Redis URL has none; percent-encode a '#' in a password or a parameter as %23")
	}
	// u.Query() silently drops a parameter it cannot decode: a password
	// would be lost, and the server would say NOAUTH rather than why.
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return nil, errors.New("a query parameter that cannot be decoded: percent-encode a '%' in it as %25, a ';' as %3B")
	}
	return u, nil
}

// misplacedAt reports an '@' past the host part of a URL (or anywhere in a
// URL without one), where no user info can be.
func misplacedAt(rawURL string) bool {
	_, after, ok := strings.Cut(rawURL, "://")
	if !ok {
		return strings.Contains(rawURL, "@")
	}
	end := strings.IndexAny(after, "/?#")
	return end >= 0 && strings.Contains(after[end:], "@")
}
