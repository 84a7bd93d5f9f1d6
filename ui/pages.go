package ui

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/sdk"
)

// The most the pages read, whatever the docket holds: each page costs
// O(what it shows) in Redis.
const (
	// sample is how many tasks of each live list the overview reads the
	// task names of.
	sample = 200
	// chartMinutes is the span of the overview's chart.
	chartMinutes = 60
	// filterBudget is how many entries a filtered page looks at, at most,
	// per page size: a filter that matches few tasks shows a short page and
	// a link to look further.
	filterBudget = 20
	// childrenShown is how many children of a workflow its page lists with
	// their live states.
	childrenShown = 200
	// runningShown is how many running tasks the workers page reads.
	runningShown = 1000
	// limitMembers is how many holders and waiters of each limit the limits
	// page lists.
	limitMembers = 20
)

// failed writes the page of a request that Redis failed.
func (h *handler) failed(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.Warn("docket ui: "+what, "err", err)
	h.refuse(w, r, http.StatusBadGateway, fmt.Sprintf("Could not %s: %v", what, err))
}

// publicState names a task's state as the sdk does: a scheduled task that is
// due, or one waiting for a concurrency slot, is queued.
func publicState(s store.State, due, now time.Time) string {
	switch {
	case s == store.StateWaiting:
		return "queued"
	case s == store.StateScheduled && !due.After(now):
		return "queued"
	}
	return string(s)
}

// ---- Overview

type overviewData struct {
	O         store.Overview
	Memory    *store.Memory
	Late      bool          // the earliest due task is due
	Lateness  time.Duration // how late it is, or how long until it is due
	Chart     chart
	Hour      hourTotals
	Names     []nameRow
	Sample    int
	Truncated bool // a list holds more tasks than the sample read
}

// hourTotals sums the counters of the chart's hour.
type hourTotals struct {
	Completed, Perpetual, Failed, Retried int64
	Counted                               bool // any counter was found
}

// OK counts the attempts that ended well: completed, or a perpetual run
// rescheduled.
func (t hourTotals) OK() int64 { return t.Completed + t.Perpetual }

// Bad counts the attempts that failed, for good or to be retried.
func (t hourTotals) Bad() int64 { return t.Failed + t.Retried }

// Ended counts the attempts that ended.
func (t hourTotals) Ended() int64 { return t.OK() + t.Bad() }

// FailPct is the share of attempts that failed.
func (t hourTotals) FailPct() string { return pct(t.Bad(), t.Ended()) }

type nameRow struct {
	Name                               string
	Running, Queued, Scheduled, Parked int
	OK, Bad                            int64 // attempts in the last hour, from the counters
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	o, err := h.s.Overview(ctx, sample, chartMinutes, h.core.Retention)
	if err != nil {
		h.failed(w, r, "read the overview", err)
		return
	}
	data := overviewData{O: o, Sample: sample}
	if m, err := h.s.Memory(ctx); err == nil {
		data.Memory = &m
	}
	if !o.Earliest.IsZero() {
		data.Late = !o.Earliest.After(o.Now)
		data.Lateness = o.Now.Sub(o.Earliest)
		if !data.Late {
			data.Lateness = -data.Lateness
		}
	}
	data.Truncated = o.Sampled[0] < int(o.Counts.Running) || o.Sampled[1] < int(o.Counts.Queued) ||
		o.Sampled[2] < int(o.Counts.Scheduled) || o.Sampled[3] < int(o.Counts.Parked)
	byName := map[string]*nameRow{}
	for _, n := range o.Names {
		byName[n.Name] = &nameRow{Name: n.Name, Running: n.Running, Queued: n.Queued, Scheduled: n.Scheduled, Parked: n.Parked}
	}
	for _, m := range o.Minutes {
		for field, v := range m.Counts {
			data.Hour.Counted = true
			outcome, name, hasName := strings.Cut(field, ":")
			if !hasName {
				switch outcome {
				case "completed":
					data.Hour.Completed += v
				case "perpetual":
					data.Hour.Perpetual += v
				case "failed":
					data.Hour.Failed += v
				case "retry":
					data.Hour.Retried += v
				}
				continue
			}
			row := byName[name]
			if row == nil {
				row = &nameRow{Name: name}
				byName[name] = row
			}
			switch outcome {
			case "completed", "perpetual":
				row.OK += v
			case "failed", "retry":
				row.Bad += v
			}
		}
	}
	for _, row := range byName {
		data.Names = append(data.Names, *row)
	}
	slices.SortFunc(data.Names, func(a, b nameRow) int { return strings.Compare(a.Name, b.Name) })
	data.Chart = newChart(o.Minutes)
	h.render(w, r, http.StatusOK, "overview", &view{Title: "Overview", Nav: "overview", Live: true, Now: o.Now, Data: data})
}

