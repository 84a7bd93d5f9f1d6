package worker_test

import (
	"context"
	"testing"
	"time"
	_ "time/tzdata" // the tests need these zones whatever the machine has

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

func location(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func starts(runs []testsuite.Attempt) []time.Time {
	out := make([]time.Time, len(runs))
	for i, r := range runs {
		out[i] = r.Start.UTC()
	}
	return out
}

// A year of weekday mornings in Los Angeles, across both daylight-saving
// changes, each run at the expected UTC instant.
func TestCronWeekdaysInLosAngelesForAYear(t *testing.T) {
	la := location(t, "America/Los_Angeles")
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		standup := sdk.NewTask("morning_standup", func(ctx context.Context, in struct{}) error { return nil },
			policy.Cron("0 9 * * 1-5", policy.In(la)))
		t0 := env.Now()
		env.Register(standup)
		env.Advance(365 * 24 * time.Hour)

		var want []time.Time
		for day := t0.In(la); day.Before(t0.Add(365 * 24 * time.Hour)); day = day.AddDate(0, 0, 1) {
			if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
				continue
			}
			at := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, la)
			if at.After(t0) && !at.After(t0.Add(365*24*time.Hour)) {
				want = append(want, at.UTC())
			}
		}
		got := starts(env.Runs("morning_standup"))
		assert.Equal(t, want, got)
		// Both offsets occur: 17:00 UTC in winter (PST), 16:00 UTC in summer (PDT).
		hours := map[int]int{}
		for _, s := range got {
			hours[s.Hour()]++
		}
		assert.Len(t, hours, 2)
		assert.Positive(t, hours[16])
		assert.Positive(t, hours[17])
	})
}

func TestCronTokyoEvening(t *testing.T) {
	tokyo := location(t, "Asia/Tokyo")
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		report := sdk.NewTask("tokyo_report", func(ctx context.Context, in struct{}) error { return nil },
			policy.Cron("30 17 * * *", policy.In(tokyo)))
		env.Register(report)
		env.Advance(10 * 24 * time.Hour)
		got := starts(env.Runs("tokyo_report"))
		require.Len(t, got, 10)
		for _, s := range got {
			assert.Equal(t, 8, s.Hour())
			assert.Equal(t, 30, s.Minute())
		}
		assert.Equal(t, 24*time.Hour, got[1].Sub(got[0]))
	})
}

func TestCronKeywords(t *testing.T) {
	noop := func(ctx context.Context, in struct{}) error { return nil }
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now() // 2000-01-01, a Saturday, at midnight UTC
		env.Register(
			sdk.NewTask("hourly", noop, policy.Cron("@hourly")),
			sdk.NewTask("daily", noop, policy.Cron("@daily")),
			sdk.NewTask("midnight", noop, policy.Cron("@midnight")),
		)
		env.Advance(72 * time.Hour)
		assert.Len(t, env.Runs("hourly"), 72)
		assert.Equal(t, t0.Add(time.Hour), env.Runs("hourly")[0].Start)
		for _, name := range []string{"daily", "midnight"} {
			assert.Equal(t, []time.Time{t0.Add(24 * time.Hour).UTC(), t0.Add(48 * time.Hour).UTC(), t0.Add(72 * time.Hour).UTC()},
				starts(env.Runs(name)), name)
		}
	})
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		env.Register(
			sdk.NewTask("weekly", noop, policy.Cron("@weekly")),
			sdk.NewTask("monthly", noop, policy.Cron("@monthly")),
			sdk.NewTask("yearly", noop, policy.Cron("@yearly")),
			sdk.NewTask("annually", noop, policy.Cron("@annually")),
		)
		env.Advance(2 * 366 * 24 * time.Hour)
		date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
		weekly := starts(env.Runs("weekly"))
		require.Len(t, weekly, 105, "the Sundays of 732 days from a Saturday")
		assert.Equal(t, date(2000, 1, 2), weekly[0], "the first Sunday")
		assert.Equal(t, date(2000, 1, 9), weekly[1])
		monthly := starts(env.Runs("monthly"))
		require.Len(t, monthly, 24)
		assert.Equal(t, date(2000, 2, 1), monthly[0])
		assert.Equal(t, date(2001, 12, 1), monthly[22])
		for _, name := range []string{"yearly", "annually"} {
			assert.Equal(t, []time.Time{date(2001, 1, 1), date(2002, 1, 1)}, starts(env.Runs(name)), name)
		}
	})
}

// A manual cron task waits for an Add, and may take input.
func TestManualCron(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		digest := sdk.NewTask("digest", func(ctx context.Context, in Greeting) error { return nil },
			policy.Cron("0 * * * *", policy.Manual()))
		env.Register(digest)
		env.Advance(3 * time.Hour)
		assert.Empty(t, env.Runs("digest"), "not started by the worker")

		t0 := env.Now()
		_, err := digest.Add(t.Context(), env.Docket(), Greeting{Name: "team"}, sdk.Key("digest-team"))
		require.NoError(t, err)
		env.Advance(2*time.Hour + 30*time.Minute)
		got := starts(env.Runs("digest"))
		assert.Equal(t, []time.Time{t0.UTC(), t0.Add(time.Hour).UTC(), t0.Add(2 * time.Hour).UTC()}, got,
			"added now, then at each top of the hour")
		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Scheduled, 1)
		assert.Equal(t, "digest-team", snap.Scheduled[0].Key)
		assert.Equal(t, t0.Add(3*time.Hour), snap.Scheduled[0].Due)
	})
}

// A cron run that starts late (the worker was busy) does not shift the
// schedule, and instants missed meanwhile are skipped, not caught up.
func TestCronLateRunKeepsTheSchedule(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var first = true
		slow := sdk.NewTask("slow_cron", func(ctx context.Context, in struct{}) error {
			if first {
				first = false
				time.Sleep(150 * time.Minute) // overruns two instants
			}
			return nil
		}, policy.Cron("0 * * * *"))
		t0 := env.Now()
		env.Register(slow)
		env.Advance(6 * time.Hour)
		got := starts(env.Runs("slow_cron"))
		assert.Equal(t, []time.Time{
			t0.Add(time.Hour).UTC(), // runs until 3:30
			t0.Add(4 * time.Hour).UTC(),
			t0.Add(5 * time.Hour).UTC(),
			t0.Add(6 * time.Hour).UTC(),
		}, got)
	})
}
