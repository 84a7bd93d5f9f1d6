package sdk_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/redistest"
	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

var probeCmds = strings.Fields(`hello auth ping evalsha eval subscribe unsubscribe hgetall time
del exists get hget hincrby hmget hset llen lpop lrange lrem pexpire publish rpush sadd scard set smembers srem zadd zcard zcount zrange zrangebyscore zrem zremrangebyscore zrevrange zscore`)

func probeRun(t *testing.T, srv *redistest.Server, admin *redis.Client, cmds []string) {
	ctx := context.Background()
	name := redistest.Name(t)
	rules := []string{"reset", "on", ">pw", "~docket:{" + name + "}:*", "&docket:{" + name + "}:*"}
	for _, c := range cmds {
		rules = append(rules, "+"+c)
	}
	args := append([]any{"ACL", "SETUSER", "u"}, toAny(rules)...)
	if err := admin.Do(ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
	admin.Do(ctx, "ACL", "LOG", "RESET")
	d, err := sdk.Open(ctx, "redis://u:pw@"+srv.Addr+"/0?max_retries=0", sdk.WithName(name), sdk.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	runScenario(t, d, admin)
	cron := sdk.NewTask("yearly", func(ctx context.Context, _ struct{}) error { return nil }, policy.Cron("0 0 1 1 *"))
	if err := d.Register(cron); err != nil {
		t.Fatal(err)
	}
	if err := worker.New(d, worker.Options{}).RunUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Cancel(ctx, "yearly"); err != nil {
		t.Fatal(err)
	}
	log, _ := admin.Do(ctx, "ACL", "LOG").Slice()
	for _, e := range log {
		t.Errorf("ACL LOG: %v", e)
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestZZACLProbe(t *testing.T) {
	srv := redistest.NewServer(t)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	t.Run("all", func(t *testing.T) { probeRun(t, srv, admin, probeCmds) })
	if os.Getenv("PROBE_EACH") == "" {
		return
	}
	for i, c := range probeCmds {
		rest := append(append([]string{}, probeCmds[:i]...), probeCmds[i+1:]...)
		t.Run(fmt.Sprint("without-", strings.ReplaceAll(c, "|", "_")), func(t *testing.T) { probeRun(t, srv, admin, rest) })
	}
}
