package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// Tenant is the input of a task limited per tenant.
type Tenant struct {
	Tenant string `json:"tenant"`
	N      int    `json:"n"`
}

// Input that Go decodes but Redis's cjson cannot read, or reads otherwise,
// never skips admission control: such a task runs within its limit, or
// fails with the reason; it never runs beside another holder of its slot.
func TestAdmissionCannotBeSkippedByInputTheScriptReadsOtherwise(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		var mu sync.Mutex
		running, most := 0, 0
		ran := make(chan string, 100)
		limited := sdk.NewTask("limited", func(ctx context.Context, in Tenant) error {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			ran <- sdk.Current(ctx).Key()
			return nil
		}, policy.Concurrency("tenant", 1), policy.Cooldown("n", time.Hour))
		require.NoError(t, d.Register(limited))
		// A producer that does not link the task sends raw JSON.
		producer, err := sdk.Open(context.Background(), b.URL, sdk.WithName(d.Name()))
		require.NoError(t, err)
		t.Cleanup(func() { _ = producer.Close() })

		deep := strings.Repeat("[", 1100) + strings.Repeat("]", 1100)
		hostile := map[string]string{
			"surrogate":  `{"tenant":"a","n":2,"x":"\ud800"}`,
			"deep":       `{"tenant":"a","n":3,"x":` + deep + `}`,
			"case":       `{"TENANT":"a","n":4}`,
			"fold":       `{"tenant":"b","Tenant":"a","n":5}`,
			"huge":       `{"tenant":[1e400],"n":6}`,
			"cooldown-n": `{"tenant":"c","N":1}`,
		}
		var exs []*sdk.Execution
		ex, err := limited.Add(context.Background(), d, Tenant{Tenant: "a", N: 1})
		require.NoError(t, err)
		exs = append(exs, ex)
		for name, raw := range hostile {
			ex, err := producer.AddByName(context.Background(), "limited", json.RawMessage(raw), sdk.Key(name))
			require.NoError(t, err, name)
			exs = append(exs, ex)
		}
		require.NoError(t, worker.New(d, worker.Options{Concurrency: 20}).RunUntilFinished(context.Background()))
		assert.Equal(t, 1, most, "never two runs at once for one tenant")

		for _, ex := range exs {
			info, err := ex.Info(context.Background())
			require.NoError(t, err, ex.Key())
			assert.True(t, info.State.Finished(), "%s: %s", ex.Key(), info.State)
			if info.State != sdk.StateCompleted {
				assert.NotEmpty(t, info.Error, "%s ended %s with a reason", ex.Key(), info.State)
			}
		}
		// The key of a task that failed this way can be added again.
		again, err := producer.AddByName(context.Background(), "limited", json.RawMessage(`{"tenant":"z","n":9}`), sdk.Key("huge"))
		require.NoError(t, err)
		assert.Equal(t, sdk.Scheduled, again.Disposition())
		require.NoError(t, worker.New(d, worker.Options{}).RunUntilFinished(context.Background()))
		info, err := again.Info(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A task record tampered with by another program is failed alone, with the
// reason; the other tasks of the same claim run, and workers go on claiming.
func TestCorruptRecordsAreFailedAlone(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		ran := make(chan string, 100)
		plain := sdk.NewTask("plain", func(ctx context.Context, in Tenant) error {
			ran <- sdk.Current(ctx).Key()
			return nil
		})
		limited := sdk.NewTask("limited", func(ctx context.Context, in Tenant) error {
			ran <- sdk.Current(ctx).Key()
			return nil
		}, policy.Concurrency("tenant", 1))
		require.NoError(t, d.Register(plain))
		require.NoError(t, d.Register(limited))
		ctx := context.Background()
		rdb := d.Redis()
		prefix := "docket:{" + d.Name() + "}:task:"
		tamper := map[string]func(key string){
			"gen": func(key string) { rdb.HSet(ctx, prefix+key, "gen", "abc") },
			// created stands for a gen and a due left out (a new record's)
			"no-created": func(key string) { rdb.HDel(ctx, prefix+key, "gen", "due", "created") },
			"deliveries": func(key string) { rdb.HSet(ctx, prefix+key, "deliveries", "x") },
			"attempt":    func(key string) { rdb.HSet(ctx, prefix+key, "attempt", "y") },
			"name":       func(key string) { rdb.HDel(ctx, prefix+key, "name") },
			"type": func(key string) {
				rdb.Del(ctx, prefix+key)
				rdb.Set(ctx, prefix+key, "not a hash", 0)
			},
		}
		var good []string
		for kind, spoil := range tamper {
			for _, task := range []*sdk.Task[Tenant]{plain, limited} {
				bad, err := task.Add(ctx, d, Tenant{Tenant: "t"}, sdk.Key(task.Name()+"-bad-"+kind))
				require.NoError(t, err)
				spoil(bad.Key())
				ok, err := task.Add(ctx, d, Tenant{Tenant: "u-" + kind}, sdk.Key(task.Name()+"-ok-"+kind))
				require.NoError(t, err)
				good = append(good, ok.Key())
			}
		}
		require.NoError(t, worker.New(d, worker.Options{Concurrency: 50}).RunUntilFinished(ctx))
		got := map[string]bool{}
		for len(ran) > 0 {
			got[<-ran] = true
		}
		for _, k := range good {
			assert.True(t, got[k], "%s ran", k)
		}
		for kind := range tamper {
			for _, name := range []string{"plain", "limited"} {
				key := name + "-bad-" + kind
				assert.False(t, got[key], "%s did not run", key)
				if kind == "type" {
					ttl, err := rdb.PTTL(ctx, prefix+key).Result()
					require.NoError(t, err)
					assert.Positive(t, ttl, "%s: left to expire", key)
				}
				info, err := d.Execution(key).Info(ctx)
				require.NoError(t, err, key)
				assert.Equal(t, sdk.StateFailed, info.State, key)
				assert.Equal(t, sdk.ReasonCorrupt, info.Reason, key)
				assert.Contains(t, info.Error, "corrupt record: ", key)
				switch kind {
				case "gen":
					assert.Contains(t, info.Error, `gen is not an integer: "abc"`, key)
				case "no-created": // not Lua's false
					assert.Contains(t, info.Error, "due is not an instant: missing", key)
				}
			}
		}
		snap, err := d.Snapshot(ctx)
		require.NoError(t, err)
		assert.Empty(t, snap.Running)
		assert.Empty(t, snap.Queued)
		dead := map[string]string{}
		for _, s := range snap.DeadLetters {
			dead[s.Key] = s.Error
		}
		for kind := range tamper {
			for _, name := range []string{"plain", "limited"} {
				key := name + "-bad-" + kind
				assert.Contains(t, dead[key], "corrupt record: ", "%s is listed with the dead letters", key)
			}
		}

		// Workers still claim.
		later, err := plain.Add(ctx, d, Tenant{Tenant: "v"})
		require.NoError(t, err)
		require.NoError(t, worker.New(d, worker.Options{}).RunUntilFinished(ctx))
		info, err := later.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
	})
}

