package cli_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

type showIn struct {
	N int `json:"n"`
}

// show prints an execution: its result, and for a workflow its steps, its
// children and what it waits for; task data is escaped.
func TestShow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	child := sdk.NewResultTask("child", func(ctx context.Context, in showIn) (int, error) {
		if in.N < 0 {
			return 0, errors.New("negative\x1b[31m")
		}
		return in.N * 10, nil
	})
	flow := sdk.NewTask("flow", func(ctx context.Context, in showIn) error {
		if _, err := workflow.Step(ctx, "prepare", func(ctx context.Context) (bool, error) {
			p := sdk.Current(ctx).Progress() // carried over from run to run
			return true, errors.Join(p.SetTotal(ctx, 4), p.Increment(ctx), p.SetMessage(ctx, "prepared\x1b[2J"))
		}); err != nil {
			return err
		}
		good, err := workflow.Start(ctx, child, "good", showIn{N: 4})
		if err != nil {
			return err
		}
		bad, err := workflow.Start(ctx, child, "bad", showIn{N: -1})
		if err != nil {
			return err
		}
		if err := workflow.Wait(ctx, good, bad); err != nil {
			return err
		}
		_, err = workflow.WaitSignal[string](ctx, "approve", 0)
		return err
	})
	require.NoError(t, f.d.Register(child))
	require.NoError(t, f.d.Register(flow))
	f.startWorker(worker.Options{})

	n, err := child.Call(ctx, f.d, showIn{N: 7}, sdk.Key("seven"))
	require.NoError(t, err)
	require.Equal(t, 70, n)
	r := f.run("", "show", "seven")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "state      completed (attempt 1, 1 delivery)")
	assert.Contains(t, r.stdout, "result     70")

	html := sdk.NewResultTask("html", func(ctx context.Context, in showIn) (string, error) { return "a <b> & c", nil })
	require.NoError(t, f.d.Register(html))
	_, err = html.Call(ctx, f.d, showIn{}, sdk.Key("html-1"))
	require.NoError(t, err)
	r = f.run("", "show", "html-1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `result     "a <b> & c"`, "as written, as the dashboard shows it (not \\u003cb\\u003e)")

	_, err = flow.Add(ctx, f.d, showIn{}, sdk.Key("wf"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := f.d.Execution("wf").Info(ctx)
		return err == nil && info.Workflow != nil && info.Workflow.WaitingFor == "signal approve"
	}, wait, 5e6)
	r = f.run("", "show", "wf")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "state      parked")
	assert.Contains(t, r.stdout, "parked     waiting for signal approve")
	assert.Contains(t, r.stdout, "steps      1 step done: prepare")
	assert.Contains(t, r.stdout, `progress   1/4  25%  prepared\x1b[2J`, "a parked workflow's progress, escaped")
	assert.Contains(t, r.stdout, "children   2: 1 completed, 1 failed, 0 cancelled, 0 live")
	assert.Contains(t, r.stdout, "good  wf/good  completed")
	assert.Contains(t, r.stdout, `bad  wf/bad  failed: negative\x1b[31m`, "escaped")
	assert.NotContains(t, r.stdout, "\x1b")

	r = f.run("", "show", "--json", "wf/bad")
	require.Equal(t, 0, r.code, r.stderr)
	var info map[string]any // as snapshot's: snake_case, zero times left out
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &info))
	assert.Equal(t, "wf", info["parent"])
	assert.Equal(t, "bad", info["child_name"])
	assert.Equal(t, sdk.ReasonError, info["reason"])
	assert.Equal(t, "wf/bad", info["key"])
	assert.Equal(t, "failed", info["state"])
	assert.NotContains(t, info, "result", "none")
	assert.NotContains(t, info, "retried", "a zero time")

	r = f.run("", "show", "--json", "wf")
	require.Equal(t, 0, r.code, r.stderr)
	info = nil
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &info))
	wf, ok := info["workflow"].(map[string]any)
	require.True(t, ok, r.stdout)
	assert.Equal(t, []any{"prepare"}, wf["steps"])
	assert.Equal(t, "signal approve", wf["waiting_for"])
	progress, ok := info["progress"].(map[string]any)
	require.True(t, ok, r.stdout)
	assert.Equal(t, map[string]any{"current": 1.0, "total": 4.0, "message": "prepared\x1b[2J"}, map[string]any{
		"current": progress["current"], "total": progress["total"], "message": progress["message"]})
	assert.Len(t, wf["children"], 2)

	require.NoError(t, f.d.Cancel(ctx, "wf"))
	r = f.run("", "show", "nothing")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `has no execution with the key "nothing"`)
}

