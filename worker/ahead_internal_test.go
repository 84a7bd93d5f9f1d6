package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A worker claims ahead as many tasks as its slots start during eight round
// trips, at the pace its attempts settle: none when they take longer than
// that a slot, never more than ClaimAhead, none before the pace is known.
func TestClaimAheadCoversEightRoundTrips(t *testing.T) {
	r, _ := unstartedRun(t, Options{Concurrency: 10})
	l := r.claims
	l.rtt = ewma{value: 2 * time.Millisecond, n: paceSamples}
	for _, tc := range []struct {
		took time.Duration
		want int
	}{
		{10 * time.Millisecond, 16},   // 10 slots × 8 round trips of 2 ms / 10 ms
		{120 * time.Millisecond, 1},   // 160 ms of slot time over eight round trips
		{160*time.Millisecond + 1, 0}, // longer than eight round trips a slot
		{10 * time.Microsecond, 256},  // 16,000: ClaimAhead's default bounds it
		{800 * time.Microsecond, 200}, // below the bound
	} {
		r.slots.took = ewma{value: tc.took, n: paceSamples}
		assert.Equal(t, tc.want, l.workOutAhead(), "attempts taking %v", tc.took)
	}
	r.slots.took = ewma{value: time.Millisecond, n: paceSamples - 1}
	assert.Zero(t, l.workOutAhead(), "the pace not known yet")
}
