package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/adhocore/gronx"
)

// ScheduleOption adjusts a Perpetual or Cron schedule.
type ScheduleOption func(*scheduleOptions)

type scheduleOptions struct {
	automatic *bool
	loc       *time.Location
}

// Automatic makes a schedule start itself when a worker starts, with no Add,
// keyed by the task's name. Cron schedules are automatic unless Manual.
func Automatic() ScheduleOption {
	return func(o *scheduleOptions) { t := true; o.automatic = &t }
}

// Manual makes a cron schedule wait for an Add instead of starting itself.
func Manual() ScheduleOption {
	return func(o *scheduleOptions) { f := false; o.automatic = &f }
}

// In reads a cron expression in loc instead of UTC.
func In(loc *time.Location) ScheduleOption {
	return func(o *scheduleOptions) { o.loc = loc }
}

func collect(opts []ScheduleOption) scheduleOptions {
	var o scheduleOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// PerpetualPolicy reschedules a task after every run. Build it with
// Perpetual; Compile refuses a struct literal (ErrNotBuilt).
type PerpetualPolicy struct {
	Every     time.Duration // the interval from one run's start to the next
	Automatic bool          // the task starts its own chain (see Automatic)

	err   error // an option Perpetual does not take
	built bool  // set by Perpetual alone: Compile refuses a struct literal
}

// Perpetual schedules the next run of the task every after the start of
// each run, whether the run succeeded, failed or panicked. With Automatic the
// task starts itself.
func Perpetual(every time.Duration, opts ...ScheduleOption) PerpetualPolicy {
	o := collect(opts)
	p := PerpetualPolicy{Every: every, Automatic: o.automatic != nil && *o.automatic, built: true}
	if o.loc != nil {
		p.err = errors.New("policy.In applies to Cron, not Perpetual")
	}
	return p
}

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (p PerpetualPolicy) String() string {
	if !p.built {
		return literal(p)
	}
	if p.Automatic {
		return fmt.Sprintf("Perpetual(%v, Automatic())", p.Every)
	}
	return fmt.Sprintf("Perpetual(%v)", p.Every)
}

func (p PerpetualPolicy) origin() (string, bool) { return "policy.Perpetual(every, ...)", p.built }

func (p PerpetualPolicy) apply(s *Set) error {
	switch {
	case p.err != nil:
		return fmt.Errorf("%w: %w", ErrInvalid, p.err)
	case s.Perpetual != nil:
		return fmt.Errorf("%w (already %s)", ErrDuplicate, s.Perpetual)
	case p.Every < time.Microsecond:
		return fmt.Errorf("%w: the interval must be positive (1µs at least)", ErrInvalid)
	}
	s.Perpetual = &p
	return nil
}

// CronPolicy runs a task at the wall-clock instants a cron expression
// matches. Build it with Cron; Compile refuses a struct literal, and its
// Next reports ErrNotBuilt too.
//
// The fields are the whole policy: nothing is derived from them when the
// policy is built, so a copy whose fields are changed follows, and is
// checked by, its new fields.
type CronPolicy struct {
	Expr      string         // the cron expression (see Cron)
	Location  *time.Location // nil means UTC
	Automatic bool           // the task starts its own chain, unless Manual

	built bool // set by Cron alone: Compile refuses a struct literal
}

var cronKeywords = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Cron runs the task at every instant the expression matches: five fields
// (minute hour day-of-month month day-of-week) or one of @yearly, @annually,
// @monthly, @weekly, @daily, @midnight, @hourly. The expression is read in
// UTC unless In gives another location. A cron task is automatic (it starts
// itself, keyed by the task's name) unless Manual.
//
// Daylight-saving changes follow one rule: the schedule walks wall-clock
// time. A local time that occurs twice (when clocks go back) runs once, at
// its first occurrence; a local time that does not exist (when clocks go
// forward) runs at the first instant after the gap, and matches that fall in
// the same gap run once. A chain that starts, or runs late, inside the hour
// that repeats takes the next matching time of the clock from there: a
// 01:30 it has not run yet runs at its second occurrence.
func Cron(expr string, opts ...ScheduleOption) CronPolicy {
	o := collect(opts)
	return CronPolicy{Expr: expr, Location: o.loc, Automatic: o.automatic == nil || *o.automatic, built: true}
}

func parseCron(expr string) (string, error) {
	spec := strings.TrimSpace(expr)
	if kw, ok := cronKeywords[strings.ToLower(spec)]; ok {
		return kw, nil
	}
	if strings.HasPrefix(spec, "@") {
		return "", fmt.Errorf("%w %q: unknown keyword; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly", ErrBadCron, expr)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return "", fmt.Errorf("%w %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", ErrBadCron, expr, len(fields))
	}
	spec = strings.Join(fields, " ")
	if !gronx.IsValid(spec) {
		return "", fmt.Errorf("%w %q%s", ErrBadCron, expr, badCronField(fields))
	}
	return spec, nil
}

// cronFields names the five fields of a cron expression, with their ranges.
var cronFields = [5]string{"minute (0-59)", "hour (0-23)", "day of month (1-31)", "month (1-12 or JAN-DEC)", "day of week (0-6 or SUN-SAT)"}

// badCronField says which field of an invalid expression is wrong: the
// first that is invalid with every other field a wildcard.
func badCronField(fields []string) string {
	for i, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if !gronx.IsValid(strings.Join(probe, " ")) {
			return fmt.Sprintf(": field %d, the %s, is %q", i+1, cronFields[i], f)
		}
	}
	return ""
}

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (c CronPolicy) String() string {
	if !c.built {
		return literal(c)
	}
	var opts string
	if c.Location != nil && c.Location != time.UTC {
		opts += fmt.Sprintf(", In(%s)", c.Location)
	}
	if !c.Automatic {
		opts += ", Manual()"
	}
	return fmt.Sprintf("Cron(%q%s)", c.Expr, opts)
}