// ---- Tasks

type tab struct {
	State, Label string
	Count        int64
	Current      bool
}

type tasksData struct {
	State, Name, Prefix, Limit string
	Tabs                       []tab
	Page                       store.Page
	Rows                       []taskRow
	ScoreLabel                 string
	Offset, Size               int
	Filtered                   bool
	FirstURL, PrevURL, NextURL string
	Limits                     []sdk.LimitInfo // the waiting tab without a limit: the limits with a line
	Names                      []string        // task names the workers know, for the filter (not those escaping changes: a form could not send them back)
	CanClear                   bool
}

// Budget is how many entries a filtered page looks at, at most.
func (d tasksData) Budget() int { return filterBudget * d.Size }

// Name64 and Prefix64 carry the filter's name and prefix exactly, in base64
// (URL alphabet, unpadded), beside the fields that show them escaped, when
// escaping changed them: a filter sent again unedited then means what it
// meant (see filterValue). "" when the field holds the value itself.
func (d tasksData) Name64() string   { return exactly(d.Name) }
func (d tasksData) Prefix64() string { return exactly(d.Prefix) }

func exactly(v string) string {
	if printable(v) == v {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(v))
}

// filterValue reads a filter field of the tasks page: as typed, or, while
// it still shows, escaped, the value its field64 companion carries (see
// tasksData.Name64).
func filterValue(q url.Values, field string) string {
	v := q.Get(field)
	if raw, err := base64.RawURLEncoding.DecodeString(q.Get(field + "64")); err == nil && len(raw) > 0 && printable(string(raw)) == v {
		return string(raw)
	}
	return v
}

type taskRow struct {
	store.PageTask
	Public string // the state as the sdk names it
	When   time.Time
	Place  int64 // waiting: place in line
}

var tabs = []tab{
	{State: "queued", Label: "Queued"},
	{State: "scheduled", Label: "Scheduled"},
	{State: "running", Label: "Running"},
	{State: "waiting", Label: "Waiting for a slot"},
	{State: "parked", Label: "Parked"},
	{State: "struck", Label: "Held by a strike"},
	{State: "failed", Label: "Failed"},
	{State: "dead", Label: "Dead letters"},
}

