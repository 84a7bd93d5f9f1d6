package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/ui"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A traceparent, as a producer with a span writes it.
const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// Keys and inputs that hold markup: the pages must show them as text.
const (
	hostileKey   = `<script>window.pwned=1</script>`
	hostileInput = `{"note":"</pre><script>alert(1)</script><img src=x onerror=alert(2)>"}`
	hostileError = `<img src=x onerror=alert(3)> and a bell` + "\a\n\nmain.charge()\n\t/src/main.go:12"
	// A strike's field and value are anyone's too (and a held task's error
	// repeats them).
	hostileField = `<img src=x onerror=alert(4)>` + "\a"
	hostileValue = `</code><script>alert(5)</script>`
)

// fixture is a docket holding a task in every state, made with the store's
// own calls (no worker runs), and the dashboard on it.
type fixture struct {
	t      *testing.T
	d      *sdk.Docket
	s      *store.Store
	srv    *httptest.Server
	prefix string // where the dashboard is mounted
	client *http.Client
}

func newFixture(t *testing.T, b redistest.Backend, opts ui.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	name := redistest.Name(t)
	d, err := sdk.Open(ctx, b.URL, sdk.WithName(name), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, d.Redis(), name)
	s, err := store.New(d.Redis(), name)
	require.NoError(t, err)
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	h, err := ui.New(d, opts)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ops/docket/", http.StripPrefix("/ops/docket", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 30 * time.Second // bounds a hang; only a failing test reaches it
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f := &fixture{t: t, d: d, s: s, srv: srv, prefix: "/ops/docket/", client: client}
	t.Cleanup(f.tidy)
	return f
}

// tidy ends every live task, so that the leak check finds none.
func (f *fixture) tidy() {
	ctx := context.Background()
	for _, list := range []store.List{store.ListRunning, store.ListQueued, store.ListScheduled, store.ListParked} {
		for {
			p, err := f.s.Page(ctx, store.PageQuery{List: list, Size: 100})
			if err != nil || len(p.Tasks) == 0 {
				break
			}
			for _, t := range p.Tasks {
				_, _ = f.s.Cancel(ctx, t.Key, time.Minute)
			}
		}
	}
	_, _ = f.s.Clear(ctx, time.Minute)
	_ = f.s.Unregister(ctx, "worker-1")
	strikes, _ := f.d.Strikes(ctx)
	for _, s := range strikes {
		_, _ = f.s.Restore(ctx, store.StrikeSpec{Task: s.Task, Field: s.Field, Op: s.Op, Value: s.Value})
	}
}

