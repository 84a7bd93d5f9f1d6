//go:build uie2e

package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	dashboard "github.com/docket-go/docket/ui"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// Markup in a task's key, input and error: each would set window.__pwned,
// or open an alert, if the page ran it.
const (
	hostileKey   = `<script>window.__pwned="key"</script><img src=x onerror="window.__pwned='key-img'">`
	hostileNote  = `</pre><script>window.__pwned="input"</script><img src=x onerror="alert('input')">`
	hostileError = `card declined <img src=x onerror="window.__pwned='error'"><script>alert("error")</script>`
	// A strike's field and value are anyone's too.
	hostileField = `<img src=x onerror="window.__pwned='field'">`
	hostileValue = `</code><script>window.__pwned="value"</script>`
	jaegerURL    = "http://jaeger.test:16686"
)

// Job is the input of the tasks.
type Job struct {
	N    int    `json:"n"`
	Note string `json:"note,omitempty"`
}

// wait bounds every wait for the worker or the browser: generous, since
// only a failing test reaches it.
const wait = 30 * time.Second

// world is a docket on a real redis-server with a task in every state, a
// worker running it, and the dashboard served twice: writable under
// /ops/docket/ and read-only under /ro/.
type world struct {
	t            *testing.T
	d            *sdk.Docket
	sendEmail    *sdk.Task[Job]
	s            *store.Store
	srv          *httptest.Server
	release      chan struct{} // ends the tasks that hold the worker's slots
	moreProgress chan struct{} // makes import-1 report more progress
	fixed        atomic.Bool   // charge_card succeeds from now on
}

