package sdk_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// clientCommands are the commands a docket's go-redis client sends itself,
// producers and workers alike, on a single server or through Sentinel.
// go-redis's connection set-up (HELLO, or AUTH) needs no permission; SELECT
// does, for a database other than 0. ZCOUNT (in the scripts) serves only the
// queue-depth gauge, read when an OpenTelemetry meter provider collects it.
// INFO is how Open reads the eviction policy and AOF, to warn of settings
// that lose tasks; it shows no secret. (Open asks CONFIG GET, which it does
// not need and should not have, only when AOF is off.)
var clientCommands = []string{"ping", "evalsha", "eval", "subscribe", "hgetall", "time", "info"}

var (
	scriptCall   = regexp.MustCompile(`redis\.p?call\(`)
	scriptCallOf = regexp.MustCompile(`redis\.p?call\(\s*'([A-Za-z]+)'`)
)

// scriptCommands lists the commands the store's Lua scripts call, read from
// the scripts themselves, so that the ACL below follows them as they change.
// Every call must spell its command as a literal.
func scriptCommands(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "internal", "store", "scripts", "*.lua"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var cmds []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		calls := scriptCallOf.FindAllStringSubmatch(string(b), -1)
		require.Len(t, calls, len(scriptCall.FindAllString(string(b), -1)),
			"%s calls a command it does not spell as a literal: the ACL cannot be derived", f)
		for _, c := range calls {
			cmds = append(cmds, strings.ToLower(c[1]))
		}
	}
	slices.Sort(cmds)
	return slices.Compact(cmds)
}

// docketACL is the ACL SETUSER rule list of a user limited to the docket
// called name: its keys, its channels, and the commands. (A name with a
// glob character, * ? [ ] \, would need escaping in the patterns.)
func docketACL(name, password string, commands []string) []string {
	rules := []string{"reset", "on", ">" + password, "~docket:{" + name + "}:*", "&docket:{" + name + "}:*"}
	for _, c := range commands {
		rules = append(rules, "+"+c)
	}
	return rules
}

