package worker

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff spaces out retries against an unavailable Redis: 50ms doubling to
// 5s, with jitter so a fleet of workers does not retry in step.
type backoff struct {
	next time.Duration
}

const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 5 * time.Second
)

// wait returns how long to wait before the next try, and lengthens the one
// after.
func (b *backoff) wait() time.Duration {
	if b.next == 0 {
		b.next = backoffMin
	}
	d := b.next
	b.next = min(2*b.next, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// failing reports whether the last try failed.
func (b *backoff) failing() bool { return b.next != 0 }

func (b *backoff) reset() { b.next = 0 }

// pause waits for d or the end of ctx.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
