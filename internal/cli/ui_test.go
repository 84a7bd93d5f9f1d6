package cli_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/cli"
	"github.com/docket-go/docket/sdk"
)

// served is a docket ui run in progress.
type served struct {
	t      *testing.T
	url    string // where it serves, from its first line
	stderr *notifyBuffer
	stop   func() int // interrupts it and returns its exit code
}

// serveUI runs docket ui with args and env, and waits for its first line.
func (f *fixture) serveUI(env map[string]string, args ...string) *served {
	f.t.Helper()
	p := f.program("", nil, nil)
	p.Getenv = func(k string) string { return env[k] }
	stderr := newNotifyBuffer()
	p.Stderr = stderr
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p.Stdout = pw
	code := make(chan int, 1)
	go func() {
		code <- p.Run(ctx, f.args(append([]string{"ui"}, args...)...))
		_ = pw.Close()
	}()
	first := make(chan string, 1)
	go func() {
		b := make([]byte, 4096)
		n, _ := pr.Read(b)
		first <- string(b[:n])
		_, _ = io.Copy(io.Discard, pr)
	}()
	line := receive(f.t, first, "docket ui's first line")
	stopped := false
	s := &served{t: f.t, stderr: stderr}
	s.stop = func() int {
		if stopped {
			return -1
		}
		stopped = true
		cancel()
		return receive(f.t, code, "docket ui's exit")
	}
	f.t.Cleanup(func() { s.stop() })
	_, after, ok := strings.Cut(line, " on ")
	require.True(f.t, ok, "first line: %q; stderr: %s", line, stderr.String())
	s.url = strings.Fields(after)[0]
	return s
}

func (s *served) get(path, user, password string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	require.NoError(s.t, err)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	res, err := (&http.Client{Timeout: wait}).Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	return res.StatusCode, string(body)
}

// docket ui serves the dashboard of the docket on loopback, behind basic
// auth from the environment, until interrupted; the password never shows.
func TestUIServesTheDashboard(t *testing.T) {
	f := newFixture(t)
	task := sdk.NewTask("report", func(context.Context, struct{}) error { return nil })
	_, err := task.Add(context.Background(), f.d, struct{}{}, sdk.Key("report-7"), sdk.After(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = f.d.Clear(context.Background()) })

	const password = "hunter2-Pa55"
	s := f.serveUI(map[string]string{cli.EnvUIUser: "ops", cli.EnvUIPassword: password}, "--addr", "127.0.0.1:0", "--read-only")
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/$`, s.url)

	code, _ := s.get("", "", "")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = s.get("", "ops", "wrong")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, body := s.get("tasks?state=scheduled", "ops", password)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `href="task?key=report-7"`)
	assert.Contains(t, body, f.name)
	assert.NotContains(t, body, `action="act"`, "read-only")

	assert.Equal(t, cli.ExitOK, s.stop())
	assert.NotContains(t, s.stderr.String(), password)
}

// --prefix mounts the dashboard under a path; without authentication on
// loopback nothing is asked and nothing warned.
func TestUIPrefix(t *testing.T) {
	f := newFixture(t)
	task := sdk.NewTask("report", func(context.Context, struct{}) error { return nil })
	_, err := task.Add(context.Background(), f.d, struct{}{}, sdk.After(time.Hour))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = f.d.Clear(context.Background()) })
	s := f.serveUI(nil, "--addr", "127.0.0.1:0", "--prefix", "/ops/docket")
	assert.Regexp(t, `/ops/docket/$`, s.url)
	code, body := s.get("", "", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<h1>Overview</h1>")
	assert.Contains(t, body, `action="act"`, "the clear button: actions, unless read-only")
	assert.Equal(t, cli.ExitOK, s.stop())
	assert.Empty(t, s.stderr.String())
}

func TestUIUsageErrors(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--user", "ops"}, "needs both a user and a password"},
		{[]string{"--password", "x"}, "needs both a user and a password"},
		{[]string{"--jaeger-url", "localhost:16686"}, `--jaeger-url (or DOCKET_JAEGER_URL) "localhost:16686": want an http://`},
		{[]string{"extra"}, "takes no arguments"},
		{[]string{"--prefix", "/a b"}, `--prefix "/a b": want a path`},
		{[]string{"--prefix", "/x/{$}"}, "want a path"},
		{[]string{"--prefix", "/{x}"}, "want a path"},
		{[]string{"--prefix", "GET /x"}, "want a path"},
		{[]string{"--prefix", "/a?b"}, "want a path"},
		{[]string{"--prefix", "/a//b"}, "want a path"},
	} {
		r := f.run("", append([]string{"ui", "--addr", "127.0.0.1:0"}, c.args...)...)
		assert.Equal(t, cli.ExitUsage, r.code, "%v", c.args)
		assert.Contains(t, r.stderr, c.want, "%v", c.args)
	}
	r := f.run("", "ui", "--addr", "256.0.0.1:99999")
	assert.Equal(t, cli.ExitError, r.code)
	assert.Contains(t, r.stderr, "docket: ui: listen on 256.0.0.1:99999")
}

// On every interface (0.0.0.0), the address printed is one a browser opens,
// http://localhost:PORT/, not http://[::]:PORT/.
func TestUIOnEveryInterfacePrintsAnAddressABrowserOpens(t *testing.T) {
	f := newFixture(t)
	s := f.serveUI(map[string]string{cli.EnvUIUser: "ops", cli.EnvUIPassword: "pw-1"}, "--addr", "0.0.0.0:0")
	assert.Regexp(t, `^http://localhost:\d+/$`, s.url)
	code, body := s.get("", "ops", "pw-1")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<h1>Overview</h1>")
	assert.Equal(t, cli.ExitOK, s.stop())
}
