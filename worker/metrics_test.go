package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// meterReader installs a meter provider that reads into the returned
// reader, for the test's duration.
func meterReader(t *testing.T) *sdkmetric.ManualReader {
	reader := sdkmetric.NewManualReader()
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	t.Cleanup(func() { otel.SetMeterProvider(prev) })
	return reader
}

// counters reads the int64 sums of a reader, by metric name and the value
// of one attribute.
func counters(t *testing.T, reader *sdkmetric.ManualReader, attr string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				v, _ := dp.Attributes.Value(attribute.Key(attr))
				out[m.Name+"/"+v.AsString()] += dp.Value
			}
		}
	}
	return out
}

// Failures that no retry can fix are counted, by reason.
func TestFailuresAreCountedByReason(t *testing.T) {
	reader := meterReader(t)

	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		ship := sdk.NewTask("ship", func(ctx context.Context, in Order) error { return nil })
		env.Register(ship)
		d := env.Docket()
		producer, err := sdk.OpenClient(d.Redis(), sdk.WithName(d.Name()))
		require.NoError(t, err)
		defer producer.Close()
		_, err = producer.AddByName(t.Context(), "nobody", json.RawMessage(`{}`))
		require.NoError(t, err)
		_, err = producer.AddByName(t.Context(), "ship", json.RawMessage(`{"id":"x"}`))
		require.NoError(t, err)
		_, err = ship.Add(t.Context(), d, Order{ID: 1})
		require.NoError(t, err)
		env.Advance(2 * time.Minute) // "nobody" waits a minute for a worker that has it
	}, testsuite.WithWorkerOptions(worker.Options{UnknownTaskWait: time.Minute}))
	got := counters(t, reader, telemetry.AttrReason)
	assert.Equal(t, int64(1), got[telemetry.MetricFailed+"/unknown_task"])
	assert.Equal(t, int64(1), got[telemetry.MetricFailed+"/bad_input"])
	assert.Equal(t, int64(1), got[telemetry.MetricSucceeded+"/"])
	assert.Equal(t, int64(1), got[telemetry.MetricStarted+"/"], "only the good task started")
}

// The depth gauge reports the docket's tasks by state at each collection.
func TestDepthGauge(t *testing.T) {
	reader := meterReader(t)

	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		release := make(chan struct{})
		hold := sdk.NewTask("hold", func(ctx context.Context, in Order) error { <-release; return nil },
			policy.TaskConcurrency(1))
		env.Register(hold)
		for i := range 3 {
			_, err := hold.Add(t.Context(), env.Docket(), Order{ID: i})
			require.NoError(t, err)
		}
		_, err := hold.Add(t.Context(), env.Docket(), Order{ID: 9}, sdk.After(time.Hour))
		require.NoError(t, err)
		env.Advance(time.Second)

		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(t.Context(), &rm))
		depth := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == telemetry.MetricDepth {
					for _, dp := range g.DataPoints {
						v, _ := dp.Attributes.Value(attribute.Key(telemetry.AttrState))
						depth[v.AsString()] = dp.Value
					}
				}
			}
		}
		assert.Equal(t, map[string]int64{"queued": 0, "scheduled": 1, "running": 1, "waiting": 2, "parked": 0, "struck": 0}, depth)
		close(release)
		env.RunUntilIdle()
	})
}

// A workflow's children are added tasks: docket.tasks.added counts them,
// once each, however many runs of the workflow start them.
func TestWorkflowChildrenAreCountedAsAdded(t *testing.T) {
	reader := meterReader(t)

	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		part := sdk.NewResultTask("part", func(ctx context.Context, in Order) (int, error) { return in.ID, nil })
		order := sdk.NewResultTask("order", func(ctx context.Context, in Order) (int, error) {
			fs, err := workflow.StartMany(ctx, part, "parts", []Order{{ID: 1}, {ID: 2}, {ID: 3}})
			if err != nil {
				return 0, err
			}
			sum := 0
			for _, f := range fs {
				v, err := f.Get(ctx) // parks until each has ended: the workflow runs again
				if err != nil {
					return 0, err
				}
				sum += v
			}
			return sum, nil
		})
		env.Register(part)
		env.Register(order)
		got, err := order.Call(t.Context(), env.Docket(), Order{})
		require.NoError(t, err)
		assert.Equal(t, 6, got)
	})
	added := counters(t, reader, telemetry.AttrTask)
	assert.Equal(t, int64(3), added[telemetry.MetricAdded+"/part"])
	assert.Equal(t, int64(1), added[telemetry.MetricAdded+"/order"])
}
