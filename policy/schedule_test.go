package policy_test

import (
	"cmp"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
)

// Fixed offsets, to write expected instants without relying on how
// time.Date resolves a local time near a clock change.
var (
	pst      = time.FixedZone("PST", -8*3600)
	pdt      = time.FixedZone("PDT", -7*3600)
	clt      = time.FixedZone("-04", -4*3600) // Chile, standard
	clst     = time.FixedZone("-03", -3*3600) // Chile, summer
	lhst     = time.FixedZone("+1030", 10*3600+1800)
	lhdt     = time.FixedZone("+11", 11*3600)
	utcDate  = func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	zoneDate = func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
)

// requireInstants checks got against want instant by instant (Equal, not ==),
// printing both in UTC.
func requireInstants(t *testing.T, want, got []time.Time) {
	t.Helper()
	utc := func(ts []time.Time) []string {
		out := make([]string, len(ts))
		for i, x := range ts {
			out[i] = x.UTC().Format(time.RFC3339Nano)
		}
		return out
	}
	require.Equal(t, utc(want), utc(got))
}

// nexts calls Next n times, each from the previous result.
func nexts(t *testing.T, c policy.CronPolicy, from time.Time, n int) []time.Time {
	t.Helper()
	var out []time.Time
	for range n {
		next, err := c.Next(from)
		require.NoError(t, err, "%v.Next(%v)", c, from)
		require.True(t, next.After(from), "%v.Next(%v) = %v, not after", c, from, next)
		out = append(out, next)
		from = next
	}
	return out
}

func TestPerpetualBuilder(t *testing.T) {
	t.Parallel()
	// A struct literal is not a built policy: the builder is checked field
	// by field.
	type fields struct {
		Every     time.Duration
		Automatic bool
	}
	of := func(p policy.PerpetualPolicy) fields { return fields{p.Every, p.Automatic} }
	assert.Equal(t, fields{Every: time.Minute}, of(policy.Perpetual(time.Minute)))
	assert.Equal(t, fields{Every: time.Minute, Automatic: true}, of(policy.Perpetual(time.Minute, policy.Automatic())))
	assert.Equal(t, fields{Every: time.Minute}, of(policy.Perpetual(time.Minute, policy.Automatic(), policy.Manual())))
	assert.Equal(t, fields{Every: time.Hour, Automatic: true}, of(policy.Perpetual(time.Hour, nil, policy.Automatic(), nil)))
}

func TestCronBuilder(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	c := policy.Cron(" 0 9 * * 1-5 ", policy.In(la))
	assert.Equal(t, " 0 9 * * 1-5 ", c.Expr, "the expression is kept as written")
	assert.Equal(t, la, c.Location)
	assert.True(t, c.Automatic, "cron is automatic by default")

	c = policy.Cron("@daily", policy.Manual())
	assert.Nil(t, c.Location)
	assert.False(t, c.Automatic)

	assert.True(t, policy.Cron("@daily", policy.Automatic()).Automatic)
	assert.True(t, policy.Cron("@daily", nil).Automatic)
}

func TestCronKeywords(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 5, 13, 10, 20, 30, 0, time.UTC) // a Wednesday
	require.Equal(t, time.Wednesday, from.Weekday())
	tests := []struct {
		expr string
		want []time.Time
	}{
		{"@yearly", []time.Time{utcDate(2027, 1, 1, 0, 0), utcDate(2028, 1, 1, 0, 0)}},
		{"@annually", []time.Time{utcDate(2027, 1, 1, 0, 0), utcDate(2028, 1, 1, 0, 0)}},
		{"@monthly", []time.Time{utcDate(2026, 6, 1, 0, 0), utcDate(2026, 7, 1, 0, 0), utcDate(2026, 8, 1, 0, 0)}},
		{"@weekly", []time.Time{utcDate(2026, 5, 17, 0, 0), utcDate(2026, 5, 24, 0, 0)}}, // Sundays
		{"@daily", []time.Time{utcDate(2026, 5, 14, 0, 0), utcDate(2026, 5, 15, 0, 0)}},
		{"@midnight", []time.Time{utcDate(2026, 5, 14, 0, 0), utcDate(2026, 5, 15, 0, 0)}},
		{"@hourly", []time.Time{utcDate(2026, 5, 13, 11, 0), utcDate(2026, 5, 13, 12, 0)}},
		{"@HOURLY", []time.Time{utcDate(2026, 5, 13, 11, 0), utcDate(2026, 5, 13, 12, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			requireInstants(t, tt.want, nexts(t, policy.Cron(tt.expr), from, len(tt.want)))
		})
	}
	for _, w := range tests[3].want { // @weekly runs on Sundays
		require.Equal(t, time.Sunday, w.Weekday(), w)
	}
}