// seed adds a task in every state: queued, scheduled, running (with
// progress), waiting for a slot, a parked workflow with a step and
// children, held by a strike (two: one of whose strike's field and value
// hold markup), completed, failed, cancelled, dead-lettered, an automatic
// chain, and one whose key and input hold markup.
func (f *fixture) seed() {
	t := f.t
	t.Helper()
	ctx := context.Background()
	add := func(mode store.Mode, tasks ...store.NewTask) {
		t.Helper()
		_, err := f.s.Add(ctx, mode, tasks)
		require.NoError(t, err)
	}
	claim := func(n int, rules store.Rules) []store.Message {
		t.Helper()
		c, err := f.s.Claim(ctx, "worker-1", n, time.Hour, time.Minute, rules, 5)
		require.NoError(t, err)
		return c.Messages
	}
	finish := func(o ...store.Outcome) {
		t.Helper()
		_, err := f.s.Finish(ctx, time.Minute, o)
		require.NoError(t, err)
	}
	// Ended tasks first: each claim takes what is due.
	add(store.ModeAdd, store.NewTask{Key: "done-1", Name: "send_email", Input: []byte(`{"to":"a@example.com"}`), Trace: traceparent})
	m := claim(1, store.Rules{})
	finish(store.Outcome{Key: "done-1", Gen: m[0].Gen, Kind: store.Completed, Result: []byte(`{"id":"msg-1"}`)})
	add(store.ModeAdd, store.NewTask{Key: "failed-1", Name: "charge_card", Input: []byte(`{"amount":12}`)})
	m = claim(1, store.Rules{})
	finish(store.Outcome{Key: "failed-1", Gen: m[0].Gen, Kind: store.Failed, Error: hostileError, Reason: "permanent"})
	add(store.ModeAdd, store.NewTask{Key: "dead-1", Name: "resize", Input: []byte(`{}`)})
	c, err := f.s.Claim(ctx, "doomed", 1, time.Millisecond, time.Minute, store.Rules{}, 1)
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)
	require.Eventually(t, func() bool { // its worker "died": its lease lapses
		c, err := f.s.Claim(ctx, "worker-1", 1, time.Hour, time.Minute, store.Rules{}, 1)
		require.NoError(t, err)
		require.Empty(t, c.Messages)
		return len(c.Dropped) == 1
	}, 10*time.Second, time.Millisecond)

	// A workflow parked until its children end: one step done, two children.
	add(store.ModeAdd, store.NewTask{Key: "order-1", Name: "fulfil_order", Input: []byte(`{"order":1}`)})
	m = claim(1, store.Rules{})
	require.NoError(t, f.s.Record(ctx, "order-1", m[0].Gen, "s:charge", `"ch_1"`))
	for _, p := range [][2]string{{store.ProgressTotal, "3"}, {store.ProgressIncrement, "1"}, {store.ProgressMessage, "charged"}} {
		_, _, err = f.s.Progress(ctx, "order-1", m[0].Gen, p[0], p[1]) // carried over to its next run
		require.NoError(t, err)
	}
	_, err = f.s.Start(ctx, "order-1", m[0].Gen, []store.Child{
		{Name: "pack/0", Key: "order-1/pack/0", Task: "pack", Input: []byte(`{}`), When: store.When{After: time.Hour}},
		{Name: "pack/1", Key: "order-1/pack/1", Task: "pack", Input: []byte(`{}`), When: store.When{After: time.Hour}},
	})
	require.NoError(t, err)
	park := store.Park{Kind: store.ParkChildren, Children: []string{"order-1/pack/0", "order-1/pack/1"}}
	finish(store.Outcome{Key: "order-1", Gen: m[0].Gen, Kind: store.Parked, Input: park.Encode()})

	// Held by strikes: one of a field compared with a number, one whose
	// strike's field and value hold markup.
	hostile, err := json.Marshal(map[string]string{hostileField: hostileValue})
	require.NoError(t, err)
	add(store.ModeAdd, store.NewTask{Key: "held-1", Name: "sync", Input: []byte(`{"customer_id":1001}`)},
		store.NewTask{Key: "held-2", Name: "report", Input: hostile})
	require.NoError(t, f.d.Strike(ctx, "sync", "customer_id", "==", 1001))
	require.NoError(t, f.d.Strike(ctx, "report", hostileField, "==", hostileValue))
	require.Empty(t, claim(2, store.Rules{}), "both are held")
	require.Equal(t, store.StateStruck, f.state("held-1"))
	require.Equal(t, store.StateStruck, f.state("held-2"))

	// Running with progress, and one waiting for its slot.
	rules := store.NewRules(map[string]store.Rule{"import": {Limits: []store.Limit{{Max: 1}}}})
	add(store.ModeAdd, store.NewTask{Key: "import-1", Name: "import", Input: []byte(`{"file":"a.csv"}`), When: store.When{At: time.Unix(1, 0)}},
		store.NewTask{Key: "import-2", Name: "import", Input: []byte(`{"file":"b.csv"}`), When: store.When{At: time.Unix(2, 0)}})
	m = claim(2, rules)
	require.Len(t, m, 1)
	_, _, err = f.s.Progress(ctx, "import-1", m[0].Gen, store.ProgressTotal, "10")
	require.NoError(t, err)
	_, _, err = f.s.Progress(ctx, "import-1", m[0].Gen, store.ProgressIncrement, "4")
	require.NoError(t, err)
	_, _, err = f.s.Progress(ctx, "import-1", m[0].Gen, store.ProgressMessage, "row 4000")
	require.NoError(t, err)
	_, err = f.s.Renew(ctx, store.Heartbeat{ID: "worker-1", TTL: time.Hour,
		Description: []byte(`{"host":"build-7","pid":4242,"tasks":["cleanup","import","send_email"],"concurrency":8}`)}, time.Hour, nil)
	require.NoError(t, err)

	// A rate limit whose window holds a start, its id with markup (from the
	// input).
	rated := store.NewRules(map[string]store.Rule{"notify": {Rates: []store.Rate{{Arg: "channel", Limit: 1, Per: time.Hour}}}})
	add(store.ModeAdd, store.NewTask{Key: "notify-1", Name: "notify", Input: []byte(`{"channel":"<b>ops</b>"}`)})
	m = claim(1, rated)
	require.Len(t, m, 1)
	finish(store.Outcome{Key: "notify-1", Gen: m[0].Gen, Kind: store.Completed})

	// Queued (due, nobody claims), scheduled, cancelled, an automatic chain,
	// and markup.
	add(store.ModeAdd,
		store.NewTask{Key: "queued-1", Name: "send_email", Input: []byte(`{"to":"b@example.com"}`)},
		store.NewTask{Key: "later-1", Name: "send_email", Input: []byte(`{"to":"c@example.com"}`), When: store.When{After: time.Hour}},
		store.NewTask{Key: "cancelled-1", Name: "send_email", Input: []byte(`{}`), When: store.When{After: time.Hour}},
		store.NewTask{Key: hostileKey, Name: "send_email", Input: []byte(hostileInput), When: store.When{After: 2 * time.Hour}})
	add(store.ModeSeed, store.NewTask{Key: "cleanup", Name: "cleanup", Input: []byte(`{}`), When: store.When{After: 30 * time.Minute}})
	ok, err := f.s.Cancel(ctx, "cancelled-1", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
}

func (f *fixture) state(key string) store.State {
	rec, _, err := f.s.Info(context.Background(), key)
	require.NoError(f.t, err)
	return rec.State
}

