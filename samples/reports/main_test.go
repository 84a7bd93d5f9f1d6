package main

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/testsuite"
)

func register(t *testing.T, env *testsuite.Env, out *sample.Output) {
	t.Helper()
	tasks, err := reportTasks(out)
	require.NoError(t, err)
	env.Register(tasks...)
}

// starts lists a task's run instants in UTC, checking each run is keyed
// by the task's name.
func starts(t *testing.T, env *testsuite.Env, name string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, r := range env.Runs(name) {
		assert.Equal(t, name, r.Key, "an automatic task is keyed by its name")
		out = append(out, r.Start.UTC())
	}
	return out
}

func utc(month time.Month, day, hour, min int) time.Time {
	return time.Date(2000, month, day, hour, min, 0, 0, time.UTC)
}

// The first week, from Saturday 2000-01-01 00:00 UTC: nothing is added,
// every task runs at its own instants.
func TestFirstWeek(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		register(t, env, &out)
		env.Advance(7 * 24 * time.Hour)

		tokyo := func(day string) string {
			return day + " 08:30 UTC  tokyo_report    daily report for Tokyo (" + day + " 17:30 JST)"
		}
		cleanup := func(day string) string {
			return day + " 00:00 UTC  daily_cleanup   old records cleaned up (" + day + " 00:00 UTC)"
		}
		standup := func(day string) string {
			return day + " 17:00 UTC  morning_standup standup reminder sent (" + day + " 09:00 PST)"
		}
		assert.Equal(t, []string{
			tokyo("Sat 2000-01-01"),
			cleanup("Sun 2000-01-02"),
			tokyo("Sun 2000-01-02"),
			cleanup("Mon 2000-01-03"),
			tokyo("Mon 2000-01-03"),
			"Mon 2000-01-03 09:00 UTC  weekly_report   weekly report generated and sent (Mon 2000-01-03 09:00 UTC)",
			standup("Mon 2000-01-03"),
			cleanup("Tue 2000-01-04"),
			tokyo("Tue 2000-01-04"),
			standup("Tue 2000-01-04"),
			cleanup("Wed 2000-01-05"),
			tokyo("Wed 2000-01-05"),
			standup("Wed 2000-01-05"),
			cleanup("Thu 2000-01-06"),
			tokyo("Thu 2000-01-06"),
			standup("Thu 2000-01-06"),
			cleanup("Fri 2000-01-07"),
			tokyo("Fri 2000-01-07"),
			standup("Fri 2000-01-07"),
			cleanup("Sat 2000-01-08"),
		}, out.Lines())
	})
}

// Four months, across the start of daylight saving time in Los Angeles
// (Sunday 2000-04-02): each task runs at exactly its instants.
func TestFourMonths(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	require.NoError(t, err)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		t0 := env.Now()
		register(t, env, &out)
		end := t0.Add(121 * 24 * time.Hour) // Monday 2000-05-01 00:00 UTC
		env.Advance(end.Sub(t0))

		// Mondays at 09:00 UTC, and only Mondays.
		weekly := starts(t, env, "weekly_report")
		require.Len(t, weekly, 17)
		for i, s := range weekly {
			assert.Equal(t, utc(time.January, 3, 9, 0).AddDate(0, 0, 7*i), s)
			assert.Equal(t, time.Monday, s.Weekday())
		}

		// Weekdays at 09:00 in Los Angeles: 17:00 UTC until Friday
		// 2000-03-31, 16:00 UTC from Monday 2000-04-03.
		var want []time.Time
		for day := time.Date(2000, 1, 1, 9, 0, 0, 0, la); day.Before(end); day = day.AddDate(0, 0, 1) {
			if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
				want = append(want, day.UTC())
			}
		}
		standup := starts(t, env, "morning_standup")
		assert.Equal(t, want, standup)
		assert.Len(t, standup, 85, "17 weeks of weekdays")
		assert.Contains(t, standup, utc(time.March, 31, 17, 0))
		assert.Contains(t, standup, utc(time.April, 3, 16, 0))
		for _, s := range standup {
			if s.Before(utc(time.April, 2, 10, 0)) {
				assert.Equal(t, 17, s.Hour(), "PST: %v", s)
			} else {
				assert.Equal(t, 16, s.Hour(), "PDT: %v", s)
			}
		}

		// 17:30 in Tokyo (no daylight saving there) is 08:30 UTC, every day.
		tokyo := starts(t, env, "tokyo_report")
		require.Len(t, tokyo, 121)
		for i, s := range tokyo {
			assert.Equal(t, utc(time.January, 1, 8, 30).AddDate(0, 0, i), s)
		}

		// @daily is midnight UTC.
		daily := starts(t, env, "daily_cleanup")
		require.Len(t, daily, 121)
		for i, s := range daily {
			assert.Equal(t, utc(time.January, 2, 0, 0).AddDate(0, 0, i), s)
		}
	})
}

// The program itself, on the embedded backend, started on Monday
// 2000-01-03 at 08:29 UTC (fake time) and run for 32 minutes: the Tokyo
// report at 08:30 and the weekly report at 09:00, then when each task is
// next due.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(utc(time.January, 3, 8, 29)))
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, 32*time.Minute))
		assert.Equal(t, []string{
			"Mon 2000-01-03 08:30 UTC  tokyo_report    daily report for Tokyo (Mon 2000-01-03 17:30 JST)",
			"Mon 2000-01-03 09:00 UTC  weekly_report   weekly report generated and sent (Mon 2000-01-03 09:00 UTC)",
			"next weekly_report   Mon 2000-01-10 09:00 UTC",
			"next morning_standup Mon 2000-01-03 17:00 UTC",
			"next tokyo_report    Tue 2000-01-04 08:30 UTC",
			"next daily_cleanup   Tue 2000-01-04 00:00 UTC",
		}, out.Lines())
	})
}