func (h *handler) tasks(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	data := tasksData{State: q.Get("state"), Name: filterValue(q, "name"), Prefix: filterValue(q, "prefix"), Limit: q.Get("limit"),
		Size: h.opts.PageSize}
	if data.State == "" {
		data.State = "queued"
	}
	if data.State != "waiting" {
		data.Limit = "" // a line of waiting tasks: no other list has one
	}
	valid := false
	for _, t := range tabs {
		valid = valid || t.State == data.State
	}
	if !valid {
		h.refuse(w, r, http.StatusNotFound, "No such list of tasks.")
		return
	}
	if o := q.Get("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 {
			h.refuse(w, r, http.StatusBadRequest, "The offset must be a whole number, 0 or more.")
			return
		}
		data.Offset = n
	}
	data.Filtered = data.Name != "" || data.Prefix != ""
	counts, err := h.s.Overview(ctx, 0, 0, h.core.Retention)
	if err != nil {
		h.failed(w, r, "count the tasks", err)
		return
	}
	for _, t := range tabs {
		switch t.State {
		case "queued":
			t.Count = counts.Counts.Queued
		case "scheduled":
			t.Count = counts.Counts.Scheduled
		case "running":
			t.Count = counts.Counts.Running
		case "waiting":
			t.Count = counts.Counts.Waiting
		case "parked":
			t.Count = counts.Counts.Parked
		case "struck":
			t.Count = counts.Counts.Struck
		case "failed":
			t.Count = int64(counts.Failed)
		case "dead":
			t.Count = int64(counts.DeadLetters)
		}
		t.Current = t.State == data.State
		data.Tabs = append(data.Tabs, t)
	}
	data.CanClear = counts.Counts.Queued+counts.Counts.Scheduled+counts.Counts.Waiting+counts.Counts.Parked+counts.Counts.Struck > 0
	lines := data.State == "waiting" && data.Limit == ""
	var snap sdk.Snapshot
	if lines || !live(r) {
		// The workers' tasks, for the filter's suggestions; the limits, for
		// the lines of waiting tasks.
		if snap, err = h.d.Snapshot(ctx, sdk.Limit(0)); err != nil {
			h.failed(w, r, "read the workers and limits", err)
			return
		}
		data.Names = workerTasks(snap)
	}
	now := counts.Now
	if lines {
		for _, l := range snap.Limits {
			if l.TotalWaiting > 0 {
				data.Limits = append(data.Limits, l)
			}
		}
		slices.SortFunc(data.Limits, func(a, b sdk.LimitInfo) int { return cmp.Compare(b.TotalWaiting, a.TotalWaiting) })
		h.render(w, r, http.StatusOK, "tasks", &view{Title: "Tasks waiting for a slot", Nav: "tasks", Live: true, Now: snap.Now, Data: data})
		return
	}
	list := map[string]store.List{"queued": store.ListQueued, "scheduled": store.ListScheduled, "running": store.ListRunning,
		"waiting": store.ListWaiting, "parked": store.ListParked, "struck": store.ListStruck, "failed": store.ListFailed, "dead": store.ListDead}[data.State]
	query := store.PageQuery{List: list, Limit: data.Limit, Offset: data.Offset, Size: data.Size, Name: data.Name, Prefix: data.Prefix}
	// The failed list skips the keys added again since they failed (rare:
	// an add takes its key off the list), as a filter skips: it may look at
	// more entries than it lists.
	skips := data.Filtered || list == store.ListFailed
	if skips {
		query.Budget = filterBudget * data.Size
	}
	page, err := h.s.Page(ctx, query)
	if err != nil {
		h.failed(w, r, "read the tasks", err)
		return
	}
	if !page.Now.IsZero() {
		now = page.Now
	}
	data.Page = page
	data.ScoreLabel = map[string]string{"queued": "Due", "scheduled": "Due", "running": "Lease until", "waiting": "Place in line",
		"parked": "Parked since", "struck": "Held since", "failed": "Failed", "dead": "Dead-lettered"}[data.State]
	for _, t := range page.Tasks {
		row := taskRow{PageTask: t, Public: publicState(t.State, t.Due, now)}
		switch data.State {
		case "waiting":
			row.Place = t.Score
		default:
			row.When = time.UnixMicro(t.Score)
		}
		data.Rows = append(data.Rows, row)
	}
	link := func(offset int) string {
		v := url.Values{"state": {data.State}}
		for k, val := range map[string]string{"name": data.Name, "prefix": data.Prefix, "limit": data.Limit} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if offset > 0 {
			v.Set("offset", strconv.Itoa(offset))
		}
		return "tasks?" + v.Encode()
	}
	if data.Offset > 0 {
		data.FirstURL = link(0)
		if !skips {
			data.PrevURL = link(max(data.Offset-data.Size, 0))
		}
	}
	if page.More {
		data.NextURL = link(page.Next)
	}
	title := "Tasks"
	for _, t := range data.Tabs {
		if t.Current {
			title = t.Label
		}
	}
	if data.Limit != "" {
		title = "Waiting for " + printable(data.Limit)
	}
	h.render(w, r, http.StatusOK, "tasks", &view{Title: title, Nav: "tasks", Live: true, Now: now, Data: data})
}