// A record garbled while its task runs: the outcome that cannot apply to it
// fails it alone, and the worker goes on recording and claiming; Snapshot
// reads around a key that is not a hash.
func TestRecordGarbledWhileRunning(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		d := openDocket(t, b.URL)
		ctx := context.Background()
		rdb := d.Redis()
		prefix := "docket:{" + d.Name() + "}:task:"
		garble := make(chan struct{})
		flaky := sdk.NewTask("flaky", func(ctx context.Context, in Tenant) error {
			if in.N == 1 {
				rdb.HSet(ctx, prefix+sdk.Current(ctx).Key(), "attempt", "one")
				close(garble)
			}
			return errors.New("retry me")
		}, policy.Retry(3, time.Millisecond))
		ok := sdk.NewTask("ok", func(ctx context.Context, in Tenant) error { return nil })
		require.NoError(t, d.Register(flaky))
		require.NoError(t, d.Register(ok))
		bad, err := flaky.Add(ctx, d, Tenant{N: 1})
		require.NoError(t, err)
		stray, err := ok.Add(ctx, d, Tenant{}, sdk.After(time.Hour))
		require.NoError(t, err)
		rdb.Del(ctx, prefix+stray.Key())
		rdb.Set(ctx, prefix+stray.Key(), "not a hash", 0)
		_, err = d.Snapshot(ctx)
		require.NoError(t, err, "Snapshot reads around a key that is not a hash")

		require.NoError(t, worker.New(d, worker.Options{}).RunUntilIdle(ctx))
		<-garble
		info, err := bad.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateFailed, info.State)
		assert.Contains(t, info.Error, "corrupt record: attempt")
		later, err := ok.Add(ctx, d, Tenant{})
		require.NoError(t, err)
		require.NoError(t, worker.New(d, worker.Options{}).RunUntilIdle(ctx))
		info, err = later.Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, sdk.StateCompleted, info.State)
		require.NoError(t, rdb.ZRem(ctx, "docket:{"+d.Name()+"}:scheduled", stray.Key()).Err())
		require.NoError(t, rdb.Del(ctx, prefix+stray.Key()).Err())
	})
}
