package ui

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPretty(t *testing.T) {
	assert.Equal(t, "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}", pretty([]byte(`{"a":1,"b":[true]}`)))
	assert.Equal(t, "{\n  \"x\": \"<b> & </b>\"\n}", pretty([]byte(`{"x":"\u003cb\u003e \u0026 \u003c/b\u003e"}`)))
	assert.Equal(t, `"\\u003c"`, pretty([]byte(`"\\u003c"`)), "an escaped backslash, then text")
	assert.Equal(t, `"\\<"`, pretty([]byte(`"\\\u003c"`)), "an escaped backslash, then an escape")
	assert.Equal(t, `"\u00e9\n"`, pretty([]byte(`"\u00e9\n"`)), "other escapes stay")
	assert.Equal(t, "not json <", pretty([]byte("not json <")))
	assert.Equal(t, "{\n  \"file\": \"invoice\\u202efdp.exe\"\n}", pretty([]byte("{\"file\":\"invoice\u202efdp.exe\"}")),
		"a character that reorders text is shown as its escape")
	assert.Equal(t, "not\\tjson\n\\xff \\u202e", pretty([]byte("not\tjson\n\xff \u202e")), "lines kept, the rest escaped")
}

func TestHumanAndCount(t *testing.T) {
	assert.Equal(t, "950ms", human(950_000_000))
	assert.Equal(t, "5m 3s", human(303_000_000_000))
	assert.Equal(t, "2h", human(7_200_000_000_000))
	assert.Equal(t, "3d 4h", human((3*24+4)*3_600_000_000_000))
	assert.Equal(t, "1,000,000", count(1_000_000))
	assert.Equal(t, "-12,345", count(-12345))
	assert.Equal(t, "2 matches", plural(2, "match"))
	assert.Equal(t, "3 deliveries", plural(3, "delivery"))
	assert.Equal(t, "<0.1%", pct(1, 10_000))
	assert.Equal(t, "—", pct(0, 0))
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", traceID("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	assert.Empty(t, traceID("00-00000000000000000000000000000000-b7ad6b7169203331-01"))
	assert.Empty(t, traceID("garbage"))
}

// The notice after an action says only what the redirect asked for in known
// words; a count that is not one is not shown.
func TestFlash(t *testing.T) {
	for q, want := range map[string]string{
		"done=clear&n=3":     "Cancelled 3 tasks.",
		"done=clear&n=1":     "Cancelled 1 task.",
		"done=clear&n=abc":   "Cleared.",
		"done=clear&n=-5":    "Cleared.",
		"done=clear":         "Cleared.",
		"done=cancel":        "Cancelled.",
		"done=<b>x</b>":      "",
		"done=cancel&n=<b>x": "Cancelled.",
	} {
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if got := flash(v); got != want {
			t.Errorf("flash(%q) = %q, want %q", q, got, want)
		}
	}
}

// Progress near the top of int64 is shown as the share it is: 100*Current
// overflowed, and showed 0%.
func TestPercentNearTheTopOfInt64(t *testing.T) {
	const top = int64(^uint64(0) >> 1)
	d := taskData{HasProgress: true}
	d.Progress.Current, d.Progress.Total = top/2, top
	assert.Equal(t, 50, d.Percent())
	d.Progress.Current, d.Progress.Total = 3, 10
	assert.Equal(t, 30, d.Percent())
	d.Progress.Total = 0
	assert.Equal(t, -1, d.Percent())
}
