package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/docket-go/docket/ui"
)

// Environment variables of docket ui.
const (
	EnvUIUser     = "DOCKET_UI_USER"
	EnvUIPassword = "DOCKET_UI_PASSWORD"
	EnvJaegerURL  = "DOCKET_JAEGER_URL"
)

var uiCommand = &command{
	name:    "ui",
	summary: "serve the web dashboard (http://127.0.0.1:8080 by default)",
	help: `Flags:
  --addr HOST:PORT   where to listen (default 127.0.0.1:8080: this machine
                     only; a port of 0 picks a free one)
  --read-only        show no action (cancel, retry, run now, clear, strike,
                     restore), and refuse every action request
  --user USER        ask for HTTP basic authentication as USER
                     (default: $DOCKET_UI_USER)
  --password PASS    ... with this password (default: $DOCKET_UI_PASSWORD;
                     prefer the variable: a flag shows in the process list)
  --jaeger-url URL   link trace IDs to this Jaeger UI, e.g.
                     http://localhost:16686 (default: $DOCKET_JAEGER_URL)
  --prefix PATH      serve the dashboard under PATH, e.g. /docket, for a
                     reverse proxy that forwards that path: letters, digits
                     and . _ ~ - between slashes (default: /)

Serves the dashboard of the docket until interrupted, and prints where on
its first line. Actions are logged on stderr with the task key and the
client's address. On an address other than loopback without --user, it
warns: anyone who reaches the port can then cancel tasks (unless
--read-only). Basic authentication sends the password in the clear: put a
TLS proxy in front of a dashboard served beyond this machine.
`,
	run: runUI,
}

func runUI(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	addr := fs.String("addr", "127.0.0.1:8080", "")
	readOnly := fs.Bool("read-only", false, "")
	user := fs.String("user", s.getenv(EnvUIUser), "")
	password := fs.String("password", s.getenv(EnvUIPassword), "")
	jaeger := fs.String("jaeger-url", s.getenv(EnvJaegerURL), "")
	prefix := fs.String("prefix", "/", "")
	rest, err := s.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return usageErrorf(cmd.name, "takes no arguments, got %q", rest)
	}
	if (*user == "") != (*password == "") {
		return usageErrorf(cmd.name, "basic authentication needs both a user and a password (--user and --password, or %s and %s)", EnvUIUser, EnvUIPassword)
	}
	mount := "/" + strings.Trim(*prefix, "/")
	if mount != "/" {
		mount += "/"
	}
	if !mountPath.MatchString(mount) {
		return usageErrorf(cmd.name, "--prefix %q: want a path of letters, digits and . _ ~ -, such as /docket or /ops/queues", *prefix)
	}

	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	opts := ui.Options{
		ReadOnly:  *readOnly,
		JaegerURL: *jaeger,
		Logger:    slog.New(slog.NewTextHandler(s.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("docket", d.Name()),
	}
	if *user != "" {
		opts.Auth = ui.BasicAuth(*user, *password)
	}
	h, err := ui.New(d, opts)
	if err != nil && *jaeger != "" && errors.Is(err, ui.ErrBadOption) {
		// The one option of ours New can refuse (the others are its
		// defaults), named as the command's user gave it, not as
		// ui.Options's field.
		return usageErrorf(cmd.name, "--jaeger-url (or %s) %q: want an http:// or https:// URL, such as http://localhost:16686", EnvJaegerURL, *jaeger)
	}
	if err != nil {
		return usageErrorf(cmd.name, "%v", strings.TrimPrefix(err.Error(), "docket: ui: ")) // the command's name says ui
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("ui: listen on %s: %w", *addr, err)
	}
	mux := http.NewServeMux()
	if mount == "/" {
		mux.Handle("/", h)
	} else {
		mux.Handle(mount, http.StripPrefix(strings.TrimSuffix(mount, "/"), h))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	var notes []string
	host := ln.Addr().String()
	if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		// Not http://[::]:8080/, which browsers do not open.
		host = net.JoinHostPort("localhost", strconv.Itoa(a.Port))
		notes = append(notes, "on every interface")
	}
	if *readOnly {
		notes = append(notes, "read-only")
	}
	if *user != "" {
		notes = append(notes, "basic auth as "+printable(*user))
	}
	note := ""
	if len(notes) > 0 {
		note = " (" + strings.Join(notes, ", ") + ")"
	}
	fmt.Fprintf(s.stdout, "docket ui: serving docket %q on http://%s%s%s\n", d.Name(), host, mount, note)
	if !isLoopback(ln.Addr()) && *user == "" {
		what := "cancel tasks and clear the queue"
		if *readOnly {
			what = "read every task's input and errors"
		}
		fmt.Fprintf(s.stderr, "docket ui: warning: listening on %s without authentication: anyone who reaches it can %s (set --user and %s)\n",
			ln.Addr(), what, EnvUIPassword)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("ui: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("ui: %w", serveErr)
	}
	if err != nil {
		return fmt.Errorf("ui: shutting down: %w", err)
	}
	return nil
}

// isLoopback reports whether a listener's address is on loopback only.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// mountPath is a --prefix the dashboard can be mounted at: segments of
// plain path characters. (http.ServeMux reads others as a method, a
// wildcard or a pattern it refuses by panicking.)
var mountPath = regexp.MustCompile(`^/([A-Za-z0-9._~-]+/)*$`)
