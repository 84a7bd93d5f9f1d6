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

// Registered, never added: the worker starts the task at once, keyed by
// its name, and it runs on the hour, every hour.
func TestCleanupStartsItselfAndRunsHourly(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		t0 := env.Now() // 2000-01-01 00:00:00 UTC
		env.Register(backgroundCleanup(&out, newStore(t0)))
		env.Advance(3 * time.Hour)

		assert.Equal(t, []string{
			"00:00:00 cleaned up 36 old records, 144 left",
			"01:00:00 cleaned up 6 old records, 138 left",
			"02:00:00 cleaned up 6 old records, 132 left",
			"03:00:00 cleaned up 6 old records, 126 left",
		}, out.Lines())
		runs := env.Runs("background_cleanup")
		require.Len(t, runs, 4)
		for i, r := range runs {
			assert.Equal(t, t0.Add(time.Duration(i)*time.Hour), r.Start, "run %d", i)
			assert.Equal(t, "background_cleanup", r.Key, "an automatic task is keyed by its name")
			assert.JSONEq(t, `{}`, string(r.Input))
			assert.NoError(t, r.Err)
		}

		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		require.Len(t, snap.Scheduled, 1, "one chain")
		assert.Equal(t, "background_cleanup", snap.Scheduled[0].Key)
		assert.Equal(t, t0.Add(4*time.Hour), snap.Scheduled[0].Due)
	})
}

// Over a day and more, every record goes once it is a day old, and the
// task keeps running when there is nothing left to delete.
func TestCleanupEmptiesTheStore(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		var out sample.Output
		t0 := env.Now()
		env.Register(backgroundCleanup(&out, newStore(t0)))
		env.Advance(26 * time.Hour)

		lines := out.Lines()
		require.Len(t, lines, 27, "at 00:00 and every hour up to 26:00")
		assert.Equal(t, "23:00:00 cleaned up 6 old records, 6 left", lines[23])
		assert.Equal(t, "00:00:00 cleaned up 6 old records, 0 left", lines[24])
		assert.Equal(t, "01:00:00 cleaned up 0 old records, 0 left", lines[25])
		assert.Equal(t, "02:00:00 cleaned up 0 old records, 0 left", lines[26])
		runs := env.Runs("background_cleanup")
		require.Len(t, runs, 27)
		assert.Equal(t, t0.Add(26*time.Hour), runs[26].Start)
	})
}

// The program itself, on the embedded backend, for 70 minutes of fake
// time: cleanups at 00:00 and 01:00, with no Add anywhere.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out, 70*time.Minute))
		assert.Equal(t, []string{
			"00:00:00 cleaned up 36 old records, 144 left",
			"01:00:00 cleaned up 6 old records, 138 left",
			"stopped; background_cleanup is scheduled, next cleanup at 02:00:00 UTC",
		}, out.Lines())
	})
}

// The store deletes strictly older records.
func TestStoreCutOff(t *testing.T) {
	now := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newStore(now)
	deleted, left := s.deleteOlderThan(now.Add(-5 * time.Minute))
	assert.Equal(t, 179, deleted)
	assert.Equal(t, 1, left, "the newest, exactly 5 minutes old, stays")
	deleted, left = s.deleteOlderThan(now.Add(-5 * time.Minute))
	assert.Equal(t, []int{0, 1}, []int{deleted, left})
}
