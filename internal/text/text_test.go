package text_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/text"
)

// Untrusted text is shown on one line of its own, every byte of it told
// apart; ordinary text, accents and scripts included, is left as it is.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain key/1":                  "plain key/1",
		"héllo, 世界":                    "héllo, 世界",
		"forged\nstate      completed": `forged\nstate      completed`,
		"a\tb\r\x00\x1b[2J\a":          `a\tb\r\x00\x1b[2J\a`,
		"\xff\xfe":                     `\xff\xfe`,
		"abc\u202edef \u200b \u2028":   `abc\u202edef \u200b \u2028`,
		"\ufffd":                       `\ufffd`,
		"\x1b]0;TITLE\a":               `\x1b]0;TITLE\a`,
	} {
		assert.Equal(t, want, text.Printable(in), "%q", in)
	}
}

// JSON keeps its meaning: the hidden characters in its strings become JSON
// escapes (a pair of them beyond U+FFFF), its layout stays.
func TestPrintableJSON(t *testing.T) {
	for in, want := range map[string]string{
		"{\n  \"a\": \"plain é\"\n}":        "{\n  \"a\": \"plain é\"\n}",
		"{\"note\": \"evil\u202etxt.exe\"}": `{"note": "evil\u202etxt.exe"}`,
		"[\"\u2028\u2029\u200b\ufeff\"]":    `["\u2028\u2029\u200b\ufeff"]`,
		"\"\U000e0041\"":                    `"\udb40\udc41"`,
		"{\n\t\"tab\": 1\r\n}":              "{\n\t\"tab\": 1\r\n}",
	} {
		got := text.PrintableJSON(in)
		assert.Equal(t, want, got, "%q", in)
		var before, after any
		require.NoError(t, json.Unmarshal([]byte(in), &before))
		require.NoError(t, json.Unmarshal([]byte(got), &after))
		assert.Equal(t, before, after, "the same JSON value")
	}
}

// Text of several lines keeps its lines.
func TestPrintableLines(t *testing.T) {
	assert.Equal(t, "line 1\nline\\t2 \\u202e\n\\xff", text.PrintableLines("line 1\nline\t2 \u202e\n\xff"))
}

// A strike's value is read as a person types it, the same in docket strike
// and the dashboard: a number, a boolean or a quoted string as JSON,
// anything else as the string itself.
func TestStrikeValue(t *testing.T) {
	for arg, want := range map[string]any{
		"1001": json.Number("1001"), "-2.50e3": json.Number("-2.50e3"), "true": true, "false": false,
		`"1001"`: "1001", `"a \u003c b"`: "a < b", "north": "north", `{"a":1}`: `{"a":1}`, "[1]": "[1]",
		"null": "null", "": "", `"unterminated`: `"unterminated`,
		" 7 ": json.Number("7"), // the spaces JSON allows around it, which a json.Number does not
	} {
		v, err := text.StrikeValue(arg)
		require.NoError(t, err, "%q", arg)
		assert.Equal(t, want, v, "%q", arg)
	}
	// A listed strike's value, its JSON, reads back as the value struck.
	for _, v := range []any{json.Number("1.50"), "m", "<\u2028>\a", true, json.Number("12345678901234567")} {
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		read, err := text.StrikeValue(string(raw))
		require.NoError(t, err)
		again, err := json.Marshal(read)
		require.NoError(t, err)
		assert.Equal(t, string(raw), string(again), "%v", v)
	}
	// A number beyond a float64 would match nothing as its writer meant.
	for _, arg := range []string{"1e400", " -1e400"} {
		_, err := text.StrikeValue(arg)
		assert.ErrorContains(t, err, "a number out of range", arg)
	}
}

// A block keeps its lines and tabs (a stack trace reads as one), escapes
// the rest as Printable does, and is cut at a rune's start.
func TestBlock(t *testing.T) {
	trace := "panic: boom\n\ngoroutine 7 [running]:\nmain.f()\n\t/src/main.go:12 +0x1d"
	assert.Equal(t, trace, text.Block(trace, 1000))
	assert.Equal(t, "a\\x1b[31m\tb\n\\u202e", text.Block("a\x1b[31m\tb\n\u202e", 1000))
	assert.Equal(t, "é\n… and 4 bytes more", text.Block("ééé", 3), "cut before the é it would split")
	assert.Equal(t, "ab\n… and 1 byte more", text.Block("abc", 2))
}

// Truncate counts runes, not bytes: it never splits a character.
func TestTruncate(t *testing.T) {
	assert.Equal(t, "abc", text.Truncate("abc", 3))
	assert.Equal(t, "ab…", text.Truncate("abcd", 3))
	assert.Equal(t, "éé…", text.Truncate("éééé", 3))
	assert.Equal(t, "", text.Truncate("", 1))
}