func TestCronKeywordsMatchTheirFields(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	for kw, fields := range map[string]string{
		"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
		"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
	} {
		t.Run(kw, func(t *testing.T) {
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			n := 30
			if kw == "@yearly" || kw == "@annually" {
				n = 5
			}
			requireInstants(t,
				nexts(t, policy.Cron(fields, policy.In(la)), from, n),
				nexts(t, policy.Cron(kw, policy.In(la)), from, n))
		})
	}
}

func TestCronNextIsStrictlyAfter(t *testing.T) {
	t.Parallel()
	c := policy.Cron("0 9 * * *")
	nine := utcDate(2026, 6, 1, 9, 0)
	tests := []struct {
		name string
		from time.Time
		want time.Time
	}{
		{"a nanosecond before", nine.Add(-time.Nanosecond), nine},
		{"a minute before", nine.Add(-time.Minute), nine},
		{"at the instant", nine, nine.AddDate(0, 0, 1)},
		{"a nanosecond after", nine.Add(time.Nanosecond), nine.AddDate(0, 0, 1)},
		{"half a second after", nine.Add(500 * time.Millisecond), nine.AddDate(0, 0, 1)},
		{"a second after", nine.Add(time.Second), nine.AddDate(0, 0, 1)},
		{"the day before", nine.AddDate(0, 0, -1).Add(time.Hour), nine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Next(tt.from)
			require.NoError(t, err)
			requireInstants(t, []time.Time{tt.want}, []time.Time{got})
		})
	}
}

func TestCronNextIgnoresTheLocationOfItsArgument(t *testing.T) {
	t.Parallel()
	tokyo := mustLoad(t, "Asia/Tokyo")
	la := mustLoad(t, "America/Los_Angeles")
	from := time.Date(2026, 3, 8, 9, 59, 0, 0, time.UTC)
	for _, c := range []policy.CronPolicy{policy.Cron("*/15 * * * *"), policy.Cron("*/15 * * * *", policy.In(la)), policy.Cron("30 17 * * *", policy.In(tokyo))} {
		want, err := c.Next(from)
		require.NoError(t, err)
		for _, loc := range []*time.Location{time.UTC, tokyo, la, time.Local} {
			got, err := c.Next(from.In(loc))
			require.NoError(t, err)
			assert.True(t, want.Equal(got), "%v from %v: %v, want %v", c, from.In(loc), got, want)
		}
	}
}

func TestCronCalendar(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		expr string
		from time.Time
		want []time.Time
	}{
		{"leap day", "0 0 29 2 *", utcDate(2026, 3, 1, 0, 0),
			[]time.Time{utcDate(2028, 2, 29, 0, 0), utcDate(2032, 2, 29, 0, 0)}},
		{"31st skips short months", "0 12 31 * *", utcDate(2026, 1, 31, 13, 0),
			[]time.Time{utcDate(2026, 3, 31, 12, 0), utcDate(2026, 5, 31, 12, 0), utcDate(2026, 7, 31, 12, 0), utcDate(2026, 8, 31, 12, 0)}},
		{"year boundary", "59 23 31 12 *", utcDate(2026, 6, 1, 0, 0),
			[]time.Time{utcDate(2026, 12, 31, 23, 59), utcDate(2027, 12, 31, 23, 59)}},
		// Day of month and day of week both restricted: either matches (cron's rule).
		{"the 13th or a Monday", "0 0 13 * 1", utcDate(2026, 3, 10, 0, 0),
			[]time.Time{utcDate(2026, 3, 13, 0, 0), utcDate(2026, 3, 16, 0, 0), utcDate(2026, 3, 23, 0, 0)}},
		{"Sunday as 7", "0 6 * * 7", utcDate(2026, 5, 13, 0, 0),
			[]time.Time{utcDate(2026, 5, 17, 6, 0), utcDate(2026, 5, 24, 6, 0)}},
		{"ranges, lists and steps", "0,30 8-9 * * 1-5", utcDate(2026, 5, 15, 9, 15), // a Friday
			[]time.Time{utcDate(2026, 5, 15, 9, 30), utcDate(2026, 5, 18, 8, 0), utcDate(2026, 5, 18, 8, 30), utcDate(2026, 5, 18, 9, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireInstants(t, tt.want, nexts(t, policy.Cron(tt.expr), tt.from, len(tt.want)))
		})
	}
}

