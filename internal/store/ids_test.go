package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// A limit's id holds the value of its field, written once for all the
// ways JSON may write it: two inputs share a limit when, and only when, Go
// reads the same value from them. An object or an array is written as its
// canonical JSON, every whole number exact however large, the same on both
// backends; a newline and a backslash followed by n stay apart. Nested
// numbers were rounded (2^53+1 shared 2^53's slot), and a newline was
// written as the two characters a backslash and n make.
func TestALimitIDIsTheValueGoReads(t *testing.T) {
	cases := []struct {
		name   string
		a, b   string // the field's JSON in two inputs
		same   bool
		wantID string // a's limit id, when given
	}{
		{"nested whole numbers beyond 2^53", `{"n":9007199254740993}`, `{"n":9007199254740992}`, false, `t:t:v:{"n":9007199254740993}`},
		{"nested int64s", `[9223372036854775806]`, `[9223372036854775807]`, false, `t:t:v:[9223372036854775806]`},
		{"nested, below 2^53", `{"n":1234567890123457}`, `{"n":1234567890123456}`, false, `t:t:v:{"n":1234567890123457}`},
		{"member order and spaces", `{"b": 1, "a": "x"}`, `{"a":"x","b":1}`, true, `t:t:v:{"a":"x","b":1}`},
		{"the last of a name", `{"a":1,"a":2}`, `{"a":2}`, true, `t:t:v:{"a":2}`},
		{"string escapes", `{"s":"\u0041\/"}`, `{"s":"A/"}`, true, `t:t:v:{"s":"A/"}`},
		{"control characters", `["a\nb\u0000"]`, `["a\u000Ab\u0000"]`, true, `t:t:v:["a\\u000ab\\u0000"]`},
		{"numbers written otherwise", `[1e2, 1.50, -0]`, `[100,1.5,0]`, true, `t:t:v:[100,1.5,0]`},
		{"nested empties", `{"a":[],"b":{}}`, `{"b":{},"a":[]}`, true, `t:t:v:{"a":[],"b":{}}`},
		{"a newline and a backslash with n", `"a\nb"`, `"a\\nb"`, false, `t:t:v:a\nb`},
		{"a backslash", `"a\\b"`, `"a\\\\b"`, false, `t:t:v:a\\b`},
		{"whole numbers beyond 2^53", `9007199254740993`, `9007199254740992`, false, `t:t:v:9007199254740993`},
		// The README's examples, as it writes them.
		{"the README's object", `{"b": 1e2, "a": "x"}`, `{"a":"x","b":100}`, true, `t:t:v:{"a":"x","b":100}`},
		{"the README's escape", `["a\"b"]`, `["a\u0022b"]`, true, `t:t:v:["a\\u0022b"]`},
	}
	rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Arg: "v", Max: 1}}}})
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				s := open(t, b)
				_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
					{Key: "a", Name: "t", Input: []byte(`{"v":` + c.a + `}`)},
					{Key: "b", Name: "t", Input: []byte(`{"v":` + c.b + `}`)},
				})
				require.NoError(t, err)
				claim, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, rules, 5)
				require.NoError(t, err)
				require.Empty(t, claim.Dropped)
				var ran []string
				for _, m := range claim.Messages {
					ran = append(ran, m.Key)
				}
				if c.same {
					assert.Equal(t, []string{"a"}, ran, "one slot for one value")
				} else {
					assert.Equal(t, []string{"a", "b"}, ran, "a slot for each value")
				}
				snap, err := s.Snapshot(ctx, 10)
				require.NoError(t, err)
				var ids []string
				for _, l := range snap.Limits {
					ids = append(ids, l.ID)
				}
				assert.True(t, slices.Contains(ids, c.wantID), "ids %q, want %q", ids, c.wantID)
				for _, m := range claim.Messages {
					_, err := s.Finish(ctx, time.Minute, []store.Outcome{{Key: m.Key, Gen: m.Gen, Kind: store.Completed}})
					require.NoError(t, err)
				}
				if c.same { // b had to wait for a's slot
					claim, err = s.Claim(ctx, "w", 10, time.Minute, time.Minute, rules, 5)
					require.NoError(t, err)
					require.Len(t, claim.Messages, 1, fmt.Sprint(claim))
					_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "b", Gen: claim.Messages[0].Gen, Kind: store.Completed}})
					require.NoError(t, err)
				}
			})
		}
	})
}

// A limit's value nested more than 32 deep fails its task, unreadable for
// the admission rules, rather than hold Redis while each level copies what
// it holds; 32 deep is a value like any other.
func TestALimitIDOfADeepValue(t *testing.T) {
	rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Arg: "v", Max: 1}}}})
	nested := func(n int) string { return strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		s := open(t, b)
		_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{
			{Key: "deep", Name: "t", Input: []byte(`{"v":` + nested(32) + `}`)},
			{Key: "deeper", Name: "t", Input: []byte(`{"v":` + nested(33) + `}`)},
		})
		require.NoError(t, err)
		claim, err := s.Claim(ctx, "w", 10, time.Minute, time.Minute, rules, 5)
		require.NoError(t, err)
		require.Len(t, claim.Messages, 1)
		assert.Equal(t, "deep", claim.Messages[0].Key)
		require.Len(t, claim.Dropped, 1)
		assert.Equal(t, "deeper", claim.Dropped[0].Key)
		assert.Contains(t, claim.Dropped[0].Reason, `field "v" is nested more than 32 deep`)
		_, err = s.Finish(ctx, time.Minute, []store.Outcome{{Key: "deep", Gen: claim.Messages[0].Gen, Kind: store.Completed}})
		require.NoError(t, err)
	})
}