// get fetches a page of the dashboard (path relative to its mount point).
func (f *fixture) get(path string, header ...string) (int, http.Header, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+f.prefix+path, nil)
	require.NoError(f.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.client.Do(req)
	require.NoError(f.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	return res.StatusCode, res.Header, string(body)
}

// page fetches a page that must answer 200.
func (f *fixture) page(path string) string {
	f.t.Helper()
	code, _, body := f.get(path)
	require.Equal(f.t, http.StatusOK, code, "GET %s:\n%s", path, body)
	return body
}

// post posts an action form.
func (f *fixture) post(form url.Values, header ...string) (int, http.Header, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+f.prefix+"act", strings.NewReader(form.Encode()))
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.client.Do(req)
	require.NoError(f.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	return res.StatusCode, res.Header, string(body)
}

var tokenField = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// token reads the CSRF token of the dashboard's forms.
func (f *fixture) token() string {
	f.t.Helper()
	m := tokenField.FindStringSubmatch(f.page("tasks?state=queued"))
	require.NotNil(f.t, m, "no action form on the queue's page")
	return m[1]
}

var pages = []string{"", "tasks?state=queued", "tasks?state=scheduled", "tasks?state=running", "tasks?state=waiting",
	"tasks?state=parked", "tasks?state=struck", "tasks?state=failed", "tasks?state=dead", "workers", "schedules", "limits", "strikes",
	"task?key=done-1", "task?key=failed-1", "task?key=dead-1", "task?key=order-1", "task?key=import-1",
	"task?key=held-1", "task?key=held-2",
	"task?key=" + url.QueryEscape(hostileKey), "tasks?state=waiting&limit=" + url.QueryEscape("t:import::")}

// Every page renders the tasks of its state, with what the record holds.
func TestPages(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{JaegerURL: "http://jaeger.internal:16686/"})
		f.seed()

		overview := f.page("")
		for _, want := range []string{`<span class="n">1</span> queued`, `<span class="n">1</span> waiting for a slot`,
			`<span class="n">1</span> running`, `<span class="n">1</span> dead letters`, `on 1 live worker`,
			`send_email`, `fulfil_order`} {
			assert.Contains(t, overview, want)
		}
		assert.Contains(t, f.page("tasks?state=queued"), `href="task?key=queued-1"`)
		scheduled := f.page("tasks?state=scheduled")
		for _, key := range []string{"later-1", "cleanup", "order-1/pack/0"} {
			assert.Contains(t, scheduled, `href="task?key=`+url.QueryEscape(key)+`"`)
		}
		assert.NotContains(t, scheduled, "cancelled-1")
		assert.Contains(t, f.page("tasks?state=running"), `href="task?key=import-1"`)
		assert.Contains(t, f.page("tasks?state=parked"), `href="task?key=order-1"`)
		dead := f.page("tasks?state=dead")
		assert.Contains(t, dead, `href="task?key=dead-1"`)
		assert.Contains(t, dead, "dead-lettered: delivered once")
		failedList := f.page("tasks?state=failed")
		assert.Contains(t, failedList, `href="task?key=failed-1"`, "a failed execution")
		assert.Contains(t, failedList, `href="task?key=dead-1"`, "a dead letter failed too")
		assert.Contains(t, failedList, `data-op="retry"`)
		assert.NotContains(t, failedList, `href="task?key=done-1"`)
		assert.Contains(t, f.page(""), `<a href="tasks?state=failed"><span class="n">2</span> failed</a>`)
		waiting := f.page("tasks?state=waiting")
		assert.Contains(t, waiting, `href="tasks?state=waiting&amp;limit=t%3aimport%3a%3a"`)
		assert.Contains(t, f.page("tasks?state=waiting&limit="+url.QueryEscape("t:import::")), `href="task?key=import-2"`)

		// Filters: by task name, by key prefix.
		byName := f.page("tasks?state=scheduled&name=cleanup")
		assert.Contains(t, byName, `href="task?key=cleanup"`)
		assert.NotContains(t, byName, `href="task?key=later-1"`)
		byPrefix := f.page("tasks?state=scheduled&prefix=order-1%2F")
		assert.Contains(t, byPrefix, `href="task?key=order-1%2Fpack%2F1"`)
		assert.NotContains(t, byPrefix, `href="task?key=later-1"`)

		done := f.page("task?key=done-1")
		assert.Contains(t, done, "&#34;to&#34;: &#34;a@example.com&#34;", "the input, indented")
		assert.Contains(t, done, "&#34;id&#34;: &#34;msg-1&#34;", "the result")
		assert.Contains(t, done, `href="http://jaeger.internal:16686/trace/0af7651916cd43dd8448eb211c80319c"`)
		assert.Contains(t, done, "<strong>Finished</strong> — completed")
		failed := f.page("task?key=failed-1")
		assert.Contains(t, failed, "failed (permanent)")
		assert.Contains(t, failed, "a bell\\a\n\nmain.charge()\n\t/src/main.go:12</pre>", "the error on its lines, escaped")
		assert.Contains(t, failed, `data-op="retry"`)
		assert.NotContains(t, f.page("tasks?state=queued&limit=foo"), "Waiting for foo", "a limit is a line of waiting tasks only")
		running := f.page("task?key=import-1")
		assert.Contains(t, running, `<progress id="task-progress" max="10" value="4"`)
		assert.Contains(t, running, "4 of 10 (40%) — row 4000")
		workflow := f.page("task?key=order-1")
		assert.Contains(t, workflow, "waits for 2 of 2 children")
		assert.Contains(t, workflow, "1 of 3 (33%) — charged", "a parked workflow's progress, which its next run carries on")
		assert.Contains(t, workflow, "<code>charge</code>", "the step done")
		assert.Contains(t, workflow, `<a href="task?key=order-1%2Fpack%2F0">order-1/pack/0</a> <span class="state state-scheduled">scheduled</span>`)
		child := f.page("task?key=" + url.QueryEscape("order-1/pack/1"))
		assert.Contains(t, child, `<a href="task?key=order-1">order-1</a>, as child <code>pack/1</code>`)

		workers := f.page("workers")
		assert.Contains(t, workers, "build-7, pid 4242")
		assert.Contains(t, workers, `href="task?key=import-1"`)
		schedules := f.page("schedules")
		assert.Contains(t, schedules, `href="task?key=cleanup"`)
		assert.Contains(t, schedules, "automatic chain")
		limits := f.page("limits")
		assert.Contains(t, limits, "<code>t:import::</code>")
		assert.Contains(t, limits, `href="task?key=import-2"`)
		assert.Contains(t, limits, "<code>t:notify:channel:&lt;b&gt;ops&lt;/b&gt;</code>", "the rate limit, its id escaped")
		assert.Contains(t, limits, `<span class="n">1</span> of 1 <span class="badge">full</span>`)
		assert.Contains(t, limits, "<td>1h</td>")

		// Held tasks: counted, listed, and each says which strike holds it.
		assert.Contains(t, overview, `<span class="n warn">2</span> held by a strike`)
		assert.Contains(t, overview, `<a href="strikes">2 strikes</a> in effect`)
		assert.Contains(t, overview, `<a href="strikes">Strikes</a>`, "the navigation")
		held := f.page("tasks?state=struck")
		assert.Contains(t, held, `<a href="tasks?state=struck" aria-current="page">Held by a strike <span class="count">2</span></a>`)
		assert.Contains(t, held, `<th scope="col">Held since</th>`)
		assert.Contains(t, held, `href="task?key=held-1"`)
		assert.Contains(t, held, `<td class="error">held: struck (sync with customer_id == 1001)</td>`)
		assert.Contains(t, held, `data-op="cancel"`)
		assert.NotContains(t, f.page("tasks?state=queued"), "held-1")
		heldTask := f.page("task?key=held-1")
		assert.Contains(t, heldTask, `<span class="state state-struck">struck</span>`)
		assert.Contains(t, heldTask, `Held by the strike of <code>sync with customer_id == 1001</code>`)
		assert.Contains(t, heldTask, `data-op="cancel"`)
		assert.NotContains(t, heldTask, `id="error-h"`, "the strike is not an error")

		code, _, body := f.get("task?key=nothing-here")
		assert.Equal(t, http.StatusNotFound, code)
		assert.Contains(t, body, "No execution has the key")
		code, _, _ = f.get("no-such-page")
		assert.Equal(t, http.StatusNotFound, code)
		code, _, _ = f.get("tasks?state=bogus")
		assert.Equal(t, http.StatusNotFound, code)
		for _, offset := range []string{"abc", "-5", "99999999999999999999"} {
			code, _, body = f.get("tasks?state=scheduled&offset=" + offset)
			assert.Equal(t, http.StatusBadRequest, code, offset)
			assert.Contains(t, body, "The offset must be a whole number, 0 or more.")
		}
		code, _, _ = f.get("tasks?state=scheduled&offset=0")
		assert.Equal(t, http.StatusOK, code)
	})
}