func TestCronTokyo(t *testing.T) {
	t.Parallel()
	tokyo := mustLoad(t, "Asia/Tokyo")
	c := policy.Cron("30 17 * * *", policy.In(tokyo))
	from := utcDate(2026, 1, 1, 0, 0)
	runs := nexts(t, c, from, 400)
	for i, run := range runs {
		want := utcDate(2026, 1, 1+i, 8, 30)
		require.True(t, want.Equal(run), "run %d: %v, want %v", i, run.UTC(), want)
		require.Equal(t, "17:30", run.In(tokyo).Format("15:04"))
	}
	// From the instant of a run, the next is a day later.
	next, err := c.Next(utcDate(2026, 7, 1, 8, 30))
	require.NoError(t, err)
	requireInstants(t, []time.Time{utcDate(2026, 7, 2, 8, 30)}, []time.Time{next})
}

func TestCronLosAngelesWeekdays2026(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")

	var want []time.Time
	for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == 2026; d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			continue
		}
		want = append(want, time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, la)) // 9:00 always exists in LA
	}
	require.Len(t, want, 261)

	c := policy.Cron("0 9 * * 1-5", policy.In(la))
	var got []time.Time
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); ; {
		next, err := c.Next(from)
		require.NoError(t, err)
		if !next.Before(end) {
			break
		}
		got = append(got, next)
		from = next
	}
	require.Len(t, got, 261)
	requireInstants(t, want, got)

	// Both clock changes: 9:00 PST is 17:00 UTC, 9:00 PDT is 16:00 UTC.
	for _, tt := range []struct{ from, want time.Time }{
		{utcDate(2026, 1, 1, 0, 0), utcDate(2026, 1, 1, 17, 0)},     // Thursday, PST
		{utcDate(2026, 3, 6, 0, 0), utcDate(2026, 3, 6, 17, 0)},     // Friday before spring forward, PST
		{utcDate(2026, 3, 6, 17, 0), utcDate(2026, 3, 9, 16, 0)},    // Monday after, PDT
		{utcDate(2026, 10, 30, 0, 0), utcDate(2026, 10, 30, 16, 0)}, // Friday before fall back, PDT
		{utcDate(2026, 10, 30, 16, 0), utcDate(2026, 11, 2, 17, 0)}, // Monday after, PST
		{utcDate(2026, 12, 31, 17, 0), utcDate(2027, 1, 1, 17, 0)},  // into 2027 (a Friday)
	} {
		next, err := c.Next(tt.from)
		require.NoError(t, err)
		requireInstants(t, []time.Time{tt.want}, []time.Time{next})
	}
}