func TestDashboardInChromium(t *testing.T) {
	started := time.Now()
	w := newWorld(t)
	ctx := newBrowser(t)

	// The init script records any Content-Security-Policy violation: the
	// policy would stop an inline script that escaping let through, so a
	// violation means escaping failed even though nothing ran.
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener('securitypolicyviolation',
			function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });`,
	})
	require.NoError(t, err)
	var dialogs []string
	var dialogsMu sync.Mutex
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			dialogsMu.Lock()
			dialogs = append(dialogs, ev.Message)
			dialogsMu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	ops := w.srv.URL + "/ops/docket/"
	b := &browser{t: t, ctx: ctx}

	// safe checks that nothing a task brought ran on the page shown.
	safe := func(where string) {
		t.Helper()
		pwned := b.eval(`String(window.__pwned === undefined ? '' : window.__pwned) + '|' + (window.__csp || []).join(',')`)
		assert.Equal(t, "|", pwned, "%s: a script of a task's data ran, or tried to", where)
		dialogsMu.Lock()
		assert.Empty(t, dialogs, "%s: a dialog opened", where)
		dialogsMu.Unlock()
	}

	t.Run("overview", func(t *testing.T) {
		b.t = t
		b.open(ops)
		text := b.text("#live")
		for _, want := range []string{"1\nqueued", "1\nwaiting for a slot", "3\nrunning", "1\nparked", "1\ndead letters",
			"on 1 live worker", "import_records", "fulfil_order", "failure rate over the hour"} {
			assert.Contains(t, text, want)
		}
		assert.Equal(t, "60", b.eval(`String(document.querySelectorAll('svg rect.ok').length)`), "a bar a minute")
		assert.NotContains(t, text, "no counters yet")
		b.screenshot("overview.png")
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		require.NoError(t, err)
		assert.Equal(t, "rgb(21, 23, 26)", b.eval(`getComputedStyle(document.documentElement).backgroundColor`), "dark")
		b.screenshot("overview-dark.png")
		_, err = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		require.NoError(t, err)
		safe("overview")
	})

	t.Run("lists", func(t *testing.T) {
		b.t = t
		lists := map[string][]string{
			"queued":    {"queued-1"},
			"scheduled": {"later-1", "later-2", "later-3", "cleanup", hostileKey},
			"running":   {"import-1", "hold-1", "hold-2"},
			"parked":    {"order-1"},
			"dead":      {"dead-1"},
		}
		for state, keys := range lists {
			b.open(ops + "tasks?state=" + state)
			for _, key := range keys {
				assert.True(t, b.hasLink(key), "%s: no link shows the key %q", state, key)
			}
			safe(state)
		}
		b.open(ops + "tasks?state=scheduled")
		b.screenshot("tasks.png")
		assert.NotContains(t, b.text("#live"), "cancelled-1")
		b.open(ops + "tasks?state=waiting")
		b.click(`a[href^="tasks?state=waiting&limit="]`)
		assert.True(t, b.hasLink("import-2"))

		// Filter by task name, then by key prefix, with the form.
		b.open(ops + "tasks?state=scheduled")
		b.fill(`input[name="name"]`, "send_email")
		b.click(`form.filters button[type="submit"]`)
		assert.True(t, b.hasLink("later-1"))
		assert.False(t, b.hasLink("cleanup"))
		b.open(ops + "tasks?state=scheduled")
		b.fill(`input[name="prefix"]`, "later-")
		b.click(`form.filters button[type="submit"]`)
		assert.Equal(t, "3", b.eval(`String(document.querySelectorAll('#live tbody tr').length)`))
		// Search by key, from the header.
		b.fill(`#search-key`, "order-1")
		b.click(`form.search button`)
		assert.Contains(t, b.text("h1"), "order-1")
		safe("filters")
	})

	t.Run("task pages", func(t *testing.T) {
		b.t = t
		b.open(ops + "task?key=order-1")
		tree := b.text(".tree")
		for _, want := range []string{"charge", "reserve/0 → order-1/reserve/0 completed", "reserve/1 → order-1/reserve/1 completed", "waits for signal approved"} {
			assert.Contains(t, tree, want)
		}
		b.screenshot("workflow.png")
		b.click(`a[href="task?key=order-1%2Freserve%2F1"]`)
		assert.Contains(t, b.text("#live"), "as child reserve/1")
		assert.Equal(t, "10", b.text("#result-json"))

		b.open(ops + "task?key=done-1")
		href := b.eval(`document.querySelector('a[href^="` + jaegerURL + `/trace/"]').getAttribute('href')`)
		assert.Regexp(t, `^`+regexp.QuoteMeta(jaegerURL)+`/trace/[0-9a-f]{32}$`, href)
		assert.Contains(t, b.text("#input-json"), `"n": 1`)

		b.open(ops + "task?key=" + url.QueryEscape(hostileKey))
		assert.Equal(t, hostileKey, b.eval(`document.querySelector('h1 .key').textContent`), "the key, as text")
		assert.Contains(t, b.text("#input-json"), `"note": "</pre><script>window.__pwned=\"input\"</script><img src=x onerror=\"alert('input')\">"`,
			"the input, as text")
		safe("hostile task")
		b.open(ops + "task?key=charge-1")
		assert.Equal(t, hostileError, b.text("#error-text"))
		safe("hostile error")

		b.open(ops + "workers")
		assert.Contains(t, b.text("#live"), "import_records")
		b.open(ops + "schedules")
		assert.Contains(t, b.text("#live"), "automatic chain")
		assert.True(t, b.hasLink("cleanup"))
		b.open(ops + "limits")
		assert.Contains(t, b.text("#live"), "t:import_records::")
		safe("other pages")
	})

	t.Run("live", func(t *testing.T) {
		b.t = t
		b.open(ops + "task?key=import-1")
		assert.Equal(t, "4", b.eval(`String(document.getElementById('task-progress').value)`))
		b.eval(`String(window.__stayed = 'yes')`)
		close(w.moreProgress)
		b.poll(`document.getElementById('task-progress').value === 7`)
		assert.Equal(t, "yes", b.eval(`String(window.__stayed)`), "updated without a reload")
		assert.Contains(t, b.text("#progress-text"), "row 7,000")
		b.screenshot("task.png")

		b.press(`#live-toggle`)
		assert.Equal(t, "true", b.eval(`document.getElementById('live-toggle').getAttribute('aria-pressed')`))
		b.open(ops + "task?key=import-1")
		assert.Equal(t, "true", b.eval(`document.getElementById('live-toggle').getAttribute('aria-pressed')`), "paused stays paused")
		b.press(`#live-toggle`)
		assert.Equal(t, "false", b.eval(`document.getElementById('live-toggle').getAttribute('aria-pressed')`))
	})

	t.Run("keyboard", func(t *testing.T) {
		b.t = t
		b.open(ops + "task?key=later-1")
		b.keys(kb.Tab)
		assert.Equal(t, "skip", b.eval(`document.activeElement.className`), "the first stop skips to the content")
		require.NoError(t, chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`button[data-op="cancel"]`))))
		b.keys(kb.Enter)
		b.poll(`document.getElementById('confirm').open`)
		assert.Contains(t, b.text("#confirm-text"), "Cancel task later-1?")
		b.keys(kb.Escape)
		b.poll(`!document.getElementById('confirm').open`)
		assert.Equal(t, store.StateScheduled, w.state("later-1"), "escape cancels the action, not the task")
	})

	t.Run("actions", func(t *testing.T) {
		b.t = t
		close(w.release) // the held slots free up

		b.act(ops+"task?key=import-1", "cancel")
		assert.Contains(t, b.text(".flash"), "Cancelled.")
		eventually(t, "import-1 cancelled", func() bool { return w.state("import-1") == store.StateCancelled })

		w.fixed.Store(true)
		b.act(ops+"task?key=charge-1", "retry")
		assert.Contains(t, b.text(".flash"), "Scheduled again, due now.")
		eventually(t, "charge-1 completed after its retry", func() bool { return w.state("charge-1") == store.StateCompleted })

		b.act(ops+"task?key=dead-1", "retry")
		eventually(t, "dead-1 completed after its retry", func() bool { return w.state("dead-1") == store.StateCompleted })

		b.act(ops+"task?key=later-3", "run")
		assert.Contains(t, b.text(".flash"), "Due now.")
		eventually(t, "later-3 ran now", func() bool { return w.state("later-3") == store.StateCompleted })

		b.act(ops+"tasks?state=scheduled", `form:has(input[name="key"][value="later-1"]) button[data-op="cancel"]`)
		eventually(t, "later-1 cancelled", func() bool { return w.state("later-1") == store.StateCancelled })
		safe("actions")
	})

	t.Run("strikes", func(t *testing.T) {
		b.t = t
		ctx := context.Background()
		_, err := w.sendEmail.Add(ctx, w.d, Job{N: 77}, sdk.Key("struck-1"), sdk.After(time.Hour))
		require.NoError(t, err)

		// Strike through the form: the value is read as a number.
		b.open(ops + "strikes")
		b.fill(`#strike-form input[name="task"]`, "send_email")
		b.fill(`#strike-form input[name="field"]`, "n")
		b.fill(`#strike-form select[name="operator"]`, "==")
		b.fill(`#strike-form input[name="value"]`, "77")
		b.click(`#strike-form button[type="submit"]`)
		assert.Contains(t, b.text("#confirm-detail"), "The value is read as a number: 77")
		b.click(`form.action button[data-op="strike"]`)
		assert.Contains(t, b.text(".flash"), "Struck")
		assert.Contains(t, b.text("#strikes"), "send_email\tn\t==\t77")
		strikes, err := w.d.Strikes(ctx)
		require.NoError(t, err)
		assert.Contains(t, fmt.Sprint(strikes), "send_email with n == 77")
		safe("strikes")

		// Due now, the matching task is held, and says by which strike.
		b.act(ops+"task?key=struck-1", "run")
		eventually(t, "struck-1 held", func() bool { return w.state("struck-1") == store.StateStruck })
		b.open(ops + "tasks?state=struck")
		assert.True(t, b.hasLink("struck-1"))
		b.open(ops + "task?key=struck-1")
		assert.Contains(t, b.text("#held-by"), "Held by the strike of send_email with n == 77")
		assert.Equal(t, "1", b.eval(`String(document.querySelectorAll('button[data-op="cancel"]').length)`))

		// Restored from its row, the task runs.
		b.act(ops+"strikes", `form:has(input[name="strike"][value*='"field":"n"']) button[data-op="restore"]`)
		assert.Contains(t, b.text(".flash"), "Restored")
		eventually(t, "struck-1 ran once restored", func() bool { return w.state("struck-1") == store.StateCompleted })
		assert.NotContains(t, b.text("#live"), "send_email")
		safe("restored")
	})

	t.Run("refused", func(t *testing.T) {
		b.t = t
		token := w.token()
		b.open(w.srv.URL + "/ro/tasks?state=scheduled")
		assert.Equal(t, "0", b.eval(`String(document.querySelectorAll('form[action="act"], button[data-op]').length)`), "no button")
		assert.Contains(t, b.text("header"), "read-only")
		post := func(target, token string) string {
			return b.evalAsync(fmt.Sprintf(`fetch(%q, {method: 'POST', body: new URLSearchParams({op: 'cancel', key: 'later-2', token: %q, confirmed: '1'})}).then(r => String(r.status))`, target, token))
		}
		assert.Equal(t, "403", post("act", token), "read-only: refused")
		assert.Equal(t, "403", post("/ops/docket/act", "forged"), "a forged token: refused")
		assert.Equal(t, store.StateScheduled, w.state("later-2"))
		b.open(w.srv.URL + "/ro/strikes")
		assert.Contains(t, b.text("#strikes"), "report", "the strikes are listed")
		assert.Equal(t, "0", b.eval(`String(document.querySelectorAll('form[action="act"], button[data-op], #strike-form').length)`), "no strike form, no restore")
		struck := b.evalAsync(fmt.Sprintf(`fetch('act', {method: 'POST', body: new URLSearchParams({op: 'strike', task: 'send_email', token: %q, confirmed: '1'})}).then(r => String(r.status))`, token))
		assert.Equal(t, "403", struck, "read-only: a strike refused")
		strikes, err := w.d.Strikes(context.Background())
		require.NoError(t, err)
		assert.Len(t, strikes, 1, "only the hostile strike of the world")

		// From another site (localhost is another origin than 127.0.0.1),
		// with the right token: the browser says where it comes from.
		other := strings.Replace(w.srv.URL, "127.0.0.1", "localhost", 1)
		b.open(other + "/ro/")
		b.evalAsync(fmt.Sprintf(`fetch(%q, {method: 'POST', mode: 'no-cors', body: new URLSearchParams({op: 'cancel', key: 'later-2', token: %q, confirmed: '1'})}).then(() => 'sent', e => 'failed: ' + e)`,
			ops+"act", token))
		assert.Equal(t, store.StateScheduled, w.state("later-2"), "a request from another site changes nothing")
	})

	t.Logf("the browser test took %v", time.Since(started).Round(100*time.Millisecond))
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	b := redistest.Redis(t)
	unique := redistest.Name(t)
	name := "shop-" + unique[len(unique)-8:] // a name that reads well in the screenshots
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := sdk.Open(ctx, b.URL, sdk.WithName(name), sdk.WithLogger(logger))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	redistest.CheckLeaks(t, d.Redis(), name)
	s, err := store.New(d.Redis(), name)
	require.NoError(t, err)
	w := &world{t: t, d: d, s: s, release: make(chan struct{}), moreProgress: make(chan struct{})}

	sendEmail := sdk.NewTask("send_email", func(context.Context, Job) error { return nil })
	charge := sdk.NewTask("charge_card", func(ctx context.Context, j Job) error {
		if w.fixed.Load() {
			return nil
		}
		return sdk.Permanent(errors.New(hostileError))
	})
	importRecords := sdk.NewTask("import_records", func(ctx context.Context, j Job) error {
		p := sdk.Current(ctx).Progress()
		_ = p.SetTotal(ctx, 10)
		_ = p.Increment(ctx, 4)
		_ = p.SetMessage(ctx, "row 4,000")
		select {
		case <-w.moreProgress:
			_ = p.Increment(ctx, 3)
			_ = p.SetMessage(ctx, "row 7,000")
		case <-ctx.Done():
			return ctx.Err()
		}
		<-ctx.Done()
		return ctx.Err()
	}, policy.TaskConcurrency(1))
	hold := sdk.NewTask("hold", func(ctx context.Context, j Job) error {
		select {
		case <-w.release:
		case <-ctx.Done():
		}
		return nil
	})
	resize := sdk.NewTask("resize", func(context.Context, Job) error { return nil })
	reserve := sdk.NewResultTask("reserve_stock", func(ctx context.Context, j Job) (int, error) { return j.N * 10, nil })
	order := sdk.NewResultTask("fulfil_order", func(ctx context.Context, j Job) (string, error) {
		charged, err := workflow.Step(ctx, "charge", func(context.Context) (string, error) { return "ch_1", nil })
		if err != nil {
			return "", err
		}
		reserved, err := workflow.StartMany(ctx, reserve, "reserve", []Job{{N: 0}, {N: 1}})
		if err != nil {
			return "", err
		}
		if _, err := workflow.All(ctx, reserved); err != nil {
			return "", err
		}
		ok, err := workflow.WaitSignal[bool](ctx, "approved", 0)
		return fmt.Sprint(charged, ok), err
	})
	cleanup := sdk.NewTask("cleanup", func(context.Context, struct{}) error { return nil },
		policy.Perpetual(time.Hour, policy.Automatic()))
	require.NoError(t, d.Register(sendEmail, charge, importRecords, hold, resize, reserve, order, cleanup))
	w.sendEmail = sendEmail

	// A dead letter: its only delivery's worker "dies" (a lease of a
	// millisecond lapses) before the real worker starts.
	_, err = resize.Add(ctx, d, Job{N: 5}, sdk.Key("dead-1"))
	require.NoError(t, err)
	c, err := s.Claim(ctx, "doomed", 1, time.Millisecond, time.Minute, store.Rules{}, 1)
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)
	time.Sleep(5 * time.Millisecond) // the lease lapses

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.New(d, worker.Options{Concurrency: 3, MaxDeliveries: 1, Lease: 10 * time.Second}).Run(runCtx)
	}()
	t.Cleanup(func() {
		w.tidy() // first: a worker stopping waits for its running tasks
		stop()
		require.NoError(t, <-done)
	})
	w.eventually("dead-1 dead-lettered", func() bool { return w.state("dead-1") == store.StateFailed })

	_, err = sendEmail.Add(ctx, d, Job{N: 1}, sdk.Key("done-1"))
	require.NoError(t, err)
	w.eventually("done-1 completed", func() bool { return w.state("done-1") == store.StateCompleted })
	_, err = charge.Add(ctx, d, Job{N: 2}, sdk.Key("charge-1"))
	require.NoError(t, err)
	w.eventually("charge-1 failed", func() bool { return w.state("charge-1") == store.StateFailed })
	_, err = order.Add(ctx, d, Job{N: 3}, sdk.Key("order-1"))
	require.NoError(t, err)
	w.eventually("order-1 parked", func() bool { return w.state("order-1") == store.StateParked })
	w.eventually("cleanup's next run scheduled", func() bool {
		rec, ok, err := s.Info(ctx, "cleanup")
		return err == nil && ok && rec.State == store.StateScheduled && rec.Due.After(rec.Now)
	})

	// The worker's three slots: import-1 (import-2 waits for its limit's
	// slot) and two tasks that hold on; then a task due stays queued.
	_, err = importRecords.Add(ctx, d, Job{N: 1}, sdk.Key("import-1"))
	require.NoError(t, err)
	w.eventually("import-1 reports progress", func() bool {
		p, err := d.Execution("import-1").Progress(ctx)
		return err == nil && p.Current == 4 && p.Message == "row 4,000"
	})
	_, err = importRecords.Add(ctx, d, Job{N: 2}, sdk.Key("import-2"))
	require.NoError(t, err)
	w.eventually("import-2 waits for a slot", func() bool { return w.state("import-2") == store.StateWaiting })
	for _, key := range []string{"hold-1", "hold-2"} {
		_, err = hold.Add(ctx, d, Job{}, sdk.Key(key))
		require.NoError(t, err)
		w.eventually(key+" running", func() bool { return w.state(key) == store.StateRunning })
	}
	_, err = sendEmail.Add(ctx, d, Job{N: 4}, sdk.Key("queued-1"))
	require.NoError(t, err)

	for i, key := range []string{"later-1", "later-2", "later-3", "cancelled-1"} {
		_, err = sendEmail.Add(ctx, d, Job{N: 10 + i}, sdk.Key(key), sdk.After(time.Duration(i+1)*time.Hour))
		require.NoError(t, err)
	}
	require.NoError(t, d.Cancel(ctx, "cancelled-1"))
	_, err = sendEmail.Add(ctx, d, Job{N: 99, Note: hostileNote}, sdk.Key(hostileKey), sdk.After(5*time.Hour))
	require.NoError(t, err)
	require.NoError(t, d.Strike(ctx, "report", hostileField, "==", hostileValue)) // holds nothing: no such task runs

	// An hour of per-minute counters, as the workers' finish will keep
	// them: the chart draws from these keys. One minute more than the
	// hour, the next: the page may be drawn after the minute turns, and
	// its hour then starts a minute later (a bar short: a failure seen
	// once in CI).
	now, err := s.Now(ctx)
	require.NoError(t, err)
	for i := range 61 {
		ok := int64(1800 + 25*i + 300*(i%7))
		bad := int64(10 + 7*(i%5))
		require.NoError(t, s.Stats(ctx, now.Add(-time.Duration(59-i)*time.Minute), map[string]int64{
			"completed": ok, "retry": bad, "failed": bad / 4,
			"completed:send_email": ok, "retry:charge_card": bad, "failed:charge_card": bad / 4,
		}))
	}

	mux := http.NewServeMux()
	writable, err := dashboard.New(d, dashboard.Options{JaegerURL: jaegerURL, Refresh: time.Second, Logger: logger})
	require.NoError(t, err)
	readOnly, err := dashboard.New(d, dashboard.Options{ReadOnly: true, Refresh: time.Second, Logger: logger})
	require.NoError(t, err)
	mux.Handle("/ops/docket/", http.StripPrefix("/ops/docket", writable))
	mux.Handle("/ro/", http.StripPrefix("/ro", readOnly))
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	return w
}

