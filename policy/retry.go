package policy

import (
	"fmt"
	"time"
)

// RetryPolicy retries a failed attempt. Build it with Retry or
// ExponentialRetry; Compile refuses a struct literal (ErrNotBuilt).
type RetryPolicy struct {
	// Attempts counts every run, the first included; Unlimited never stops.
	Attempts int
	// Delay is the wait before the first retry.
	Delay time.Duration
	// MaxDelay caps an exponential delay; zero for a fixed delay.
	MaxDelay time.Duration
	// Exponential doubles the delay after each failed attempt.
	Exponential bool

	built bool // set by Retry and ExponentialRetry alone: Compile refuses a struct literal
}

// Retry runs a failing task up to attempts times in all (the first run
// included), waiting delay before each retry. attempts may be Unlimited.
func Retry(attempts int, delay time.Duration) RetryPolicy {
	return RetryPolicy{Attempts: attempts, Delay: delay, built: true}
}

// ExponentialRetry runs a failing task up to attempts times in all, waiting
// min before the first retry and doubling the wait each time, up to max:
// after attempt n fails, the wait is min·2^(n−1), capped at max.
func ExponentialRetry(attempts int, min, max time.Duration) RetryPolicy {
	return RetryPolicy{Attempts: attempts, Delay: min, MaxDelay: max, Exponential: true, built: true}
}

// String is the policy as the call that builds it reads (for errors and
// logs); a struct literal says it is one.
func (r RetryPolicy) String() string {
	if !r.built {
		return literal(r)
	}
	attempts := fmt.Sprint(r.Attempts)
	if r.Attempts == Unlimited {
		attempts = "Unlimited"
	}
	if r.Exponential {
		return fmt.Sprintf("ExponentialRetry(%s, %v, %v)", attempts, r.Delay, r.MaxDelay)
	}
	return fmt.Sprintf("Retry(%s, %v)", attempts, r.Delay)
}

func (r RetryPolicy) origin() (string, bool) {
	if r.Exponential {
		return "policy.ExponentialRetry(attempts, min, max)", r.built
	}
	return "policy.Retry(attempts, delay)", r.built
}

func (r RetryPolicy) apply(s *Set) error {
	switch {
	case s.Retry != nil:
		return fmt.Errorf("%w (already %s)", ErrDuplicate, s.Retry)
	case r.Attempts < 1 && r.Attempts != Unlimited:
		return fmt.Errorf("%w: attempts must be at least 1 (it counts the first run) or Unlimited", ErrInvalid)
	case r.Delay < 0:
		return fmt.Errorf("%w: negative delay", ErrInvalid)
	case r.Exponential && r.Delay <= 0:
		return fmt.Errorf("%w: the minimum delay must be positive, or the delay never grows (use Retry for immediate retries)", ErrInvalid)
	case r.Exponential && r.MaxDelay < r.Delay:
		return fmt.Errorf("%w: the maximum delay is less than the minimum", ErrInvalid)
	}
	s.Retry = &r
	return nil
}

// Retries reports whether a task whose attempt number failed (1-based) runs
// again.
func (r RetryPolicy) Retries(failed int) bool {
	return r.Attempts == Unlimited || failed < r.Attempts
}

// DelayAfter is the wait before the retry that follows failed attempt
// number failed (1-based).
func (r RetryPolicy) DelayAfter(failed int) time.Duration {
	if !r.Exponential || failed <= 1 {
		return r.Delay
	}
	// d doubles until it passes the cap, so the loop ends within 63 steps
	// however large failed is; a zero delay stays zero.
	d := r.Delay
	for i := 1; i < failed && d > 0; i++ {
		if d > r.MaxDelay/2 { // d·2 > MaxDelay, even when MaxDelay is odd
			return r.MaxDelay
		}
		d *= 2 // cannot overflow: d ≤ MaxDelay/2
	}
	return min(d, r.MaxDelay)
}
