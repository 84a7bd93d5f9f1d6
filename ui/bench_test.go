package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/ui"
)

// BenchmarkDashboardOfAMillionTasks measures what the dashboard's pages
// cost Redis when the docket holds a million tasks (DOCKET_BENCH_TASKS
// changes the number): half of them due (queued, no worker runs), half due
// over the next day, under ten task names. Redis's SLOWLOG, set to log
// every command, times each command and script call a page makes (a script
// call as a whole, the commands it runs included; Redis 7 logs those
// commands too, from client "?:0", and they are not counted twice);
// redis-µs/op is their sum per page, calls/op their number, and
// redis-max-µs the longest single call, during which Redis serves no other
// client.
//
//	go test ./ui -run '^$' -bench DashboardOfAMillionTasks -benchtime 20x
func BenchmarkDashboardOfAMillionTasks(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("DOCKET_BENCH_TASKS")); err == nil && v > 0 {
		n = v
	}
	srv := redistest.NewServer(b, "--appendonly", "no", "--save", "")
	ctx := context.Background()
	d, err := sdk.Open(ctx, srv.URL(), sdk.WithName("bench"), sdk.WithLogger(quiet))
	require.NoError(b, err)
	b.Cleanup(func() { _ = d.Close() })
	s, err := store.New(d.Redis(), "bench")
	require.NoError(b, err)

	start := time.Now()
	const chunk = 100_000
	later := time.Now().Add(time.Minute)
	for from := 0; from < n; from += chunk {
		tasks := make([]store.NewTask, 0, chunk)
		for i := from; i < min(from+chunk, n); i++ {
			when := store.When{At: time.Unix(1_700_000_000, 0).Add(time.Duration(i) * time.Millisecond)}
			if i%2 == 1 {
				when = store.When{At: later.Add(time.Duration(i) * 86 * time.Microsecond)}
			}
			tasks = append(tasks, store.NewTask{Key: fmt.Sprintf("task-%07d", i), Name: fmt.Sprintf("task_%d", i%10),
				Input: []byte(`{"customer_id":1001,"region":"eu"}`), When: when})
		}
		_, err := s.Add(ctx, store.ModeAdd, tasks)
		require.NoError(b, err)
	}
	now, err := s.Now(ctx)
	require.NoError(b, err)
	for i := range 60 {
		require.NoError(b, s.Stats(ctx, now.Add(-time.Duration(i)*time.Minute), map[string]int64{"completed": 1000, "completed:task_1": 1000}))
	}
	mem, err := s.Memory(ctx)
	require.NoError(b, err)
	b.Logf("%d tasks added in %v; Redis used memory %s", n, time.Since(start).Round(time.Second), mem.UsedHuman)

	h, err := ui.New(d, ui.Options{Logger: quiet})
	require.NoError(b, err)
	probe := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { _ = probe.Close() })
	require.NoError(b, probe.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err())
	require.NoError(b, probe.ConfigSet(ctx, "slowlog-max-len", "100000").Err())

	pages := []struct{ name, path string }{
		{"overview", "/"},
		{"queued-first-page", "/tasks?state=queued"},
		{"scheduled-page-at-400000", "/tasks?state=scheduled&offset=400000"},
		{"scheduled-filtered-by-name", "/tasks?state=scheduled&name=task_3"},
		{"scheduled-filtered-no-match", "/tasks?state=scheduled&prefix=nothing"},
		{"task", fmt.Sprintf("/task?key=task-%07d", n/2+1)},
	}
	for _, p := range pages { // load the scripts first: a first call costs one more round trip
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p.path, nil))
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var total, longest time.Duration
			calls := 0
			for b.Loop() {
				require.NoError(b, probe.Do(ctx, "SLOWLOG", "RESET").Err())
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d\n%s", p.path, rec.Code, rec.Body)
				}
				logged, err := probe.SlowLogGet(ctx, -1).Result()
				require.NoError(b, err)
				for _, e := range logged {
					if len(e.Args) > 0 && strings.EqualFold(e.Args[0], "slowlog") || e.ClientAddr == "?:0" {
						continue // the probe's own, or a command of a script (logged with the script too)
					}
					total += e.Duration
					longest = max(longest, e.Duration)
					calls++
				}
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "redis-µs/op")
			b.ReportMetric(float64(longest.Microseconds()), "redis-max-µs")
			b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
		})
	}
}
