package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A list of messages handed back keeps none of what they referred to
// (inputs may be large): the whole list, up to its capacity, is cleared.
func TestAHandedBackMessageListRefersToNothing(t *testing.T) {
	l := make([]Message, 2, 3)
	l[0] = Message{Key: "a", Input: []byte(`{"big":1}`)}
	l[1] = Message{Key: "b", Gen: "g"}
	full := l[:3]
	full[2] = Message{Key: "c"} // decoded once, and cut off since
	var p messagePool
	p.put(l)
	assert.Equal(t, []Message{{}, {}, {}}, full)
	got := p.get(3)
	assert.Empty(t, got)
	assert.GreaterOrEqual(t, cap(got), 3)
}
