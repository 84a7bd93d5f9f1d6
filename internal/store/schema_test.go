package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
}