func TestCronDaylightSaving(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	santiago := mustLoad(t, "America/Santiago")
	lordHowe := mustLoad(t, "Australia/Lord_Howe")

	// The clock changes the cases rely on, checked against Go's zone database.
	for _, ch := range []struct {
		loc              *time.Location
		at               time.Time // the first instant of the new offset
		before, after    *time.Location
		wallBefore, wall string // clock readings a second before, and at
	}{
		{la, utcDate(2026, 3, 8, 10, 0), pst, pdt, "2026-03-08 01:59:59", "2026-03-08 03:00:00"},
		{la, utcDate(2026, 11, 1, 9, 0), pdt, pst, "2026-11-01 01:59:59", "2026-11-01 01:00:00"},
		{santiago, utcDate(2026, 9, 6, 4, 0), clt, clst, "2026-09-05 23:59:59", "2026-09-06 01:00:00"},
		{santiago, utcDate(2026, 4, 5, 3, 0), clst, clt, "2026-04-04 23:59:59", "2026-04-04 23:00:00"},
		{lordHowe, utcDate(2026, 10, 3, 15, 30), lhst, lhdt, "2026-10-04 01:59:59", "2026-10-04 02:30:00"},
		{lordHowe, utcDate(2026, 4, 4, 15, 0), lhdt, lhst, "2026-04-05 01:59:59", "2026-04-05 01:30:00"},
	} {
		const layout = "2006-01-02 15:04:05"
		require.Equal(t, ch.wallBefore, ch.at.Add(-time.Second).In(ch.loc).Format(layout), "%v at %v", ch.loc, ch.at)
		require.Equal(t, ch.wall, ch.at.In(ch.loc).Format(layout), "%v at %v", ch.loc, ch.at)
		_, off := ch.at.Add(-time.Second).In(ch.loc).Zone()
		_, want := ch.at.Add(-time.Second).In(ch.before).Zone()
		require.Equal(t, want, off)
		_, off = ch.at.In(ch.loc).Zone()
		_, want = ch.at.In(ch.after).Zone()
		require.Equal(t, want, off)
	}

	tests := []struct {
		name string
		expr string
		loc  *time.Location
		from time.Time
		want []time.Time
	}{
		// Los Angeles, spring forward: 2026-03-08 02:00 PST → 03:00 PDT.
		{"LA: 02:30 does not exist, runs at 03:00 PDT", "30 2 * * *", la, zoneDate(pst, 2026, 3, 7, 0, 0), []time.Time{
			zoneDate(pst, 2026, 3, 7, 2, 30), zoneDate(pdt, 2026, 3, 8, 3, 0), zoneDate(pdt, 2026, 3, 9, 2, 30), zoneDate(pdt, 2026, 3, 10, 2, 30)}},
		{"LA: 02:00 does not exist, runs at 03:00 PDT", "0 2 * * *", la, zoneDate(pst, 2026, 3, 8, 0, 0), []time.Time{
			zoneDate(pdt, 2026, 3, 8, 3, 0), zoneDate(pdt, 2026, 3, 9, 2, 0)}},
		{"LA: every 15 minutes across the gap", "*/15 * * * *", la, zoneDate(pst, 2026, 3, 8, 1, 30), []time.Time{
			zoneDate(pst, 2026, 3, 8, 1, 45), zoneDate(pdt, 2026, 3, 8, 3, 0), zoneDate(pdt, 2026, 3, 8, 3, 15)}},
		{"LA: from 01:45 PST", "*/15 * * * *", la, zoneDate(pst, 2026, 3, 8, 1, 45), []time.Time{
			zoneDate(pdt, 2026, 3, 8, 3, 0), zoneDate(pdt, 2026, 3, 8, 3, 15)}},
		{"LA: matches in the gap and at its end run once", "0,30 2,3 * * *", la, zoneDate(pst, 2026, 3, 8, 1, 0), []time.Time{
			zoneDate(pdt, 2026, 3, 8, 3, 0), zoneDate(pdt, 2026, 3, 8, 3, 30), zoneDate(pdt, 2026, 3, 9, 2, 0)}},
		{"LA: 03:00 on the spring day is ordinary", "0 3 * * *", la, zoneDate(pst, 2026, 3, 7, 12, 0), []time.Time{
			zoneDate(pdt, 2026, 3, 8, 3, 0), zoneDate(pdt, 2026, 3, 9, 3, 0)}},

		// Los Angeles, fall back: 2026-11-01 02:00 PDT → 01:00 PST.
		{"LA: 01:30 occurs twice, runs once at 01:30 PDT", "30 1 * * *", la, zoneDate(pdt, 2026, 10, 30, 17, 0), []time.Time{
			zoneDate(pdt, 2026, 10, 31, 1, 30), zoneDate(pdt, 2026, 11, 1, 1, 30), zoneDate(pst, 2026, 11, 2, 1, 30), zoneDate(pst, 2026, 11, 3, 1, 30)}},
		{"LA: hourly, the repeated hour runs once", "0 * * * *", la, zoneDate(pdt, 2026, 11, 1, 0, 0), []time.Time{
			zoneDate(pdt, 2026, 11, 1, 1, 0), zoneDate(pst, 2026, 11, 1, 2, 0), zoneDate(pst, 2026, 11, 1, 3, 0)}},
		{"LA: every 15 minutes through the repeated hour", "*/15 * * * *", la, zoneDate(pdt, 2026, 11, 1, 1, 0), []time.Time{
			zoneDate(pdt, 2026, 11, 1, 1, 15), zoneDate(pdt, 2026, 11, 1, 1, 30), zoneDate(pdt, 2026, 11, 1, 1, 45), zoneDate(pst, 2026, 11, 1, 2, 0)}},
		{"LA: from after 01:00 PDT, 01:00 PST does not run", "0 1 * * *", la, zoneDate(pdt, 2026, 11, 1, 1, 45), []time.Time{
			zoneDate(pst, 2026, 11, 2, 1, 0)}},
		{"LA: from the 01:30 PDT run", "30 1 * * *", la, zoneDate(pdt, 2026, 11, 1, 1, 30), []time.Time{
			zoneDate(pst, 2026, 11, 2, 1, 30)}},
		// Starting inside the second pass: the first occurrence after the instant.
		{"LA: from 01:15 PST, 01:30 PST", "30 1 * * *", la, zoneDate(pst, 2026, 11, 1, 1, 15), []time.Time{
			zoneDate(pst, 2026, 11, 1, 1, 30), zoneDate(pst, 2026, 11, 2, 1, 30)}},
		{"LA: from 01:00 PST, 02:00 PST", "0 * * * *", la, zoneDate(pst, 2026, 11, 1, 1, 0), []time.Time{
			zoneDate(pst, 2026, 11, 1, 2, 0)}},

		// Santiago: the clocks change at midnight.
		{"Santiago: midnight does not exist, runs at 01:00", "@daily", santiago, zoneDate(clt, 2026, 9, 5, 8, 0), []time.Time{
			zoneDate(clst, 2026, 9, 6, 1, 0), zoneDate(clst, 2026, 9, 7, 0, 0)}},
		{"Santiago: 23:30 occurs twice, runs once", "30 23 * * *", santiago, zoneDate(clst, 2026, 4, 4, 8, 0), []time.Time{
			zoneDate(clst, 2026, 4, 4, 23, 30), zoneDate(clt, 2026, 4, 5, 23, 30)}},
		{"Santiago: midnight after the repeated hour", "@daily", santiago, zoneDate(clst, 2026, 4, 4, 8, 0), []time.Time{
			zoneDate(clt, 2026, 4, 5, 0, 0), zoneDate(clt, 2026, 4, 6, 0, 0)}},

		// Lord Howe Island: the clocks move by half an hour.
		{"Lord Howe: 02:15 does not exist, runs at 02:30", "15 2 * * *", lordHowe, zoneDate(lhst, 2026, 10, 3, 22, 0), []time.Time{
			zoneDate(lhdt, 2026, 10, 4, 2, 30), zoneDate(lhdt, 2026, 10, 5, 2, 15)}},
		{"Lord Howe: the repeated half hour runs once", "*/15 * * * *", lordHowe, zoneDate(lhdt, 2026, 4, 5, 1, 15), []time.Time{
			zoneDate(lhdt, 2026, 4, 5, 1, 30), zoneDate(lhdt, 2026, 4, 5, 1, 45), zoneDate(lhst, 2026, 4, 5, 2, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireInstants(t, tt.want, nexts(t, policy.Cron(tt.expr, policy.In(tt.loc)), tt.from, len(tt.want)))
		})
	}
}

// TestCronDaylightSavingBruteForce compares chains of Next calls around
// every clock change of 2026 against a minute-by-minute walk of real time
// that applies the rule documented at Cron: a wall time runs at its first
// occurrence, and matching wall times skipped by a clock change run once,
// when the gap ends.
func TestCronDaylightSavingBruteForce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr    string
		matches func(wall time.Time) bool
		span    time.Duration // checked either side of a clock change; 0 for three days
	}{
		{"30 1 * * *", func(w time.Time) bool { return w.Hour() == 1 && w.Minute() == 30 }, 0},
		{"30 2 * * *", func(w time.Time) bool { return w.Hour() == 2 && w.Minute() == 30 }, 0},
		{"0 0 * * *", func(w time.Time) bool { return w.Hour() == 0 && w.Minute() == 0 }, 0},
		{"45 23 * * *", func(w time.Time) bool { return w.Hour() == 23 && w.Minute() == 45 }, 0},
		{"0 * * * *", func(w time.Time) bool { return w.Minute() == 0 }, 0},
		{"*/20 * * * *", func(w time.Time) bool { return w.Minute()%20 == 0 }, 0},
		{"* * * * *", func(time.Time) bool { return true }, 6 * time.Hour},
		{"15 1-3 * * 0", func(w time.Time) bool {
			return w.Minute() == 15 && w.Hour() >= 1 && w.Hour() <= 3 && w.Weekday() == time.Sunday
		}, 0},
	}
	zones := []struct {
		name    string
		changes int // clock changes in 2026
	}{
		{"America/Los_Angeles", 2}, {"America/Santiago", 2}, {"Australia/Lord_Howe", 2},
		{"Europe/London", 2}, {"Asia/Tokyo", 0},
	}
	for _, zone := range zones {
		loc := mustLoad(t, zone.name)
		var changes []time.Time
		for at := utcDate(2026, 1, 1, 0, 0); ; {
			_, end := at.In(loc).ZoneBounds()
			if end.IsZero() || end.Year() > 2026 {
				break
			}
			changes = append(changes, end)
			at = end
		}
		require.Len(t, changes, zone.changes, zone.name)
		if len(changes) == 0 {
			changes = []time.Time{utcDate(2026, 6, 1, 0, 0)} // an ordinary day
		}

		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s %s", zone.name, tc.expr), func(t *testing.T) {
				t.Parallel()
				// wall is the clock reading at m, as a UTC time.
				wall := func(m time.Time) time.Time {
					l := m.In(loc)
					return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), 0, 0, time.UTC)
				}
				c := policy.Cron(tc.expr, policy.In(loc))
				span := cmp.Or(tc.span, 72*time.Hour)
				for _, change := range changes {
					start, end := change.Add(-span), change.Add(span)
					var want []time.Time
					latest := wall(start) // the latest clock reading so far
					for m := start.Add(time.Minute); m.Before(end); m = m.Add(time.Minute) {
						w := wall(m)
						if !w.After(latest) {
							continue // clocks went back: this reading came before
						}
						run := tc.matches(w)
						for skipped := latest.Add(time.Minute); skipped.Before(w) && !run; skipped = skipped.Add(time.Minute) {
							run = tc.matches(skipped) // clocks went forward over a match
						}
						if run {
							want = append(want, m)
						}
						latest = w
					}
					require.NotEmpty(t, want)

					var got []time.Time
					for from := start; ; {
						next, err := c.Next(from)
						require.NoError(t, err)
						if !next.Before(end) {
							break
						}
						got = append(got, next)
						from = next
					}
					requireInstants(t, want, got)
				}
			})
		}
	}
}

