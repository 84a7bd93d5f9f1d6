package text

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Printable escapes what could drive a terminal or forge a line or a
// column of output: control characters (newlines and tabs included),
// format characters (U+202E, which reorders the text after it, and the
// like), line and paragraph separators, and bytes that are not UTF-8
// (shown as \xff, so that two such bytes stay told apart).
func Printable(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case needsEscape(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
}

// PrintableJSON escapes, in valid JSON text, the characters Printable
// escapes that JSON lets stand raw in a string (format characters, line and
// paragraph separators), as JSON escapes: the text means what it meant,
// and shows what it holds. Valid JSON holds no other character Printable
// escapes outside its whitespace.
func PrintableJSON(s string) string {
	if strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r' || !needsEscape(r):
			b.WriteRune(r)
		case r > 0xFFFF: // a surrogate pair in JSON
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// PrintableLines is Printable line by line: text of several lines stays on
// its lines, each escaped as Printable escapes it.
func PrintableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Printable(l)
	}
	return strings.Join(lines, "\n")
}
