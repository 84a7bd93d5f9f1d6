package store

import (
	"maps"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every position of a layout has a name, and no two share one: a constant
// added without its name (or a name given twice) would make the scripts
// write a value where Go reads another.
func TestLayoutsAreWhole(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range layouts {
		assert.False(t, seen[l.lua], "two layouts are called %s", l.lua)
		seen[l.lua] = true
		fields := map[string]bool{}
		for i, name := range l.fields {
			assert.NotEmpty(t, name, "%s: position %d has no name", l.lua, i)
			assert.False(t, fields[name], "%s: %q is named twice", l.lua, name)
			fields[name] = true
		}
	}
}

// The rules' keys reach the scripts by the Go field's name.
func TestRuleKeysByFieldName(t *testing.T) {
	assert.Equal(t, [][2]string{{"debounce", "d"}, {"cooldowns", "cd"}, {"limits", "c"}, {"rates", "r"}}, jsonKeys(wireRule{}))
	assert.Contains(t, luaSchema(), `local RATE = strict('RATE', {arg = "a", limit = "m", per = "p", scope = "sc", drop = "d"})`)
	assert.Contains(t, luaSchema(), `local STRIKE = strict('STRIKE', {task = "t", field = "f", op = "o", value = "v", at = "at"})`,
		"a strike's keys too")
}

// The scripts spell no state, outcome kind, fate or reason as a literal:
// each is STATE.x, KIND.x, FATE.x or REASON.x, so that a word renamed in Go
// is renamed everywhere, and a misspelt one is an error. A word that is
// also the name of a record's field ("waiting", the line a task waits in)
// or of a layout's field ("queued", a NAME_COUNT's column) may be written
// as that field, not as a value: compared, stored as a state, announced or
// ended with.
func TestScriptsSpellNoWord(t *testing.T) {
	fields := map[string]bool{"waiting": true}
	for _, l := range layouts {
		for _, f := range l.fields {
			fields[f] = true
		}
	}
	files, err := scriptFiles.ReadDir("scripts")
	require.NoError(t, err)
	for _, w := range words {
		if w.lua == "PART" { // page.lua's own: "due" is also a field
			continue
		}
		for _, word := range w.words {
			literal := regexp.MustCompile(`(['"])` + word + `['"]`)
			asValue := regexp.MustCompile(`(HSET.*'state', |[=~]= |(announce|task_ended|turn_away|cancel_task)\(.*)(['"])` + word + `['"]`)
			for _, f := range files {
				body, err := scriptFiles.ReadFile("scripts/" + f.Name())
				require.NoError(t, err)
				for i, line := range strings.Split(string(body), "\n") {
					if strings.HasPrefix(strings.TrimSpace(line), "--") || !literal.MatchString(line) {
						continue
					}
					if fields[word] && !asValue.MatchString(line) {
						continue
					}
					t.Errorf("%s:%d spells %q: write %s.%s\n\t%s", f.Name(), i+1, word, w.lua, word, line)
				}
			}
		}
	}
}

// Each script says at its top what it takes and what it returns.
func TestScriptsSayWhatTheyTakeAndReturn(t *testing.T) {
	for name, body := range scriptBodies(t) {
		var head strings.Builder
		for line := range strings.Lines(body) {
			if !strings.HasPrefix(line, "--") {
				break
			}
			head.WriteString(line)
		}
		for _, w := range []string{"KEYS", "ARGV", "Returns"} {
			assert.Contains(t, head.String(), w, "%s does not say its %s at its top", name, w)
		}
	}
}

// A script's prelude holds the schema's tables that it or lib.lua names,
// and no others: the rest would be built at every call for nothing.
func TestScriptPreludeHoldsTheTablesItNames(t *testing.T) {
	prelude := scriptSource("claim.lua")
	for _, named := range []string{"CLAIM_HEAD", "CLAIMED", "TURNED", "OUTCOME", "STATE", "RULE"} {
		assert.Contains(t, prelude, "local "+named+" = ", "claim.lua names %s", named)
	}
	for _, unnamed := range []string{"SNAP_HEAD", "PAGE_HEAD", "OVERVIEW_HEAD", "COUNTS"} {
		assert.NotContains(t, prelude, "local "+unnamed+" = ", "neither claim.lua nor lib.lua names %s", unnamed)
	}
	assert.Equal(t, map[string]bool{"local": true, "x": true, "K": true, "a_1": true, "b": true},
		luaNames("local x = K.a_1 .. 2e5 -- b"), "names, not numbers")
}

// lib.lua cut into its definitions loses nothing but its opening comment,
// and each part says what it defines.
func TestLibPartsAreWhole(t *testing.T) {
	src, err := scriptFiles.ReadFile("scripts/lib.lua")
	require.NoError(t, err)
	var whole strings.Builder
	defined := map[string]bool{}
	for _, p := range lib {
		require.NotEmpty(t, p.defines, "a part of lib.lua defines nothing:\n%s", p.text)
		whole.WriteString(p.text)
		for _, n := range p.defines {
			defined[n] = true
		}
	}
	assert.True(t, strings.HasSuffix(string(src), whole.String()), "the parts, end to end, are lib.lua")
	assert.Less(t, len(src)-whole.Len(), 2000, "only the opening comment is left out")
	for _, n := range []string{"clock_us", "finish_attempts", "reap", "JSON", "ATTEMPT_1", "DELIVERIES_0", "strikes"} {
		assert.True(t, defined[n], "lib.lua defines %s", n)
	}
	// What libParts cuts on: every line at the left margin is a comment,
	// an end, or a definition it knows. Another statement there (x = 5,
	// function f() without local) would join the part before it, and be
	// left out of the scripts that call it.
	for i, line := range strings.Split(string(src), "\n") {
		if line == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "--") || line == "end" {
			continue
		}
		assert.Regexp(t, libDefinition, strings.TrimRight(codeOf(line), " "), "lib.lua:%d is not a definition libParts knows", i+1)
	}
}