func TestCronLiteralHasNoNextRun(t *testing.T) {
	t.Parallel()
	from := utcDate(2026, 6, 1, 9, 0)
	for _, c := range []policy.CronPolicy{
		{Expr: "* * * * *"},
		{Expr: "@hourly", Automatic: true},
		{},
	} {
		_, err := c.Next(from)
		require.ErrorIs(t, err, policy.ErrNotBuilt, "%v", c)
		assert.NotErrorIs(t, err, policy.ErrBadCron, "the expression is fine; the value was not built")
		assert.True(t, strings.HasPrefix(err.Error(), "docket: "), err.Error())
		assert.Contains(t, err.Error(), "build it with policy.Cron(expr, ...)")
	}
}

func TestCronExpressionChangedAfterBuilding(t *testing.T) {
	t.Parallel()
	// The fields are the policy: a built value whose expression is changed
	// follows, and is checked by, the new expression.
	c := policy.Cron("@daily")
	c.Expr = "@hourly"
	requireInstants(t, []time.Time{utcDate(2026, 6, 1, 10, 0)}, nexts(t, c, utcDate(2026, 6, 1, 9, 0), 1))

	c.Expr = "61 * * * *"
	_, err := c.Next(utcDate(2026, 6, 1, 9, 0))
	require.ErrorIs(t, err, policy.ErrBadCron)
	_, err = policy.Compile("t", reflect.TypeFor[struct{}](), []policy.Policy{c})
	require.ErrorIs(t, err, policy.ErrBadCron)
}
