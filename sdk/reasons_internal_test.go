package sdk

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/docket-go/docket/internal/store"
)

// The reasons and states the scripts record are the ones Info documents:
// a word changed on one side only would make Info match none.
func TestReasonsAreTheScripts(t *testing.T) {
	assert.Equal(t, store.ReasonCancelled, ReasonCancelled)
	assert.Equal(t, store.ReasonDropped, ReasonDropped)
	assert.Equal(t, store.FailureDeadLetter, ReasonDeadLetter)
	assert.Equal(t, store.FailureBadInput, ReasonBadInput)
	assert.Equal(t, store.FailureCorrupt, ReasonCorrupt)
	for _, s := range []struct {
		sdk   State
		store store.State
	}{
		{StateScheduled, store.StateScheduled}, {StateQueued, store.StateQueued}, {StateRunning, store.StateRunning},
		{StateParked, store.StateParked}, {StateStruck, store.StateStruck}, {StateCompleted, store.StateCompleted},
		{StateFailed, store.StateFailed}, {StateCancelled, store.StateCancelled},
	} {
		assert.Equal(t, string(s.store), string(s.sdk))
	}
}
