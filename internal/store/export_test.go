package store

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// RunWithSchema runs body after the preludes every script has (keys,
// schema, lib.lua), for tests of the preludes themselves.
func RunWithSchema(ctx context.Context, rdb redis.UniversalClient, body string) (any, error) {
	lib, err := scriptFiles.ReadFile("scripts/lib.lua")
	if err != nil {
		return nil, err
	}
	script := redis.NewScript(luaKeys() + luaSchema() + string(lib) + "\n" + body)
	return script.Run(ctx, rdb, []string{"{schema}"}, "{schema}:").Result()
}

// SignalWithID is Signal with the signal's id given, as when go-redis sends
// the same call again.
func (s *Store) SignalWithID(ctx context.Context, key, name string, payload []byte, id string) (bool, error) {
	return s.signal(ctx, key, name, payload, id)
}

// ProgressWithID is Progress with the call's id given, as when go-redis
// sends the same call again.
func (s *Store) ProgressWithID(ctx context.Context, key, gen, op, value, id string) (ProgressState, bool, error) {
	return s.progress(ctx, key, gen, op, value, id)
}

// RunAdd runs add.lua with the arguments given after the docket's prefix.
func RunAdd(ctx context.Context, s *Store, args ...any) (any, error) {
	return addScript.Run(ctx, s.rdb, []string{s.k.scheduled}, append([]any{s.k.prefix}, args...)...).Result()
}

// RunFinish runs finish.lua with the arguments given after the docket's
// prefix.
func RunFinish(ctx context.Context, s *Store, args ...any) (any, error) {
	return finishScript.Run(ctx, s.rdb, []string{s.k.running}, append([]any{s.k.prefix}, args...)...).Result()
}
