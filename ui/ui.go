package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
)

// Options configure the dashboard. The zero value is a usable dashboard
// with every action, no authentication of its own, live updates every 3s
// and 50 tasks a page.
type Options struct {
	// ReadOnly shows no action (cancel, retry, run now, clear, strike,
	// restore), and refuses every action request with 403 Forbidden,
	// whatever sends it.
	ReadOnly bool

	// Auth authenticates each request before the dashboard reads anything:
	// it returns true to serve the request, or writes the refusal (401
	// with a challenge, a redirect to a login page) and returns false. Nil
	// serves every request: mount the handler behind your own
	// authentication, or serve it on loopback only. BasicAuth makes one.
	Auth func(w http.ResponseWriter, r *http.Request) bool

	// JaegerURL is the base URL of a Jaeger UI (say http://localhost:16686).
	// When set, a task's trace ID links to JaegerURL/trace/<id>: the trace
	// of the span that added the task, to which each attempt's span links.
	JaegerURL string

	// Logger logs the actions taken (at INFO, with the task key and the
	// client's address) and the errors of Redis (at WARN). Defaults to the
	// docket's logger.
	Logger *slog.Logger

	// Refresh is how often a page updates itself while it is live (the
	// browser fetches the changing part again, and stops while the tab is
	// hidden or the user pauses it). Defaults to 3s; negative turns live
	// updates off.
	Refresh time.Duration

	// PageSize is how many tasks a list shows per page, 1 to 1000.
	// Defaults to 50.
	PageSize int
}

// Defaults of Options.
const (
	DefaultRefresh  = 3 * time.Second
	DefaultPageSize = 50
)

// ErrBadOption reports an Options field New cannot use, or a docket it
// cannot serve (nil, or not made by sdk.Open: that error matches
// sdk.ErrNilArgument too).
var ErrBadOption = errors.New("docket: ui: bad option")

// handler is the dashboard.
type handler struct {
	d      *sdk.Docket
	s      *store.Store
	core   *core.Docket
	opts   Options
	log    *slog.Logger
	token  string // the CSRF token every action form carries
	jaeger *url.URL
	cross  *http.CrossOriginProtection
	pages  *templates
}

// New returns the dashboard of docket d as an http.Handler. It serves
// every page at a path relative to where it is mounted, so that it works
// under any prefix: mount it with http.StripPrefix, as in
//
//	dash, err := ui.New(d, ui.Options{})
//	if err != nil {
//		return err
//	}
//	mux.Handle("/admin/docket/", http.StripPrefix("/admin/docket", dash))
//
// The handler keeps no state but a CSRF token of its own, made at random by
// New: an action form rendered by one handler is refused by another (say,
// another replica behind a load balancer without sticky sessions); reload
// the page and act again.
func New(d *sdk.Docket, opts Options) (http.Handler, error) {
	if d == nil || core.Unwrap(d) == nil {
		return nil, fmt.Errorf("%w: %w: the docket is nil, or was not made by sdk.Open", ErrBadOption, sdk.ErrNilArgument)
	}
	if opts.PageSize == 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.PageSize < 1 || opts.PageSize > store.MaxBatch {
		return nil, fmt.Errorf("%w: PageSize %d: want 1 to %d", ErrBadOption, opts.PageSize, store.MaxBatch)
	}
	if opts.Refresh == 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Refresh > 0 && opts.Refresh < 100*time.Millisecond {
		return nil, fmt.Errorf("%w: Refresh %v: want 100ms or more (or negative for none)", ErrBadOption, opts.Refresh)
	}
	h := &handler{d: d, core: core.Unwrap(d), opts: opts}
	h.s = h.core.Store
	h.log = opts.Logger
	if h.log == nil {
		h.log = h.core.Logger
	}
	if opts.JaegerURL != "" {
		u, err := url.Parse(opts.JaegerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: JaegerURL %q: want an http:// or https:// URL", ErrBadOption, opts.JaegerURL)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		h.jaeger = u
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("docket: ui: %w", err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("docket ui actions"))
	h.token = hex.EncodeToString(mac.Sum(nil))
	h.cross = http.NewCrossOriginProtection()
	h.cross.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.refuse(w, r, http.StatusForbidden, "This request came from another site: actions are taken from the dashboard's own pages only.")
	}))
	var err error
	if h.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	return h, nil
}

// BasicAuth returns an Options.Auth that asks for HTTP basic
// authentication with user and password (compared in constant time), in
// the realm "docket". Serve it over TLS, or on loopback: basic auth sends
// the password in the clear.
func BasicAuth(user, password string) func(w http.ResponseWriter, r *http.Request) bool {
	wantUser := sha256.Sum256([]byte(user))
	wantPassword := sha256.Sum256([]byte(password))
	return func(w http.ResponseWriter, r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		gotUser, gotPassword := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) == 1
		passwordOK := subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:]) == 1
		if ok && userOK && passwordOK {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="docket", charset="UTF-8"`)
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return false
	}
}

// ServeHTTP serves the page the path (relative to the mount point) names.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "SAMEORIGIN")
	if h.opts.Auth != nil && !h.opts.Auth(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "" && !strings.HasSuffix(requestPath(r), "/") {
		// Mounted at /x and asked for /x: the relative links of the pages
		// need /x/.
		redirect(w, path.Base(requestPath(r))+"/", http.StatusMovedPermanently)
		return
	}
	if asset, ok := strings.CutPrefix(p, "static/"); ok {
		serveAsset(w, r, asset)
		return
	}
	if p == "act" {
		h.cross.Handler(http.HandlerFunc(h.act)).ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		h.refuse(w, r, http.StatusMethodNotAllowed, "Pages are read with GET; actions are posted to act.")
		return
	}
	hdr.Set("Cache-Control", "no-store")
	switch p {
	case "":
		h.overview(w, r)
	case "tasks":
		h.tasks(w, r)
	case "task":
		h.task(w, r)
	case "workers":
		h.workers(w, r)
	case "schedules":
		h.schedules(w, r)
	case "limits":
		h.limits(w, r)
	case "strikes":
		h.strikes(w, r)
	default:
		h.refuse(w, r, http.StatusNotFound, "No such page.")
	}
}

// requestPath is the path the client asked for, before any StripPrefix.
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.Path
	}
	return r.URL.Path
}

// live reports whether the request asks for the live part of a page only
// (the script's periodic update).
func live(r *http.Request) bool { return r.Header.Get("X-Docket-Live") == "1" }

// validToken reports whether a form carries the handler's CSRF token.
func (h *handler) validToken(got string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) == 1
}
