package ui

import (
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
}

func TestPrintable(t *testing.T) {
	assert.Equal(t, "plain key/1", printable("plain key/1"))
	assert.Equal(t, `bell\a esc\x1b rtl\u202e nul\x00`, printable("bell\a esc\x1b rtl\u202e nul\x00"))
	assert.Equal(t, "bad \uFFFD", printable("bad \xff"))
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
