package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/testsuite"
	"github.com/docket-go/docket/worker"
)

// Account is the input of the strike tests.
type Account struct {
	ID     int    `json:"customer_id"`
	Region string `json:"region"`
}

// A strike stops tasks at once: adding a struck task writes nothing; a
// scheduled one is held when it falls due, and runs when the strike is
// restored; other tasks go on.
func TestStrikeAndRestore(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		sync := sdk.NewTask("sync", func(ctx context.Context, in Account) error { return nil })
		bill := sdk.NewTask("bill", func(ctx context.Context, in Account) error { return nil })
		env.Register(sync)
		env.Register(bill)
		d := env.Docket()
		ctx := t.Context()
		t0 := env.Now()
		later, err := sync.Add(ctx, d, Account{ID: 1001}, sdk.After(time.Hour))
		require.NoError(t, err)
		require.NoError(t, d.Strike(ctx, "", "customer_id", "==", 1001))
		require.NoError(t, d.Strike(ctx, "bill", "", "", nil))
		require.NoError(t, d.Strike(ctx, "sync", "region", ">=", "m"))

		refused, err := sync.Add(ctx, d, Account{ID: 1001})
		require.NoError(t, err)
		assert.Equal(t, sdk.Struck, refused.Disposition())
		_, err = refused.Info(ctx)
		assert.ErrorIs(t, err, sdk.ErrNotFound, "a struck add writes nothing")
		struckBill, err := bill.Add(ctx, d, Account{ID: 7})
		require.NoError(t, err)
		assert.Equal(t, sdk.Struck, struckBill.Disposition(), "the whole task is struck")
		north, err := sync.Add(ctx, d, Account{ID: 2, Region: "north"})
		require.NoError(t, err)
		assert.Equal(t, sdk.Struck, north.Disposition(), `"north" >= "m"`)
		other, err := sync.Add(ctx, d, Account{ID: 1002, Region: "east"})
		require.NoError(t, err)
		assert.Equal(t, sdk.Scheduled, other.Disposition())

		env.Advance(2 * time.Hour)
		runs := env.Runs("sync")
		require.Len(t, runs, 1, "only customer 1002 ran")
		info, err := later.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateStruck, info.State, "held when it fell due at 1h")
		assert.Contains(t, info.Error, "customer_id == 1001")
		snap, err := d.Snapshot(ctx)
		require.NoError(t, err)
		require.Len(t, snap.Held, 1)
		assert.Equal(t, later.Key(), snap.Held[0].Key)
		require.Len(t, snap.Strikes, 3)
		var described []string
		for _, st := range snap.Strikes {
			described = append(described, st.String())
		}
		assert.ElementsMatch(t, []string{"every task with customer_id == 1001", "bill", `sync with region >= "m"`}, described)

		require.NoError(t, d.Restore(ctx, "", "customer_id", "==", 1001))
		env.Advance(time.Minute)
		runs = env.Runs("sync")
		require.Len(t, runs, 2)
		assert.Equal(t, t0.Add(2*time.Hour), runs[1].Start, "released at once on restore")
		assert.ErrorIs(t, d.Restore(ctx, "", "customer_id", "==", 1001), sdk.ErrNotFound)
		strikes, err := d.Strikes(ctx)
		require.NoError(t, err)
		assert.Len(t, strikes, 2)
		require.NoError(t, d.Restore(ctx, "bill", "", "", nil))
		require.NoError(t, d.Restore(ctx, "sync", "region", ">=", "m"))
	})
}

// Bad strikes are refused with a clear error.
func TestBadStrikes(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		d := env.Docket()
		ctx := t.Context()
		assert.ErrorIs(t, d.Strike(ctx, "", "", "", nil), sdk.ErrBadStrike)
		assert.ErrorIs(t, d.Strike(ctx, "sync", "id", "~=", 1), sdk.ErrBadStrike)
		assert.ErrorIs(t, d.Strike(ctx, "sync", "id", "==", []int{1}), sdk.ErrBadStrike)
		assert.ErrorIs(t, d.Strike(ctx, "sync", "id", "==", 1), nil)
		require.NoError(t, d.Restore(ctx, "sync", "id", "==", 1))
	})
}

// A strike on a field that the input of a task registered on the docket
// does not have (a typo, the Go name of a field tagged otherwise) would hold
// nothing: it is refused, naming the fields, and nothing is struck. A
// field written in another case is the field (Go binds it); a task this
// docket does not register, and a strike of every task, are not checked.
func TestStrikeOnAFieldTheInputLacks(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		sync := sdk.NewTask("sync", func(ctx context.Context, in Account) error { return nil })
		env.Register(sync)
		d := env.Docket()
		ctx := t.Context()

		for _, field := range []string{"custmer_id", "ID", "customer"} {
			err := d.Strike(ctx, "sync", field, "==", 1001)
			require.ErrorIs(t, err, sdk.ErrBadStrike, field)
			assert.ErrorIs(t, err, policy.ErrUnknownField, field)
			assert.ErrorIs(t, err, sdk.ErrBadInput, field)
			assert.Contains(t, err.Error(), `fields "customer_id", "region"`, "it names the fields the input has")
		}
		strikes, err := d.Strikes(ctx)
		require.NoError(t, err)
		assert.Empty(t, strikes, "a refused strike writes nothing")

		require.NoError(t, d.Strike(ctx, "sync", "Customer_ID", "==", 1001), "Go binds a member in another case")
		require.NoError(t, d.Strike(ctx, "report", "anything", "==", 1), "not registered here: not checked")
		require.NoError(t, d.Strike(ctx, "", "anything", "==", 1), "every task: not checked")
		strikes, err = d.Strikes(ctx)
		require.NoError(t, err)
		assert.Len(t, strikes, 3)

		held, err := sync.Add(ctx, d, Account{ID: 1001})
		require.NoError(t, err)
		assert.Equal(t, sdk.Struck, held.Disposition(), "the strike in another case holds")
	})
}

