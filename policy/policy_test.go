package policy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/docket-go/docket/policy"
)

func TestPolicyString(t *testing.T) {
	t.Parallel()
	la := mustLoad(t, "America/Los_Angeles")
	tests := []struct {
		policy policy.Policy
		want   string
	}{
		{policy.Retry(3, time.Second), "Retry(3, 1s)"},
		{policy.Retry(policy.Unlimited, 5*time.Minute), "Retry(Unlimited, 5m0s)"},
		{policy.Retry(0, 0), "Retry(0, 0s)"},
		{policy.ExponentialRetry(5, time.Second, 5*time.Minute), "ExponentialRetry(5, 1s, 5m0s)"},
		{policy.ExponentialRetry(policy.Unlimited, 100*time.Millisecond, time.Hour), "ExponentialRetry(Unlimited, 100ms, 1h0m0s)"},
		{policy.Timeout(10 * time.Minute), "Timeout(10m0s)"},
		{policy.Perpetual(time.Minute), "Perpetual(1m0s)"},
		{policy.Perpetual(90*time.Second, policy.Automatic()), "Perpetual(1m30s, Automatic())"},
		{policy.Cron("@daily"), `Cron("@daily")`},
		{policy.Cron("@daily", policy.Manual()), `Cron("@daily", Manual())`},
		{policy.Cron("@hourly", policy.In(time.UTC)), `Cron("@hourly")`},
		{policy.Cron("0 9 * * 1-5", policy.In(la)), `Cron("0 9 * * 1-5", In(America/Los_Angeles))`},
		{policy.Cron("0 9 * * 1-5", policy.In(la), policy.Manual()), `Cron("0 9 * * 1-5", In(America/Los_Angeles), Manual())`},
		{policy.Cron("61 * * * *"), `Cron("61 * * * *")`},
		{policy.Concurrency("region", 2), `Concurrency("region", 2)`},
		{policy.Concurrency("region", 2, policy.Scope("crm")), `Concurrency("region", 2, Scope("crm"))`},
		{policy.TaskConcurrency(3), "TaskConcurrency(3)"},
		{policy.TaskConcurrency(1, policy.Scope("db")), `TaskConcurrency(1, Scope("db"))`},
		{policy.Cooldown("customer_id", 30*time.Second), `Cooldown("customer_id", 30s)`},
		{policy.TaskCooldown(time.Minute), "TaskCooldown(1m0s)"},
		{policy.Debounce("customer_id", 2*time.Second), `Debounce("customer_id", 2s)`},
		{policy.TaskDebounce(500 * time.Millisecond), "TaskDebounce(500ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.String())
		})
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	err := &policy.Error{Task: "t", Policy: "Timeout(0s)", Err: policy.ErrInvalid}
	assert.EqualError(t, err, `docket: task "t": Timeout(0s): invalid argument`)
	assert.ErrorIs(t, err, policy.ErrInvalid)
	assert.NotErrorIs(t, err, policy.ErrDuplicate)
	assert.Equal(t, policy.ErrInvalid, errors.Unwrap(err))

	// The sentinels are distinct.
	sentinels := []error{policy.ErrInvalid, policy.ErrDuplicate, policy.ErrConflict, policy.ErrUnknownField, policy.ErrAutomaticInput, policy.ErrBadCron, policy.ErrNotBuilt}
	for i, a := range sentinels {
		for j, b := range sentinels {
			assert.Equal(t, i == j, errors.Is(a, b), "%v / %v", a, b)
		}
	}
}
