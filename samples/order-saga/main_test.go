package main

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
)

// saga registers place_order on services of its own and places order o,
// keyed order-<id>, running until it has finished.
func saga(t *testing.T, env *testsuite.Env, o Order, setup func(*services)) (*services, *sdk.Execution) {
	t.Helper()
	svc := newServices(func(string, ...any) {})
	if setup != nil {
		setup(svc)
	}
	task := placeOrder(svc, func(string, ...any) {})
	env.Register(task)
	ex, err := task.Add(t.Context(), env.Docket(), o, sdk.Key(fmt.Sprint("order-", o.ID)))
	require.NoError(t, err)
	env.RunUntilFinished()
	return svc, ex
}

// steps lists the runs of a workflow's steps as "name: error", at their
// instants after t0.
func steps(env *testsuite.Env, key string, t0 time.Time) []string {
	var out []string
	for _, s := range env.Steps(key) {
		line := fmt.Sprintf("%v %s", s.Start.Sub(t0), s.Name)
		if s.Err != nil {
			line += ": " + s.Err.Error()
		}
		out = append(out, line)
	}
	return out
}

// A carrier that times out once: the workflow is retried a second later,
// and its second run ships without charging or reserving again.
func TestCompletedStepsRunOnce(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now()
		svc, ex := saga(t, env, orders[0], nil)

		got, err := sdk.Result[Shipment](t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, Shipment{Charge: "ch_1001", Reservation: "rs_widget_1", Tracking: "trk_1001"}, got)
		assert.Equal(t, []string{
			"0s charge",
			"0s reserve",
			"0s ship: carrier: timed out",
			"1s ship",
		}, steps(env, "order-1001", t0), "charge and reserve ran once")
		runs := env.Runs("place_order")
		require.Len(t, runs, 2)
		assert.Equal(t, 2, runs[1].Attempt)
		assert.Equal(t, t0.Add(retryDelay), runs[1].Start)
		assert.Equal(t, 2500, svc.Charged())
		assert.Equal(t, 8, svc.Stock("widget"))
	})
}

// A permanent failure after the charge (the carrier does not deliver
// there) is not retried: the saga releases the stock and refunds the
// charge, newest first, in the same run, and the order fails with a
// message that says what was undone.
func TestPermanentFailureCompensates(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now()
		svc, ex := saga(t, env, orders[2], nil)

		assert.Equal(t, []string{
			"0s charge",
			"0s reserve",
			"0s ship: the carrier does not deliver there: Atlantis",
			"0s release",
			"0s refund",
		}, steps(env, "order-1003", t0))
		_, err := sdk.Result[Shipment](t.Context(), ex)
		require.ErrorIs(t, err, sdk.ErrPermanent)
		assert.EqualError(t, err, "the carrier does not deliver there: Atlantis; undone: release, refund")
		assert.Len(t, env.Runs("place_order"), 1, "not retried")
		assert.Zero(t, svc.Charged(), "refunded")
		assert.Equal(t, 10, svc.Stock("widget"), "released")
	})
}

// Out of stock, the saga has only the charge to undo.
func TestOutOfStockRefunds(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now()
		svc, ex := saga(t, env, orders[1], nil)

		assert.Equal(t, []string{
			"0s charge",
			"0s reserve: out of stock: 3 gadget wanted, 1 left",
			"0s refund",
		}, steps(env, "order-1002", t0))
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Equal(t, sdk.ReasonPermanent, info.Reason)
		assert.Zero(t, svc.Charged())
		assert.Equal(t, 1, svc.Stock("gadget"))
	})
}

// A failure that is not permanent ends the order too once the retries run
// out: the saga compensates on its last attempt.
func TestRetriesExhaustedCompensate(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now()
		svc, ex := saga(t, env, orders[0], func(s *services) { s.carrierDown = true })

		assert.Equal(t, []string{
			"0s charge",
			"0s reserve",
			"0s ship: carrier: timed out",
			"1s ship: carrier: timed out",
			"2s ship: carrier: timed out",
			"2s release",
			"2s refund",
		}, steps(env, "order-1001", t0))
		_, err := sdk.Result[Shipment](t.Context(), ex)
		assert.EqualError(t, err, "carrier: timed out; undone: release, refund")
		assert.Len(t, env.Runs("place_order"), attempts)
		assert.Zero(t, svc.Charged())
		assert.Equal(t, 10, svc.Stock("widget"))
	})
}

// The payment provider charges but its reply is lost: the charge step
// failed, so the next run runs it again, with the same idempotency key,
// and the provider answers with the first charge instead of charging
// twice.
func TestIdempotencyKeyChargesOnce(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		t0 := env.Now()
		svc, ex := saga(t, env, orders[0], func(s *services) { s.lostReplies = 1 })

		assert.Equal(t, []string{
			"0s charge: payments: connection reset",
			"1s charge",
			"1s reserve",
			"1s ship: carrier: timed out",
			"2s ship",
		}, steps(env, "order-1001", t0))
		got, err := sdk.Result[Shipment](t.Context(), ex)
		require.NoError(t, err)
		assert.Equal(t, "ch_1001", got.Charge)
		assert.Equal(t, 2500, svc.Charged(), "charged once")
	})
}

// The program itself, on the embedded backend, in fake time.
func TestRun(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out sample.Output
		require.NoError(t, run(context.Background(), &out))
		assert.Equal(t, []string{
			"order 1001: 2 × widget, $25.00, to 1 Main St, Springfield",
			"  payments: charged $25.00 as ch_1001 (idempotency key order-1001/charge)",
			"  warehouse: reserved 2 widget as rs_widget_1 (idempotency key order-1001/reserve)",
			"  carrier: timed out (idempotency key order-1001/ship)",
			"  attempt 2: the steps that completed are not run again",
			"  carrier: shipped as trk_1001 (idempotency key order-1001/ship)",
			"order 1001 shipped: ch_1001, rs_widget_1, trk_1001",
			"order 1002: 3 × gadget, $90.00, to 2 Elm St, Shelbyville",
			"  payments: charged $90.00 as ch_1002 (idempotency key order-1002/charge)",
			"  warehouse: 3 gadget wanted, 1 in stock (idempotency key order-1002/reserve)",
			"  payments: refunded $90.00 of ch_1002 as re_1002 (idempotency key order-1002/refund)",
			"order 1002 failed: out of stock: 3 gadget wanted, 1 left; undone: refund",
			"order 1003: 1 × widget, $12.50, to Atlantis",
			"  payments: charged $12.50 as ch_1003 (idempotency key order-1003/charge)",
			"  warehouse: reserved 1 widget as rs_widget_2 (idempotency key order-1003/reserve)",
			"  carrier: Atlantis? (idempotency key order-1003/ship)",
			"  warehouse: released rs_widget_2 (idempotency key order-1003/release)",
			"  payments: refunded $12.50 of ch_1003 as re_1003 (idempotency key order-1003/refund)",
			"order 1003 failed: the carrier does not deliver there: Atlantis; undone: release, refund",
			"payments: $25.00 charged in all; warehouse: 8 widget(s), 1 gadget(s) left",
		}, out.Lines())
	})
}
