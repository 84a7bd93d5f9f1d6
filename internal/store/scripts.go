package store

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// Each state change of a task is one of these scripts, run atomically by
// Redis. Each is prepended with the table K of the docket's keys (luaKeys),
// the part of the schema it shares with Go that it or lib.lua names
// (luaSchemaFor) and lib.lua, the shared prelude: the Redis clock, number
// formatting, concurrency slots.
var (
	addScript        = load("add.lua")
	claimScript      = load("claim.lua")
	finishScript     = load("finish.lua")
	renewScript      = load("renew.lua")
	cancelScript     = load("cancel.lua")
	infoScript       = load("info.lua")
	snapshotScript   = load("snapshot.lua")
	unregisterScript = load("unregister.lua")
	progressScript   = load("progress.lua")
	clearScript      = load("clear.lua")
	countsScript     = load("counts.lua")
	watchScript      = load("watch.lua")
	knownScript      = load("known.lua")
	pendingScript    = load("pending.lua")
	startScript      = load("start.lua")
	stepScript       = load("step.lua")
	receiveScript    = load("receive.lua")
	signalScript     = load("signal.lua")
	reapScript       = load("reap.lua")
	strikeScript     = load("strike.lua")
	restoreScript    = load("restore.lua")
)

// lib is lib.lua, the prelude every script shares, and libNames the names
// it uses.
var lib, libNames = readLib()

func readLib() (string, map[string]bool) {
	src, err := scriptFiles.ReadFile("scripts/lib.lua")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return string(src), luaNames(string(src))
}

func load(name string) *redis.Script {
	body, err := scriptFiles.ReadFile("scripts/" + name)
	if err != nil {
		panic(err)
	}
	bodyNames := luaNames(string(body))
	schema := luaSchemaFor(func(n string) bool { return libNames[n] || bodyNames[n] })
	return redis.NewScript(luaKeys() + schema + lib + "\n" + string(body))
}
