package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// A misspelt word or layout field is an error in the script, not a nil
// that would write an empty value: on every backend's Lua.
func TestSchemaIsStrict(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		rdb, closeFn, err := store.Open(ctx, b.URL)
		require.NoError(t, err)
		defer func() { _ = closeFn() }()
		run := func(body string) (any, error) { return store.RunWithSchema(ctx, rdb, body) }
		got, err := run("return STATE.running")
		require.NoError(t, err)
		assert.Equal(t, "running", got)
		_, err = run("return STATE.runing")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "STATE has no runing")
		_, err = run("local out = {}; put(out, TURNED, {key = 'k', name = 'n', reason = 'r', trace = '', fat = 'held'}); return out")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "entry without fate")
		got, err = run("local out = {}; put(out, TURNED, {key = 'k', name = false, reason = 'r', trace = '', fate = FATE.held}); " +
			"local e = get(out, 1, TURNED); return {e.key, e.name, e.fate, #out}")
		require.NoError(t, err)
		assert.Equal(t, []any{"k", "", "held", int64(5)}, got)
	})
}

// The keys a script reads from K are made from the docket's prefix as they
// are first read; a misspelt one is an error, not a nil: on every
// backend's Lua.
func TestKeysAreMadeAsRead(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		rdb, closeFn, err := store.Open(ctx, b.URL)
		require.NoError(t, err)
		defer func() { _ = closeFn() }()
		got, err := store.RunWithSchema(ctx, rdb, "return {K.task .. 'x', K.ready, K.task .. 'y', K.running}")
		require.NoError(t, err)
		assert.Equal(t, []any{"{schema}:task:x", "{schema}:ready", "{schema}:task:y", "{schema}:running"}, got)
		_, err = store.RunWithSchema(ctx, rdb, "return K.tsak .. 'x'")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "K has no tsak")
	})
}
