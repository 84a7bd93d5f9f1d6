// Package ui is the web dashboard of a docket: an http.Handler to mount in
// your own server, under any path, and what `docket ui` serves on its own.
//
// # Mounting
//
// New returns the handler. Its links are relative to where it is mounted,
// so it works under any prefix once StripPrefix takes the prefix off:
//
//	h, err := ui.New(d, ui.Options{ReadOnly: true, Auth: ui.BasicAuth("ops", secret)})
//	mux.Handle("/admin/docket/", http.StripPrefix("/admin/docket", h))
//
// A request for the prefix without its trailing slash is redirected to it.
// Pages are server-side rendered HTML; the stylesheet and the script are
// embedded in the binary (go:embed): no CDN, no build step, and it works
// offline.
//
// # Pages
//
//   - Overview: tasks by state (queued, waiting for a concurrency slot,
//     scheduled, running, parked, held by a strike, failed, dead letters), the
//     strikes in effect, live workers, the lateness of the oldest due
//     task, Redis memory, counts by task name, and a chart of the last
//     hour's attempts from per-minute counters.
//   - Tasks: each list (queued, scheduled, running, waiting, parked, held
//     by a strike, failed, dead letters) a page at a time, filtered by task name
//     and key prefix; the header's search finds a task by its exact key.
//   - Task: state, progress (live), timeline, attempts, error, input and
//     result as indented JSON (with a copy button), the producer's trace ID
//     (a link to Jaeger with Options.JaegerURL), and for a workflow its
//     steps, its children with their states and what it waits for; for a
//     held task, the strike that holds it.
//   - Workers (what each runs, its heartbeat), Schedules (the chains of
//     automatic perpetual and cron tasks), Limits (each concurrency limit,
//     with the tasks holding its slots and those in line; each rate limit
//     whose window holds a start, and how full it is), Strikes (the
//     strikes in effect, a form to strike).
//
// Pages update themselves without a reload: the script fetches the part of
// the page that changes every Options.Refresh (3s by default), and stops
// while the tab is hidden, while the keyboard focus or a selection is in
// that part, or when the user pauses it.
//
// # Actions
//
// Cancel a task, retry a failed or dead-lettered one now (sdk.Docket.Retry),
// run a scheduled one now (sdk.Docket.RunNow), clear the queue, strike
// (sdk.Docket.Strike; the value typed as `docket strike` types it) and
// restore. Each is a form posted to the dashboard, confirmed first (in a
// dialog, or on a page of its own without JavaScript; a new strike always
// on a page of its own, which shows how its value was read), and refused
// with 403 Forbidden when: Options.ReadOnly is set (the buttons and the
// strike form are not shown either), the form's token is not the
// handler's (a forged or stale form), or the browser says the request came
// from another site (http.CrossOriginProtection). Actions are logged at
// INFO with the task key (or the strike) and the client's address.
//
// # Security
//
// Keys, inputs, results, errors and strikes are written by others: every
// page escapes them (html/template), control characters included, and sends
// a Content-Security-Policy that allows the dashboard's own script and
// stylesheet only, so that even markup that slipped through could run
// nothing. Options.Auth authenticates every request before anything is
// read; BasicAuth makes one. Without it the handler serves anyone who
// reaches it: `docket ui` listens on loopback unless told otherwise.
//
// # Cost
//
// Every page reads O(what it shows) from Redis, never every task: lists are
// read by rank, a filter looks at no more than twenty pages' worth of
// entries per page (and offers to look further), and the overview counts
// with ZCARD and ZCOUNT and samples the names of at most 200 tasks per
// list. Like Snapshot, the overview reads every concurrency limit in use
// to count the waiting tasks. A workflow's page reads its flow whole, as
// sdk.Execution.Info does, and the states of at most 200 children.
package ui
