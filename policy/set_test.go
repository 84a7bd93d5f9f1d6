package policy_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
)

type syncInput struct {
	CustomerID int    `json:"customer_id"`
	Region     string `json:"region"`
}

type noInput struct{}

// compile is Compile for a task called "sync_customer" with input In.
func compile[In any](policies ...policy.Policy) (*policy.Set, error) {
	return policy.Compile("sync_customer", reflect.TypeFor[In](), policies)
}

// requirePolicyError checks that err is a *policy.Error for the task
// "sync_customer" and the policy p, wrapping sentinel, and that its message
// contains each of fragments.
func requirePolicyError(t *testing.T, err error, sentinel error, p string, fragments ...string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, sentinel)
	var perr *policy.Error
	require.ErrorAs(t, err, &perr)
	assert.Equal(t, "sync_customer", perr.Task)
	assert.Equal(t, p, perr.Policy)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, `docket: task "sync_customer": `+p+": "), "message %q", msg)
	for _, f := range fragments {
		assert.Contains(t, msg, f)
	}
}

func TestCompileAcceptsTheDesignExample(t *testing.T) {
	t.Parallel()
	s, err := compile[syncInput](
		policy.Cooldown("customer_id", 30*time.Second),
		policy.Concurrency("region", 2, policy.Scope("crm")),
		policy.ExponentialRetry(5, time.Second, 5*time.Minute),
		policy.Timeout(10*time.Minute),
	)
	require.NoError(t, err)
	require.NotNil(t, s)
	// Struct literals are not built policies: the fields are compared.
	require.Len(t, s.Cooldown, 1)
	assert.Equal(t, []any{"customer_id", 30 * time.Second}, []any{s.Cooldown[0].Arg, s.Cooldown[0].Window})
	require.Len(t, s.Concurrency, 1)
	c := s.Concurrency[0]
	assert.Equal(t, []any{"region", 2, "crm"}, []any{c.Arg, c.Max, c.Scope})
	require.NotNil(t, s.Retry)
	assert.Equal(t, policy.ExponentialRetry(5, time.Second, 5*time.Minute), *s.Retry)
	require.NotNil(t, s.Timeout)
	assert.Equal(t, 10*time.Minute, s.Timeout.Duration)
	assert.Nil(t, s.Perpetual)
	assert.Nil(t, s.Cron)
	assert.Nil(t, s.Debounce)
	assert.False(t, s.Automatic())
}

func TestCompileWithoutPolicies(t *testing.T) {
	t.Parallel()
	s, err := compile[syncInput]()
	require.NoError(t, err)
	assert.Nil(t, s.Retry)
	assert.Nil(t, s.Timeout)
	assert.Nil(t, s.Perpetual)
	assert.Nil(t, s.Cron)
	assert.Nil(t, s.Debounce)
	assert.Empty(t, s.Concurrency)
	assert.Empty(t, s.Cooldown)
	assert.False(t, s.Automatic())
}

func TestCompileCollectsEveryPolicy(t *testing.T) {
	t.Parallel()
	s, err := compile[syncInput](
		policy.Retry(3, time.Second),
		policy.Timeout(time.Minute),
		policy.Perpetual(time.Hour),
		policy.Concurrency("region", 2),
		policy.Concurrency("region", 5, policy.Scope("crm")), // same field, another scope
		policy.TaskConcurrency(10),
		policy.Cooldown("customer_id", time.Minute),
		policy.TaskCooldown(time.Second), // a task-wide and a per-field cooldown together
		policy.Debounce("customer_id", 2*time.Second),
	)
	require.NoError(t, err)
	assert.Equal(t, policy.Retry(3, time.Second), *s.Retry)
	assert.Equal(t, policy.Timeout(time.Minute), *s.Timeout)
	assert.Equal(t, policy.Perpetual(time.Hour), *s.Perpetual)
	// Struct literals are not built policies: the fields are compared.
	var limits [][]any
	for _, c := range s.Concurrency {
		limits = append(limits, []any{c.Arg, c.Max, c.Scope})
	}
	assert.Equal(t, [][]any{{"region", 2, ""}, {"region", 5, "crm"}, {"", 10, ""}}, limits)
	var cooldowns [][]any
	for _, c := range s.Cooldown {
		cooldowns = append(cooldowns, []any{c.Arg, c.Window})
	}
	assert.Equal(t, [][]any{{"customer_id", time.Minute}, {"", time.Second}}, cooldowns)
	assert.Equal(t, []any{"customer_id", 2 * time.Second}, []any{s.Debounce.Arg, s.Debounce.Settle})
	assert.False(t, s.Automatic(), "a perpetual task is manual unless Automatic()")
}

func TestCompileRejectsNonStructInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input reflect.Type
	}{
		{"nil type", nil},
		{"int", reflect.TypeFor[int]()},
		{"string", reflect.TypeFor[string]()},
		{"pointer to struct", reflect.TypeFor[*syncInput]()},
		{"map", reflect.TypeFor[map[string]any]()},
		{"slice of structs", reflect.TypeFor[[]syncInput]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := policy.Compile("sync_customer", tt.input, []policy.Policy{policy.Timeout(time.Minute)})
			assert.Nil(t, s)
			requirePolicyError(t, err, policy.ErrInvalid, "input", "must be a struct type")
		})
	}
}

func TestCompileRejectsNilPolicy(t *testing.T) {
	t.Parallel()
	_, err := compile[syncInput](policy.Timeout(time.Minute), nil)
	requirePolicyError(t, err, policy.ErrInvalid, "nil policy")

	// A policy left unset, a nil pointer in the interface: it panicked.
	var unset *policy.RetryPolicy
	_, err = compile[syncInput](unset)
	requirePolicyError(t, err, policy.ErrInvalid, "nil *policy.RetryPolicy")
}

func TestCompileRejectsUnknownField(t *testing.T) {
	t.Parallel()
	const fields = `the input has fields "customer_id", "region"`
	tests := []struct {
		name   string
		policy policy.Policy
		want   string // the policy as the error names it
	}{
		{"concurrency", policy.Concurrency("customer", 2), `Concurrency("customer", 2)`},
		{"concurrency with scope", policy.Concurrency("Region", 2, policy.Scope("crm")), `Concurrency("Region", 2, Scope("crm"))`},
		{"concurrency by Go name of a tagged field", policy.Concurrency("CustomerID", 1), `Concurrency("CustomerID", 1)`},
		{"cooldown", policy.Cooldown("customerId", time.Minute), `Cooldown("customerId", 1m0s)`},
		{"debounce", policy.Debounce("zone", time.Second), `Debounce("zone", 1s)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile[syncInput](tt.policy)
			requirePolicyError(t, err, policy.ErrUnknownField, tt.want, fields)
			var perr *policy.Error
			require.ErrorAs(t, err, &perr)
			assert.ErrorIs(t, perr.Err, policy.ErrUnknownField)
		})
	}

	t.Run("exact message", func(t *testing.T) {
		_, err := compile[syncInput](policy.Concurrency("customer", 2))
		assert.EqualError(t, err,
			`docket: task "sync_customer": Concurrency("customer", 2): no such input field "customer"; the input has fields "customer_id", "region"`)
	})

	t.Run("input without fields", func(t *testing.T) {
		_, err := compile[noInput](policy.Cooldown("customer_id", time.Minute))
		requirePolicyError(t, err, policy.ErrUnknownField, `Cooldown("customer_id", 1m0s)`, `"customer_id"; the input has no fields`)
	})

	t.Run("task-wide policies need no field", func(t *testing.T) {
		_, err := compile[noInput](policy.TaskConcurrency(1), policy.TaskCooldown(time.Minute), policy.TaskDebounce(time.Second))
		require.NoError(t, err)
	})
}

func TestCompileRejectsDuplicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		policies []policy.Policy
		want     string // the rejected policy, as the error names it
		already  string // the policy already declared, as the error names it
	}{
		{"retry twice", []policy.Policy{policy.Retry(3, time.Second), policy.Retry(5, time.Minute)},
			"Retry(5, 1m0s)", "Retry(3, 1s)"},
		{"retry then exponential retry", []policy.Policy{policy.Retry(3, time.Second), policy.ExponentialRetry(5, time.Second, time.Minute)},
			"ExponentialRetry(5, 1s, 1m0s)", "Retry(3, 1s)"},
		{"timeout twice", []policy.Policy{policy.Timeout(time.Minute), policy.Timeout(time.Minute)},
			"Timeout(1m0s)", "Timeout(1m0s)"},
		{"perpetual twice", []policy.Policy{policy.Perpetual(time.Minute), policy.Perpetual(time.Hour)},
			"Perpetual(1h0m0s)", "Perpetual(1m0s)"},
		{"cron twice", []policy.Policy{policy.Cron("@daily", policy.Manual()), policy.Cron("@hourly", policy.Manual())},
			`Cron("@hourly", Manual())`, `Cron("@daily", Manual())`},
		{"debounce twice", []policy.Policy{policy.Debounce("region", time.Second), policy.Debounce("customer_id", time.Second)},
			`Debounce("customer_id", 1s)`, `Debounce("region", 1s)`},
		{"task debounce after debounce", []policy.Policy{policy.Debounce("region", time.Second), policy.TaskDebounce(time.Minute)},
			"TaskDebounce(1m0s)", `Debounce("region", 1s)`},
		{"concurrency on the same field and scope", []policy.Policy{policy.Concurrency("region", 2), policy.Concurrency("region", 3)},
			`Concurrency("region", 3)`, `Concurrency("region", 2)`},
		{"task concurrency twice in one scope", []policy.Policy{policy.TaskConcurrency(2, policy.Scope("x")), policy.TaskConcurrency(3, policy.Scope("x"))},
			`TaskConcurrency(3, Scope("x"))`, `TaskConcurrency(2, Scope("x"))`},
		{"cooldown on the same field", []policy.Policy{policy.Cooldown("region", time.Second), policy.Cooldown("region", time.Minute)},
			`Cooldown("region", 1m0s)`, `Cooldown("region", 1s)`},
		{"task cooldown twice", []policy.Policy{policy.TaskCooldown(time.Second), policy.TaskCooldown(time.Minute)},
			"TaskCooldown(1m0s)", "TaskCooldown(1s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile[syncInput](tt.policies...)
			requirePolicyError(t, err, policy.ErrDuplicate, tt.want, "(already "+tt.already+")")
		})
	}
}

func TestCompileRejectsPerpetualWithCron(t *testing.T) {
	t.Parallel()
	for _, order := range [][]policy.Policy{
		{policy.Perpetual(time.Minute), policy.Cron("@daily", policy.Manual())},
		{policy.Cron("@daily", policy.Manual()), policy.Perpetual(time.Minute)},
	} {
		_, err := compile[syncInput](order...)
		requirePolicyError(t, err, policy.ErrConflict, `Cron("@daily", Manual())`, "Perpetual(1m0s)")
		assert.NotErrorIs(t, err, policy.ErrAutomaticInput)
	}
	// Both automatic, with an empty input: still one schedule only.
	_, err := compile[noInput](policy.Perpetual(time.Minute, policy.Automatic()), policy.Cron("@daily"))
	requirePolicyError(t, err, policy.ErrConflict, `Cron("@daily")`, "Perpetual(1m0s, Automatic())")
}

// Types for the automatic-input rule.
type (
	onlyUnexported struct {
		n int //lint:ignore U1000 only its presence matters
	}
	onlyDashed struct {
		N int `json:"-"`
	}
	oneField struct{ N int }
)

func TestCompileAutomaticInput(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	tests := []struct {
		name      string
		input     reflect.Type
		schedule  policy.Policy
		automatic bool
		wantErr   string // the policy named by ErrAutomaticInput; empty when accepted
	}{
		{"automatic perpetual, fields", reflect.TypeFor[syncInput](), policy.Perpetual(time.Minute, policy.Automatic()), true,
			"Perpetual(1m0s, Automatic())"},
		{"cron (automatic by default), fields", reflect.TypeFor[syncInput](), policy.Cron("0 9 * * 1-5", policy.In(la)), true,
			`Cron("0 9 * * 1-5", In(America/Los_Angeles))`},
		{"explicitly automatic cron, one field", reflect.TypeFor[oneField](), policy.Cron("@hourly", policy.Automatic()), true,
			`Cron("@hourly")`},
		{"automatic perpetual, empty struct", reflect.TypeFor[struct{}](), policy.Perpetual(time.Minute, policy.Automatic()), true, ""},
		{"cron, named empty struct", reflect.TypeFor[noInput](), policy.Cron("@daily"), true, ""},
		{"cron, only unexported fields", reflect.TypeFor[onlyUnexported](), policy.Cron("@daily"), true, ""},
		{"cron, only json:\"-\" fields", reflect.TypeFor[onlyDashed](), policy.Cron("@daily"), true, ""},
		{"manual cron, fields", reflect.TypeFor[syncInput](), policy.Cron("@daily", policy.Manual()), false, ""},
		{"perpetual without Automatic, fields", reflect.TypeFor[syncInput](), policy.Perpetual(time.Minute), false, ""},
		{"perpetual with Manual, fields", reflect.TypeFor[syncInput](), policy.Perpetual(time.Minute, policy.Manual()), false, ""},
		{"Manual then Automatic: the last option wins", reflect.TypeFor[syncInput](), policy.Cron("@daily", policy.Manual(), policy.Automatic()), true,
			`Cron("@daily")`},
		{"Automatic then Manual: the last option wins", reflect.TypeFor[syncInput](), policy.Cron("@daily", policy.Automatic(), policy.Manual()), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := policy.Compile("sync_customer", tt.input, []policy.Policy{tt.schedule})
			if tt.wantErr != "" {
				assert.Nil(t, s)
				requirePolicyError(t, err, policy.ErrAutomaticInput, tt.wantErr, "policy.Manual()", tt.input.String())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.automatic, s.Automatic())
		})
	}

	t.Run("the error lists the fields", func(t *testing.T) {
		_, err := compile[syncInput](policy.Cron("@daily"))
		requirePolicyError(t, err, policy.ErrAutomaticInput, `Cron("@daily")`, `has fields "customer_id", "region"`)
	})
}

func TestCompileRejectsBadCron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		expr string
		says string // which field, where it can tell
	}{
		{"minute out of range", "61 * * * *", `field 1, the minute (0-59), is "61"`},
		{"hour out of range", "0 24 * * *", `field 2, the hour (0-23), is "24"`},
		{"day of month zero", "0 0 0 * *", `field 3, the day of month (1-31), is "0"`},
		{"month out of range", "0 0 * 13 *", `field 4, the month (1-12 or JAN-DEC), is "13"`},
		{"weekday out of range", "0 0 * * 8", `field 5, the day of week (0-6 or SUN-SAT), is "8"`},
		{"zero step", "*/0 * * * *", `field 1, the minute`},
		{"words", "a b c d e", ""},
		{"three fields", "* * *", ""},
		{"six fields (seconds)", "0 0 9 * * *", ""},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"unknown keyword", "@fortnightly", ""},
		{"keyword with fields", "@daily 5", ""},
		{"February 30th never comes", "0 0 30 2 *", ""},
		{"April 31st never comes", "0 0 31 4 *", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := policy.Cron(tt.expr, policy.Manual())
			_, err := compile[syncInput](c)
			requirePolicyError(t, err, policy.ErrBadCron, fmt.Sprintf("Cron(%q, Manual())", tt.expr), fmt.Sprintf("bad cron expression %q", tt.expr))
			assert.ErrorContains(t, err, tt.says)

			// Next on a bad policy reports the same problem.
			_, err = c.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			require.ErrorIs(t, err, policy.ErrBadCron)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", tt.expr))
		})
	}
}

func TestCompileAcceptsGoodCron(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		"* * * * *", "0 9 * * 1-5", "*/15 * * * *", "0,30 8-18 * * *", "0 0 1 1 *",
		"0 0 29 2 *", // leap years only
		"0 0 * * 7",  // Sunday, also spelled 7
		"  0 9  *  * 1-5 ",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly",
		"@DAILY", " @hourly ",
	} {
		t.Run(expr, func(t *testing.T) {
			_, err := compile[noInput](policy.Cron(expr))
			require.NoError(t, err)
		})
	}
}

func TestCompileRejectsInvalidArguments(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	tests := []struct {
		name     string
		policy   policy.Policy
		want     string // the policy as the error names it
		fragment string
	}{
		{"retry with zero attempts", policy.Retry(0, time.Second), "Retry(0, 1s)", "at least 1"},
		{"retry with negative attempts", policy.Retry(-2, time.Second), "Retry(-2, 1s)", "at least 1"},
		{"retry with negative delay", policy.Retry(3, -time.Second), "Retry(3, -1s)", "negative delay"},
		{"exponential retry with zero attempts", policy.ExponentialRetry(0, time.Second, time.Minute), "ExponentialRetry(0, 1s, 1m0s)", "at least 1"},
		{"exponential retry with negative min", policy.ExponentialRetry(3, -time.Second, time.Minute), "ExponentialRetry(3, -1s, 1m0s)", "negative delay"},
		{"exponential retry with max below min", policy.ExponentialRetry(3, time.Minute, time.Second), "ExponentialRetry(3, 1m0s, 1s)", "less than the minimum"},
		{"exponential retry with zero min", policy.ExponentialRetry(3, 0, time.Minute), "ExponentialRetry(3, 0s, 1m0s)", "never grows"},
		{"exponential retry with zero max", policy.ExponentialRetry(3, time.Second, 0), "ExponentialRetry(3, 1s, 0s)", "less than the minimum"},
		{"zero timeout", policy.Timeout(0), "Timeout(0s)", "positive"},
		{"negative timeout", policy.Timeout(-time.Second), "Timeout(-1s)", "positive"},
		{"zero perpetual interval", policy.Perpetual(0), "Perpetual(0s)", "positive"},
		{"negative perpetual interval", policy.Perpetual(-time.Minute, policy.Automatic()), "Perpetual(-1m0s, Automatic())", "positive"},
		{"In on Perpetual", policy.Perpetual(time.Minute, policy.In(la)), "Perpetual(1m0s)", "policy.In applies to Cron"},
		{"In(UTC) on Perpetual", policy.Perpetual(time.Minute, policy.In(time.UTC)), "Perpetual(1m0s)", "policy.In applies to Cron"},
		{"zero concurrency", policy.Concurrency("region", 0), `Concurrency("region", 0)`, "at least 1"},
		{"negative task concurrency", policy.TaskConcurrency(-1), "TaskConcurrency(-1)", "at least 1"},
		{"zero cooldown", policy.Cooldown("region", 0), `Cooldown("region", 0s)`, "positive"},
		{"sub-microsecond cooldown", policy.TaskCooldown(500 * time.Nanosecond), "TaskCooldown(500ns)", "1µs at least"},
		{"sub-microsecond debounce", policy.TaskDebounce(time.Nanosecond), "TaskDebounce(1ns)", "1µs at least"},
		{"sub-microsecond perpetual interval", policy.Perpetual(time.Nanosecond), "Perpetual(1ns)", "1µs at least"},
		{"negative task cooldown", policy.TaskCooldown(-time.Second), "TaskCooldown(-1s)", "positive"},
		{"zero debounce", policy.Debounce("region", 0), `Debounce("region", 0s)`, "positive"},
		{"negative task debounce", policy.TaskDebounce(-time.Second), "TaskDebounce(-1s)", "positive"},
		{"cooldown for ever", policy.TaskCooldown(math.MaxInt64), "TaskCooldown(2562047h47m16.854775807s)", "at most 100 years"},
		{"rate limit per ever", policy.TaskRateLimit(1, math.MaxInt64), "TaskRateLimit(1, 2562047h47m16.854775807s)", "at most 100 years"},
		{"debounce settling for ever", policy.TaskDebounce(math.MaxInt64), "TaskDebounce(2562047h47m16.854775807s)", "at most 100 years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile[syncInput](tt.policy)
			requirePolicyError(t, err, policy.ErrInvalid, tt.want, tt.fragment)
		})
	}
}

func TestCompileAcceptsEdgeArguments(t *testing.T) {
	t.Parallel()
	for _, p := range []policy.Policy{
		policy.Retry(1, 0), // one attempt: no retry at all
		policy.Retry(3, 0), // retry at once
		policy.Retry(policy.Unlimited, time.Minute),
		policy.ExponentialRetry(policy.Unlimited, time.Second, time.Second), // min = max
		policy.Timeout(time.Nanosecond),
		policy.Perpetual(time.Microsecond),
		policy.TaskConcurrency(1),
		policy.TaskCooldown(time.Microsecond),
		policy.TaskDebounce(time.Microsecond),
		policy.TaskCooldown(policy.MaxWindow),
		policy.TaskRateLimit(1, policy.MaxWindow),
		policy.Cron("@daily", policy.In(nil), policy.Manual()), // nil location means UTC
	} {
		t.Run(p.String(), func(t *testing.T) {
			_, err := compile[syncInput](p)
			require.NoError(t, err)
		})
	}
}

func TestCompileStopsAtTheFirstProblem(t *testing.T) {
	t.Parallel()
	_, err := compile[syncInput](
		policy.Timeout(time.Minute),
		policy.Concurrency("nope", 1),
		policy.Timeout(0),
	)
	requirePolicyError(t, err, policy.ErrUnknownField, `Concurrency("nope", 1)`)
	assert.NotErrorIs(t, err, policy.ErrInvalid)
}

// Types for the JSON-naming rules.
type (
	Base struct {
		TenantID string `json:"tenant_id"`
		Plain    int
	}
	base struct {
		Shard int `json:"shard"`
	}
	Other struct {
		Zone  string `json:"zone"`
		Plain int
	}
	Code int

	jsonTagged struct {
		CustomerID int    `json:"customer_id"`
		Region     string `json:"region,omitempty"`
		Untagged   string
		OnlyOpts   string `json:",omitempty"`
		Skipped    string `json:"-"`
		unexported string //lint:ignore U1000 only its presence matters
		Hidden     string `json:"hidden"`
		Other      string `xml:"other_xml"`
	}
	embedsStruct struct {
		Base
		Own int `json:"own"`
	}
	embedsPointer struct {
		*Base
		Own int `json:"own"`
	}
	embedsUnexported struct {
		base
		Own int `json:"own"`
	}
	embedsUnexportedPointer struct {
		*base
		Own int `json:"own"`
	}
	embedsTagged struct {
		Base `json:"base"`
		Own  int `json:"own"`
	}
	embedsDashed struct {
		Base `json:"-"`
		Own  int `json:"own"`
	}
	embedsNonStruct struct {
		Code
		Own int `json:"own"`
	}
	embedsTwoLevels struct {
		embedsStruct
		Top int `json:"top"`
	}
	// Go hides Base.Plain behind Shadow.Plain; JSON hides the shallower
	// untagged one only by name, so "Plain" stays (from Shadow) and the
	// JSON name of the tagged Base field is still visible.
	shadowsByGoName struct {
		Base
		TenantID int `json:"tenant"`
	}
	// Two embedded structs give "Plain" at the same depth, both untagged:
	// encoding/json drops it.
	ambiguous struct {
		Base
		Other
	}
	// A tag at the same depth wins over an untagged field of the same name.
	Tagged struct {
		P int `json:"Plain"`
	}
	taggedWins struct {
		Base
		Tagged
	}
	// An unexported embedded struct with a tag is an ordinary field.
	embedsUnexportedTagged struct {
		base `json:"b"`
		Own  int `json:"own"`
	}
	Left  struct{ Base }
	Right struct{ Base }
)

func TestCompileFieldNamesFollowEncodingJSON(t *testing.T) {
	t.Parallel()
	// Built at run time, since vet rightly flags such structs in source.
	// Two fields tagged "x" at the same depth: encoding/json drops "x".
	duplicateTags := reflect.StructOf([]reflect.StructField{
		{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"a"`},
		{Name: "B", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
		{Name: "C", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
	})
	// The same struct reached twice at one depth: its fields are ambiguous.
	sameTwice := reflect.StructOf([]reflect.StructField{
		{Name: "Left", Type: reflect.TypeFor[Left](), Anonymous: true},
		{Name: "Right", Type: reflect.TypeFor[Right](), Anonymous: true},
		{Name: "Own", Type: reflect.TypeFor[int](), Tag: `json:"own"`},
	})
	// Odd tags: "-," names a field "-"; a name encoding/json refuses falls
	// back to the Go name; a space is allowed.
	oddTags := reflect.StructOf([]reflect.StructField{
		{Name: "Dash", Type: reflect.TypeFor[int](), Tag: `json:"-,"`},
		{Name: "Quoted", Type: reflect.TypeFor[int](), Tag: `json:"a\"b"`},
		{Name: "Spaced", Type: reflect.TypeFor[int](), Tag: `json:"with space"`},
	})
	zero := func(t reflect.Type) any { return reflect.New(t).Elem().Interface() }

	tests := []struct {
		name  string
		value any      // a value whose every field encoding/json writes
		want  []string // JSON names, sorted
	}{
		{"tags, untagged, skipped, unexported", jsonTagged{Region: "r", OnlyOpts: "o"}, []string{"OnlyOpts", "Other", "Untagged", "customer_id", "hidden", "region"}},
		{"embedded struct", embedsStruct{}, []string{"Plain", "own", "tenant_id"}},
		{"embedded pointer", embedsPointer{Base: &Base{}}, []string{"Plain", "own", "tenant_id"}},
		{"embedded unexported struct", embedsUnexported{}, []string{"own", "shard"}},
		{"embedded unexported pointer", embedsUnexportedPointer{base: &base{}}, []string{"own", "shard"}},
		{"embedded struct with a name", embedsTagged{}, []string{"base", "own"}},
		{"embedded struct skipped", embedsDashed{}, []string{"own"}},
		{"embedded non-struct", embedsNonStruct{}, []string{"Code", "own"}},
		{"two levels of embedding", embedsTwoLevels{}, []string{"Plain", "own", "tenant_id", "top"}},
		{"Go shadowing is not JSON shadowing", shadowsByGoName{}, []string{"Plain", "tenant", "tenant_id"}},
		{"ambiguous names are dropped", ambiguous{}, []string{"tenant_id", "zone"}},
		{"a tagged name wins at equal depth", taggedWins{}, []string{"Plain", "tenant_id"}},
		{"duplicate tags are dropped", zero(duplicateTags), []string{"a"}},
		{"unexported embedded struct with a name", embedsUnexportedTagged{}, []string{"b", "own"}},
		{"same struct embedded twice", zero(sameTwice), []string{"own"}},
		{"odd tags", zero(oddTags), []string{"-", "Quoted", "with space"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The expectation agrees with encoding/json itself.
			b, err := json.Marshal(tt.value)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(b, &m))
			require.Equal(t, tt.want, slices.Sorted(maps.Keys(m)), "encoding/json writes %s", b)

			typ := reflect.TypeOf(tt.value)
			for _, name := range tt.want {
				_, err := policy.Compile("t", typ, []policy.Policy{
					policy.Concurrency(name, 1), policy.Cooldown(name, time.Second), policy.Debounce(name, time.Second),
				})
				assert.NoError(t, err, "field %q", name)
			}

			// The error for an unknown field lists exactly the JSON names.
			_, err = policy.Compile("t", typ, []policy.Policy{policy.Concurrency("no_such_field", 1)})
			require.ErrorIs(t, err, policy.ErrUnknownField)
			quoted := make([]string, len(tt.want))
			for i, n := range tt.want {
				quoted[i] = fmt.Sprintf("%q", n)
			}
			assert.True(t, strings.HasSuffix(err.Error(), "the input has fields "+strings.Join(quoted, ", ")), err.Error())
		})
	}

	// Names that encoding/json does not write are unknown.
	for _, tt := range []struct {
		typ  reflect.Type
		name string
	}{
		{reflect.TypeFor[jsonTagged](), "CustomerID"},
		{reflect.TypeFor[jsonTagged](), "Region"},
		{reflect.TypeFor[jsonTagged](), "Skipped"},
		{oddTags, "Dash"},
		{oddTags, `a"b`},
		{reflect.TypeFor[jsonTagged](), "unexported"},
		{reflect.TypeFor[jsonTagged](), "other_xml"},
		{reflect.TypeFor[embedsStruct](), "Base"},
		{reflect.TypeFor[embedsPointer](), "Base"},
		{reflect.TypeFor[embedsUnexported](), "base"},
		{reflect.TypeFor[embedsTagged](), "tenant_id"},
		{reflect.TypeFor[embedsDashed](), "tenant_id"},
		{reflect.TypeFor[ambiguous](), "Plain"},
		{duplicateTags, "x"},
		{duplicateTags, "B"},
		{sameTwice, "tenant_id"},
		{sameTwice, "Left"},
	} {
		_, err := policy.Compile("t", tt.typ, []policy.Policy{policy.Cooldown(tt.name, time.Second)})
		assert.ErrorIs(t, err, policy.ErrUnknownField, "%v has no JSON field %q", tt.typ, tt.name)
	}
}

