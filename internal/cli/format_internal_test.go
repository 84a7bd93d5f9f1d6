package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/docket-go/docket/sdk"
)

func TestShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                       "0s",
		400 * time.Millisecond:                  "0s",
		12 * time.Second:                        "12s",
		4 * time.Minute:                         "4m",
		4*time.Minute + 5*time.Second:           "4m5s",
		time.Hour - 200*time.Millisecond:        "1h",
		time.Hour + 5*time.Minute + time.Second: "1h5m",
		51 * time.Hour:                          "2d3h",
	} {
		assert.Equal(t, want, short(d), d)
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, "-", relative(time.Time{}, now))
	assert.Equal(t, "now", relative(now.Add(300*time.Millisecond), now))
	assert.Equal(t, "in 5m", relative(now.Add(5*time.Minute), now))
	assert.Equal(t, "3s ago", relative(now.Add(-3*time.Second), now))
}

func TestClock(t *testing.T) {
	assert.Equal(t, "00:00", clock(-time.Second))
	assert.Equal(t, "00:07", clock(7*time.Second+900*time.Millisecond))
	assert.Equal(t, "12:34", clock(12*time.Minute+34*time.Second))
	assert.Equal(t, "1:02:03", clock(time.Hour+2*time.Minute+3*time.Second))
}

func TestRender(t *testing.T) {
	ev := sdk.Event{State: sdk.StateRunning, Attempt: 1, Progress: sdk.ProgressInfo{Current: 1, Total: 4, Message: "copying"}}
	assert.Equal(t, "running  1/4  25%  copying  00:03", render(ev, 3*time.Second, false))
	assert.Equal(t, "running  [######------------------]  1/4  25%  copying  00:03", render(ev, 3*time.Second, true))

	counted := sdk.Event{State: sdk.StateRunning, Attempt: 1, Progress: sdk.ProgressInfo{Current: 7}}
	assert.Equal(t, "running  7 done  00:00", render(counted, 0, true), "no total: a count, no bar")

	retry := sdk.Event{State: sdk.StateScheduled, Attempt: 2, Error: "timeout\nstack"}
	assert.Equal(t, "scheduled (attempt 2)  error: timeout …  00:00", render(retry, 0, false))

	long := sdk.Event{State: sdk.StateRunning, Attempt: 1, Progress: sdk.ProgressInfo{Message: strings.Repeat("x", 100)}}
	assert.Len(t, []rune(render(long, 0, true)), len("running  ")+messageWidth+len("  00:00"), "a terminal line is kept short")
	assert.Len(t, render(long, 0, false), len("running  ")+100+len("  00:00"), "a plain line keeps the whole message")

	over := sdk.Event{State: sdk.StateRunning, Attempt: 1, Progress: sdk.ProgressInfo{Current: 9, Total: 4}}
	assert.Equal(t, "running  [########################]  9/4  100%  00:00", render(over, 0, true), "clamped")
}

func TestOneLine(t *testing.T) {
	assert.Equal(t, "docket: cancel \"k\": redis is unreachable: dial tcp: refused",
		oneLine("cancel \"k\": docket: redis is unreachable:\n  dial tcp: refused"))
	assert.Equal(t, `docket: show: no execution with the key "docket: a  b"`,
		oneLine(`docket: show: docket: no execution with the key "docket: a  b"`), "the key as typed")
}

// What a task wrote (its progress message, its error) is shown with
// control characters escaped: it cannot move the cursor or clear the
// screen.
func TestRenderEscapesTaskData(t *testing.T) {
	ev := sdk.Event{State: sdk.StateRunning, Attempt: 1,
		Progress: sdk.ProgressInfo{Current: 1, Total: 2, Message: "step \x1b[31mred"}, Error: "failed \x1b[2J"}
	for _, term := range []bool{true, false} {
		line := render(ev, 0, term)
		assert.NotContains(t, line, "\x1b", "term %v", term)
		assert.Contains(t, line, `step \x1b[31mred`)
		assert.Contains(t, line, `failed \x1b[2J`)
	}
	assert.Equal(t, "2 deliveries", plural(2, "delivery", "deliveries"))
	assert.Equal(t, "1 delivery", plural(1, "delivery", "deliveries"))
}

// Indented JSON keeps its own lines, each escaped as task data is (see
// text.Printable): newlines inside its strings are escaped already.
func TestPrintableLines(t *testing.T) {
	assert.Equal(t, `forged\nrow`, printable("forged\nrow"), "task data stays on its line")
	assert.Equal(t, "{\n  \"a\": \"x\\\\n\"\n}", printableLines("{\n  \"a\": \"x\\\\n\"\n}"))
	assert.Equal(t, "[\n  \"\\x1b\"\n]", printableLines("[\n  \"\x1b\"\n]"))
}

// Progress near the top of int64 is drawn as the share it is: current*100
// overflowed, and showed 0%.
func TestProgressNearTheTopOfInt64(t *testing.T) {
	const top = int64(^uint64(0) >> 1)
	assert.Equal(t, int64(50), percent(top/2, top))
	assert.Equal(t, "[#####-----]", bar(top/2, top, 10))
	assert.Equal(t, int64(100), percent(top, top))
	assert.Equal(t, int64(0), percent(-5, 10))
	assert.Equal(t, int64(30), percent(3, 10))
	assert.Equal(t, "[###-------]", bar(3, 10, 10))
}
