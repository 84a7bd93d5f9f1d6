package cli_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// strike, strikes and restore, with typed values.
func TestStrikeCommands(t *testing.T) {
	f := newFixture(t)
	r := f.run("", "strike", "sync", "customer_id", "==", "1001")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "struck sync with customer_id == 1001\n", r.stdout)
	r = f.run("", "strike", "*", "region", "==", "<eu> & co")
	require.Equal(t, 0, r.code, r.stderr)
	r = f.run("", "strike", "bill")
	require.Equal(t, 0, r.code, r.stderr)

	strikes, err := f.d.Strikes(context.Background())
	require.NoError(t, err)
	require.Len(t, strikes, 3)
	assert.JSONEq(t, `1001`, string(strikes[0].Value), "a number stays a number")
	assert.JSONEq(t, `"<eu> & co"`, string(strikes[1].Value), "words are a string")

	r = f.run("", "strikes")
	require.Equal(t, 0, r.code, r.stderr)
	_, row := rowOf(t, r.stdout, 0, "sync")
	assert.Equal(t, []string{"sync", "customer_id", "==", "1001"}, row[:4])
	_, row = rowOf(t, r.stdout, 0, "*")
	assert.Equal(t, []string{"*", "region", "==", `"<eu> & co"`}, row[:4])
	r = f.run("", "strikes", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, `"value": "<eu> & co"`, "as written, not \\u003ceu\\u003e: JSON for scripts, not for HTML")
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Len(t, got, 3)
	for _, st := range got {
		assert.Contains(t, st, "since", "snake_case, as snapshot's")
		if st["task"] == "sync" {
			assert.Equal(t, map[string]any{"task": "sync", "field": "customer_id", "op": "==", "value": float64(1001), "since": st["since"]}, st)
		}
		if st["task"] == "bill" {
			assert.Equal(t, map[string]any{"task": "bill", "since": st["since"]}, st, "the whole task: no field, no value (it was null)")
		}
	}

	r = f.run("", "strike", "sync", "customer_id", "==", "1e400")
	assert.Equal(t, 2, r.code, "a number out of range is a usage error, not a string")
	assert.Contains(t, r.stderr, "value 1e400: a number out of range")

	r = f.run("", "strike", "sync", "customer_id", "<", " 5")
	require.Equal(t, 0, r.code, "the spaces JSON allows, as the dashboard reads them: %s", r.stderr)
	assert.Equal(t, "struck sync with customer_id < 5\n", r.stdout)
	r = f.run("", "restore", "sync", "customer_id", "<", "5")
	require.Equal(t, 0, r.code, r.stderr)

	r = f.run("", "strike", "sync", "customer_id", "~", "1")
	assert.Equal(t, 2, r.code, "a bad operator is a usage error")
	assert.Contains(t, r.stderr, `operator "~"`)
	r = f.run("", "restore", "sync", "customer_id", "==", "1001")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "restored sync with customer_id == 1001\n", r.stdout)
	r = f.run("", "restore", "sync", "customer_id", "==", "1001")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no such strike")
	for _, args := range [][]string{{"*", "region", "==", "<eu> & co"}, {"bill"}} {
		r = f.run("", append([]string{"restore"}, args...)...)
		require.Equal(t, 0, r.code, r.stderr)
	}
	r = f.run("", "strikes")
	assert.Equal(t, "No strikes.\n", r.stdout)
}
