package policy_test

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docket-go/docket/policy"
)

// retryFields are a RetryPolicy's public fields: a struct literal is not a
// built policy, so builders are checked field by field.
type retryFields struct {
	Attempts        int
	Delay, MaxDelay time.Duration
	Exponential     bool
}

func fieldsOfRetry(r policy.RetryPolicy) retryFields {
	return retryFields{r.Attempts, r.Delay, r.MaxDelay, r.Exponential}
}

func TestRetryBuilders(t *testing.T) {
	t.Parallel()
	assert.Equal(t, retryFields{Attempts: 3, Delay: time.Second}, fieldsOfRetry(policy.Retry(3, time.Second)))
	assert.Equal(t,
		retryFields{Attempts: policy.Unlimited, Delay: time.Second, MaxDelay: time.Minute, Exponential: true},
		fieldsOfRetry(policy.ExponentialRetry(policy.Unlimited, time.Second, time.Minute)))
}

func TestRetryPolicyRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy policy.RetryPolicy
		failed int
		want   bool
	}{
		{"one attempt, first fails", policy.Retry(1, time.Second), 1, false},
		{"three attempts, first fails", policy.Retry(3, time.Second), 1, true},
		{"three attempts, second fails", policy.Retry(3, time.Second), 2, true},
		{"three attempts, third fails", policy.Retry(3, time.Second), 3, false},
		{"three attempts, beyond the last", policy.Retry(3, time.Second), 4, false},
		{"exponential five, fourth fails", policy.ExponentialRetry(5, time.Second, time.Minute), 4, true},
		{"exponential five, fifth fails", policy.ExponentialRetry(5, time.Second, time.Minute), 5, false},
		{"unlimited, first fails", policy.Retry(policy.Unlimited, time.Second), 1, true},
		{"unlimited, hundredth fails", policy.Retry(policy.Unlimited, time.Second), 100, true},
		{"unlimited, millionth fails", policy.Retry(policy.Unlimited, time.Second), 1_000_000, true},
		{"unlimited exponential, huge attempt", policy.ExponentialRetry(policy.Unlimited, time.Second, time.Minute), math.MaxInt, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.Retries(tt.failed))
		})
	}
}

func TestRetryPolicyDelayAfter(t *testing.T) {
	t.Parallel()
	const maxDuration = time.Duration(math.MaxInt64)
	tests := []struct {
		name   string
		policy policy.RetryPolicy
		failed int
		want   time.Duration
	}{
		{"fixed, after 1", policy.Retry(3, 7*time.Second), 1, 7 * time.Second},
		{"fixed, after 2", policy.Retry(3, 7*time.Second), 2, 7 * time.Second},
		{"fixed, after 50", policy.Retry(policy.Unlimited, 7*time.Second), 50, 7 * time.Second},
		{"fixed, zero delay", policy.Retry(3, 0), 2, 0},

		{"exp(5, 1s, 5m) after 1", policy.ExponentialRetry(5, time.Second, 5*time.Minute), 1, 1 * time.Second},
		{"exp(5, 1s, 5m) after 2", policy.ExponentialRetry(5, time.Second, 5*time.Minute), 2, 2 * time.Second},
		{"exp(5, 1s, 5m) after 3", policy.ExponentialRetry(5, time.Second, 5*time.Minute), 3, 4 * time.Second},
		{"exp(5, 1s, 5m) after 4", policy.ExponentialRetry(5, time.Second, 5*time.Minute), 4, 8 * time.Second},
		{"exp(5, 1s, 5m) after 5", policy.ExponentialRetry(5, time.Second, 5*time.Minute), 5, 16 * time.Second},
		{"exp(5, 1s, 5m) after 9", policy.ExponentialRetry(5, time.Second, 5*time.Minute), 9, 256 * time.Second},
		{"exp(5, 1s, 5m) after 10 is capped", policy.ExponentialRetry(5, time.Second, 5*time.Minute), 10, 5 * time.Minute},

		{"exp(∞, 1s, 10s) after 4", policy.ExponentialRetry(policy.Unlimited, time.Second, 10*time.Second), 4, 8 * time.Second},
		{"exp(∞, 1s, 10s) after 5 is capped", policy.ExponentialRetry(policy.Unlimited, time.Second, 10*time.Second), 5, 10 * time.Second},
		{"exp(∞, 1s, 10s) after 10", policy.ExponentialRetry(policy.Unlimited, time.Second, 10*time.Second), 10, 10 * time.Second},
		{"exp(∞, 1s, 10s) after 64", policy.ExponentialRetry(policy.Unlimited, time.Second, 10*time.Second), 64, 10 * time.Second},
		{"exp(∞, 1s, 10s) after 200", policy.ExponentialRetry(policy.Unlimited, time.Second, 10*time.Second), 200, 10 * time.Second},
		{"exp(∞, 1s, 10s) after MaxInt", policy.ExponentialRetry(policy.Unlimited, time.Second, 10*time.Second), math.MaxInt, 10 * time.Second},

		// A cap near the largest duration: doubling must not overflow into a negative wait.
		{"exp with max duration cap, after 200", policy.ExponentialRetry(policy.Unlimited, time.Second, maxDuration), 200, maxDuration},
		{"exp with max duration cap, after 34", policy.ExponentialRetry(policy.Unlimited, time.Second, maxDuration), 34, time.Second << 33},

		// The cap is exact to the nanosecond: an odd maximum is not reached early.
		{"exp(1ns, 3ns) after 2", policy.ExponentialRetry(policy.Unlimited, 1, 3), 2, 2},
		{"exp(1ns, 3ns) after 3", policy.ExponentialRetry(policy.Unlimited, 1, 3), 3, 3},

		{"exp, min equals max", policy.ExponentialRetry(5, 5*time.Second, 5*time.Second), 4, 5 * time.Second},
		{"exp, zero min stays zero", policy.ExponentialRetry(policy.Unlimited, 0, time.Minute), 10, 0},
		{"exp, zero min, huge attempt", policy.ExponentialRetry(policy.Unlimited, 0, time.Minute), math.MaxInt, 0},
		{"exp, zero min and max", policy.ExponentialRetry(policy.Unlimited, 0, 0), math.MaxInt, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.policy.DelayAfter(tt.failed))
		})
	}
}

// TestExponentialRetryMatchesFormula checks DelayAfter against min·2^(n−1)
// capped at max, computed with arbitrary precision, over many attempts.
func TestExponentialRetryMatchesFormula(t *testing.T) {
	t.Parallel()
	bounds := []struct{ min, max time.Duration }{
		{time.Second, 5 * time.Minute},
		{time.Second, 10 * time.Second},
		{3 * time.Millisecond, time.Hour},
		{7, 1000},
		{1, 3},
		{time.Second, time.Duration(math.MaxInt64)},
		{time.Duration(math.MaxInt64 / 3), time.Duration(math.MaxInt64)},
		{time.Minute, time.Minute},
	}
	for _, b := range bounds {
		r := policy.ExponentialRetry(policy.Unlimited, b.min, b.max)
		for n := 1; n <= 300; n++ {
			want := new(big.Int).Lsh(big.NewInt(int64(b.min)), uint(n-1))
			if want.Cmp(big.NewInt(int64(b.max))) > 0 {
				want.SetInt64(int64(b.max))
			}
			require.Equal(t, time.Duration(want.Int64()), r.DelayAfter(n), "%v after attempt %d", r, n)
		}
	}
}
