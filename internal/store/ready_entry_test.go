package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// luaString is s as a Lua string literal, every byte escaped.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := range len(s) {
		fmt.Fprintf(&b, "\\%d", s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// Keys of every form K.ready tells apart: a UUID as docket makes them is
// listed in 17 bytes; a key that starts with the byte 0 or 1 escaped, so
// that none reads as another; any other key as itself. Go writes the
// entries and the scripts read them (and write them to find a key): the
// two agree.
func TestReadyEntries(t *testing.T) {
	docketMade := uuid.Must(uuid.NewV7()).String()
	zeroFirst := "00000000-0000-4000-8000-000000000000"
	cases := []struct {
		key, entry string
	}{
		{docketMade, "\x00" + uuidBytes(docketMade)},
		{zeroFirst, "\x00" + uuidBytes(zeroFirst)},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", "\x00" + strings.Repeat("\xff", 16)},
		{strings.ToUpper(docketMade), strings.ToUpper(docketMade)}, // read back in lowercase: kept as it is
		{strings.ReplaceAll(docketMade, "-", "_"), strings.ReplaceAll(docketMade, "-", "_")},
		{"g" + docketMade[1:], "g" + docketMade[1:]},
		{docketMade + "x", docketMade + "x"},
		{"plain", "plain"},
		{"\x00" + uuidBytes(zeroFirst), "\x01\x00" + uuidBytes(zeroFirst)}, // another key's entry, as a key
		{"\x01abc", "\x01\x01abc"},
		{"\x00", "\x01\x00"},
		{"\x02", "\x02"},
		{"ключ", "ключ"},
	}
	for _, c := range cases {
		assert.Equal(t, c.entry, store.ReadyEntry(c.key), "Go's entry of %q", c.key)
		assert.Equal(t, c.key, store.ReadyKey(c.entry), "Go's key of %q", c.entry)
	}
	assert.Len(t, store.ReadyEntry(docketMade), 17)

	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		rdb, closeFn, err := store.Open(context.Background(), b.URL)
		require.NoError(t, err)
		defer func() { _ = closeFn() }()
		for _, c := range cases {
			got, err := store.RunWithSchema(context.Background(), rdb,
				"return {ready_entry("+luaString(c.key)+"), ready_key("+luaString(c.entry)+"), ready_key("+luaString(c.key)+")}")
			require.NoError(t, err, "%q", c.key)
			want := []any{c.entry, c.key, c.key}
			if c.key[0] <= 1 {
				want[2] = store.ReadyKey(c.key) // a key that looks escaped reads as its tail
			}
			assert.Equal(t, want, got, "the scripts' entry of %q, and key of its entry", c.key)
		}
	})
}

// uuidBytes is the 16 bytes of a UUID's text.
func uuidBytes(text string) string {
	id := uuid.MustParse(text)
	return string(id[:])
}

// Tasks under keys docket made wait in K.ready in 17 bytes each, and every
// reader of the list reads their keys: a claim, a cancel from either end
// of the line, the listings and Clear. An entry written before the compact
// form (the key itself) is read, cancelled and cleared too.
func TestTasksUnderUUIDKeysAreListedCompactly(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s, name := openNamed(t, b)
		rdb := s.Client()
		readyKey := "docket:{" + name + "}:ready"
		var keys []string
		for range 6 {
			keys = append(keys, uuid.Must(uuid.NewV7()).String())
		}
		addNow(t, s, keys...)
		entries := readyList(t, s, name)
		require.Len(t, entries, 6)
		for i, e := range entries {
			assert.Equal(t, "\x00"+uuidBytes(keys[i]), e)
		}
		// keys[5] as a version before the compact form listed it
		require.NoError(t, rdb.LSet(ctx, readyKey, 5, keys[5]).Err())

		snap, err := s.Snapshot(ctx, 10)
		require.NoError(t, err)
		var listed []string
		for _, e := range snap.Tasks {
			listed = append(listed, e.Key)
		}
		assert.Equal(t, keys, listed, "Snapshot")
		page, err := s.Page(ctx, store.PageQuery{List: store.ListQueued})
		require.NoError(t, err)
		listed = listed[:0]
		for _, e := range page.Tasks {
			listed = append(listed, e.Key)
		}
		assert.Equal(t, keys, listed, "the dashboard's Queued page")
		o, err := s.Overview(ctx, 10, 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, o.Names, 1)
		assert.Equal(t, 6, o.Names[0].Queued, "the overview's sample reads each record")
		assert.False(t, o.Earliest.IsZero(), "the overview's earliest due task, K.ready's first")

		assert.Equal(t, keys[:1], claimKeys(t, s, 1))
		cancel(t, s, keys[2]) // from the head's end
		cancel(t, s, keys[5]) // the latest, listed as its key
		cancel(t, s, keys[4]) // the latest now
		assert.Equal(t, []string{"\x00" + uuidBytes(keys[1]), "\x00" + uuidBytes(keys[3])}, readyList(t, s, name))
		require.NoError(t, rdb.LSet(ctx, readyKey, 1, keys[3]).Err())
		n, err := s.Clear(ctx, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		assert.Empty(t, readyList(t, s, name))
		cancel(t, s, keys[0])
	})
}

// A claim that runs tasks through their rules takes each from the head of
// K.ready, and a cancel of the latest from its tail, without a walk of the
// list (LREM), whichever form the entry has: a backlog that a version
// before the compact form listed (by key) must not cost each task a walk of
// the whole list.
func TestTheEndsOfTheListAreTakenWithoutAWalk(t *testing.T) {
	srv := redistest.NewServer(t, "--appendonly", "no", "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	name := redistest.Name(t)
	redistest.CheckLeaks(t, rdb, name)
	s, err := store.New(rdb, name)
	require.NoError(t, err)
	var keys []string
	for range 8 {
		keys = append(keys, uuid.Must(uuid.NewV7()).String())
	}
	addNow(t, s, keys...)
	readyKey := "docket:{" + name + "}:ready"
	for _, i := range []int{0, 1, 7} { // as an earlier version listed them
		require.NoError(t, rdb.LSet(ctx, readyKey, int64(i), keys[i]).Err())
	}
	rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Max: 100}}}})

	mon := startMonitor(t, srv.Addr)
	var claimed []string
	calls := mon.record(t, rdb, func() {
		c, err := s.Claim(ctx, "w", 3, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		for _, m := range c.Messages {
			claimed = append(claimed, m.Key)
		}
		ok, err := s.Cancel(ctx, keys[7], time.Minute)
		require.NoError(t, err)
		assert.True(t, ok)
	})
	assert.Equal(t, keys[:3], claimed, "claimed in the order added")
	for _, c := range calls {
		for _, cmd := range c.commands {
			assert.NotEqual(t, "LREM", strings.ToUpper(cmd[0]), "a walk of the list: %q", cmd)
		}
	}
	assert.Len(t, readyList(t, s, name), 4)
	for _, k := range keys[:3] {
		c, ok, err := s.Info(ctx, k)
		require.NoError(t, err)
		require.True(t, ok)
		applied, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: k, Gen: strconv.FormatInt(c.Created.UnixMicro()+1, 10), Kind: store.Completed}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, applied)
	}
	n, err := s.Clear(ctx, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
}
