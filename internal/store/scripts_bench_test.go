package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
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
func scriptTime(b testing.TB, rdb *redis.Client) time.Duration {
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

// BenchmarkExchange measures the scripts of a busy worker's common case:
// 5,000 tasks added 1,000 per call, then claimed 42 at a time, each claim
// carrying the outcomes of the batch before it (Store.Exchange), completed
// tasks deleted. It reports Redis's time per task for adding and for
// processing (INFO commandstats).
//
// Time moves with everything else the machine runs; instructions do not.
// Given DOCKET_BENCH_REDIS (an address), it uses that server instead of
// starting one, so that the server can run under callgrind, whose count
// of instructions per task repeats within 0.2% from run to run:
//
//	valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out redis-server --port 7777 --save '' &
//	DOCKET_BENCH_REDIS=127.0.0.1:7777 go test ./internal/store -run '^$' -bench Exchange -benchtime 1x
//	redis-cli -p 7777 shutdown nosave; callgrind_annotate /tmp/cg.out | head -30
func BenchmarkExchange(b *testing.B) {
	ctx := context.Background()
	rdb := benchRedis(b)
	const tasks, chunk = 5000, 1000
	batch := 42 // DOCKET_BENCH_BATCH for another
	if n, err := strconv.Atoi(os.Getenv("DOCKET_BENCH_BATCH")); err == nil && n > 0 {
		batch = n
	}
	var added, processed time.Duration
	b.ResetTimer()
	for round := 0; round < b.N; round++ {
		s, err := store.New(rdb, fmt.Sprintf("bench-exchange-%d-%d", time.Now().UnixNano(), round))
		if err != nil {
			b.Fatal(err)
		}
		before := scriptTime(b, rdb)
		newTasks := make([]store.NewTask, chunk)
		for start := 0; start < tasks; start += chunk {
			for i := range newTasks {
				// keys as docket makes them (UUIDv7), which K.ready lists compactly
				newTasks[i] = store.NewTask{Key: uuid.Must(uuid.NewV7()).String(), Name: "noop", Input: []byte(`{"i":1}`)}
			}
			if _, err := s.Add(ctx, store.ModeAdd, newTasks); err != nil {
				b.Fatal(err)
			}
		}
		afterAdd := scriptTime(b, rdb)
		var outcomes []store.Outcome
		for done := 0; done < tasks; {
			c, err := s.Exchange(ctx, outcomes, "w", store.AllFree(batch), time.Minute, 0, store.Rules{}, 5)
			if err != nil {
				b.Fatal(err)
			}
			outcomes = outcomes[:0]
			for _, m := range c.Messages {
				outcomes = append(outcomes, store.Outcome{Key: m.Key, Gen: m.Gen, Kind: store.Completed, Keep: store.Discard})
			}
			done += len(c.Messages)
		}
		if _, err := s.Finish(ctx, 0, outcomes); err != nil {
			b.Fatal(err)
		}
		added += afterAdd - before
		processed += scriptTime(b, rdb) - afterAdd
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*tasks) }
	b.ReportMetric(per(added), "add-µs/task")
	b.ReportMetric(per(processed), "process-µs/task")
}

// BenchmarkOneCall measures what one call of a script costs Redis when it
// handles a single thing or nothing: an Info of a key without a task, an
// Add of one task, a claim that finds nothing due. Every script runs its
// prelude at each call (the table K, the schema's tables, lib.lua's
// definitions: see load), which such calls pay in full. It reports Redis's
// time per call (INFO commandstats).
//
// Given DOCKET_BENCH_REDIS, it uses that server, which may run under
// callgrind as for BenchmarkExchange; the instructions of one kind of call
// are those of a run of 2,000 calls less those of a run of one:
//
//	DOCKET_BENCH_REDIS=127.0.0.1:7777 go test ./internal/store -run '^$' -bench 'OneCall/info' -benchtime 2000x
func BenchmarkOneCall(b *testing.B) {
	ctx := context.Background()
	rdb := benchRedis(b)
	var heldGen string
	calls := map[string]func(s *store.Store, i int) error{
		"info": func(s *store.Store, _ int) error {
			_, _, err := s.Info(ctx, "none")
			return err
		},
		"add": func(s *store.Store, i int) error {
			_, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: strconv.Itoa(i), Name: "noop", Input: []byte(`{"i":1}`)}})
			return err
		},
		"claim": func(s *store.Store, _ int) error {
			_, err := s.Exchange(ctx, nil, "w", store.AllFree(10), time.Minute, 0, store.Rules{}, 5)
			return err
		},
		// a workflow's step saving its output
		"step": func(s *store.Store, i int) error {
			return s.Record(ctx, "wf", heldGen, "step:"+strconv.Itoa(i), `{"ok":true}`)
		},
	}
	for _, name := range []string{"info", "add", "claim", "step"} {
		b.Run(name, func(b *testing.B) {
			s, err := store.New(rdb, fmt.Sprintf("bench-call-%d", time.Now().UnixNano()))
			if err != nil {
				b.Fatal(err)
			}
			if name == "step" { // a workflow's run, holding its task
				if _, err := s.Add(ctx, store.ModeAdd, []store.NewTask{{Key: "wf", Name: "wf", Input: []byte(`{}`)}}); err != nil {
					b.Fatal(err)
				}
				heldGen = claimOne(b, s, "wf").Gen
			}
			if err := calls[name](s, -1); err != nil { // loads the script
				b.Fatal(err)
			}
			before := scriptTime(b, rdb)
			b.ResetTimer()
			for i := range b.N {
				if err := calls[name](s, i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((scriptTime(b, rdb)-before).Microseconds())/float64(b.N), "redis-µs/call")
		})
	}
}

// benchRedis is a client of DOCKET_BENCH_REDIS, given (a server run under
// callgrind, say), or of a server of the benchmark's own.
func benchRedis(b *testing.B) *redis.Client {
	addr := os.Getenv("DOCKET_BENCH_REDIS")
	if addr == "" {
		addr = redistest.NewServer(b, "--appendonly", "no", "--save", "").Addr
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