// Strikes hold across real workers and producers, on every backend.
func TestStrikeOnEveryBackend(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		ran := make(chan int, 10)
		sync := sdk.NewTask("sync", func(ctx context.Context, in Account) error {
			ran <- in.ID
			return nil
		})
		require.NoError(t, d.Register(sync))
		ctx := context.Background()
		held, err := sync.Add(ctx, d, Account{ID: 1}, sdk.After(50*time.Millisecond))
		require.NoError(t, err)
		require.NoError(t, d.Strike(ctx, "sync", "customer_id", "<", 2))
		runWorker(t, worker.New(d, worker.Options{}))
		_, err = sync.Add(ctx, d, Account{ID: 5})
		require.NoError(t, err)
		assert.Equal(t, []int{5}, waitFor(t, ran, 1))
		require.Eventually(t, func() bool {
			info, err := held.Info(ctx)
			return err == nil && info.State == sdk.StateStruck
		}, time.Minute, time.Millisecond)
		require.NoError(t, d.Restore(ctx, "sync", "customer_id", "<", 2))
		assert.Equal(t, []int{1}, waitFor(t, ran, 1))
	})
}

// A strike compares whole numbers beyond a double's precision as Go reads
// an int64: exactly. Striking customer 1234567890123456789 held customer
// …790 too (both read as the same double), and "<" could not order them.
func TestStrikeComparesLargeIntegersExactly(t *testing.T) {
	redistest.Each(t, func(t *testing.T, backend redistest.Backend) {
		d := openDocket(t, backend.URL)
		type charge struct {
			CustomerID int64 `json:"customer_id"`
		}
		task := sdk.NewTask("charge", func(context.Context, charge) error { return nil })
		require.NoError(t, d.Register(task))
		ctx := context.Background()
		const a, b = int64(1234567890123456789), int64(1234567890123456790)
		for _, c := range []struct {
			op    string
			value int64
			held  []int64
		}{
			{"==", a, []int64{a}},
			{"!=", a, []int64{b, 7, -a, -b}},
			{"<", b, []int64{a, 7, -a, -b}},
			{">=", b, []int64{b}},
			{">", -b, []int64{a, b, 7, -a}},
			{"<", -a, []int64{-b}},
		} {
			require.NoError(t, d.Strike(ctx, "charge", "customer_id", c.op, c.value))
			var held []int64
			for _, id := range []int64{a, b, 7, -a, -b} {
				ex, err := task.Add(ctx, d, charge{id})
				require.NoError(t, err)
				if ex.Disposition() == sdk.Struck {
					held = append(held, id)
				} else {
					require.NoError(t, d.Cancel(ctx, ex.Key()))
				}
			}
			assert.Equal(t, c.held, held, "customer_id %s %d", c.op, c.value)
			require.NoError(t, d.Restore(ctx, "charge", "customer_id", c.op, c.value))
		}

		// The number is read where Go reads it: the input's own member (the
		// last, if several), not text in a string or a nested object.
		const raw = `{"note":"{\"customer_id\": 1234567890123456790}", "meta": {"customer_id": 1234567890123456790, "x": [1, "]}"]},
			"customer_id": 1234567890123456790, "customer_id" : 1234567890123456789 }`
		require.NoError(t, d.Strike(ctx, "charge", "customer_id", "==", b))
		ex, err := d.AddByName(ctx, "charge", json.RawMessage(raw))
		require.NoError(t, err)
		assert.Equal(t, sdk.Scheduled, ex.Disposition())
		require.NoError(t, d.Cancel(ctx, ex.Key()))
		require.NoError(t, d.Restore(ctx, "charge", "customer_id", "==", b))
		require.NoError(t, d.Strike(ctx, "charge", "customer_id", "==", a))
		ex, err = d.AddByName(ctx, "charge", json.RawMessage(raw))
		require.NoError(t, err)
		assert.Equal(t, sdk.Struck, ex.Disposition())
		require.NoError(t, d.Restore(ctx, "charge", "customer_id", "==", a))
	})
}

// A task held by a strike on a whole number beyond a double's precision
// says which strike by its digits: it said 1.2345678901235e+18, which two
// strikes could share.
func TestAHeldTaskNamesALargeIntegerStrikeByItsDigits(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
		type charge struct {
			CustomerID int64 `json:"customer_id"`
		}
		task := sdk.NewTask("charge", func(context.Context, charge) error { return nil })
		env.Register(task)
		ex, err := task.Add(t.Context(), env.Docket(), charge{1234567890123456789}, sdk.After(time.Minute))
		require.NoError(t, err)
		require.NoError(t, env.Docket().Strike(t.Context(), "charge", "customer_id", "==", int64(1234567890123456789)))
		env.Advance(time.Minute)
		info, err := ex.Info(t.Context())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateStruck, info.State)
		assert.Equal(t, "held: struck (charge with customer_id == 1234567890123456789)", info.Error)
		require.NoError(t, env.Docket().Restore(t.Context(), "charge", "customer_id", "==", int64(1234567890123456789)))
		env.RunUntilFinished()
	})
}