// Keys, inputs and errors are shown as text, never as markup: no page holds
// the markup a task brought, and control characters are escaped.
func TestTaskDataIsEscaped(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		f.seed()
		for _, p := range pages {
			for _, live := range []bool{false, true} {
				var body string
				if live {
					_, _, body = f.get(p, "X-Docket-Live", "1")
				} else {
					body = f.page(p)
				}
				for _, bad := range []string{"<script>window", "<script>alert", "<img src=x", "\a"} {
					assert.NotContains(t, body, bad, "page %q (live %v)", p, live)
				}
			}
		}
		detail := f.page("task?key=" + url.QueryEscape(hostileKey))
		assert.Contains(t, detail, "&lt;script&gt;window.pwned=1&lt;/script&gt;")
		assert.Contains(t, detail, "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
		assert.Contains(t, f.page("task?key=failed-1"), `&lt;img src=x onerror=alert(3)&gt; and a bell\a`)
		strikes := f.page("strikes")
		assert.Contains(t, strikes, `<td><code>&lt;img src=x onerror=alert(4)&gt;\a</code></td>`, "the field")
		assert.Contains(t, strikes, `<td><code>&#34;&lt;/code&gt;&lt;script&gt;alert(5)&lt;/script&gt;&#34;</code></td>`, "the value")
		assert.Contains(t, strikes, `data-confirm="Restore the strike of report with &lt;img src=x onerror=alert(4)&gt;\a == &#34;&lt;/code&gt;&lt;script&gt;alert(5)&lt;/script&gt;&#34;? `)
		assert.Contains(t, f.page("task?key=held-2"), `Held by the strike of <code>report with &lt;img src=x onerror=alert(4)&gt;\a == `)
		_, hdr, _ := f.get("")
		assert.Contains(t, hdr.Get("Content-Security-Policy"), "script-src 'self'")
		assert.Equal(t, "nosniff", hdr.Get("X-Content-Type-Options"))
	})
}

// What a page writes into its forms' fields is escaped as its text is: a
// filter from the URL (a link anyone may craft), the task names offered,
// a strike's hidden field. No control character, format character or
// byte that is not UTF-8 goes into a page raw, and a strike so escaped
// still restores.
func TestFormFieldsAreEscaped(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		ctx := context.Background()
		_, err := f.d.AddByName(ctx, "evil\x1b[31m<n>", json.RawMessage(`{}`), sdk.Key("named"))
		require.NoError(t, err)
		require.NoError(t, f.d.Strike(ctx, "t", "f", "==", "x\u202e"))

		for path, want := range map[string]string{
			"tasks?state=queued&name=evil%1B%5B31m%3Cn%3E": `name="name" value="evil\x1b[31m&lt;n&gt;"`,
			"tasks?state=failed&prefix=%1B%3Cx%3E":         `name="prefix" value="\x1b&lt;x&gt;"`,
			"tasks?state=failed&name=%FF%3Cx%3E":           `name="name" value="\xff&lt;x&gt;"`,
		} {
			body := f.page(path)
			assert.True(t, utf8.ValidString(body), "%s: the page is UTF-8", path)
			assert.NotContains(t, body, "\x1b", path)
			assert.Contains(t, body, want, path)
		}
		filtered := f.page("tasks?state=queued&name=evil%1B%5B31m%3Cn%3E")
		assert.Contains(t, filtered, `href="task?key=named"`, "the filter from the URL still finds the task")
		// The form sent again as it stands (the field shows the name
		// escaped) filters by the name itself, which its hidden
		// companion carries; edited, the field is taken as typed.
		m := regexp.MustCompile(`name="name64" value="([A-Za-z0-9_-]+)"`).FindStringSubmatch(filtered)
		require.NotNil(t, m, "the name, exactly")
		again := url.Values{"state": {"queued"}, "name": {`evil\x1b[31m<n>`}, "name64": {m[1]}}
		assert.Contains(t, f.page("tasks?"+again.Encode()), `href="task?key=named"`, "sent again unedited")
		again.Set("name", "other")
		assert.NotContains(t, f.page("tasks?"+again.Encode()), `href="task?key=named"`, "edited")

		page := f.page("strikes")
		assert.NotContains(t, page, "\u202e")
		forms := actionForms(page, "restore")
		require.Len(t, forms, 1)
		assert.Contains(t, forms[0].Get("strike"), `x\u202e`, "as a JSON escape")
		forms[0].Set("confirmed", "1")
		code, _, _ := f.post(forms[0])
		require.Equal(t, http.StatusSeeOther, code)
		strikes, err := f.d.Strikes(ctx)
		require.NoError(t, err)
		assert.Empty(t, strikes, "restored: the escaped field read back as the strike")
	})
}