func TestCompileRejectsStructLiterals(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	built := policy.Timeout(time.Second)
	tests := []struct {
		name    string
		policy  policy.Policy
		want    string // the policy as the error names it: the literal as written
		builder string // the function the error points to
	}{
		{"cron", policy.CronPolicy{Expr: "* * * * *"},
			`policy.CronPolicy{Expr: "* * * * *"}`, "policy.Cron(expr, ...)"},
		{"automatic cron in a location", policy.CronPolicy{Expr: "@daily", Location: la, Automatic: true},
			`policy.CronPolicy{Expr: "@daily", Location: America/Los_Angeles, Automatic: true}`, "policy.Cron(expr, ...)"},
		{"retry", policy.RetryPolicy{Attempts: 3},
			"policy.RetryPolicy{Attempts: 3}", "policy.Retry(attempts, delay)"},
		{"exponential retry", policy.RetryPolicy{Attempts: 3, Delay: time.Second, MaxDelay: time.Minute, Exponential: true},
			"policy.RetryPolicy{Attempts: 3, Delay: 1s, MaxDelay: 1m0s, Exponential: true}", "policy.ExponentialRetry(attempts, min, max)"},
		{"perpetual", policy.PerpetualPolicy{Every: time.Minute},
			"policy.PerpetualPolicy{Every: 1m0s}", "policy.Perpetual(every, ...)"},
		{"timeout", policy.TimeoutPolicy{Duration: time.Second},
			"policy.TimeoutPolicy{Duration: 1s}", "policy.Timeout(d)"},
		{"zero timeout", policy.TimeoutPolicy{},
			"policy.TimeoutPolicy{}", "policy.Timeout(d)"},
		{"pointer to a literal", &policy.TimeoutPolicy{Duration: time.Second},
			"policy.TimeoutPolicy{Duration: 1s}", "policy.Timeout(d)"},
		{"concurrency", policy.ConcurrencyPolicy{Arg: "region", Max: 2, Scope: "crm"},
			`policy.ConcurrencyPolicy{Arg: "region", Max: 2, Scope: "crm"}`, "policy.Concurrency(field, max, ...)"},
		{"task concurrency", policy.ConcurrencyPolicy{Max: 1},
			"policy.ConcurrencyPolicy{Max: 1}", "policy.TaskConcurrency(max, ...)"},
		{"cooldown", policy.CooldownPolicy{Arg: "customer_id", Window: time.Minute},
			`policy.CooldownPolicy{Arg: "customer_id", Window: 1m0s}`, "policy.Cooldown(field, window)"},
		{"task cooldown", policy.CooldownPolicy{Window: time.Minute},
			"policy.CooldownPolicy{Window: 1m0s}", "policy.TaskCooldown(window)"},
		{"debounce", policy.DebouncePolicy{Settle: time.Second},
			"policy.DebouncePolicy{Settle: 1s}", "policy.TaskDebounce(settle)"},
		{"debounce on a field", policy.DebouncePolicy{Arg: "region", Settle: time.Second},
			`policy.DebouncePolicy{Arg: "region", Settle: 1s}`, "policy.Debounce(field, settle)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// First or after a valid policy, the literal is refused as such,
			// before anything else is checked.
			for _, ps := range [][]policy.Policy{{tt.policy}, {&built, tt.policy}} {
				s, err := compile[syncInput](ps...)
				assert.Nil(t, s)
				requirePolicyError(t, err, policy.ErrNotBuilt, tt.want, "build it with "+tt.builder)
				assert.NotErrorIs(t, err, policy.ErrInvalid)
			}
			assert.Equal(t, tt.want, tt.policy.String())
		})
	}

	t.Run("exact message", func(t *testing.T) {
		_, err := compile[noInput](policy.CronPolicy{Expr: "* * * * *"})
		assert.EqualError(t, err, `docket: task "sync_customer": policy.CronPolicy{Expr: "* * * * *"}: `+
			`written as a struct literal, not built by its function; build it with policy.Cron(expr, ...)`)
	})

	t.Run("copies of built policies are built", func(t *testing.T) {
		c := policy.Cron("@daily", policy.Manual())
		c.Location = la // a field changed after building is checked as any other
		timeout := policy.Timeout(time.Second)
		s, err := compile[syncInput](c, &timeout, policy.TaskConcurrency(2))
		require.NoError(t, err)
		assert.Equal(t, la, s.Cron.Location)
		assert.Equal(t, time.Second, s.Timeout.Duration)
	})
}

