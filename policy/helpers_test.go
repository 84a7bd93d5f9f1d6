package policy_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones the tests use, even where the system has none

	"github.com/stretchr/testify/require"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}