// Actions are posted, carry the handler's token, are confirmed, and change
// Redis; the reply sends the browser back, relative to the mount point.
func TestActions(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		f.seed()
		token := f.token()

		form := url.Values{"op": {"cancel"}, "key": {"later-1"}, "token": {token}}
		code, _, body := f.post(form)
		require.Equal(t, http.StatusOK, code, "unconfirmed: a page asks")
		assert.Contains(t, body, `name="confirmed" value="1"`)
		assert.Equal(t, store.StateScheduled, f.state("later-1"), "nothing done yet")

		form.Set("confirmed", "1")
		code, hdr, _ := f.post(form)
		require.Equal(t, http.StatusSeeOther, code)
		assert.Equal(t, "task?done=cancel&key=later-1", hdr.Get("Location"))
		assert.Equal(t, store.StateCancelled, f.state("later-1"))
		assert.Contains(t, f.page("task?done=cancel&key=later-1"), `<p class="flash" role="status">Cancelled.</p>`)

		code, _, body = f.post(form)
		assert.Equal(t, http.StatusConflict, code, "cancelled already")
		assert.Contains(t, body, "is not scheduled, queued, parked, held or running")

		code, _, _ = f.post(url.Values{"op": {"retry"}, "key": {"failed-1"}, "token": {token}, "confirmed": {"1"}})
		require.Equal(t, http.StatusSeeOther, code)
		assert.Equal(t, store.StateScheduled, f.state("failed-1"))
		code, _, _ = f.post(url.Values{"op": {"retry"}, "key": {"dead-1"}, "token": {token}, "confirmed": {"1"}})
		require.Equal(t, http.StatusSeeOther, code)
		assert.NotContains(t, f.page("tasks?state=dead"), `href="task?key=dead-1"`, "no longer a dead letter")

		code, _, _ = f.post(url.Values{"op": {"run"}, "key": {"cleanup"}, "token": {token}, "confirmed": {"1"}})
		require.Equal(t, http.StatusSeeOther, code)
		rec, _, err := f.s.Info(context.Background(), "cleanup")
		require.NoError(t, err)
		assert.False(t, rec.Due.After(rec.Now), "due now")

		code, hdr, _ = f.post(url.Values{"op": {"clear"}, "token": {token}, "confirmed": {"1"}})
		require.Equal(t, http.StatusSeeOther, code)
		assert.Regexp(t, `^\./\?done=clear&n=\d+$`, hdr.Get("Location"))
		counts, err := f.s.Count(context.Background())
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Running: 1}, counts, "only the running task is left")

		// Refused: no token, a stale one, another site, a GET.
		code, _, _ = f.post(url.Values{"op": {"cancel"}, "key": {"import-1"}, "confirmed": {"1"}})
		assert.Equal(t, http.StatusForbidden, code)
		code, _, _ = f.post(url.Values{"op": {"cancel"}, "key": {"import-1"}, "token": {strings.Repeat("0", 64)}, "confirmed": {"1"}})
		assert.Equal(t, http.StatusForbidden, code)
		code, _, _ = f.post(url.Values{"op": {"cancel"}, "key": {"import-1"}, "token": {token}, "confirmed": {"1"}},
			"Sec-Fetch-Site", "cross-site")
		assert.Equal(t, http.StatusForbidden, code)
		code, _, _ = f.post(url.Values{"op": {"cancel"}, "key": {"import-1"}, "token": {token}, "confirmed": {"1"}},
			"Origin", "https://evil.example")
		assert.Equal(t, http.StatusForbidden, code)
		code, _, _ = f.get("act?op=cancel&key=import-1")
		assert.Equal(t, http.StatusMethodNotAllowed, code)
		assert.Equal(t, store.StateRunning, f.state("import-1"))
	})
}

// actionForms reads the hidden fields of a page's action forms for op.
func actionForms(page, op string) []url.Values {
	var out []url.Values
	for _, form := range formPattern.FindAllStringSubmatch(page, -1) {
		v := url.Values{}
		for _, in := range hiddenPattern.FindAllStringSubmatch(form[1], -1) {
			v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		if v.Get("op") == op {
			out = append(out, v)
		}
	}
	return out
}

var (
	formPattern   = regexp.MustCompile(`(?s)<form method="post" action="act"[^>]*>(.*?)</form>`)
	hiddenPattern = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// The strikes page lists the strikes in effect, oldest first, each with a
// Restore button, and a form to add one; a held task can be cancelled.
func TestStrikes(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		f.seed()
		ctx := context.Background()
		require.NoError(t, f.d.Strike(ctx, "", "region", ">=", "m"))
		require.NoError(t, f.d.Strike(ctx, "bill", "", "", nil))

		body := f.page("strikes")
		assert.Contains(t, body, `<a href="strikes" aria-current="page">Strikes</a>`)
		assert.Contains(t, body, `4 strikes in effect, oldest first; <a href="tasks?state=struck">2 tasks held</a>.`)
		assert.Regexp(t, `(?s)<th scope="row">sync</th>\s*<td><code>customer_id</code></td><td><code>==</code></td><td><code>1001</code></td>\s*<td><time datetime="[^"]+"[^>]*>`, body)
		assert.Regexp(t, `(?s)<th scope="row"><span class="muted">every task</span></th>\s*<td><code>region</code></td><td><code>&gt;=</code></td><td><code>&#34;m&#34;</code></td>`, body)
		assert.Regexp(t, `(?s)<th scope="row">bill</th>\s*<td colspan="3" class="muted">the whole task</td>`, body)
		assert.Less(t, strings.Index(body, "customer_id"), strings.Index(body, "region"), "oldest first")
		assert.Len(t, actionForms(body, "restore"), 4)
		assert.Contains(t, body, `<form method="post" action="act" id="strike-form"`)
		assert.Contains(t, body, `<option>&lt;=</option>`)
		assert.Contains(t, body, `<datalist id="strike-task-names"><option value="cleanup"><option value="import"><option value="send_email"></datalist>`)
		_, _, part := f.get("strikes", "X-Docket-Live", "1")
		assert.Contains(t, part, "customer_id")
		assert.NotContains(t, part, "strike-form", "the form is not in the live part: an update does not wipe what is typed")

		// A held task is cancelled from its page, as any live task.
		cancel := actionForms(f.page("task?key=held-1"), "cancel")
		require.Len(t, cancel, 1)
		cancel[0].Set("confirmed", "1")
		code, _, _ := f.post(cancel[0])
		require.Equal(t, http.StatusSeeOther, code)
		assert.Equal(t, store.StateCancelled, f.state("held-1"))
		assert.Contains(t, f.page("tasks?state=struck"), `Held by a strike <span class="count">1</span>`)

		f = newFixture(t, b, ui.Options{})
		assert.Contains(t, f.page("strikes"), "No strike is in effect.")
	})
}

