package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
)

// BenchmarkScripts measures what the scripts of a task's common life cost
// Redis: one add of 1,000 tasks, claims and finishes of 25 tasks each (what
// a busy worker sends). It reports Redis's own time per task for each script
// (INFO commandstats), which no client-side timing can separate from the
// network and the client.
//
//	go test ./internal/store -run '^$' -bench Scripts -benchtime 20x
func BenchmarkScripts(b *testing.B) {
	ctx := context.Background()
	srv := redistest.NewServer(b, "--appendonly", "no", "--save", "")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	s, err := store.New(rdb, "bench")
	if err != nil {
		b.Fatal(err)
	}
	const tasks, batch = 1000, 25
	newTasks := make([]store.NewTask, tasks)
	var spent [3]time.Duration // add, claim, finish
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		for i := range newTasks {
			newTasks[i] = store.NewTask{Key: fmt.Sprintf("r%d-%d", round, i), Name: "noop", Input: []byte(`{"i":1}`)}
		}
		before := scriptTime(b, rdb)
		if _, err := s.Add(ctx, store.ModeAdd, newTasks); err != nil {
			b.Fatal(err)
		}
		afterAdd := scriptTime(b, rdb)
		var outcomes []store.Outcome
		for claimed := 0; claimed < tasks; {
			c, err := s.Claim(ctx, "w", batch, time.Minute, time.Minute, store.Rules{}, 5)
			if err != nil {
				b.Fatal(err)
			}
			claimed += len(c.Messages)
			for _, t := range c.Messages {
				outcomes = append(outcomes, store.Outcome{Key: t.Key, Gen: t.Gen, Kind: store.Completed})
			}
		}
		afterClaim := scriptTime(b, rdb)
		for start := 0; start < len(outcomes); start += batch {
			if _, err := s.Finish(ctx, time.Minute, outcomes[start:start+batch]); err != nil {
				b.Fatal(err)
			}
		}
		afterFinish := scriptTime(b, rdb)
		spent[0] += afterAdd - before
		spent[1] += afterClaim - afterAdd
		spent[2] += afterFinish - afterClaim
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*tasks) }
	b.ReportMetric(per(spent[0]), "add-µs/task")
	b.ReportMetric(per(spent[1]), "claim-µs/task")
	b.ReportMetric(per(spent[2]), "finish-µs/task")
}

// scriptTime is the time Redis spent in scripts so far (EVALSHA and EVAL,
// the commands they call included).
func scriptTime(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_evalsha:") && !strings.HasPrefix(line, "cmdstat_eval:") {
			continue
		}
		for _, field := range strings.Split(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), ",") {
			if v, ok := strings.CutPrefix(field, "usec="); ok {
				us, _ := strconv.ParseInt(v, 10, 64)
				total += time.Duration(us) * time.Microsecond
			}
		}
	}
	return total
}
