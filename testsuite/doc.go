// Package testsuite runs a docket's real worker against an embedded Redis
// inside a testing/synctest bubble, where time is fake: it moves only when
// every goroutine of the test is blocked, and then jumps straight to the next
// timer. A task due in three weeks runs in microseconds of wall time, at its
// exact due instant; so do retries, timeouts, and tasks that call
// time.Sleep.
//
//	func TestReminder(t *testing.T) {
//		testsuite.Run(t, func(t *testing.T, env *testsuite.Env) {
//			env.Register(SendReminder)
//			SendReminder.Add(t.Context(), env.Docket(), Reminder{To: "ada"}, sdk.After(24*time.Hour))
//			env.Advance(24 * time.Hour)
//			require.Len(t, env.Runs("send_reminder"), 1)
//		})
//	}
//
// Everything the test does must happen inside the bubble: use t.Context()
// or context.Background() created there, not a context from outside.
package testsuite
