package store

import (
	"errors"
	"fmt"
	"strings"
)

// This is the one file that spells the docket's Redis keys. Every key shares
// the hash tag {name}, so a whole docket lives in one Redis Cluster slot and
// every script touches keys of one slot only.
//
//	docket:{name}:scheduled     ZSET  task key -> due time (unix µs); scheduled and queued tasks
//	docket:{name}:running       ZSET  task key -> lease expiry (unix µs); claimed tasks
//	docket:{name}:task:<key>    HASH  one execution: name, input, gen, attempt, state, times, error
//	docket:{name}:workers       ZSET  worker id -> last heartbeat (unix µs); has a TTL
//	docket:{name}:worker:<id>   STRING worker description (JSON); has a TTL
//	docket:{name}:events        pub/sub channel: "w" wakes workers, "c:<gen>:<key>" cancels a run
//
// A task hash has no TTL while its task is scheduled, queued or running; when
// the task ends it gets the retention TTL. The zsets vanish when empty.

// keys holds the key names of one docket.
type keys struct {
	prefix    string // docket:{name}:
	scheduled string
	running   string
	workers   string
	events    string
}

// ErrBadName reports a docket name that cannot be used in a Redis key.
var ErrBadName = errors.New("docket: invalid docket name")

func newKeys(name string) (keys, error) {
	if name == "" || strings.ContainsAny(name, "{}") || strings.ContainsFunc(name, isSpaceOrControl) {
		return keys{}, fmt.Errorf("%w %q: it must be non-empty and contain no braces, spaces or control characters", ErrBadName, name)
	}
	p := "docket:{" + name + "}:"
	return keys{
		prefix:    p,
		scheduled: p + "scheduled",
		running:   p + "running",
		workers:   p + "workers",
		events:    p + "events",
	}, nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// taskPrefix is what the scripts prepend to a task key to name its hash.
func (k keys) taskPrefix() string { return k.prefix + "task:" }

func (k keys) task(key string) string { return k.taskPrefix() + key }

func (k keys) workerPrefix() string { return k.prefix + "worker:" }

// pattern matches every key of the docket, for SCAN.
func (k keys) pattern() string { return escapeGlob(k.prefix) + "*" }

// escapeGlob escapes the characters SCAN MATCH treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
