package cli_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An operator and a value with an empty field are a usage error, not a
// strike of the whole task.
func TestStrikeComparisonWithoutField(t *testing.T) {
	f := newFixture(t)
	for _, args := range [][]string{{"sync", "", "", "x"}, {"sync", "", ">=", "1000"}} {
		r := f.run("", append([]string{"strike"}, args...)...)
		assert.Equal(t, 2, r.code, "%q", args)
		assert.Contains(t, r.stderr, "without a field", "%q", args)
	}
	strikes, err := f.d.Strikes(context.Background())
	require.NoError(t, err)
	assert.Empty(t, strikes)
}
