package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

// testUnit is one unit of backup work in these tests: fake time makes a
// minute cost nothing.
const testUnit = time.Minute

// scenario registers the task in env, adds the sample's ten backups at
// env.Now() and returns the monitor, the executions by key, and t0.
func scenario(t *testing.T, env *testsuite.Env) (*monitor, map[string]*sdk.Execution, time.Time) {
	t.Helper()
	m := newMonitor(io.Discard)
	backup := newBackupTask(m, testUnit)
	env.Register(backup)
	t0 := env.Now()
	added, err := addBackups(t.Context(), env.Docket(), backup)
	require.NoError(t, err)
	require.Len(t, added, 10)
	return m, added, t0
}

// The worker has twenty slots, more than the ten backups.
var withSlots = testsuite.WithWorkerOptions(worker.Options{Concurrency: 20})

// Two backups per database at once, each waiting backup starting the
// instant a backup of its own database ends, in the order they were added:
// production takes five units (its tables are bigger), staging three.
func TestTwoBackupsPerDatabase(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		m, _, t0 := scenario(t, env)
		env.RunUntilIdle()
		assert.Equal(t, t0.Add(5*testUnit), env.Now(), "production's five tables, two at a time")

		runs := env.Runs("backup_database_table")
		require.Len(t, runs, 10)
		start := map[string]time.Duration{}
		end := map[string]time.Duration{}
		for _, r := range runs {
			require.NoError(t, r.Err)
			start[r.Key] = r.Start.Sub(t0)
			end[r.Key] = r.End.Sub(t0)
		}
		u := testUnit
		assert.Equal(t, map[string]time.Duration{
			"production-1-users": 0, "production-2-orders": 0, // users: 2 units, orders: 1
			"production-3-products":  u,     // when orders ends; 3 units
			"production-4-analytics": 2 * u, // when users ends; 2 units
			"production-5-logs":      4 * u, // when products and analytics end
			"staging-1-users":        0, "staging-2-orders": 0,
			"staging-3-products": u, "staging-4-analytics": u,
			"staging-5-logs": 2 * u,
		}, start)
		assert.Equal(t, 5*u, end["production-5-logs"])
		assert.Equal(t, 3*u, end["staging-5-logs"])

		// From the attempts alone: never more than two backups of a
		// database overlap, and a backup that waited started when one of
		// its own database ended.
		for _, r := range runs {
			db := strings.SplitN(r.Key, "-", 2)[0]
			overlapping, freed := 0, false
			for _, o := range runs {
				if strings.HasPrefix(o.Key, db+"-") && !o.Start.After(r.Start) && o.End.After(r.Start) {
					overlapping++
				}
				if strings.HasPrefix(o.Key, db+"-") && o.End.Equal(r.Start) {
					freed = true
				}
			}
			assert.LessOrEqual(t, overlapping, perDatabase, "running when %s started", r.Key)
			assert.True(t, r.Start.Equal(t0) || freed, "%s started when a backup of %s ended", r.Key, db)
		}
		assert.Equal(t, map[string]int{"production": perDatabase, "staging": perDatabase}, m.peaks())
	}, withSlots)
}

// Midway, at one and a half units, the snapshot shows each database's limit
// with the two backups holding its slots and the others waiting, first in
// line first; a waiting backup is queued and names the limit it waits for.
func TestSnapshotMidway(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		_, added, _ := scenario(t, env)
		env.Advance(testUnit + testUnit/2)

		snap, err := env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		var out bytes.Buffer
		printLimits(&out, snap)
		assert.Equal(t, `snapshot: 4 running, 3 waiting
  limit t:backup_database_table:db_name:production
    in use:  production-1-users, production-3-products
    waiting: production-4-analytics, production-5-logs
  limit t:backup_database_table:db_name:staging
    in use:  staging-3-products, staging-4-analytics
    waiting: staging-5-logs
`, out.String())

		queued := map[string]string{}
		for _, q := range snap.Queued {
			queued[q.Key] = q.WaitingFor
		}
		assert.Equal(t, map[string]string{
			"production-4-analytics": "t:backup_database_table:db_name:production",
			"production-5-logs":      "t:backup_database_table:db_name:production",
			"staging-5-logs":         "t:backup_database_table:db_name:staging",
		}, queued)

		info, err := added["production-5-logs"].Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateQueued, info.State)
		assert.Equal(t, "t:backup_database_table:db_name:production", info.WaitingFor)
		info, err = added["production-3-products"].Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateRunning, info.State)
		assert.Empty(t, info.WaitingFor)
		info, err = added["staging-1-users"].Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)

		env.Advance(4 * testUnit)
		snap, err = env.Docket().Snapshot(t.Context())
		require.NoError(t, err)
		assert.Empty(t, snap.Limits, "no limit in use once every backup ran")
		assert.Zero(t, snap.TotalRunning+snap.TotalWaiting)
	}, withSlots)
}

// The program itself, in a synctest bubble: its 400ms units pass in fake
// time, so the instants it prints, and its snapshot, are exact.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out))
		s := out.String()
		for _, line := range []string{
			`\+0s\s+start production\.users\s`,
			`\+400ms\s+start production\.products\s`,
			`\+800ms\s+start production\.analytics\s+production now running: products, analytics\n`,
			`\+1\.6s\s+start production\.logs\s`,
			`\+2s\s+end\s+production\.logs\s+production now running: \(none\)\n`,
			`\+800ms\s+start staging\.logs\s`,
		} {
			assert.Regexp(t, line, s)
		}
		for _, want := range []string{
			"snapshot: 4 running, 3 waiting\n",
			"    in use:  production-1-users, production-3-products\n    waiting: production-4-analytics, production-5-logs\n",
			"    in use:  staging-3-products, staging-4-analytics\n    waiting: staging-5-logs\n",
			"production: at most 2 backups at once (limit 2)\n",
			"staging: at most 2 backups at once (limit 2)\n",
			"10 of 10 backups completed\n",
		} {
			assert.Contains(t, s, want)
		}
		assert.Less(t, strings.Index(s, "start production.products"), strings.Index(s, "snapshot:"))
		assert.Less(t, strings.Index(s, "snapshot:"), strings.Index(s, "end   production.users"))
	})
}
