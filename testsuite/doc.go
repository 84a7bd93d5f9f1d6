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
//
// # Waiting on results
//
// Result, Call and Watch wait as they would in production, while fake time
// runs on. A wait on work that cannot end by itself — a workflow waiting
// for a signal without a timeout, a task held by a strike — waits for ever:
// send the signal first (Env.Signal, or from a goroutine), or bound the wait
// with a context, whose deadline is fake time too:
//
//	ctx, cancel := context.WithTimeout(t.Context(), time.Hour) // returns in milliseconds
//	defer cancel()
//	_, err := Fulfil.Call(ctx, env.Docket(), order) // context.DeadlineExceeded if nothing came
//
// Env.RunUntilFinished tells that case apart, and fails the test saying so.
// A waiting call renews its interest in the task every 20 minutes of fake
// time (in production, every 10 seconds), a round trip to the embedded
// Redis each: a wait of 30 days costs about a second of the test.
//
// # Tasks that ignore their context
//
// A task that ignores its context (it sleeps past its Timeout, say) is
// abandoned at its deadline, as in production: the attempt fails with
// sdk.ErrTimeout while the function goes on. When the test function
// returns and its cleanups have run, Run waits for such functions to
// return, moving fake time, since the bubble cannot end while one of them
// runs; one still running a week of fake time later fails the test, which
// shows its stack, and is left behind, blocked for good (time in the bubble
// stops), while the other tests of the binary go on. That holds for a
// function blocked on what fake time sees (a sleep, a channel made in the
// test); one blocked on a mutex, I/O or a channel made elsewhere stops fake
// time, and the test hangs until go test's -timeout.
package testsuite
