package main

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// scenario registers both tasks with a story second of one real second (a
// 30s cooldown, a 5s settle time) and replays the events under fake time;
// it returns the tasks, what was sent, and t0.
func scenario(t *testing.T, env *testsuite.Env) (tasks, []sent, time.Time) {
	t.Helper()
	t0 := env.Now()
	ts := newTasks(time.Second, t0, func(string, ...any) {})
	env.Register(ts.Cooldown, ts.Debounce)
	all, err := replay(t.Context(), env.Docket(), ts, env.Advance)
	require.NoError(t, err)
	require.Len(t, all, len(events))
	env.Advance(time.Minute) // the last burst settles at 41s
	return ts, all, t0
}

// fate reads an execution's state and error.
func fate(t *testing.T, ex *sdk.Execution) (sdk.State, string) {
	t.Helper()
	info, err := ex.Info(t.Context())
	require.NoError(t, err)
	return info.State, info.Error
}

// Cooldown runs the first event at once and drops everything within 30s of
// that run: the burst at 20s too. The event at 35s runs (the window closed
// at 30s) and opens a new window, which drops the event at 36s. A dropped
// submission ends the instant it is submitted.
func TestCooldownRunsFirstAndDropsTheRest(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		_, all, t0 := scenario(t, env)

		runs := env.Runs("process_webhooks_cooldown")
		require.Len(t, runs, 2)
		assert.Equal(t, "cooldown-evt-1", runs[0].Key)
		assert.Equal(t, t0, runs[0].Start)
		assert.Equal(t, "cooldown-evt-7", runs[1].Key)
		assert.Equal(t, t0.Add(35*time.Second), runs[1].Start)
		assert.JSONEq(t, `{"event":"evt-7"}`, string(runs[1].Input))

		for _, s := range all {
			st, why := fate(t, s.Cooldown)
			if s.Event == "evt-1" || s.Event == "evt-7" {
				assert.Equal(t, sdk.StateCompleted, st, s.Event)
				assert.Empty(t, why, s.Event)
				continue
			}
			assert.Equal(t, sdk.StateCancelled, st, s.Event)
			assert.Equal(t, "cooldown: the task ran less than 30s ago", why, s.Event)
			info, err := s.Cooldown.Info(t.Context())
			require.NoError(t, err)
			assert.Equal(t, t0.Add(time.Duration(s.At)*time.Second), info.Finished, "%s is dropped when submitted", s.Event)
			assert.True(t, info.Started.IsZero(), "%s never started", s.Event)
		}
	})
}

// Debounce runs each burst once, five seconds after its last submission,
// with the input of its first: evt-1 at 9s (the burst ended at 4s), evt-5 at
// 27s, evt-7 at 41s. The other submissions are dropped, naming their burst's
// run.
func TestDebounceRunsEachBurstOnce(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		_, all, t0 := scenario(t, env)

		runs := env.Runs("process_webhooks_debounce")
		require.Len(t, runs, 3)
		for i, want := range []struct {
			key, input string
			at         time.Duration
		}{
			{"debounce-evt-1", `{"event":"evt-1"}`, 9 * time.Second},
			{"debounce-evt-5", `{"event":"evt-5"}`, 27 * time.Second},
			{"debounce-evt-7", `{"event":"evt-7"}`, 41 * time.Second},
		} {
			assert.Equal(t, want.key, runs[i].Key)
			assert.JSONEq(t, want.input, string(runs[i].Input))
			assert.Equal(t, t0.Add(want.at), runs[i].Start, want.key)
		}

		runsAs := map[string]string{
			"evt-2": "debounce-evt-1", "evt-3": "debounce-evt-1", "evt-4": "debounce-evt-1",
			"evt-6": "debounce-evt-5", "evt-8": "debounce-evt-7",
		}
		for _, s := range all {
			st, why := fate(t, s.Debounce)
			winner, dropped := runsAs[s.Event]
			if !dropped {
				assert.Equal(t, sdk.StateCompleted, st, s.Event)
				continue
			}
			assert.Equal(t, sdk.StateCancelled, st, s.Event)
			assert.Equal(t, "debounced: the burst runs as "+winner, why, s.Event)
		}
	})
}

