package store

import (
	"embed"
	"maps"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// Each state change of a task is one of these scripts, run atomically by
// Redis. Each is prepended with the table K of the docket's keys (luaKeys),
// the part of the schema it shares with Go that it or its part of lib.lua
// names (luaSchemaFor), and the definitions of lib.lua, the shared
// prelude (the Redis clock, number formatting, concurrency slots…), that
// it calls (libFor).
var (
	addScript        = load("add.lua")
	claimSource      = scriptSource("claim.lua")
	claimScript      = redis.NewScript(claimSource)
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

// lib is lib.lua, the prelude the scripts share, cut into its top-level
// definitions (see libParts).
var lib = readLib()

func readLib() []libPart {
	src, err := scriptFiles.ReadFile("scripts/lib.lua")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	return libParts(string(src))
}

func load(name string) *redis.Script {
	return redis.NewScript(scriptSource(name))
}

// scriptSource is the text of the script in scripts/name, as Redis runs
// it: the table K of the docket's keys, the part of the schema it names,
// the part of lib.lua it calls, and its own body.
func scriptSource(name string) string {
	body, err := scriptFiles.ReadFile("scripts/" + name)
	if err != nil {
		panic(err)
	}
	prelude := libFor(luaNames(codeOf(string(body))))
	names := luaNames(prelude)
	maps.Copy(names, luaNames(string(body)))
	schema := luaSchemaFor(func(n string) bool { return names[n] })
	return luaKeys() + schema + prelude + "\n" + string(body)
}

// A libPart is one top-level definition of lib.lua: a function, a table,
// a constant, or a forward-declared function's body. Redis runs a script's
// whole text at each call, each function definition making a closure, so
// a script carries only the definitions it calls, directly or through
// others (libFor): all of lib.lua made an Info call cost Redis about half
// again as much.
type libPart struct {
	text    string          // as written, its leading comment included
	defines []string        // the names it gives a value to
	uses    map[string]bool // the names in its code (see luaNames and codeOf)
}

// libDefinition matches the first line of a top-level definition: "local
// function f(", "local a, b = ", "local a" (declared, defined below),
// "function T.f(" (a table's function: it defines T) and "f = function(".
var libDefinition = regexp.MustCompile(`^(?:local function ([A-Za-z_]\w*)|local ([A-Za-z_][\w, ]*?)\s*(?:=|$)|function ([A-Za-z_]\w*)\.|([A-Za-z_]\w*) = function)`)

// libParts cuts lib.lua's source into its definitions, in their order. A
// definition runs from its first line to the next one's leading comment;
// the comment at the top of the file belongs to none.
func libParts(src string) []libPart {
	lines := strings.SplitAfter(src, "\n")
	var parts []libPart
	start := -1 // the line the current part's text starts at, its comment's
	comment := -1
	flush := func(end int) {
		if len(parts) > 0 {
			p := &parts[len(parts)-1]
			p.text = strings.Join(lines[start:end], "")
			p.uses = luaNames(codeOf(p.text))
		}
	}
	for i, line := range lines {
		if strings.HasPrefix(line, "--") {
			if comment < 0 {
				comment = i
			}
			continue
		}
		m := libDefinition.FindStringSubmatch(strings.TrimRight(codeOf(line), " \n"))
		if m == nil {
			comment = -1
			continue
		}
		from := i
		if comment >= 0 {
			from = comment
		}
		flush(from)
		start, comment = from, -1
		var defines []string
		for _, names := range m[1:] {
			for _, n := range strings.Split(names, ",") {
				if n = strings.TrimSpace(n); n != "" {
					defines = append(defines, n)
				}
			}
		}
		parts = append(parts, libPart{defines: defines})
	}
	flush(len(lines))
	return parts
}

// libFor is the part of lib.lua a script whose body has the given names
// needs: the definitions of those names, and of the names they use, and so
// on, in lib.lua's order (a definition is made before the code that runs
// it, as in the whole file).
func libFor(names map[string]bool) string {
	definedBy := map[string][]int{}
	for i, p := range lib {
		for _, n := range p.defines {
			definedBy[n] = append(definedBy[n], i)
		}
	}
	keep := make([]bool, len(lib))
	var need func(n string)
	need = func(n string) {
		for _, i := range definedBy[n] {
			if keep[i] {
				continue
			}
			keep[i] = true
			for u := range lib[i].uses {
				need(u)
			}
		}
	}
	for n := range names {
		need(n)
	}
	var b strings.Builder
	for i, p := range lib {
		if keep[i] {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// codeOf is Lua source src without its comments ("--" to the end of the
// line, outside a string) and the contents of its strings, for luaNames:
// a name a comment mentions, or a string holds (a key's, a field's), is no
// definition the code calls.
func codeOf(src string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++ // an escaped character, left out with the rest
			} else if c == quote || c == '\n' {
				quote = 0
				b.WriteByte(c)
			}
			continue
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
