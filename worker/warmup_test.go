package worker_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// timesHook records when each claim call is made.
type timesHook struct {
	claimHook
	mu    sync.Mutex
	times []time.Time
}

func (h *timesHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isClaim(cmd) {
			h.mu.Lock()
			h.times = append(h.times, time.Now())
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

// An idle worker looks once a little before the next task is due, so that
// a machine slow to wake pays for it then, and again at the due instant,
// when the task starts on time.
func TestIdleWorkerLooksOnceBeforeTheDueInstant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rdb, closeRedis := store.Embedded()
		defer closeRedis()
		h := &timesHook{}
		rdb.(*redis.Client).AddHook(h)
		d, err := sdk.OpenClient(rdb, sdk.WithName("warmup"))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close() // before the client: it stops the depth gauge
		started := make(chan time.Time, 1)
		task := sdk.NewTask("t", func(ctx context.Context, in orderIn) error {
			started <- time.Now()
			return nil
		})
		if err := d.Register(task); err != nil {
			t.Fatal(err)
		}
		w := worker.New(d, worker.Options{PollInterval: 7 * 24 * time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = w.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		synctest.Wait()

		due := time.Now().Add(time.Hour)
		if _, err := task.Add(context.Background(), d, orderIn{1}, sdk.At(due)); err != nil {
			t.Fatal(err)
		}
		if at := <-started; !at.Equal(due) {
			t.Fatalf("started at %v, %v after its due instant", at, at.Sub(due))
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		var early, onTime bool
		for _, at := range h.times {
			early = early || at.Equal(due.Add(-25*time.Millisecond))
			onTime = onTime || at.Equal(due)
		}
		if !early || !onTime {
			t.Fatalf("claims at %v; want one 25ms before %v and one at it", h.times, due)
		}
	})
}