func (c CronPolicy) origin() (string, bool) { return "policy.Cron(expr, ...)", c.built }

func (c CronPolicy) apply(s *Set) error {
	// An expression that never matches (February 30th) is as bad as one
	// that does not parse: Next from any instant finds that out.
	if _, err := c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		return err
	}
	if s.Cron != nil {
		return fmt.Errorf("%w (already %s)", ErrDuplicate, s.Cron)
	}
	s.Cron = &c
	return nil
}

func (c CronPolicy) location() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// Next is the first instant strictly after after at which the expression
// matches, under the daylight-saving rule described at Cron.
func (c CronPolicy) Next(after time.Time) (time.Time, error) {
	if builder, built := c.origin(); !built {
		// Refused here as at Compile, so that whoever calls Next on a
		// literal learns why, rather than being told a good expression
		// never matches.
		return time.Time{}, fmt.Errorf("docket: %v: %w", c, notBuilt(builder))
	}
	// Parsed on every call, so that the expression in Expr is the one
	// followed, even if it was changed after the policy was built.
	spec, err := parseCron(c.Expr)
	if err != nil {
		return time.Time{}, err
	}
	loc := c.location()
	wall := asUTC(after.In(loc))
	// Each step moves wall time forward, to a match; a few steps suffice
	// unless a clock change hides matches, so the bound is generous.
	for range 1000 {
		next, err := gronx.NextTickAfter(spec, wall, false)
		if err != nil || !next.After(wall) {
			return time.Time{}, fmt.Errorf("%w %q: no match after %v", ErrBadCron, c.Expr, after)
		}
		for _, t := range instants(next, loc) {
			if t.After(after) {
				return t, nil
			}
		}
		wall = next
	}
	return time.Time{}, fmt.Errorf("%w %q: no match after %v", ErrBadCron, c.Expr, after)
}

// asUTC is the wall-clock reading of t, as a UTC time: a clock without
// daylight-saving changes, where the cron expression is matched.
func asUTC(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instants lists, in order, the instants at which loc's clocks read wall:
// one usually, two when clocks go back over it, and when clocks jump over it
// the first instant after the jump.
func instants(wall time.Time, loc *time.Location) []time.Time {
	t := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
	start, end := t.ZoneBounds()
	_, offset := t.Zone()
	candidates := []time.Time{t}
	if !end.IsZero() {
		_, next := end.Zone()
		candidates = append(candidates, t.Add(time.Duration(offset-next)*time.Second))
	}
	if !start.IsZero() {
		_, prev := start.Add(-time.Nanosecond).Zone()
		candidates = append(candidates, t.Add(time.Duration(offset-prev)*time.Second))
	}
	var out []time.Time
	for _, c := range candidates {
		if asUTC(c.In(loc)).Equal(wall) && !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
	}
	if len(out) == 0 { // wall falls in a gap: run when the gap ends
		if asUTC(t).After(wall) {
			return []time.Time{start}
		}
		return []time.Time{end}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}
