package main

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sample runs as is, on the embedded backend, inside a synctest bubble:
// its timeouts and retry delays pass in fake time, so the outcome does not
// depend on how fast the machine is.
func TestQuickstart(t *testing.T) {
	t.Setenv("DOCKET_URL", "")
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), &out))
		s := out.String()
		assert.Contains(t, s, "added welcome-ada: scheduled; added it again: already scheduled")
		assert.Contains(t, s, "send_email to ada@example.com: attempt 1 failed")
		assert.Contains(t, s, `sent "Welcome" on attempt 3`)
		assert.Contains(t, s, "build_report daily: done in 50ms")
		assert.Contains(t, s, "build_report yearly: stopped, docket: task timed out")
		assert.Contains(t, s, "send_email welcome-ada: completed after 3 attempt(s)")
		assert.Regexp(t, `build_report \S+: failed after 1 attempt\(s\) docket: task timed out after 200ms`, s)
	})
}