func (w *world) state(key string) store.State {
	rec, _, err := w.s.Info(context.Background(), key)
	if err != nil {
		return "(" + store.State(err.Error()) + ")"
	}
	return rec.State
}

// eventually waits until ok, polling Redis.
func (w *world) eventually(what string, ok func() bool) { eventually(w.t, what, ok) }

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	require.Eventually(t, ok, wait, 10*time.Millisecond, "waited %v for %s", wait, what)
}

var tokenField = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// token is the writable dashboard's form token, as its pages carry it.
func (w *world) token() string {
	res, err := http.Get(w.srv.URL + "/ops/docket/tasks?state=scheduled")
	require.NoError(w.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(w.t, err)
	m := tokenField.FindSubmatch(body)
	require.NotNil(w.t, m)
	return string(m[1])
}

// tidy ends what is still live, so that the worker stops at once and the
// leak check finds nothing but expiring records.
func (w *world) tidy() {
	ctx := context.Background()
	_, _ = w.d.Clear(ctx)
	for _, key := range []string{"import-1", "import-2", "hold-1", "hold-2", "order-1"} {
		_ = w.d.Cancel(ctx, key)
	}
	strikes, _ := w.d.Strikes(ctx)
	for _, s := range strikes {
		var value any
		if s.Field != "" {
			_ = json.Unmarshal(s.Value, &value)
		}
		_ = w.d.Restore(ctx, s.Task, s.Field, s.Op, value)
	}
}

// browser drives one tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin := os.Getenv("DOCKET_CHROMIUM")
	if bin == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		t.Fatal("no chromium on PATH: install it (apt-get install chromium) or set DOCKET_CHROMIUM; scripts/ui-e2e.sh does")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx), "starting %s", bin)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)))
	return ctx
}