// workerTasks lists the task names the live workers have registered.
func workerTasks(snap sdk.Snapshot) []string {
	var names []string
	for _, w := range snap.Workers {
		names = append(names, w.Tasks...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// ---- One task

type taskData struct {
	Key         string
	Info        sdk.Info
	State       string
	Progress    sdk.ProgressInfo
	HasProgress bool
	Timeline    []moment
	TraceID     string
	Children    []childRow
	More        int // children not listed
	Dead        bool
	HeldBy      string // a held task: the strike that holds it, as Info.Error describes it
	// ChildOfLive is set for a failed child of a workflow still live,
	// which Retry refuses (see sdk.Docket.Retry): no Retry button then.
	ChildOfLive bool
}

// moment is one line of a task's timeline.
type moment struct {
	When   time.Time
	What   string
	Detail string
}

type childRow struct {
	sdk.ChildInfo
	Public string
}

// Percent is the progress as a percentage, -1 when the total is unknown.
func (d taskData) Percent() int {
	if d.Progress.Total <= 0 {
		return -1
	}
	return text.Share(d.Progress.Current, d.Progress.Total, 100)
}

func (h *handler) task(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key := r.URL.Query().Get("key")
	if key == "" {
		h.refuse(w, r, http.StatusBadRequest, "Which task? Give its key.")
		return
	}
	info, err := h.d.Execution(key).Info(ctx)
	if errors.Is(err, sdk.ErrNotFound) {
		h.render(w, r, http.StatusNotFound, "task", &view{Title: "Not found", Nav: "tasks", Data: taskData{Key: key}})
		return
	}
	if err != nil {
		h.failed(w, r, "read the task", err)
		return
	}
	now, err := h.s.Now(ctx)
	if err != nil {
		h.failed(w, r, "read the Redis clock", err)
		return
	}
	data := taskData{Key: key, Info: info, State: string(info.State), TraceID: traceID(info.Trace), Progress: info.Progress}
	// The live progress, while there is one: a running task's, and a
	// workflow's between its runs (parked, or due to run again), which its
	// record holds only once it ends.
	if p, ok, err := h.s.ReadProgress(ctx, key); err == nil && ok {
		data.Progress = sdk.ProgressInfo(p)
	}
	data.HasProgress = data.Progress.Total > 0 || data.Progress.Current > 0 || data.Progress.Message != ""
	data.Dead = info.Reason == sdk.ReasonDeadLetter
	if info.State == sdk.StateFailed && info.Parent != "" {
		parent, err := h.d.Execution(info.Parent).Info(ctx)
		data.ChildOfLive = err == nil && !parent.State.Finished()
	}
	if info.State == sdk.StateStruck {
		data.HeldBy = heldBy(info.Error)
	}
	data.Timeline = timeline(info)
	if wf := info.Workflow; wf != nil && len(wf.Children) > 0 {
		shown := wf.Children[:min(len(wf.Children), childrenShown)]
		data.More = len(wf.Children) - len(shown)
		var live []string
		for _, c := range shown {
			if c.State == "" {
				live = append(live, c.Key)
			}
		}
		states := map[string]store.TaskState{}
		if len(live) > 0 {
			if _, st, err := h.s.States(ctx, live); err == nil {
				for _, s := range st {
					states[s.Key] = s
				}
			}
		}
		for _, c := range shown {
			row := childRow{ChildInfo: c, Public: string(c.State)}
			if s, ok := states[c.Key]; ok {
				row.Public = publicState(s.State, s.Due, now)
				if row.Public == "" {
					row.Public = "gone"
				}
			}
			data.Children = append(data.Children, row)
		}
	}
	h.render(w, r, http.StatusOK, "task", &view{Title: "Task " + text.Truncate(printable(key), 60), Nav: "tasks", Live: !info.State.Finished(), Now: now, Data: data})
}

// heldBy is the strike a held task's error names ("held: struck (sync
// with customer_id == 1001)"), or the error itself when it says otherwise.
func heldBy(err string) string {
	if inner, ok := strings.CutPrefix(err, "held: struck ("); ok {
		if inner, ok = strings.CutSuffix(inner, ")"); ok && inner != "" {
			return inner
		}
	}
	return err
}

// timeline lists what the record tells of an execution's life, in order.
func timeline(i sdk.Info) []moment {
	var out []moment
	add := func(t time.Time, what, detail string) {
		if !t.IsZero() {
			out = append(out, moment{When: t, What: what, Detail: detail})
		}
	}
	add(i.Created, "Added", "as task "+printable(i.Task))
	if !i.Due.IsZero() && (i.Started.IsZero() || i.Due.After(i.Started) || !i.State.Finished()) {
		add(i.Due, "Due", "")
	}
	if i.Attempt > 1 {
		detail := fmt.Sprintf("attempt %d", i.Attempt)
		if i.Error != "" && !i.State.Finished() && i.State != sdk.StateStruck {
			detail += "; the last failed: " + text.Truncate(printable(i.Error), 200)
		}
		add(i.Started, "Retried", detail)
	} else {
		detail := "attempt 1"
		if i.Worker != "" {
			detail += " on worker " + printable(i.Worker)
		}
		add(i.Started, "Started", detail)
	}
	add(i.Retried, "Retried by hand", "from attempt 1")
	if i.State.Finished() {
		detail := string(i.State)
		if i.Reason != "" {
			detail += " (" + i.Reason + ")"
		}
		if i.Error != "" {
			detail += ": " + text.Truncate(printable(i.Error), 200)
		}
		add(i.Finished, "Finished", detail)
	}
	slices.SortStableFunc(out, func(a, b moment) int { return a.When.Compare(b.When) })
	return out
}

// ---- Workers

type workersData struct {
	Workers []workerRow
	Running int  // running tasks in all
	Cut     bool // more run than are listed here
	// Orphaned are the listed running tasks of workers no longer live:
	// their leases lapse, and a live worker takes them over.
	Orphaned []store.PageTask
}

type workerRow struct {
	sdk.WorkerInfo
	Tasks []store.PageTask
}

func (h *handler) workers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	snap, err := h.d.Snapshot(ctx, sdk.Limit(0))
	if err != nil {
		h.failed(w, r, "read the workers", err)
		return
	}
	page, err := h.s.Page(ctx, store.PageQuery{List: store.ListRunning, Size: runningShown})
	if err != nil {
		h.failed(w, r, "read the running tasks", err)
		return
	}
	data := workersData{Running: page.Total, Cut: page.More}
	byWorker := map[string][]store.PageTask{}
	for _, t := range page.Tasks {
		byWorker[t.Worker] = append(byWorker[t.Worker], t)
	}
	for _, wi := range snap.Workers {
		data.Workers = append(data.Workers, workerRow{WorkerInfo: wi, Tasks: byWorker[wi.ID]})
		delete(byWorker, wi.ID)
	}
	for _, tasks := range byWorker {
		data.Orphaned = append(data.Orphaned, tasks...)
	}
	slices.SortFunc(data.Orphaned, func(a, b store.PageTask) int { return cmp.Compare(a.Score, b.Score) })
	slices.SortFunc(data.Workers, func(a, b workerRow) int { return strings.Compare(a.ID, b.ID) })
	h.render(w, r, http.StatusOK, "workers", &view{Title: "Workers", Nav: "workers", Live: true, Now: snap.Now, Data: data})
}

// ---- Schedules

type schedulesData struct {
	Chains []store.Chain
	Names  []string // the task names the workers know
}

func (h *handler) schedules(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	snap, err := h.d.Snapshot(ctx, sdk.Limit(0))
	if err != nil {
		h.failed(w, r, "read the workers", err)
		return
	}
	data := schedulesData{Names: workerTasks(snap)}
	now := snap.Now
	if len(data.Names) > 0 {
		if now, data.Chains, err = h.s.Chains(ctx, data.Names); err != nil {
			h.failed(w, r, "read the schedules", err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "schedules", &view{Title: "Schedules", Nav: "schedules", Live: true, Now: now, Data: data})
}

// ---- Limits

func (h *handler) limits(w http.ResponseWriter, r *http.Request) {
	snap, err := h.d.Snapshot(r.Context(), sdk.Limit(limitMembers))
	if err != nil {
		h.failed(w, r, "read the limits", err)
		return
	}
	data := limitsData{Limits: slices.Clone(snap.Limits), Rates: snap.RateLimits, TotalRates: snap.TotalRateLimits}
	slices.SortFunc(data.Limits, func(a, b sdk.LimitInfo) int { return strings.Compare(a.ID, b.ID) })
	h.render(w, r, http.StatusOK, "limits", &view{Title: "Limits", Nav: "limits", Live: true, Now: snap.Now, Data: data})
}

// limitsData is what the limits page shows: every concurrency limit in use,
// and the rate limits whose window holds a start, those whose window empties
// last first (as many as limitMembers).
type limitsData struct {
	Limits     []sdk.LimitInfo
	Rates      []sdk.RateLimitInfo
	TotalRates int
}

// ---- Strikes

type strikesData struct {
	Strikes []sdk.Strike
	Held    int64    // tasks held by the strikes
	Names   []string // the task names the workers know, for the form
}

func (h *handler) strikes(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	snap, err := h.d.Snapshot(ctx, sdk.Limit(0))
	if err != nil {
		h.failed(w, r, "read the strikes", err)
		return
	}
	counts, err := h.s.Count(ctx)
	if err != nil {
		h.failed(w, r, "count the held tasks", err)
		return
	}
	data := strikesData{Strikes: snap.Strikes, Held: counts.Struck, Names: workerTasks(snap)}
	h.render(w, r, http.StatusOK, "strikes", &view{Title: "Strikes", Nav: "strikes", Live: true, Now: snap.Now, Data: data})
}

// strikeForm is a strike as a form posts it: to add (the value as typed) or
// to restore (the value as listed, its JSON). The add form posts its
// fields; a button (Restore, or the confirmation's) posts them in one
// hidden field, "strike", as JSON, which escapes control characters, so
// that no page holds one raw (task data is anyone's), and the strike
// arrives as it was listed.
type strikeForm struct {
	Task  string `json:"task"`
	Field string `json:"field"`
	Op    string `json:"operator"`
	Value string `json:"value"`
}

// readStrikeForm reads the strike a form posted, or says why it cannot.
func readStrikeForm(form url.Values) (strikeForm, string) {
	var f strikeForm
	if raw := form.Get("strike"); raw != "" {
		if json.Unmarshal([]byte(raw), &f) != nil {
			return f, "The form's strike could not be read."
		}
	} else {
		f = strikeForm{Task: form.Get("task"), Field: form.Get("field"), Op: form.Get("operator"), Value: form.Get("value")}
		if f.Task == "*" { // typed as the CLI's TASK "*"
			f.Task = ""
		}
	}
	if f.Field == "" { // the whole task: no comparison
		f.Op, f.Value = "", ""
	}
	return f, f.problem()
}

// encode is the form as a button's hidden field carries it: its JSON, with
// the characters that hide or reorder text (U+202E and the like), which
// JSON lets stand raw, as JSON escapes, so that no page holds one raw and
// the JSON reads back the same.
func (f strikeForm) encode() string {
	b, _ := json.Marshal(f) // strings: no error
	return text.PrintableJSON(string(b))
}

// strikeFormOf is the form that restores a listed strike.
func strikeFormOf(s sdk.Strike) strikeForm {
	f := strikeForm{Task: s.Task, Field: s.Field, Op: s.Op}
	if s.Field != "" {
		f.Value = string(s.Value)
	}
	return f
}

// value is the form's value as Strike and Restore take it (text.StrikeValue,
// as docket strike reads it); nil if it cannot be read (see problem).
func (f strikeForm) value() any {
	if f.Field == "" {
		return nil
	}
	v, _ := text.StrikeValue(f.Value)
	return v
}

// problem says what makes the form no strike, before anything is asked
// (Strike itself checks the rest).
func (f strikeForm) problem() string {
	switch {
	case f.Task == "" && f.Field == "":
		return "Name a task, a field, or both: a strike of every task is Clear's job."
	case f.Field != "" && !slices.Contains(strikeOps, f.Op):
		return "Compare the field with one of " + strings.Join(strikeOps, " ") + "."
	}
	if _, err := text.StrikeValue(f.Value); f.Field != "" && err != nil {
		return "The " + err.Error() + ": a strike of it would match nothing."
	}
	return ""
}

var strikeOps = []string{"==", "!=", "<", "<=", ">", ">="}

// String describes the strike as sdk.Strike does, its value's <, > and &
// as written (see pretty), task data unescaped: "sync with customer_id ==
// 1001".
func (f strikeForm) String() string {
	s := sdk.Strike{Task: f.Task, Field: f.Field, Op: f.Op}
	if f.Field != "" {
		b, _ := json.Marshal(f.value()) // a string, a bool or a json.Number: no error
		s.Value = json.RawMessage(text.UnescapeHTMLEscapes(string(b)))
	}
	return s.String()
}

// valueRead says how the value was read (the CLI's rule), shown before
// the strike is struck: "a number: 1001", "a string: \"1001\"".
func (f strikeForm) valueRead() string {
	v := f.value()
	b, _ := json.Marshal(v) // a string, a bool or a json.Number: no error
	b = []byte(text.UnescapeHTMLEscapes(string(b)))
	kind := "a string"
	switch v.(type) {
	case json.Number:
		kind = "a number"
	case bool:
		kind = "a boolean"
	}
	return kind + ": " + string(b)
}

// ---- Actions

type confirmData struct {
	Action action
	Detail string // what the confirmation adds to the question
	Back   string // where "No" goes
}

// act takes an action a form posted: cancel, retry, run, clear, strike or
// restore. It refuses in read-only mode, without the form's token, and (by
// the cross-origin protection around it) when another site sent the
// request. A request not yet confirmed gets a page that asks.
func (h *handler) act(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.refuse(w, r, http.StatusMethodNotAllowed, "Actions are posted from the dashboard's buttons.")
		return
	}
	if h.opts.ReadOnly {
		h.refuse(w, r, http.StatusForbidden, "This dashboard is read-only: it takes no action.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "The form is larger than the 64 KiB an action takes.")
			return
		}
		h.refuse(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if !h.validToken(r.PostForm.Get("token")) {
		h.refuse(w, r, http.StatusForbidden, "This form is stale or forged (its token does not match): reload the page and try again.")
		return
	}
	op, key := r.PostForm.Get("op"), r.PostForm.Get("key")
	if k64 := r.PostForm.Get("key64"); k64 != "" { // the key exactly (see action.Key64)
		raw, err := base64.RawURLEncoding.DecodeString(k64)
		if err != nil {
			h.refuse(w, r, http.StatusBadRequest, "The form's key could not be read.")
			return
		}
		key = string(raw)
	}
	v := &view{Title: "Confirm", Nav: "tasks"}
	v.Token = h.token
	v.Docket = h.core.Name
	var strike strikeForm
	switch op {
	case "cancel", "retry", "run":
		if key == "" {
			h.refuse(w, r, http.StatusBadRequest, "Which task? The form has no key.")
			return
		}
	case "clear":
	case "strike", "restore":
		var problem string
		if strike, problem = readStrikeForm(r.PostForm); problem != "" {
			h.refuse(w, r, http.StatusBadRequest, problem)
			return
		}
		v.Nav = "strikes"
	default:
		h.refuse(w, r, http.StatusBadRequest, "No such action.")
		return
	}
	if r.PostForm.Get("confirmed") != "1" {
		data := confirmData{Action: v.Action(op, key), Back: "./"}
		if v.Nav == "strikes" {
			data = confirmData{Action: v.StrikeAction(op, strike), Back: "strikes"}
			if op == "strike" && strike.Field != "" {
				data.Detail = "The value is read as " + printable(strike.valueRead()) + " (a number, true or false, or a quoted string is read as JSON; anything else as a string)."
			}
		}
		data.Action.Confirmed = true
		h.render(w, r, http.StatusOK, "confirm", &view{Title: "Confirm", Nav: v.Nav, Data: data})
		return
	}
	ctx := context.WithoutCancel(r.Context()) // an action started is seen through
	var err error
	back := "task?" + url.Values{"key": {key}, "done": {op}}.Encode()
	switch op {
	case "cancel":
		err = h.d.Cancel(ctx, key)
	case "retry":
		err = h.d.Retry(ctx, key)
	case "run":
		err = h.d.RunNow(ctx, key)
	case "clear":
		var n int
		n, err = h.d.Clear(ctx)
		back = "./?" + url.Values{"done": {op}, "n": {strconv.Itoa(n)}}.Encode()
	case "strike":
		err = h.d.Strike(ctx, strike.Task, strike.Field, strike.Op, strike.value())
		back = "strikes?done=strike"
	case "restore":
		err = h.d.Restore(ctx, strike.Task, strike.Field, strike.Op, strike.value())
		back = "strikes?done=restore"
	}
	user, _, _ := r.BasicAuth()
	switch {
	case errors.Is(err, sdk.ErrBadStrike):
		h.refuse(w, r, http.StatusBadRequest, printable(strings.TrimPrefix(err.Error(), "docket: ")))
		return
	case errors.Is(err, sdk.ErrNotFound), errors.Is(err, sdk.ErrWrongState):
		h.refuse(w, r, http.StatusConflict, printable(strings.TrimPrefix(err.Error(), "docket: ")))
		return
	case err != nil:
		h.failed(w, r, op, err)
		return
	}
	if op == "strike" || op == "restore" {
		h.log.Info("docket ui: "+op, "strike", strike.String(), "remote", r.RemoteAddr, "user", user)
	} else {
		h.log.Info("docket ui: "+op, "key", key, "remote", r.RemoteAddr, "user", user)
	}
	redirect(w, back, http.StatusSeeOther)
}

// redirect sends the client to a URL relative to the request's own: unlike
// http.Redirect, which resolves it against the path the handler sees, and
// so loses the prefix that StripPrefix took off.
func redirect(w http.ResponseWriter, to string, status int) {
	w.Header().Set("Location", to)
	w.WriteHeader(status)
}
