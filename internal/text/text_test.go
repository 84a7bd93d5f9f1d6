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
