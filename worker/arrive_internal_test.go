package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/store"
)

// loop is a claimer with only what arrive and next use: its options and
// its timer.
func loop(concurrency int) *claimer {
	l := &claimer{conf: &conf{opts: Options{Concurrency: concurrency, Lease: 2 * time.Second}}, timer: time.NewTimer(time.Hour)}
	l.deadline = time.Now().Add(time.Hour)
	return l
}

// sentOne is an exchange the loop sent, claiming tasks or not.
func (l *claimer) sentOne(claims bool) exchange {
	l.inFlight++
	l.sent++
	ex := exchange{seq: l.sent}
	if claims {
		ex.asked = 10
		l.flying = append(l.flying, ex.seq)
	}
	return ex
}

// cameBack is ex as it comes back, with n tasks claimed at the Redis
// instant at, arrived the given time ago.
func cameBack(ex exchange, n int, at time.Time, ago time.Duration) exchange {
	ex.claim = store.Claim{Now: at, Messages: make([]store.Message, n)}
	ex.arrived = time.Now().Add(-ago)
	return ex
}

// received takes every exchange next gives now, by number.
func (l *claimer) received() (seqs []uint64) {
	for ex, ok := l.next(); ok; ex, ok = l.next() {
		seqs = append(seqs, ex.seq)
	}
	return seqs
}

// With one slot, a claim that came back waits for one sent before it, and
// the two are received in the order their claims ran in Redis; but not
// longer than maxHold, and never for a call that claims nothing; a claim
// that brought no task waits for none.
func TestOneSlotReceivesClaimsInTheOrderTheyRan(t *testing.T) {
	t0 := time.Now()
	t.Run("the later sent came back first, and ran first", func(t *testing.T) {
		l := loop(1)
		a, b := l.sentOne(true), l.sentOne(true)
		l.arrive(cameBack(b, 3, t0, 0))
		assert.Empty(t, l.received(), "b waits for a")
		l.arrive(cameBack(a, 3, t0.Add(time.Millisecond), 0))
		assert.Equal(t, []uint64{2, 1}, l.received(), "b's claim ran first")
	})
	t.Run("the earlier sent came back first", func(t *testing.T) {
		l := loop(1)
		a, b := l.sentOne(true), l.sentOne(true)
		l.arrive(cameBack(a, 3, t0, 0))
		assert.Empty(t, l.received(), "b, sent before a came back, may have run first")
		l.arrive(cameBack(b, 3, t0.Add(time.Millisecond), 0))
		assert.Equal(t, []uint64{1, 2}, l.received())
		c := l.sentOne(true) // sent after both came back: it ran after them
		l.arrive(cameBack(c, 3, t0.Add(2*time.Millisecond), 0))
		assert.Equal(t, []uint64{3}, l.received())
	})
	t.Run("a hung call holds no claim past maxHold", func(t *testing.T) {
		l := loop(1)
		a, b := l.sentOne(true), l.sentOne(true)
		_ = a // never comes back
		l.arrive(cameBack(b, 3, t0, l.maxHold()+time.Millisecond))
		assert.Equal(t, []uint64{2}, l.received())
	})
	t.Run("a call that claims nothing holds none", func(t *testing.T) {
		l := loop(1)
		a, b := l.sentOne(false), l.sentOne(true)
		_ = a
		l.arrive(cameBack(b, 3, t0, 0))
		assert.Equal(t, []uint64{2}, l.received())
	})
	t.Run("a reply with no task waits for none", func(t *testing.T) {
		l := loop(1)
		a, b := l.sentOne(true), l.sentOne(true)
		_ = a
		l.arrive(cameBack(b, 0, t0, 0))
		assert.Equal(t, []uint64{2}, l.received())
	})
	t.Run("with more slots, none waits", func(t *testing.T) {
		l := loop(2)
		a, b := l.sentOne(true), l.sentOne(true)
		l.arrive(cameBack(b, 3, t0, 0))
		assert.Equal(t, []uint64{2}, l.received())
		l.arrive(cameBack(a, 3, t0.Add(-time.Millisecond), 0))
		assert.Equal(t, []uint64{1}, l.received())
		require.Zero(t, l.inFlight)
	})
}