// A script carries every definition of lib.lua that its body names, or
// that those name, and no other: a name left out would be a nil global at
// run time, and a definition put in costs every call.
func TestScriptsCarryTheLibTheyCall(t *testing.T) {
	for name, body := range scriptBodies(t) {
		src := scriptSource(name)
		names := luaNames(codeOf(body))
		var left []libPart
		for _, p := range lib {
			if strings.Contains(src, p.text) {
				maps.Copy(names, p.uses)
			} else {
				left = append(left, p)
			}
		}
		for _, p := range left {
			for _, n := range p.defines {
				assert.False(t, names[n], "%s calls %s, which lib.lua defines, without its definition", name, n)
			}
		}
	}
	info := scriptSource("info.lua")
	assert.NotContains(t, info, "local function finish_attempts", "Info finishes no attempt")
	assert.Contains(t, scriptSource("claim.lua"), "local function finish_attempts")
}

// The code of Lua source, for the names it calls: neither comments nor
// what strings hold.
func TestCodeOf(t *testing.T) {
	assert.Equal(t, "x = '' .. y \nz = \"\" .. w(\"\") \n",
		codeOf("x = '--' .. y -- not y\nz = \"a--b\\\"--\" .. w(\"v\") -- nor v\n"))
}

// scriptBodies is each script's own text by file name: lib.lua, the
// prelude, left out.
func scriptBodies(t *testing.T) map[string]string {
	files, err := scriptFiles.ReadDir("scripts")
	require.NoError(t, err)
	bodies := map[string]string{}
	for _, f := range files {
		if f.Name() == "lib.lua" {
			continue
		}
		body, err := scriptFiles.ReadFile("scripts/" + f.Name())
		require.NoError(t, err)
		bodies[f.Name()] = string(body)
	}
	return bodies
}
