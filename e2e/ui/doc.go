// Package ui is an end-to-end check of the dashboard (package ui) in a real
// browser: Debian's chromium, driven by github.com/chromedp/chromedp,
// headless, against a real redis-server holding tasks in every state that a
// real worker put there. It loads every page and checks what it shows,
// follows a running task's progress without a reload, cancels, retries and
// runs tasks now through the buttons and checks Redis, strikes a field
// through the form, sees a matching task held, restores the strike through
// its button and sees the task run, checks that a read-only dashboard shows
// no button and no strike form and refuses a forged request, that a
// request from another site is refused, that a task whose key, input and
// error hold markup, and a strike whose field and value do, run no script
// of it, and saves screenshots.
//
// The test sits behind the build tag uie2e, so `go test ./...` skips it.
// Run it with
//
//	scripts/ui-e2e.sh
//
// which installs chromium with apt-get when it can and it is missing.
// DOCKET_CHROMIUM names the browser to use (default: chromium on PATH);
// DOCKET_UI_SCREENSHOTS names a directory for the screenshots (default: a
// temporary one; docs/screenshots holds those the README shows).
package ui