// A strike is added and restored through the handler: posted with the
// token, confirmed on a page that shows how its value was read, and
// refused when it is no strike.
func TestStrikeActions(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		f.seed()
		ctx := context.Background()
		token := f.token()
		strikes := func() []string {
			t.Helper()
			list, err := f.d.Strikes(ctx)
			require.NoError(t, err)
			var out []string
			for _, s := range list {
				out = append(out, s.String())
			}
			return out
		}

		form := url.Values{"op": {"strike"}, "task": {"send_email"}, "field": {"to"}, "operator": {"=="}, "value": {"b@example.com"}, "token": {token}}
		code, _, body := f.post(form)
		require.Equal(t, http.StatusOK, code, "unconfirmed: a page asks")
		assert.Contains(t, body, "Strike send_email with to == &#34;b@example.com&#34;? The tasks it matches do not start until it is restored")
		assert.Contains(t, body, "The value is read as a string: &#34;b@example.com&#34;")
		assert.Contains(t, body, `<a href="strikes">No, go back</a>`)
		confirm := actionForms(body, "strike")
		require.Len(t, confirm, 1)
		assert.Equal(t, "1", confirm[0].Get("confirmed"))
		assert.Len(t, strikes(), 2, "nothing struck yet")
		code, hdr, _ := f.post(confirm[0])
		require.Equal(t, http.StatusSeeOther, code)
		assert.Equal(t, "strikes?done=strike", hdr.Get("Location"))
		assert.Contains(t, strikes(), `send_email with to == "b@example.com"`)
		assert.Contains(t, f.page("strikes?done=strike"), `<p class="flash" role="status">Struck: the tasks it matches do not start until it is restored.</p>`)

		// The value is typed as docket strike types it.
		for value, want := range map[string]string{
			"1001": "a number: 1001", " 2.50 ": "a number: 2.50", `"1001"`: `a string: &#34;1001&#34;`, "true": "a boolean: true",
			"north": `a string: &#34;north&#34;`, `{"a":1}`: `a string: &#34;{\&#34;a\&#34;:1}&#34;`,
		} {
			_, _, body := f.post(url.Values{"op": {"strike"}, "field": {"n"}, "operator": {">="}, "value": {value}, "token": {token}})
			assert.Contains(t, body, "The value is read as "+want+" (", "value %q", value)
		}
		code, _, _ = f.post(url.Values{"op": {"strike"}, "task": {"*"}, "field": {"n"}, "operator": {">="}, "value": {"2.50"}, "token": {token}, "confirmed": {"1"}})
		require.Equal(t, http.StatusSeeOther, code)
		assert.Contains(t, strikes(), "every task with n >= 2.50", "* is every task; the number as written")
		code, _, _ = f.post(url.Values{"op": {"strike"}, "task": {"cleanup"}, "operator": {"=="}, "value": {"ignored"}, "token": {token}, "confirmed": {"1"}})
		require.Equal(t, http.StatusSeeOther, code)
		assert.Contains(t, strikes(), "cleanup", "the whole task")

		code, _, tooLarge := f.post(url.Values{"op": {"strike"}, "task": {"x"}, "value": {strings.Repeat("v", 70<<10)}, "token": {token}})
		assert.Equal(t, http.StatusRequestEntityTooLarge, code, "a form over 64 KiB")
		assert.Contains(t, tooLarge, "larger than the 64 KiB")

		// Not a strike.
		for _, bad := range []url.Values{
			{"op": {"strike"}, "operator": {"=="}, "value": {"1"}},
			{"op": {"strike"}, "field": {"n"}, "operator": {"~="}, "value": {"1"}},
			{"op": {"strike"}, "field": {"n"}, "value": {"1"}},
			{"op": {"strike"}, "field": {"n"}, "operator": {"=="}, "value": {"1e400"}}, // as docket strike refuses it
		} {
			bad.Set("token", token)
			code, _, body := f.post(bad)
			assert.Equal(t, http.StatusBadRequest, code, "%v", bad)
			assert.Contains(t, body, `<p class="message">`)
		}

		// Restored from its row's button, the tasks it held run.
		var restore url.Values
		for _, form := range actionForms(f.page("strikes"), "restore") {
			if strings.Contains(form.Get("strike"), `"customer_id"`) {
				restore = form
			}
		}
		require.NotNil(t, restore)
		assert.Equal(t, url.Values{"op": {"restore"}, "key": {""}, "strike": {`{"task":"sync","field":"customer_id","operator":"==","value":"1001"}`},
			"token": {token}, "confirmed": {""}}, restore)
		code, _, body = f.post(restore)
		require.Equal(t, http.StatusOK, code, "unconfirmed: a page asks")
		assert.Contains(t, body, "Restore the strike of sync with customer_id == 1001? The tasks it holds that no other strike matches run at once.")
		restore.Set("confirmed", "1")
		code, hdr, _ = f.post(restore)
		require.Equal(t, http.StatusSeeOther, code)
		assert.Equal(t, "strikes?done=restore", hdr.Get("Location"))
		assert.NotContains(t, strikes(), "sync with customer_id == 1001")
		assert.Equal(t, store.StateScheduled, f.state("held-1"), "released: due now")
		code, _, body = f.post(restore)
		assert.Equal(t, http.StatusConflict, code, "restored already")
		assert.Contains(t, body, "no strike of sync with customer_id == 1001")
		assert.NotContains(t, body, "task not found", "a strike is no task")

		// The strike whose field and value hold markup restores from its
		// row too: the page's form carries them as they are.
		for _, form := range actionForms(f.page("strikes"), "restore") {
			if strings.Contains(form.Get("strike"), `"report"`) {
				var got struct{ Field, Value string }
				require.NoError(t, json.Unmarshal([]byte(form.Get("strike")), &got))
				assert.Equal(t, hostileField, got.Field)
				assert.JSONEq(t, strconv.Quote(hostileValue), got.Value)
				form.Set("confirmed", "1")
				code, _, _ = f.post(form)
				require.Equal(t, http.StatusSeeOther, code)
			}
		}
		assert.Equal(t, store.StateScheduled, f.state("held-2"))

		// Refused: no token, a stale one, another site.
		form = url.Values{"op": {"restore"}, "task": {"cleanup"}, "confirmed": {"1"}}
		code, _, _ = f.post(form)
		assert.Equal(t, http.StatusForbidden, code)
		form.Set("token", strings.Repeat("0", 64))
		code, _, _ = f.post(form)
		assert.Equal(t, http.StatusForbidden, code)
		form.Set("token", token)
		code, _, _ = f.post(form, "Sec-Fetch-Site", "cross-site")
		assert.Equal(t, http.StatusForbidden, code)
		assert.Contains(t, strikes(), "cleanup")
	})
}

