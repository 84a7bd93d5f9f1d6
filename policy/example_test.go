package policy_test

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/docket-go/docket/policy"
)

func ExampleRetry() {
	r := policy.Retry(3, 30*time.Second)
	for attempt := 1; ; attempt++ {
		if !r.Retries(attempt) {
			fmt.Printf("attempt %d failed: give up\n", attempt)
			break
		}
		fmt.Printf("attempt %d failed: retry in %v\n", attempt, r.DelayAfter(attempt))
	}
	// Output:
	// attempt 1 failed: retry in 30s
	// attempt 2 failed: retry in 30s
	// attempt 3 failed: give up
}

func ExampleExponentialRetry() {
	r := policy.ExponentialRetry(5, time.Second, 5*time.Minute)
	for attempt := 1; ; attempt++ {
		if !r.Retries(attempt) {
			fmt.Printf("attempt %d failed: give up\n", attempt)
			break
		}
		fmt.Printf("attempt %d failed: retry in %v\n", attempt, r.DelayAfter(attempt))
	}

	// With Unlimited attempts the delay stops growing at the maximum.
	capped := policy.ExponentialRetry(policy.Unlimited, time.Second, 10*time.Second)
	for _, attempt := range []int{1, 2, 3, 4, 5, 6, 10, 200} {
		fmt.Printf("after attempt %d: %v\n", attempt, capped.DelayAfter(attempt))
	}
	// Output:
	// attempt 1 failed: retry in 1s
	// attempt 2 failed: retry in 2s
	// attempt 3 failed: retry in 4s
	// attempt 4 failed: retry in 8s
	// attempt 5 failed: give up
	// after attempt 1: 1s
	// after attempt 2: 2s
	// after attempt 3: 4s
	// after attempt 4: 8s
	// after attempt 5: 10s
	// after attempt 6: 10s
	// after attempt 10: 10s
	// after attempt 200: 10s
}

func ExampleCron() {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		panic(err)
	}
	weekdays := policy.Cron("0 9 * * 1-5", policy.In(la))

	// Clocks in Los Angeles go forward on Sunday 8 March 2026.
	t := time.Date(2026, 3, 5, 18, 0, 0, 0, time.UTC)
	for range 4 {
		t, err = weekdays.Next(t)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s = %s\n", t.In(la).Format("Mon Jan 2 15:04 MST"), t.UTC().Format("15:04 UTC"))
	}
	// Output:
	// Fri Mar 6 09:00 PST = 17:00 UTC
	// Mon Mar 9 09:00 PDT = 16:00 UTC
	// Tue Mar 10 09:00 PDT = 16:00 UTC
	// Wed Mar 11 09:00 PDT = 16:00 UTC
}

// A cron task starts its chain by itself when a worker starts; with Manual
// it runs when added, then at each matching instant.
func ExampleManual() {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	fmt.Println(policy.Cron("@daily")) // in UTC
	fmt.Println(policy.Cron("30 2 * * *", policy.In(paris), policy.Manual()))
	// Output:
	// Cron("@daily")
	// Cron("30 2 * * *", In(Europe/Paris), Manual())
}

func ExampleCron_daylightSaving() {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		panic(err)
	}
	show := func(expr string, from time.Time, n int) {
		c := policy.Cron(expr, policy.In(la))
		fmt.Printf("%s from %s:\n", c, from.In(la).Format("Jan 2 15:04 MST"))
		for range n {
			from, err = c.Next(from)
			if err != nil {
				panic(err)
			}
			fmt.Printf("  %s\n", from.In(la).Format("Jan 2 15:04 MST"))
		}
	}
	// 02:30 does not exist on 8 March: it runs when the gap ends.
	show("30 2 * * *", time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC), 2)
	// 01:00 to 02:00 happens twice on 1 November: it runs once.
	show("0 * * * *", time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC), 3)
	// Output:
	// Cron("30 2 * * *", In(America/Los_Angeles)) from Mar 7 04:00 PST:
	//   Mar 8 03:00 PDT
	//   Mar 9 02:30 PDT
	// Cron("0 * * * *", In(America/Los_Angeles)) from Nov 1 00:00 PDT:
	//   Nov 1 01:00 PDT
	//   Nov 1 02:00 PST
	//   Nov 1 03:00 PST
}

