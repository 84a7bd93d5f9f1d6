package cli_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/cli"
	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/sdk"
)

// Passwords as generators make them and people type them: plain, and with
// each character that needs percent-encoding in a URL written raw, which
// makes the URL unparseable or parse into something else. Each is rare
// enough (Qz7, Vw4) that a piece of it in the output is a leak, not chance.
var secrets = []string{
	"Qz7kLmVw4x",
	"Qz7k%LmVw4x",  // a raw '%' that begins no escape
	"Qz7k%4LmVw4x", // a raw '%' that looks like the start of one
	"Qz7k LmVw4x",  // a space
	"Qz7k#LmVw4x",
	"Qz7k/LmVw4x",
	"Qz7k?LmVw4x",
	"Qz7k@LmVw4x",
	"Qz7k:LmVw4x",
	"Qz7k%25LmVw4x", // percent-encoded right: the password holds "Qz7k%LmVw4x"
}

// urlForms are the places a URL holds a secret, for every scheme. HOST is
// where the server would be, HOST2 a second seed, SOCK a Unix socket, and
// SECRET the secret.
var urlForms = []string{
	"redis://user:SECRET@HOST/0",
	"redis://:SECRET@HOST/0",
	"redis://SECRET@HOST/0", // a password where the user name goes
	"redis://HOST/0?password=SECRET",
	"rediss://user:SECRET@HOST/0",
	"rediss://:SECRET@HOST/0?dial_timeout=1s",
	"unix://user:SECRET@SOCK?db=0",
	"unix://:SECRET@SOCK",
	"redis+cluster://user:SECRET@HOST?addr=HOST2",
	"rediss+cluster://:SECRET@HOST?addr=HOST2&dial_timeout=1s",
	"redis+sentinel://user:SECRET@HOST/0?master_name=main",
	"redis+sentinel://HOST/0?master_name=main&password=SECRET",
	"redis+sentinel://HOST/0?password=SECRET&master_name=main&addr=HOST2",
	"redis+sentinel://HOST/0?master_name=main&username=app&password=SECRET",
	"redis+sentinel://HOST/0?master_name=main&sentinel_password=SECRET",
	"rediss+sentinel://:SECRET@HOST/0?master_name=main&password=SECRET",
}

// No error of Open and nothing the docket command prints ever holds a
// secret of its URL, nor a piece of one: whatever the scheme, wherever the
// secret sits (user info, a query parameter), whether the URL is malformed
// or names a server that is down. go-redis's log is captured too (it is
// stderr in a real program); the test does not run in parallel for that.
func TestNoSecretOfTheURLIsShown(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	kinds := []struct {
		name   string
		suffix string // appended to the URL
		want   error
	}{
		// Nothing listens at HOST: the server is unreachable, unless the
		// secret makes the URL malformed.
		{"unreachable", "", sdk.ErrUnreachable},
		// An option go-redis does not know makes any URL bad.
		{"bad URL", "&no_such_option=1", sdk.ErrBadURL},
	}
	for _, kind := range kinds {
		for _, form := range urlForms {
			for _, secret := range secrets {
				if form == "redis://SECRET@HOST/0" && strings.Contains(secret, ":") {
					continue // that is user:password, and the user name is shown
				}
				url := strings.NewReplacer("HOST2", deadAddr(t), "HOST", deadAddr(t), "SOCK", sock, "SECRET", secret).Replace(form)
				if kind.suffix != "" {
					if strings.Contains(url, "?") {
						url += kind.suffix
					} else {
						url += "?" + kind.suffix[1:]
					}
				}
				t.Run(kind.name+"/"+url, func(t *testing.T) {
					logged := redistest.CaptureRedisLog(t)
					_, err := sdk.Open(context.Background(), url)
					require.Error(t, err)
					if !errors.Is(err, sdk.ErrBadURL) {
						assert.ErrorIs(t, err, kind.want)
					}
					assert.True(t, strings.HasPrefix(err.Error(), "docket: "), err.Error())
					assertNoSecret(t, secret, "the error", err.Error())

					r := runProgram(t, &cli.Program{}, []string{"--url", url, "snapshot"})
					assert.Equal(t, cli.ExitError, r.code)
					assert.Empty(t, r.stdout)
					assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r.stderr)
					assertNoSecret(t, secret, "the command's stderr", r.stderr)

					for _, line := range logged.Lines() {
						assertNoSecret(t, secret, "go-redis's log", line)
					}
				})
			}
		}
	}
}

// assertNoSecret checks that text holds no piece of secret four characters
// long or longer: a password cut at a character that URLs reserve would
// otherwise show as a port, a path or an option.
func assertNoSecret(t *testing.T, secret, what, text string) {
	t.Helper()
	for i := 0; i+4 <= len(secret); i++ {
		if piece := secret[i : i+4]; strings.Contains(text, piece) {
			assert.Failf(t, "a secret is shown", "%s shows %q of the secret %q:\n%s", what, piece, secret, text)
			return
		}
	}
}

// deadAddr is a loopback address nothing listens on: a port that was free a
// moment ago.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