// A read-only dashboard shows no action, and refuses a forged one.
func TestReadOnly(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{ReadOnly: true})
		f.seed()
		for _, p := range pages {
			body := f.page(p)
			assert.NotContains(t, body, `action="act"`, "page %q", p)
			assert.NotContains(t, body, `name="token"`, "page %q", p)
		}
		assert.Contains(t, f.page(""), "read-only")
		for _, op := range []string{"cancel", "retry", "run", "clear", "strike", "restore"} {
			code, _, body := f.post(url.Values{"op": {op}, "key": {"queued-1"}, "task": {"sync"}, "field": {"customer_id"},
				"operator": {"=="}, "value": {"1001"}, "confirmed": {"1"}})
			assert.Equal(t, http.StatusForbidden, code, op)
			assert.Contains(t, body, "read-only")
		}
		assert.Equal(t, store.StateScheduled, f.state("queued-1"))
		strikes := f.page("strikes")
		assert.NotContains(t, strikes, "strike-form", "no form to strike")
		assert.NotContains(t, strikes, "Restore")
		assert.Contains(t, strikes, "sync")
		list, err := f.d.Strikes(context.Background())
		require.NoError(t, err)
		assert.Len(t, list, 2, "none struck, none restored")
	})
}

// Mounted under a prefix, every link is relative to it; the prefix without
// its slash is sent to it; assets are embedded.
func TestMounting(t *testing.T) {
	f := newFixture(t, redistest.Memory(t), ui.Options{})
	f.seed()
	for _, p := range pages {
		body := f.page(p)
		assert.NotRegexp(t, `(href|src|action)="/`, body, "page %q: a link from the root", p)
		assert.NotContains(t, body, "http://", "page %q: no CDN, no absolute link", p)
	}
	code, hdr, body := f.get("static/app.css")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "text/css; charset=utf-8", hdr.Get("Content-Type"))
	assert.Contains(t, body, "prefers-color-scheme: dark")
	code, hdr, _ = f.get("static/app.js")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "text/javascript; charset=utf-8", hdr.Get("Content-Type"))
	code, _, _ = f.get("static/nothing.js")
	assert.Equal(t, http.StatusNotFound, code)

	// Served by StripPrefix alone, the prefix itself reaches the handler as
	// "": it redirects to the prefix with its slash.
	h, err := ui.New(f.d, ui.Options{Logger: quiet})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	http.StripPrefix("/ops/docket", h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ops/docket", nil))
	assert.Equal(t, http.StatusMovedPermanently, rec.Code)
	assert.Equal(t, "docket/", rec.Header().Get("Location"))
}

// A live update gets the part of the page that changes, not the page.
func TestLiveUpdate(t *testing.T) {
	f := newFixture(t, redistest.Memory(t), ui.Options{Refresh: time.Second})
	f.seed()
	body := f.page("tasks?state=queued")
	assert.Contains(t, body, `data-refresh="1000"`)
	assert.Contains(t, body, `<div id="live">`)
	code, _, part := f.get("tasks?state=queued", "X-Docket-Live", "1")
	assert.Equal(t, http.StatusOK, code)
	assert.NotContains(t, part, "<html")
	assert.NotContains(t, part, `<div id="live">`)
	assert.Contains(t, part, `href="task?key=queued-1"`)
	assert.Contains(t, f.page("task?key=done-1"), `data-refresh="0"`, "a finished task does not change")

	f = newFixture(t, redistest.Memory(t), ui.Options{Refresh: -1})
	assert.Contains(t, f.page(""), `data-refresh="0"`)
	assert.NotContains(t, f.page(""), "live-toggle")
}

// The chart draws the per-minute counters of the last hour, however they
// were written: a bar per minute with counts, the failure rate, and the
// counts by task.
func TestChart(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		ctx := context.Background()
		now, err := f.s.Now(ctx)
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, f.s.Stats(ctx, now.Add(-time.Duration(i)*time.Minute), map[string]int64{
				"completed": 90, "retry": 5, "failed": 5, "completed:send_email": 90, "failed:charge_card": 5, "retry:charge_card": 5,
			}))
		}
		body := f.page("")
		assert.NotContains(t, body, "no counters yet")
		assert.Equal(t, 10, strings.Count(body, `<rect class="ok"`))
		assert.Equal(t, 10, strings.Count(body, `<rect class="bad"`))
		assert.Contains(t, body, "failure rate over the hour: 10%")
		assert.Contains(t, body, "Attempts ended per minute over the last hour: 900 ended well, 100 failed (10%), at most 100 in a minute.")
		assert.Contains(t, body, `<span class="n">900</span> completed`)
		assert.Regexp(t, `send_email</a></th><td>0</td><td>0</td><td>0</td><td>0</td><td>900</td><td>0</td>`, body)
		assert.Regexp(t, `charge_card</a></th><td>0</td><td>0</td><td>0</td><td>0</td><td>0</td><td>100</td>`, body)
		minute := now.UTC().Format("15:04")
		assert.Contains(t, body, "<tr><td>"+minute+"</td><td>90</td><td>10</td></tr>")
	})
}

// HTTP basic authentication guards every page and action.
func TestBasicAuth(t *testing.T) {
	f := newFixture(t, redistest.Memory(t), ui.Options{Auth: ui.BasicAuth("ops", "s3cret")})
	code, hdr, _ := f.get("")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, hdr.Get("WWW-Authenticate"), `Basic realm="docket"`)
	for _, creds := range [][2]string{{"ops", "wrong"}, {"other", "s3cret"}} {
		req, err := http.NewRequest(http.MethodGet, f.srv.URL+f.prefix, nil)
		require.NoError(t, err)
		req.SetBasicAuth(creds[0], creds[1])
		res, err := f.client.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+f.prefix, nil)
	require.NoError(t, err)
	req.SetBasicAuth("ops", "s3cret")
	res, err := f.client.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	code, _, _ = f.post(url.Values{"op": {"clear"}, "confirmed": {"1"}})
	assert.Equal(t, http.StatusUnauthorized, code)
}

