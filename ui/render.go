package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/sdk"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// assetVersion changes with the embedded assets, so that browsers fetch
// them again after an upgrade (they are cached for a day).
var assetVersion = func() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFiles, "static", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			b, _ := staticFiles.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// serveAsset serves an embedded stylesheet or script.
func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	types := map[string]string{"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
	ct, ok := types[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := staticFiles.ReadFile("static/" + name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("ETag", `"`+assetVersion+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// templates are the pages, each the layout with its own head and live
// parts.
type templates struct {
	pages map[string]*template.Template
}

var pageNames = []string{"overview", "tasks", "task", "workers", "schedules", "limits", "strikes", "message", "confirm"}

func parseTemplates() (*templates, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("docket: ui: templates: %w", err)
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, name := range pageNames {
		c, err := base.Clone()
		if err == nil {
			c, err = c.ParseFS(templateFiles, "templates/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("docket: ui: templates: %w", err)
		}
		t.pages[name] = c
	}
	return t, nil
}

// render writes a page: the whole of it, or its live part only when the
// request is a live update.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	v.Docket = h.core.Name
	v.ReadOnly = h.opts.ReadOnly
	v.Token = h.token
	v.Jaeger = h.jaeger
	if h.opts.Refresh > 0 && v.Live {
		v.Refresh = h.opts.Refresh.Milliseconds()
	}
	v.Flash = flash(r.URL.Query())
	name := "layout"
	if live(r) {
		name = "live"
	}
	var b bytes.Buffer
	if err := h.pages.pages[page].ExecuteTemplate(&b, name, v); err != nil {
		h.log.Error("docket ui: rendering a page", "page", page, "err", err)
		http.Error(w, "500 internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// refuse writes a page that says why a request is refused (or failed).
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, status int, message string) {
	h.render(w, r, status, "message", &view{Title: http.StatusText(status), Data: message})
}

// view is what every page's template gets.
type view struct {
	Title    string
	Nav      string // the section of the navigation the page is in
	Docket   string
	ReadOnly bool
	Token    string
	Live     bool  // the page updates itself
	Refresh  int64 // how often, ms; 0 for never
	Flash    string
	Jaeger   *url.URL
	Now      time.Time // the Redis clock when the page was read
	Data     any
}

// action is an action button: a form that posts to act, confirmed first.
type action struct {
	Op, Key, Label, Confirm, Token, Class string
	// Fields are the form's other hidden fields (a strike's).
	Fields []formField
	// Confirmed: the form says the user confirmed (the confirmation page's
	// own button).
	Confirmed bool
}

type formField struct{ Name, Value string }

// Key64 is the task's key in base64 (URL alphabet, unpadded), posted
// beside the key itself: a browser rewrites some characters of a form's
// values (line breaks, NUL, bytes that are not UTF-8), so that the key
// field alone could name another task, or none. The key field holds the
// key escaped, as the page shows it (no control character or byte that
// is not UTF-8 goes into the page); the handler reads Key64.
func (a action) Key64() string {
	if a.Key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(a.Key))
}

// Action returns the button for op on the task with key: op is cancel,
// retry, run or clear.
func (v *view) Action(op, key string) action {
	a := action{Op: op, Key: key, Token: v.Token}
	switch op {
	case "cancel":
		a.Label, a.Class = "Cancel", "danger"
		a.Confirm = fmt.Sprintf("Cancel task %s? A running task's context is cancelled; it ends cancelled either way.", printable(key))
	case "retry":
		a.Label = "Retry now"
		a.Confirm = fmt.Sprintf("Run task %s again, now, from its first attempt?", printable(key))
	case "run":
		a.Label = "Run now"
		a.Confirm = fmt.Sprintf("Make task %s due now? Its execution stays the same; only its due time moves.", printable(key))
	case "clear":
		a.Label, a.Class = "Clear the queue", "danger"
		a.Confirm = fmt.Sprintf("Cancel every task of docket %s that is not running: scheduled, queued, waiting, parked and held? Running tasks are left to finish.", v.Docket)
	}
	return a
}

// StrikeAction returns the button for op on strike f: op is strike (the
// confirmation page's button) or restore.
func (v *view) StrikeAction(op string, f strikeForm) action {
	a := action{Op: op, Token: v.Token, Fields: []formField{{"strike", f.encode()}}}
	what := printable(f.String())
	switch op {
	case "strike":
		a.Label, a.Class = "Strike", "danger"
		a.Confirm = fmt.Sprintf("Strike %s? The tasks it matches do not start until it is restored: adding one writes nothing, and a due one is held. Running tasks finish.", what)
	case "restore":
		a.Label = "Restore"
		a.Confirm = fmt.Sprintf("Restore the strike of %s? The tasks it holds that no other strike matches run at once.", what)
	}
	return a
}

// RestoreAction returns the Restore button of a listed strike.
func (v *view) RestoreAction(s sdk.Strike) action { return v.StrikeAction("restore", strikeFormOf(s)) }

// flash is the message a redirect after an action asks for. Only known
// words are shown, never text from the query.
func flash(q url.Values) string {
	switch q.Get("done") {
	case "cancel":
		return "Cancelled."
	case "retry":
		return "Scheduled again, due now."
	case "run":
		return "Due now."
	case "clear":
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || n < 0 {
			return "Cleared." // no count the action did not give
		}
		return fmt.Sprintf("Cancelled %s.", plural(n, "task"))
	case "strike":
		return "Struck: the tasks it matches do not start until it is restored."
	case "restore":
		return "Restored: the tasks it held that no other strike matches are due now."
	}
	return ""
}

var funcs = template.FuncMap{
	"rel":          rel,
	"stamp":        stamp,
	"iso":          iso,
	"dur":          human,
	"pretty":       pretty,
	"printable":    printable,
	"lines":        func(s string) string { return text.Block(s, shownBytes) },
	"plural":       plural,
	"count":        count,
	"pct":          pct,
	"assetVersion": func() string { return assetVersion },
	"taskURL":      func(key string) string { return "task?key=" + url.QueryEscape(key) },
	"short":        func(s string, n int) string { return text.Truncate(printable(s), n) },
	"traceID":      traceID,
	"add":          func(a, b int) int { return a + b },
	"count64":      func(n int64) string { return count(int(n)) },
	"bytes":        bytesHuman,
	"msToDur":      func(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond },
	"at":           func(now, t time.Time) when { return when{Now: now, T: t} },
	"sub":          func(a, b int) int { return a - b },
	"plural64":     func(n int64, word string) string { return plural(int(n), word) },
	"strikeOps":    func() []string { return strikeOps },
}

// rel says when t is relative to now: "in 5m", "3s ago".
func rel(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := t.Sub(now)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d > 0:
		return "in " + human(d)
	}
	return human(-d) + " ago"
}

// human rounds a duration for people: 950ms, 12s, 5m 3s, 2h 5m, 3d 4h.
func human(d time.Duration) string {
	if d < 0 {
		return "-" + human(-d)
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return twoUnits(d, time.Minute, "m", time.Second, "s")
	case d < 48*time.Hour:
		return twoUnits(d, time.Hour, "h", time.Minute, "m")
	}
	return twoUnits(d, 24*time.Hour, "d", time.Hour, "h")
}

func twoUnits(d, big time.Duration, bigName string, small time.Duration, smallName string) string {
	b := d / big
	s := (d % big) / small
	if s == 0 {
		return fmt.Sprintf("%d%s", b, bigName)
	}
	return fmt.Sprintf("%d%s %d%s", b, bigName, s, smallName)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
}

func iso(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// pretty indents JSON for reading; anything else is shown line by line,
// escaped as printable escapes it. Go writes <, > and & in JSON strings as
// \u003c, \u003e and \u0026: they are shown as the characters they stand
// for (the template escapes them for HTML), as a person wrote them; the
// characters that hide or reorder text (U+202E and the like) are shown as
// JSON escapes, which mean the same.
func pretty(raw []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") == nil {
		return text.PrintableJSON(text.UnescapeHTMLEscapes(b.String()))
	}
	return text.PrintableLines(string(raw))
}

// shownBytes bounds the long texts a page shows whole (an error): a task's
// error may be as long as its function made it, and a live page is fetched
// again every few seconds.
const shownBytes = 16 << 10

// printable is text.Printable: task data, escaped for people to read.
func printable(s string) string { return text.Printable(s) }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	switch {
	case strings.HasSuffix(word, "y") && !strings.HasSuffix(word, "ey"):
		return count(n) + " " + word[:len(word)-1] + "ies"
	case strings.HasSuffix(word, "ch"), strings.HasSuffix(word, "sh"), strings.HasSuffix(word, "s"), strings.HasSuffix(word, "x"):
		return count(n) + " " + word + "es"
	}
	return count(n) + " " + word + "s"
}

// count writes n with thousands separators: 1,000,000.
func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func pct(part, whole int64) string {
	if whole == 0 {
		return "—"
	}
	p := 100 * float64(part) / float64(whole)
	if p > 0 && p < 0.1 {
		return "<0.1%"
	}
	return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64) + "%"
}

// traceID is the trace ID of a W3C traceparent
// (version-traceid-spanid-flags), or "" when it is not one.
func traceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 || strings.Trim(parts[1], "0") == "" {
		return ""
	}
	if _, err := hex.DecodeString(parts[1]); err != nil {
		return ""
	}
	return strings.ToLower(parts[1])
}

// TraceURL is the Jaeger link of a trace ID, when a Jaeger URL is set.
func (v *view) TraceURL(id string) string {
	if v.Jaeger == nil || id == "" {
		return ""
	}
	u := *v.Jaeger
	u.Path += "/trace/" + id
	return u.String()
}

// when is a time to show relative to now (the "when" template).
type when struct{ Now, T time.Time }

// bytesHuman writes a size in bytes as Redis does: 1.50M.
func bytesHuman(n int64) string {
	units := []string{"B", "K", "M", "G", "T"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.2f%s", f, units[i])
}
