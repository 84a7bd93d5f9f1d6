package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
	"github.com/docket-go/docket/testsuite"
)

var errDeclined = errors.New("card declined")

// A Permanent error is not retried: the execution fails on that attempt,
// with the error's own message, and errors.Is sees both.
func TestPermanentFailureIsNotRetried(t *testing.T) {
	exporter := withSpans(t)
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		charge := sdk.NewTask("charge", func(ctx context.Context, in Order) error {
			return sdk.Permanent(fmt.Errorf("order %d: %w", in.ID, errDeclined))
		}, policy.Retry(5, time.Second))
		env.Register(charge)
		ex, err := charge.Add(t.Context(), env.Docket(), Order{ID: 7})
		require.NoError(t, err)
		env.Advance(time.Minute)

		runs := env.Runs("charge")
		require.Len(t, runs, 1, "not retried")
		assert.ErrorIs(t, runs[0].Err, sdk.ErrPermanent)
		assert.ErrorIs(t, runs[0].Err, errDeclined)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, "order 7: card declined", info.Error)
		spans := spansNamed(exporter.GetSpans(), "charge", trace.SpanKindConsumer)
		require.Len(t, spans, 1)
		assert.Contains(t, events(spans[0]), telemetry.EventPermanent)
	})
}

// In a perpetual task a permanent failure is not retried either, and the
// chain goes on, as after any failure.
func TestPermanentFailureInAPerpetualTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		poll := sdk.NewTask("poll", func(ctx context.Context, in struct{}) error {
			return sdk.Permanent(nil)
		}, policy.Perpetual(time.Hour), policy.Retry(3, time.Minute))
		env.Register(poll)
		t0 := env.Now()
		_, err := poll.Add(t.Context(), env.Docket(), struct{}{}, sdk.Key("poll"))
		require.NoError(t, err)
		env.Advance(150 * time.Minute)
		var starts []time.Duration
		for _, r := range env.Runs("poll") {
			starts = append(starts, r.Start.Sub(t0))
			assert.Equal(t, 1, r.Attempt)
		}
		assert.Equal(t, []time.Duration{0, time.Hour, 2 * time.Hour}, starts, "no retry a minute later")
	})
}

// Snooze ends the attempt without failing it and runs it again later: the
// same attempt number, not counted by the retry policy, its deliveries
// starting again; a real failure afterwards is retried as usual.
func TestSnoozeRunsTheSameAttemptLater(t *testing.T) {
	reader := meterReader(t)
	exporter := withSpans(t)

	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		runs := 0
		sync := sdk.NewTask("sync", func(ctx context.Context, in Order) error {
			runs++
			switch runs {
			case 1, 2:
				return sdk.Snooze(30 * time.Second) // upstream not ready
			case 3:
				return errors.New("flaky")
			}
			return nil
		}, policy.Retry(2, time.Second))
		env.Register(sync)
		t0 := env.Now()
		ex, err := sync.Add(t.Context(), env.Docket(), Order{ID: 1})
		require.NoError(t, err)
		env.Advance(time.Second)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateScheduled, info.State)
		assert.Equal(t, 1, info.Attempt)
		assert.Equal(t, 0, info.Deliveries, "a snooze is no lost delivery")
		assert.Equal(t, t0.Add(30*time.Second), info.Due)
		assert.Empty(t, info.Error, "a snooze is no failure")

		env.Advance(time.Minute)
		var got []string
		for _, r := range env.Runs("sync") {
			got = append(got, fmt.Sprintf("%v attempt %d", r.Start.Sub(t0), r.Attempt))
		}
		assert.Equal(t, []string{"0s attempt 1", "30s attempt 1", "1m0s attempt 1", "1m1s attempt 2"}, got,
			"the snoozes are not attempts: the retry policy's 2 attempts remain")
		info, err = ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		assert.Equal(t, 2, info.Attempt)

		spans := spansNamed(exporter.GetSpans(), "sync", trace.SpanKindConsumer)
		require.Len(t, spans, 4)
		assert.Contains(t, events(spans[0]), telemetry.EventSnoozed)
		assert.Equal(t, "snooze", attr(spans[0], telemetry.AttrOutcome).AsString())
		assert.NotEqual(t, "Error", spans[0].Status.Code.String(), "a snooze is no error")
	})
	got := counters(t, reader, telemetry.AttrTask)
	assert.Equal(t, int64(2), got[telemetry.MetricSnoozed+"/sync"])
	assert.Equal(t, int64(1), got[telemetry.MetricRetried+"/sync"])
}

// A snoozed task frees its concurrency slot while it waits.
func TestSnoozeFreesTheSlot(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		snoozed := false
		export := sdk.NewTask("export", func(ctx context.Context, in Order) error {
			if in.ID == 1 && !snoozed {
				snoozed = true
				return sdk.Snooze(time.Hour)
			}
			time.Sleep(time.Minute)
			return nil
		}, policy.TaskConcurrency(1))
		env.Register(export)
		t0 := env.Now()
		_, err := export.Add(t.Context(), env.Docket(), Order{ID: 1})
		require.NoError(t, err)
		_, err = export.Add(t.Context(), env.Docket(), Order{ID: 2}, sdk.After(time.Second))
		require.NoError(t, err)
		env.Advance(2 * time.Hour)
		var got []string
		for _, r := range env.Runs("export") {
			var in Order
			require.NoError(t, json.Unmarshal(r.Input, &in))
			got = append(got, fmt.Sprintf("%d at %v", in.ID, r.Start.Sub(t0)))
		}
		assert.Equal(t, []string{"1 at 0s", "2 at 1s", "1 at 1h0m0s"}, got)
	})
}

// In a cron task a snooze delays this run; the next run keeps to the
// expression.
func TestSnoozeInACronTask(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		first := true
		hourly := sdk.NewTask("hourly", func(ctx context.Context, in struct{}) error {
			if first {
				first = false
				return sdk.Snooze(10 * time.Minute)
			}
			return nil
		}, policy.Cron("@hourly"))
		env.Register(hourly)
		t0 := env.Now()
		env.Advance(150 * time.Minute)
		var starts []time.Duration
		for _, r := range env.Runs("hourly") {
			starts = append(starts, r.Start.Sub(t0))
		}
		assert.Equal(t, []time.Duration{time.Hour, 70 * time.Minute, 2 * time.Hour}, starts)
	})
}