// open loads a page and waits for its main part.
func (b *browser) open(u string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("main"))), "open %s", u)
}

// text is the rendered text of the first element sel matches.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err, "text of %s", sel)
	return s
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	require.NoError(b.t, err, "evaluate %s", js)
	return s
}

func (b *browser) evalAsync(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	require.NoError(b.t, err, "evaluate %s", js)
	return s
}

// poll waits until a JavaScript expression is true, through page loads
// (which end a poll inside the page: this one asks again from Go).
func (b *browser) poll(js string) {
	b.t.Helper()
	deadline := time.Now().Add(wait)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+js+")"))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the browser
	}
	require.FailNow(b.t, "timed out", "waited %v for %s (last error: %v)", wait, js, err)
}

// hasLink reports whether the page links to the task with key.
func (b *browser) hasLink(key string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`String(Array.from(document.querySelectorAll('#live a[href^="task?key="]')).some(
		a => new URL(a.href).searchParams.get('key') === %s))`, strconv.Quote(key))) == "true"
}

// press clicks the first element sel matches, on the page as it is.
func (b *browser) press(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)), "click %s", sel)
}

// click clicks the first element sel matches and waits for the page it
// loads.
func (b *browser) click(sel string) {
	b.t.Helper()
	b.eval(`String(window.__before = 'click')`)
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)), "click %s", sel)
	b.poll(`window.__before === undefined && document.readyState === 'complete'`)
}

func (b *browser) fill(sel, value string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(sel), value)), "fill %s", sel)
}

func (b *browser) keys(k string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.KeyEvent(k)))
}

// act opens a page, presses the button of an action (op, or a selector),
// confirms it in the dialog, and waits for the page the dashboard sends
// back.
func (b *browser) act(page, op string) {
	b.t.Helper()
	b.open(page)
	b.eval(`String(window.__before = 'act')`)
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	button := op
	if !strings.ContainsAny(op, "[ ") {
		button = `button[data-op="` + op + `"]`
	}
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(button), chromedp.NodeVisible)))
	b.poll(`document.getElementById('confirm').open`)
	require.NoError(b.t, chromedp.Do(ctx, chromedp.Click(chromedp.ID("confirm-yes"), chromedp.NodeVisible)))
	b.poll(`window.__before === undefined && document.readyState === 'complete' && !!document.querySelector('.flash')`)
}

// screenshot saves the whole page as name in DOCKET_UI_SCREENSHOTS, or in a
// temporary directory.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("DOCKET_UI_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "docket-ui-screenshots")
	}
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	ctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	path := filepath.Join(dir, name)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot: %s", path)
}
