package cli

import (
	"fmt"
	"strings"
	"time"
)

// relative tells t from now, both on the Redis clock: "in 5m", "3s ago",
// "now"; "-" for a zero t.
func relative(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	switch {
	case d > 0:
		return "in " + short(d)
	case d < 0:
		return short(-d) + " ago"
	}
	return "now"
}

// short writes a positive duration in its two largest units, to the
// second: "2d3h", "1h5m", "4m", "12s".
func short(d time.Duration) string {
	d = d.Round(time.Second)
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for i, u := range units {
		if d < u.size && i < len(units)-1 {
			continue
		}
		s := fmt.Sprintf("%d%s", d/u.size, u.name)
		if i+1 < len(units) {
			if rest := (d % u.size) / units[i+1].size; rest > 0 {
				s += fmt.Sprintf("%d%s", rest, units[i+1].name)
			}
		}
		return s
	}
	return "0s"
}

// clock writes an elapsed time as a stopwatch does: "00:07", "12:34",
// "1:02:03".
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

// utc writes an instant for a table header.
func utc(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

// firstLine is a message's first line, without surrounding space, marked
// with "…" when lines were left out.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i]) + " …"
	}
	return s
}

// plural writes n and a noun, with an s unless n is 1 (or the plural
// given, for an irregular noun).
func plural(n int, noun string, nouns ...string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	if len(nouns) > 0 { // an irregular plural
		return fmt.Sprintf("%d %s", n, nouns[0])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// orDash is s, or "-" when s is empty, for a table cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