// docketCommands are clientCommands and scriptCommands.
func docketCommands(t *testing.T) []string {
	cmds := slices.Clone(clientCommands)
	for _, c := range scriptCommands(t) {
		if !slices.Contains(cmds, c) {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

// A user that may touch only the docket's own keys and channels, with only
// docketCommands, runs the whole scenario (and an automatic cron task,
// seeded from the Redis clock), and is refused another docket's keys.
func TestRestrictedACLUserRunsADocket(t *testing.T) {
	ctx := context.Background()
	srv := redistest.NewServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = admin.Close() })
	name := redistest.Name(t)
	rules := docketACL(name, "docket-pw", docketCommands(t))
	require.NoError(t, admin.Do(ctx, append([]any{"ACL", "SETUSER", "docket"}, anys(rules)...)...).Err())
	require.NoError(t, admin.Do(ctx, "ACL", "LOG", "RESET").Err())
	t.Logf("ACL SETUSER docket %s", strings.Join(rules, " "))

	url := "redis://docket:docket-pw@" + srv.Addr + "/0"
	d, err := sdk.Open(ctx, url, sdk.WithName(name), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, admin, name) // the leak check scans: the admin's job
	runScenario(t, d, admin)

	yearly := sdk.NewTask("yearly", func(ctx context.Context, _ struct{}) error { return nil },
		policy.Cron("0 0 1 1 *"))
	require.NoError(t, d.Register(yearly))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- worker.New(d, worker.Options{}).Run(runCtx) }()
	waitUntil(t, d.Execution("yearly"), "the worker seeded it", func(i sdk.Info) bool { return i.State == sdk.StateScheduled })
	stop()
	require.NoError(t, <-done)
	require.NoError(t, d.Cancel(ctx, "yearly"))

	for _, e := range denials(t, admin, "docket") {
		t.Errorf("denied: %v", e)
	}

	// Nothing beyond: no other command, no other docket's keys.
	err = d.Redis().Do(ctx, "ACL", "WHOAMI").Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NOPERM")
	other, err := sdk.Open(ctx, url, sdk.WithName(name+"-other"), sdk.WithLogger(quiet))
	require.NoError(t, err)
	defer other.Close()
	_, err = other.AddByName(ctx, "greet", []byte(`{}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NOPERM")
	assert.Contains(t, err.Error(), "key")
}

// On a Redis Cluster go-redis's cluster client also needs CLUSTER SLOTS (the
// slot map) and COMMAND (the key positions of commands; without it, it
// still routes EVALSHA by its first key, but logs a failure and leaves an
// ACL LOG entry on every node at start).
var clusterCommands = []string{"cluster|slots", "command"}

// The restricted user, with clusterCommands added, runs the scenario on a
// Redis Cluster (DOCKET_CLUSTER_URL). The user is made on every master, and
// deleted when the test ends.
func TestRestrictedACLUserOnACluster(t *testing.T) {
	ctx := context.Background()
	b := redistest.Cluster(t)
	adminDocket, err := sdk.Open(ctx, b.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = adminDocket.Close() })
	admin := adminDocket.Redis().(*redis.ClusterClient)
	name := redistest.Name(t)
	user := "docket-" + name
	rules := docketACL(name, "docket-pw", append(docketCommands(t), clusterCommands...))
	require.NoError(t, admin.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
		return c.Do(ctx, append([]any{"ACL", "SETUSER", user}, anys(rules)...)...).Err()
	}))
	t.Cleanup(func() {
		_ = admin.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.Do(ctx, "ACL", "DELUSER", user).Err()
		})
	})

	url := strings.Replace(b.URL, "://", "://"+user+":docket-pw@", 1)
	d, err := sdk.Open(ctx, url, sdk.WithName(name), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, admin, name)
	runScenario(t, d, admin)

	require.NoError(t, admin.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
		for _, e := range denials(t, c, user) {
			t.Errorf("%s denied: %v", c.Options().Addr, e)
		}
		return nil
	}))
}

// denials lists the ACL LOG entries of user.
func denials(t *testing.T, c interface {
	Do(context.Context, ...any) *redis.Cmd
}, user string) []any {
	t.Helper()
	entries, err := c.Do(context.Background(), "ACL", "LOG").Slice()
	require.NoError(t, err)
	var out []any
	for _, e := range entries {
		if m, ok := e.(map[any]any); ok && m["username"] == user {
			out = append(out, e)
		} else if !ok {
			out = append(out, e) // unknown shape: show it
		}
	}
	return out
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// A rediss:// URL cannot name a CA file, and go-redis's ParseURL has no
// option for one: a server whose certificate a private CA signed is refused
// (not trusted by the system roots) ...
func TestTLSURLRefusesAnUnknownCA(t *testing.T) {
	srv := redistest.NewTLSServer(t, false)
	_, err := sdk.Open(context.Background(), srv.URL()+"?dial_timeout=2s&max_retries=-1")
	require.Error(t, err)
	assert.ErrorIs(t, err, sdk.ErrUnreachable)
	assert.Contains(t, err.Error(), "x509: certificate signed by unknown authority")
}

// ... unless the URL turns verification off with skip_verify=true, which
// go-redis accepts. That is insecure (anyone on the path can pose as the
// server and read the password and the tasks): for tests only.
func TestTLSURLWithSkipVerify(t *testing.T) {
	srv := redistest.NewTLSServer(t, false)
	d := openChecked(t, srv.URL()+"?skip_verify=true")
	runGreeting(t, d)
}

// The way to trust a private CA: a go-redis client with TLSConfig.RootCAs,
// given to sdk.OpenClient. Parsing the URL first keeps its other options.
func TestTLSOpenClientWithRootCAs(t *testing.T) {
	srv := redistest.NewTLSServer(t, false)
	opt, err := redis.ParseURL(srv.URL())
	require.NoError(t, err)
	require.NotNil(t, opt.TLSConfig)
	assert.Equal(t, "127.0.0.1", opt.TLSConfig.ServerName, "the host is the name verified")
	opt.TLSConfig.RootCAs = srv.PKI.RootCAs
	d := openClientChecked(t, redis.NewClient(opt)) // the server has no plain port
	runScenario(t, d, nil)
}

// Mutual TLS: a server that requires a client certificate accepts the one
// in TLSConfig.Certificates, and refuses a client without one.
func TestTLSClientCertificate(t *testing.T) {
	srv := redistest.NewTLSServer(t, true)
	without := redis.NewClient(&redis.Options{Addr: srv.Addr, TLSConfig: srv.PKI.ClientTLS(false), MaxRetries: -1})
	defer without.Close()
	_, err := sdk.OpenClient(without)
	require.NoError(t, err, "OpenClient does not connect")
	err = without.Ping(context.Background()).Err()
	require.Error(t, err, "no client certificate, no connection")
	assert.Contains(t, err.Error(), "certificate required")

	d := openClientChecked(t, redis.NewClient(&redis.Options{Addr: srv.Addr, TLSConfig: srv.PKI.ClientTLS(true)}))
	runGreeting(t, d)
}

// On Linux and the BSDs, Go reads the system roots from SSL_CERT_FILE (and
// SSL_CERT_DIR) when set, so a plain rediss:// URL trusts a private CA put
// there, without skip_verify. The roots are loaded once per process, so this
// runs in a child process of the test binary.
func TestTLSURLTrustsSSLCertFile(t *testing.T) {
	if url := os.Getenv("DOCKET_TEST_TLS_CHILD_URL"); url != "" {
		d := openChecked(t, url)
		runGreeting(t, d)
		return
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" || runtime.GOOS == "ios" {
		t.Skip("Go ignores SSL_CERT_FILE on " + runtime.GOOS)
	}
	srv := redistest.NewTLSServer(t, false)
	cmd := exec.Command(os.Args[0], "-test.run=^TestTLSURLTrustsSSLCertFile$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "DOCKET_TEST_TLS_CHILD_URL="+srv.URL(), "SSL_CERT_FILE="+srv.PKI.CAFile)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS: TestTLSURLTrustsSSLCertFile")
}

// openClientChecked is openChecked for a client the test made: the docket
// leaves it open, so the test closes it.
func openClientChecked(t *testing.T, rdb redis.UniversalClient) *sdk.Docket {
	t.Helper()
	t.Cleanup(func() { _ = rdb.Close() })
	name := redistest.Name(t)
	d, err := sdk.OpenClient(rdb, sdk.WithName(name), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, rdb, name)
	return d
}

// runGreeting runs one task through a worker.
func runGreeting(t *testing.T, d *sdk.Docket) {
	t.Helper()
	ctx := context.Background()
	ran := make(chan Job, 1)
	greet := sdk.NewTask("greet", func(ctx context.Context, in Job) error {
		ran <- in
		return nil
	})
	require.NoError(t, d.Register(greet))
	ex, err := greet.Add(ctx, d, Job{Step: 42})
	require.NoError(t, err)
	require.NoError(t, worker.New(d, worker.Options{}).RunUntilIdle(ctx))
	assert.Equal(t, Job{Step: 42}, <-ran)
	info, err := ex.Info(ctx)
	require.NoError(t, err)
	assert.Equal(t, sdk.StateCompleted, info.State)
}

// readmeACL is the README's list of commands for a docket's ACL user.
const readmeACL = "+@scripting +@read +@write +@pubsub +ping +time +info"

// A user granted what the README says, and nothing more, runs a docket,
// on database 0 and, with SELECT, on another. The README named the
// categories only: such a user's Open failed on PING, and its first Add
// on the scripts' TIME.
func TestTheREADMEsACLUserRunsADocket(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), readmeACL)
	require.Contains(t, string(readme), "`+select` for a database other than 0")
	for db, extra := range map[string][]string{"0": nil, "3": {"+select"}} {
		t.Run("db "+db, func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.NewServer(t)
			admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { _ = admin.Close() })
			name := redistest.Name(t)
			rules := append([]string{"reset", "on", ">pw", "~docket:{" + name + "}:*", "&docket:{" + name + "}:*"},
				strings.Fields(readmeACL)...)
			rules = append(rules, extra...)
			require.NoError(t, admin.Do(ctx, append([]any{"ACL", "SETUSER", "docket"}, anys(rules)...)...).Err())
			d, err := sdk.Open(ctx, "redis://docket:pw@"+srv.Addr+"/"+db, sdk.WithName(name), sdk.WithLogger(quiet))
			require.NoError(t, err)
			t.Cleanup(func() { _ = d.Close() })
			checked := admin
			if db != "0" {
				checked = redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
				t.Cleanup(func() { _ = checked.Close() })
			}
			redistest.CheckLeaks(t, checked, name)
			runScenario(t, d, checked)
		})
	}
}
