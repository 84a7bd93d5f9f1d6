package text_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

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