func TestNewRefusesBadOptions(t *testing.T) {
	d, err := sdk.Open(context.Background(), "memory://"+redistest.Name(t), sdk.WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	for _, opts := range []ui.Options{{PageSize: -1}, {PageSize: 5000}, {JaegerURL: "jaeger:16686"}, {JaegerURL: "ftp://x"}, {Refresh: time.Millisecond}} {
		_, err := ui.New(d, opts)
		assert.ErrorIs(t, err, ui.ErrBadOption, "%+v", opts)
	}
	_, err = ui.New(nil, ui.Options{})
	assert.ErrorIs(t, err, ui.ErrBadOption)
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
	_, err = ui.New(&sdk.Docket{}, ui.Options{}) // not made by Open: an error, not a panic
	assert.ErrorIs(t, err, sdk.ErrNilArgument)
}

// A key holding characters a browser rewrites in a form's values (a NUL,
// line breaks, bytes that are not UTF-8) is still acted on exactly: the
// form posts it in base64 beside the key as rendered.
func TestActionsOnAKeyABrowserWouldRewrite(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		key := "nul\x00key\nline\xff"
		_, err := f.s.Add(context.Background(), store.ModeAdd, []store.NewTask{
			{Key: key, Name: "report", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)

		body := f.page("task?" + url.Values{"key": {key}}.Encode())
		m := regexp.MustCompile(`name="key64" value="([A-Za-z0-9_-]+)"`).FindStringSubmatch(body)
		require.NotNil(t, m, "the form carries the key in base64")
		// What a browser posts: the key field as rendered, with its line
		// break normalised, and the base64 one.
		rendered := regexp.MustCompile(`name="key" value="([^"]*)"`).FindStringSubmatch(body)
		require.NotNil(t, rendered)
		form := url.Values{"op": {"cancel"}, "key": {strings.ReplaceAll(html.UnescapeString(rendered[1]), "\n", "\r\n")},
			"key64": {m[1]}, "token": {f.token()}, "confirmed": {"1"}}
		code, _, resp := f.post(form)
		require.Equal(t, http.StatusSeeOther, code, resp)
		assert.Equal(t, store.StateCancelled, f.state(key))

		form.Set("key64", "not base64!")
		code, _, _ = f.post(form)
		assert.Equal(t, http.StatusBadRequest, code)
	})
}

// The workers page lists the running tasks of workers no longer live (a
// crashed worker's, until their leases lapse): they were counted, and shown
// under no worker.
func TestWorkersPageShowsTasksOfWorkersGone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		ctx := context.Background()
		_, err := f.s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "orphan-1", Name: "import", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := f.s.Claim(ctx, "gone-1", 1, time.Hour, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		workers := f.page("workers")
		assert.Contains(t, workers, "No live worker.")
		assert.Contains(t, workers, "Running on workers no longer live")
		assert.Contains(t, workers, `href="task?key=orphan-1"`)
		assert.Contains(t, workers, "<code>gone-1</code>")
		_, err = f.s.Finish(ctx, time.Minute, []store.Outcome{{Key: "orphan-1", Gen: c.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
	})
}

// No control character, character that reorders text, or byte that is not
// UTF-8 of a key reaches a page, its action forms included: the page is
// valid UTF-8, as its charset says.
func TestPagesHoldNoRawBytesOfAKey(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		key := "k\x1b[31m\a\r\n\u202e\xff\xfe"
		_, err := f.s.Add(context.Background(), store.ModeAdd, []store.NewTask{
			{Key: key, Name: "report", Input: []byte(`{}`), When: store.When{After: time.Hour}}})
		require.NoError(t, err)
		for _, p := range []string{"tasks?state=scheduled", "task?" + url.Values{"key": {key}}.Encode()} {
			body := f.page(p)
			assert.True(t, utf8.ValidString(body), "page %q is not UTF-8", p)
			for _, raw := range []string{"\x1b", "\a", "\u202e"} {
				assert.NotContains(t, body, raw, "page %q", p)
			}
			assert.Contains(t, body, `name="key" value="k\x1b[31m\a\r\n\u202e\xff\xfe"`, "page %q", p)
		}
	})
}

// A failed child of a live workflow, which Retry refuses, has no Retry
// button, but a word on what to retry; once its workflow has ended, it has
// one again.
func TestAFailedChildOfALiveWorkflowOffersNoRetry(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		f := newFixture(t, b, ui.Options{})
		ctx := context.Background()
		_, err := f.s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "wf-1", Name: "fulfil", Input: []byte(`{}`)}})
		require.NoError(t, err)
		c, err := f.s.Claim(ctx, "worker-1", 1, time.Hour, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		gen := c.Messages[0].Gen
		_, err = f.s.Start(ctx, "wf-1", gen, []store.Child{{Name: "pack", Key: "wf-1/pack", Task: "pack", Input: []byte(`{}`)}})
		require.NoError(t, err)
		park := store.Park{Kind: store.ParkChildren, Children: []string{"wf-1/pack"}}
		_, err = f.s.Finish(ctx, time.Minute, []store.Outcome{{Key: "wf-1", Gen: gen, Kind: store.Parked, Input: park.Encode()}})
		require.NoError(t, err)
		c, err = f.s.Claim(ctx, "worker-1", 1, time.Hour, time.Minute, store.Rules{}, 5)
		require.NoError(t, err)
		require.Len(t, c.Messages, 1)
		require.Equal(t, "wf-1/pack", c.Messages[0].Key)
		_, err = f.s.Finish(ctx, time.Minute, []store.Outcome{{Key: "wf-1/pack", Gen: c.Messages[0].Gen, Kind: store.Failed, Error: "no box", Reason: "permanent"}})
		require.NoError(t, err)

		page := f.page("task?key=wf-1/pack")
		assert.Empty(t, actionForms(page, "retry"), "Retry would be refused: the workflow is live")
		assert.Contains(t, page, "retry <a href=\"task?key=wf-1\">the workflow</a> once it has failed")

		ok, err := f.s.Cancel(ctx, "wf-1", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Len(t, actionForms(f.page("task?key=wf-1/pack"), "retry"), 1, "its workflow ended: the child can be retried")
	})
}
