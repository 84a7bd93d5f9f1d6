package store

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeAdd reads add.lua's reply: a code per task, the call's instant,
// then the due times (or strikes) that differ from it; a reply that does
// not fit the tasks sent is ErrMalformed, never a panic.
func TestDecodeAdd(t *testing.T) {
	now := time.UnixMicro(1_700_000_000_000_000)
	later := now.Add(time.Hour)
	got, err := decodeAdd([]any{"1031", now.UnixMicro(), int64(2), later.UnixMicro(), int64(3), "t.n == 13"}, 4)
	require.NoError(t, err)
	assert.Equal(t, []AddResult{
		{Code: Added, Due: now}, {Code: Existed, Due: later}, {Code: Refused, Strike: "t.n == 13"}, {Code: Added, Due: now},
	}, got)

	for name, reply := range map[string][]any{
		"no codes":                {},
		"odd length":              {"1", now.UnixMicro(), int64(1)},
		"a code too few":          {"1", now.UnixMicro()},
		"a code out of range":     {"14", now.UnixMicro()},
		"a place out of range":    {"11", now.UnixMicro(), int64(3), later.UnixMicro()},
		"a place of zero":         {"11", now.UnixMicro(), int64(0), later.UnixMicro()},
		"a place named twice":     {"11", now.UnixMicro(), int64(1), later.UnixMicro(), int64(1), later.UnixMicro()},
		"a refusal, no strike":    {"13", now.UnixMicro()},
		"an instant not a number": {"11", "soon"},
	} {
		_, err := decodeAdd(reply, 2)
		assert.True(t, errors.Is(err, ErrMalformed), "%s: %v", name, err)
	}
}