func ExampleCompile() {
	type SyncInput struct {
		CustomerID int    `json:"customer_id"`
		Region     string `json:"region"`
	}
	set, err := policy.Compile("sync_customer", reflect.TypeFor[SyncInput](), []policy.Policy{
		policy.Cooldown("customer_id", 30*time.Second),
		policy.Concurrency("region", 2, policy.Scope("crm")),
		policy.ExponentialRetry(5, time.Second, 5*time.Minute),
		policy.Timeout(10 * time.Minute),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(set.Retry, set.Timeout, set.Concurrency, set.Cooldown)

	// A field name is the input's JSON name.
	_, err = policy.Compile("sync_customer", reflect.TypeFor[SyncInput](), []policy.Policy{
		policy.Concurrency("CustomerID", 1),
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, policy.ErrUnknownField))

	// An automatic task takes no input.
	_, err = policy.Compile("sync_customer", reflect.TypeFor[SyncInput](), []policy.Policy{
		policy.Cron("@daily"),
	})
	var perr *policy.Error
	if errors.As(err, &perr) {
		fmt.Printf("task %s, policy %s: %v\n", perr.Task, perr.Policy, errors.Is(err, policy.ErrAutomaticInput))
	}
	// Output:
	// ExponentialRetry(5, 1s, 5m0s) Timeout(10m0s) [Concurrency("region", 2, Scope("crm"))] [Cooldown("customer_id", 30s)]
	// docket: task "sync_customer": Concurrency("CustomerID", 1): no such input field "CustomerID"; the input has fields "customer_id", "region"
	// true
	// task sync_customer, policy Cron("@daily"): true
}

// A policy written as a struct literal is refused: its zero fields are not
// its builder's defaults (this cron schedule would be manual, where Cron
// makes it automatic). The error names the builder to use.
func ExampleCompile_structLiteral() {
	everyMinute := policy.CronPolicy{Expr: "* * * * *"}
	_, err := policy.Compile("tick", reflect.TypeFor[struct{}](), []policy.Policy{everyMinute})
	fmt.Println(err)
	fmt.Println(errors.Is(err, policy.ErrNotBuilt))

	// Built, the same schedule compiles, and its fields can be read.
	set, err := policy.Compile("tick", reflect.TypeFor[struct{}](), []policy.Policy{policy.Cron("* * * * *")})
	fmt.Println(err, set.Cron.Expr, set.Cron.Automatic)
	// Output:
	// docket: task "tick": policy.CronPolicy{Expr: "* * * * *"}: written as a struct literal, not built by its function; build it with policy.Cron(expr, ...)
	// true
	// <nil> * * * * * true
}

// A rate limit: at most 100 starts a minute per region, shared by every
// task in scope "crm"; over the limit a task waits for the window.
func ExampleRateLimit() {
	p := policy.RateLimit("region", 100, time.Minute, policy.Scope("crm"))
	fmt.Println(p)
	fmt.Println(policy.TaskRateLimit(10, time.Second, policy.DropOverLimit()))
	// Output:
	// RateLimit("region", 100, 1m0s, Scope("crm"))
	// TaskRateLimit(10, 1s, DropOverLimit())
}

// A timeout per attempt: the attempt's context ends 30 s after it started
// (ctx.Deadline() says when), and the attempt fails with sdk.ErrTimeout,
// which a retry policy retries with a fresh timeout.
func ExampleTimeout() {
	fmt.Println(policy.Timeout(30 * time.Second))
	// Output:
	// Timeout(30s)
}

// A perpetual task runs again every interval, counted from each run's
// start; Automatic starts its chain when a worker starts.
func ExamplePerpetual() {
	fmt.Println(policy.Perpetual(5 * time.Minute))
	fmt.Println(policy.Perpetual(time.Hour, policy.Automatic()))
	// Output:
	// Perpetual(5m0s)
	// Perpetual(1h0m0s, Automatic())
}

// At most two backups per database at once, however many tables; and at
// most three runs of a task in all, shared with other tasks of scope
// "warehouse". A task over a limit waits in line for a slot.
func ExampleConcurrency() {
	fmt.Println(policy.Concurrency("db_name", 2))
	fmt.Println(policy.TaskConcurrency(3, policy.Scope("warehouse")))
	// Output:
	// Concurrency("db_name", 2)
	// TaskConcurrency(3, Scope("warehouse"))
}

// A cooldown runs the first submission per customer and drops those that
// follow within ten minutes of it.
func ExampleCooldown() {
	fmt.Println(policy.Cooldown("customer_id", 10*time.Minute))
	fmt.Println(policy.TaskCooldown(time.Hour)) // one window for the task, whatever its input
	// Output:
	// Cooldown("customer_id", 10m0s)
	// TaskCooldown(1h0m0s)
}

// A debounce runs a burst of submissions per document once, with the
// burst's first input, when no submission came for five seconds.
func ExampleDebounce() {
	fmt.Println(policy.Debounce("document_id", 5*time.Second))
	fmt.Println(policy.TaskDebounce(time.Minute)) // one burst for the task, whatever its input
	// Output:
	// Debounce("document_id", 5s)
	// TaskDebounce(1m0s)
}