// While a burst goes on, its first submission waits, scheduled: past the
// settle time after that first submission (5s) it still waits, because a
// later one (at 2s) moved the settle time to 7s; it runs then, not a
// microsecond earlier.
func TestDebounceWaitsForTheBurstToSettle(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now()
		ts := newTasks(time.Second, t0, func(string, ...any) {})
		env.Register(ts.Cooldown, ts.Debounce)
		d := env.Docket()
		first, err := ts.Debounce.Add(t.Context(), d, Webhook{"evt-1"}, sdk.Key("debounce-evt-1"))
		require.NoError(t, err)
		env.Advance(2 * time.Second)
		_, err = ts.Debounce.Add(t.Context(), d, Webhook{"evt-2"}, sdk.Key("debounce-evt-2"))
		require.NoError(t, err)

		env.Advance(4 * time.Second) // at 6s
		st, _ := fate(t, first)
		assert.Equal(t, sdk.StateScheduled, st)
		assert.Empty(t, env.Runs("process_webhooks_debounce"))

		env.Advance(time.Second - time.Microsecond)
		assert.Empty(t, env.Runs("process_webhooks_debounce"), "not settled yet")
		env.Advance(time.Microsecond)
		runs := env.Runs("process_webhooks_debounce")
		require.Len(t, runs, 1)
		assert.Equal(t, t0.Add(7*time.Second), runs[0].Start)
		assert.Equal(t, "debounce-evt-1", runs[0].Key)
	})
}

// The report gives each submission's fate, task by task.
func TestReport(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ts, all, t0 := scenario(t, env)
		var out bytes.Buffer
		require.NoError(t, report(t.Context(), &out, ts, t0, all))
		assert.Equal(t, `process_webhooks_cooldown, TaskCooldown(30s):
  evt-1 submitted at +0s:    ran at +0s
  evt-2 submitted at +1s:    dropped: cooldown: the task ran less than 30s ago
  evt-3 submitted at +2s:    dropped: cooldown: the task ran less than 30s ago
  evt-4 submitted at +4s:    dropped: cooldown: the task ran less than 30s ago
  evt-5 submitted at +20s:   dropped: cooldown: the task ran less than 30s ago
  evt-6 submitted at +22s:   dropped: cooldown: the task ran less than 30s ago
  evt-7 submitted at +35s:   ran at +35s
  evt-8 submitted at +36s:   dropped: cooldown: the task ran less than 30s ago
process_webhooks_debounce, TaskDebounce(5s):
  evt-1 submitted at +0s:    ran at +9s
  evt-2 submitted at +1s:    dropped: debounced: the burst runs as debounce-evt-1
  evt-3 submitted at +2s:    dropped: debounced: the burst runs as debounce-evt-1
  evt-4 submitted at +4s:    dropped: debounced: the burst runs as debounce-evt-1
  evt-5 submitted at +20s:   ran at +27s
  evt-6 submitted at +22s:   dropped: debounced: the burst runs as debounce-evt-5
  evt-7 submitted at +35s:   ran at +41s
  evt-8 submitted at +36s:   dropped: debounced: the burst runs as debounce-evt-7
`, out.String())
	})
}

// The program itself, in a synctest bubble: its story, ten times faster
// than told, plays in fake time, so the instants it prints are exact.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out))
		assert.Equal(t, `     +0s  process_webhooks_cooldown handles evt-1 (run cooldown-evt-1)
  +900ms  process_webhooks_debounce handles evt-1 (run debounce-evt-1)
   +2.7s  process_webhooks_debounce handles evt-5 (run debounce-evt-5)
   +3.5s  process_webhooks_cooldown handles evt-7 (run cooldown-evt-7)
   +4.1s  process_webhooks_debounce handles evt-7 (run debounce-evt-7)
process_webhooks_cooldown, TaskCooldown(3s):
  evt-1 submitted at +0s:    ran at +0s
  evt-2 submitted at +100ms: dropped: cooldown: the task ran less than 3s ago
  evt-3 submitted at +200ms: dropped: cooldown: the task ran less than 3s ago
  evt-4 submitted at +400ms: dropped: cooldown: the task ran less than 3s ago
  evt-5 submitted at +2s:    dropped: cooldown: the task ran less than 3s ago
  evt-6 submitted at +2.2s:  dropped: cooldown: the task ran less than 3s ago
  evt-7 submitted at +3.5s:  ran at +3.5s
  evt-8 submitted at +3.6s:  dropped: cooldown: the task ran less than 3s ago
process_webhooks_debounce, TaskDebounce(500ms):
  evt-1 submitted at +0s:    ran at +900ms
  evt-2 submitted at +100ms: dropped: debounced: the burst runs as debounce-evt-1
  evt-3 submitted at +200ms: dropped: debounced: the burst runs as debounce-evt-1
  evt-4 submitted at +400ms: dropped: debounced: the burst runs as debounce-evt-1
  evt-5 submitted at +2s:    ran at +2.7s
  evt-6 submitted at +2.2s:  dropped: debounced: the burst runs as debounce-evt-5
  evt-7 submitted at +3.5s:  ran at +4.1s
  evt-8 submitted at +3.6s:  dropped: debounced: the burst runs as debounce-evt-7
`, out.String())
	})
}
