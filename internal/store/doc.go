// Package store is a docket's state in Redis: its keys, the Lua scripts
// that change it, and the Go wrappers that call them. Everything else in
// the module (sdk, worker, workflow, ui, the CLI) reads and changes tasks
// through a Store, and nothing else touches Redis.
//
// # Keys
//
// keys.go is the one place that spells a key. Every key of a docket shares
// the hash tag {name}, so that a docket lives in one Redis Cluster slot and
// every script touches keys of one slot. Every key is deleted, or has a
// TTL, once the task it serves has ended; leaks.go finds those that do not
// (the test helpers check it after every integration test).
//
// # Scripts
//
// Each state change of a task is one script in scripts/, run atomically by
// Redis, and named by a variable beside its Go wrapper (scripts.go). A
// script says at its top its KEYS, ARGV and reply. Every script is loaded
// after three preludes: the table K of the docket's keys (luaKeys, each
// made as it is first read), the part of the wire schema it names
// (luaSchemaFor) and the definitions of lib.lua it calls, directly or
// through others (libFor): the functions the scripts share (the Redis
// clock, reading records defensively, ending a task, slots, announcing
// changes to watchers). Redis runs a script's whole text at every call, so
// what a script does not use is left out.
//
// Time comes from Redis TIME, read by the scripts: every worker of the
// fleet agrees on it. The embedded backend's clock is the process's, so
// that inside a testing/synctest bubble (the testsuite) it is the fake
// clock (memory.go). Instants are unix microseconds.
//
// # Wire schema
//
// schema.go declares, once, every layout, word and number Go and the
// scripts share: the claim's reply (CLAIM_HEAD, CLAIMED, TURNED), the
// outcomes a worker reports (in groups: OUTCOMES, then an OUTCOME each),
// the lists a snapshot or a page returns (LISTED and their heads), states,
// outcome kinds, fates, reasons and the keys of the admission rules' JSON.
// Go indexes an entry with
// constants; a script writes and reads one by field name (put and get in
// lib.lua), and spells a word through a strict table (STATE.running), so
// that neither side spells a position or a word by hand. Replies are
// decoded defensively (message.go): a reply of the wrong shape is
// ErrMalformed, and one bad entry is set aside without losing the others.
//
// # Backends
//
// Open takes a URL: redis, rediss and unix; redis+cluster and
// redis+sentinel (with TLS variants); and memory://, an embedded Redis
// (miniredis) in the process, for tests and programs without a server.
// durability.go reads the server's eviction and persistence settings, to
// warn about a Redis that may lose tasks.
package store
