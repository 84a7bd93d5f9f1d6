package worker

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every attempt a worker holds, in its slots and in line, may settle before
// the claim loop next collects: none waits to hand its outcome on (with
// room for Concurrency outcomes only, the third of these did).
func TestSettledOutcomesNeverWaitForTheClaimLoop(t *testing.T) {
	r, _ := unstartedRun(t, Options{Concurrency: 2, ClaimAhead: 30})
	for i := range 32 {
		select {
		case r.acks.ch <- &attempt{}:
		default:
			t.Fatalf("outcome %d of the 32 attempts a worker may hold waits for the claim loop", i+1)
		}
	}
	assert.Len(t, r.acks.collect(nil), 32)
	r, _ = unstartedRun(t, Options{Concurrency: 2, ClaimAhead: NoClaimAhead})
	assert.Equal(t, 2, cap(r.acks.ch), "no claiming ahead: Concurrency")
}
