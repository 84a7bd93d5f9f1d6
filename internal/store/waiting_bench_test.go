package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// BenchmarkWaitingLine measures what a long line of tasks waiting for one
// concurrency slot costs the calls that touch it: 100,000 waiters by default
// (DOCKET_BENCH_WAITERS sets another number). With one task holding the
// slot and the rest waiting, it measures a Snapshot (the default listing
// limit, 1000), the Cancel of the last waiter, and a Clear of them all. For
// each it reports the wall time and the longest single script call, as
// Redis itself timed it (SLOWLOG): while one call runs, Redis serves no
// other client.
//
//	go test ./internal/store -run '^$' -bench WaitingLine -benchtime 1x
func BenchmarkWaitingLine(b *testing.B) {
	n := 100_000
	if v := os.Getenv("DOCKET_BENCH_WAITERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			b.Fatalf("DOCKET_BENCH_WAITERS=%q: want a number of at least 2", v)
		}
	}
	ctx := context.Background()
	srv := redistest.NewServer(b, "--appendonly", "no", "--save", "")
	// Long calls must not time out on the client's side: they are what is
	// measured.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 10 * time.Minute})
	defer rdb.Close()
	rules := store.NewRules(map[string]store.Rule{"t": {Limits: []store.Limit{{Max: 1}}}})
	// Load the scripts first: a script's first call also compiles it.
	warm, err := store.New(rdb, "bench-warm-up")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := warm.Snapshot(ctx, 1000); err != nil {
		b.Fatal(err)
	}
	if _, err := warm.Cancel(ctx, "none", time.Minute); err != nil {
		b.Fatal(err)
	}
	if _, err := warm.Clear(ctx, time.Minute); err != nil {
		b.Fatal(err)
	}
	var snapshot, cancel, clear, snapshotCall, cancelCall, clearCall time.Duration
	for round := 0; round < b.N; round++ {
		b.StopTimer()
		s, err := store.New(rdb, fmt.Sprintf("bench-waiting-%d", round))
		if err != nil {
			b.Fatal(err)
		}
		fillWaitingLine(b, s, n, rules)
		b.StartTimer()

		var d time.Duration
		var snap store.Snapshot
		d, snapshotCall = timed(b, rdb, func() error {
			var err error
			snap, err = s.Snapshot(ctx, 1000)
			return err
		})
		snapshot += d
		if snap.TotalWaiting != n-1 {
			b.Fatalf("snapshot: %d waiting, want %d", snap.TotalWaiting, n-1)
		}
		d, cancelCall = timed(b, rdb, func() error {
			ok, err := s.Cancel(ctx, fmt.Sprintf("k%07d", n-1), time.Minute)
			if err == nil && !ok {
				err = fmt.Errorf("the last waiter was not cancelled")
			}
			return err
		})
		cancel += d
		d, clearCall = timed(b, rdb, func() error {
			cleared, err := s.Clear(ctx, time.Minute)
			if err == nil && cleared != n-2 {
				err = fmt.Errorf("cleared %d, want %d", cleared, n-2)
			}
			return err
		})
		clear += d
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(per(snapshot), "snapshot-ms")
	b.ReportMetric(float64(snapshotCall.Microseconds())/1000, "snapshot-call-ms")
	b.ReportMetric(per(cancel), "cancel-ms")
	b.ReportMetric(float64(cancelCall.Microseconds())/1000, "cancel-call-ms")
	b.ReportMetric(per(clear), "clear-ms")
	b.ReportMetric(float64(clearCall.Microseconds())/1000, "clear-longest-call-ms")
}

// fillWaitingLine adds n tasks that share a limit of one slot and claims
// them all: the first holds the slot (running), the others wait in line.
func fillWaitingLine(b *testing.B, s *store.Store, n int, rules store.Rules) {
	b.Helper()
	ctx := context.Background()
	tasks := make([]store.NewTask, n)
	for i := range tasks {
		tasks[i] = store.NewTask{Key: fmt.Sprintf("k%07d", i), Name: "t", Input: []byte(`{}`)}
	}
	if _, err := s.Add(ctx, store.ModeAdd, tasks); err != nil {
		b.Fatal(err)
	}
	for {
		if _, err := s.Claim(ctx, "w", store.MaxBatch, time.Hour, time.Minute, rules, 5); err != nil {
			b.Fatal(err)
		}
		c, err := s.Count(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if c.Queued == 0 {
			if c.Running != 1 || c.Waiting != int64(n-1) {
				b.Fatalf("after the claims: %+v, want 1 running and %d waiting", c, n-1)
			}
			return
		}
	}
}

// timed runs fn and returns its wall time and the longest script call it
// made, as Redis's SLOWLOG timed it. The slow log also records the commands
// a script calls; only those slower than 50µs are logged, so that the
// entries of a long clear fit, and a script call faster than that counts as
// zero.
func timed(b *testing.B, rdb *redis.Client, fn func() error) (wall, longest time.Duration) {
	b.Helper()
	ctx := context.Background()
	for _, args := range [][]any{
		{"CONFIG", "SET", "slowlog-log-slower-than", "50"},
		{"CONFIG", "SET", "slowlog-max-len", "1000000"},
		{"SLOWLOG", "RESET"},
	} {
		if err := rdb.Do(ctx, args...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	wall = time.Since(start)
	entries, err := rdb.SlowLogGet(ctx, -1).Result()
	if err != nil {
		b.Fatal(err)
	}
	if len(entries) >= 1000000 {
		b.Fatalf("the slow log is full: its oldest entries are lost")
	}
	for _, e := range entries {
		if len(e.Args) > 0 && strings.HasPrefix(strings.ToLower(e.Args[0]), "eval") {
			longest = max(longest, e.Duration)
		}
	}
	return wall, longest
}