// show --json prints a record another program garbled, as plain show does:
// an input that is not JSON becomes a JSON string of its text. The
// characters that hide or reorder text are JSON escapes in every --json
// output, as the plain output escapes them.
func TestShowJSONOfAGarbledRecordAndHiddenCharacters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	task := sdk.NewTask("garbled", func(ctx context.Context, in showIn) error { return nil })
	require.NoError(t, f.d.Register(task))
	key := "g-1\u202eevil"
	_, err := task.Add(ctx, f.d, showIn{N: 1}, sdk.Key(key), sdk.After(time.Hour))
	require.NoError(t, err)
	require.NoError(t, f.d.Redis().HSet(ctx, "docket:{"+f.name+"}:task:"+key, "input", "not {json").Err())

	r := f.run("", "show", "--json", key)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "\u202e", "escaped")
	var got struct {
		Key   string `json:"key"`
		Input string `json:"input"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
	assert.Equal(t, key, got.Key, "the escape means the same")
	assert.Equal(t, "not {json", got.Input)

	r = f.run("", "snapshot", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "\u202e")
	assert.Contains(t, r.stdout, `g-1\u202eevil`)
}

// A key that is not UTF-8 cannot be JSON text: the encoder writes U+FFFD for
// each of its bad bytes, so "order\xff" and "order\xfe" read alike. --json
// writes its bytes in base 64 beside it (key_base64, parent_base64), from
// which a script gets the key exactly; other keys have none.
func TestJSONTellsKeysThatAreNotUTF8Apart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	task := sdk.NewTask("report", func(ctx context.Context, in showIn) error { return nil })
	require.NoError(t, f.d.Register(task))
	keys := []string{"order\xff", "order\xfe", "order-1"}
	for _, k := range keys {
		_, err := task.Add(ctx, f.d, showIn{N: 1}, sdk.Key(k), sdk.After(time.Hour))
		require.NoError(t, err)
	}
	type keyed struct {
		Key       string  `json:"key"`
		KeyBase64 *string `json:"key_base64"`
	}
	exact := func(k keyed) string {
		if k.KeyBase64 == nil {
			return k.Key
		}
		raw, err := base64.StdEncoding.DecodeString(*k.KeyBase64)
		require.NoError(t, err)
		return string(raw)
	}

	r := f.run("", "snapshot", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var snap struct {
		Scheduled []keyed `json:"scheduled"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &snap), r.stdout)
	var got []string
	for _, k := range snap.Scheduled {
		got = append(got, exact(k))
		assert.Equal(t, k.KeyBase64 == nil, k.Key == "order-1", "key_base64 only for a key that is not UTF-8: %+v", k)
	}
	assert.ElementsMatch(t, keys, got)

	for _, k := range keys {
		r := f.run("", "show", "--json", k)
		require.Equal(t, 0, r.code, r.stderr)
		var one keyed
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &one), r.stdout)
		assert.Equal(t, k, exact(one))
	}
}

// A limit's lists of keys holding and waiting for its slots have base 64
// twins (in_use_base64, waiting_base64, in the same order) when a key of
// the list is not UTF-8, and none otherwise.
func TestJSONTellsLimitKeysThatAreNotUTF8Apart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	release := make(chan struct{})
	task := sdk.NewTask("import", func(ctx context.Context, in showIn) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}, policy.TaskConcurrency(1))
	require.NoError(t, f.d.Register(task))
	first, second := "import\xff", "import\xfe"
	_, err := task.Add(ctx, f.d, showIn{N: 1}, sdk.Key(first))
	require.NoError(t, err)
	_, err = task.Add(ctx, f.d, showIn{N: 2}, sdk.Key(second), sdk.After(time.Millisecond))
	require.NoError(t, err)
	defer close(release) // before the worker stops (cleanups run after)
	f.startWorker(worker.Options{})
	require.Eventually(t, func() bool {
		snap, err := f.d.Snapshot(ctx)
		return err == nil && len(snap.Limits) == 1 && len(snap.Limits[0].InUse) == 1 && len(snap.Limits[0].Waiting) == 1
	}, wait, 5e6)

	r := f.run("", "snapshot", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var snap struct {
		Limits []struct {
			InUse         []string `json:"in_use"`
			InUseBase64   []string `json:"in_use_base64"`
			Waiting       []string `json:"waiting"`
			WaitingBase64 []string `json:"waiting_base64"`
		} `json:"limits"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &snap), r.stdout)
	require.Len(t, snap.Limits, 1)
	l := snap.Limits[0]
	assert.Equal(t, l.InUse, l.Waiting, "as JSON text, the two keys read alike")
	assert.Equal(t, []string{base64.StdEncoding.EncodeToString([]byte(first))}, l.InUseBase64)
	assert.Equal(t, []string{base64.StdEncoding.EncodeToString([]byte(second))}, l.WaitingBase64)
}
