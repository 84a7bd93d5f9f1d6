package text

import (
	"encoding/json"
	"errors"
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

// Block is Printable for text meant to be read as a block (an error with
// its stack trace): its line breaks and tabs stay as they are, each line
// escaped as Printable escapes it, and it is cut after max bytes, saying
// how many more there were.
func Block(s string, max int) string {
	more := 0
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s, more = s[:cut], len(s)-cut
	}
	cells := strings.Split(s, "\t") // PrintableLines, tabs kept
	for i, c := range cells {
		cells[i] = PrintableLines(c)
	}
	out := strings.Join(cells, "\t")
	switch {
	case more == 1:
		out += "\n… and 1 byte more"
	case more > 1:
		out += fmt.Sprintf("\n… and %d bytes more", more)
	}
	return out
}

// StrikeValue reads the value of a strike as a person types it, the one
// reading of docket strike's VALUE and of the dashboard's form: JSON when
// it is a number, a boolean or a quoted string, else the string itself. A
// listed strike's value, its JSON, thus reads back as the value it was
// struck with. A number keeps its digits as written (json.Number), without
// the spaces around it that JSON allows and a json.Number does not. A
// number too large for a float64 (1e400) is an error: read as a string, it
// would match nothing the way its writer meant.
func StrikeValue(arg string) (any, error) {
	var v any
	err := json.Unmarshal([]byte(arg), &v)
	if err == nil {
		switch v.(type) {
		case float64:
			return json.Number(strings.TrimSpace(arg)), nil
		case bool, string:
			return v, nil
		}
	}
	var number *json.UnmarshalTypeError
	if errors.As(err, &number) {
		return nil, fmt.Errorf("value %s: a number out of range", strings.TrimSpace(arg))
	}
	return arg, nil
}

// UnescapeHTMLEscapes turns the escapes \u003c, \u003e and \u0026 of valid
// JSON back into <, > and &: only escapes, not a backslash that is itself
// escaped (\\u003c is a backslash, then "u003c"). Go's encoding/json
// writes <, > and & so in strings; people wrote them as characters.
func UnescapeHTMLEscapes(s string) string {
	if !strings.Contains(s, `\u00`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == 'u' && i+6 <= len(s) {
			switch s[i+2 : i+6] {
			case "003c", "003C":
				b.WriteByte('<')
				i += 5
				continue
			case "003e", "003E":
				b.WriteByte('>')
				i += 5
				continue
			case "0026":
				b.WriteByte('&')
				i += 5
				continue
			}
		}
		b.WriteByte(s[i]) // an escape: the backslash and what it escapes
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

// Share is current out of total (positive) as a share of whole, between 0
// and whole: a percentage, the cells of a progress bar. In floating point:
// current*whole would overflow an int64 near its top, where a task's
// progress may count.
func Share(current, total int64, whole int) int {
	return int(min(max(float64(current)/float64(total)*float64(whole), 0), float64(whole)))
}

// Truncate shortens s to at most n runes (n ≥ 1), ending it with "…" when
// it cuts: what an error message or a table quotes of a string that may be
// long.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