// An admission rule's field needs a JSON name whose letters are ASCII: the
// scripts fold only ASCII case, where Go folds every letter.
func TestAdmissionFieldNamesAreASCII(t *testing.T) {
	t.Parallel()
	type input struct {
		Été    string `json:"été"`
		Region string `json:"région_2"`
		Plain  string `json:"plain_1"`
	}
	for _, p := range []policy.Policy{policy.Concurrency("été", 1), policy.Cooldown("région_2", time.Minute)} {
		_, err := compile[input](p)
		require.ErrorIs(t, err, policy.ErrInvalid, "%v", p)
		assert.ErrorContains(t, err, "needs a JSON name whose letters are ASCII")
	}
	_, err := compile[input](policy.Concurrency("plain_1", 1))
	assert.NoError(t, err)
}

// A per-argument builder given no field name, or a Scope given no name
// (or one that is not UTF-8 text), is refused: read as a limit on the whole task, or as no scope, it would
// limit something else than the caller meant, without a word. The Task*
// builders are the way to limit the whole task.
func TestEmptyFieldNamesAndScopesAreRefused(t *testing.T) {
	for _, c := range []struct {
		p        policy.Policy
		shown    string
		fragment string
	}{
		{policy.Concurrency("", 1), `Concurrency("", 1)`, "use policy.TaskConcurrency(max)"},
		{policy.Cooldown("", time.Second), `Cooldown("", 1s)`, "use policy.TaskCooldown(window)"},
		{policy.Debounce("", time.Second), `Debounce("", 1s)`, "use policy.TaskDebounce(settle)"},
		{policy.RateLimit("", 1, time.Second), `RateLimit("", 1, 1s)`, "use policy.TaskRateLimit(limit, per)"},
		{policy.Concurrency("customer_id", 1, policy.Scope("")), `Concurrency("customer_id", 1, Scope(""))`, "Scope needs a name"},
		{policy.TaskConcurrency(1, policy.Scope("")), `TaskConcurrency(1, Scope(""))`, "Scope needs a name"},
		{policy.RateLimit("customer_id", 1, time.Second, policy.Scope("")), `RateLimit("customer_id", 1, 1s, Scope(""))`, "Scope needs a name"},
		// Scopes travel as JSON text, where "db\xff" and "db\xfe" would
		// read alike, and share one limit.
		{policy.TaskConcurrency(1, policy.Scope("db\xff")), `TaskConcurrency(1, Scope("db\xff"))`, `Scope "db\xff" is not UTF-8 text`},
		{policy.TaskRateLimit(1, time.Second, policy.Scope("db\xfe")), `TaskRateLimit(1, 1s, Scope("db\xfe"))`, `Scope "db\xfe" is not UTF-8 text`},
	} {
		_, err := compile[syncInput](c.p)
		requirePolicyError(t, err, policy.ErrInvalid, c.shown, c.fragment)
	}
	// The builders for the whole task, and named scopes, are fine.
	_, err := compile[syncInput](policy.TaskConcurrency(1, policy.Scope("db")), policy.TaskCooldown(time.Second),
		policy.TaskDebounce(time.Second), policy.TaskRateLimit(1, time.Second),
		policy.Concurrency("customer_id", 2, policy.Scope("customers")))
	require.NoError(t, err)
}
