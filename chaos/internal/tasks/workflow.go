package tasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/workflow"
)

// The workflow of the chaos run: an order that reserves and charges (two
// steps), fans out to its parts (children, a result each) and adds their
// results up (fan-in), packs (a step), sleeps a cool-off (a durable
// sleep), waits for an approval (a signal the producer sends, with a
// timeout), ships (a step), and returns what it did.
const (
	NameOrder = "order"
	NamePart  = "part"

	// PartsName is the name its children are started under
	// (workflow.StartMany): a part's key is the order's key, "/parts/",
	// and its number, padded (see PartKey).
	PartsName = "parts"
	// NapName is the name of its durable sleep.
	NapName = "cool-off"
	// SignalApprove is the signal the producer sends each order.
	SignalApprove = "approve"
	// ApproveTimeout is how long an order waits for its approval, from the
	// first run that reaches the wait. Far longer than a producer takes to
	// send it (at most 6s after the order's Add, then retried through the
	// outages): an approval sent in time must be received.
	ApproveTimeout = 20 * time.Second
)

// OrderSteps are an order's steps, in order.
var OrderSteps = []string{"reserve", "charge", "pack", "ship"}

// Order is the input of the order workflow: NewOrder derives it from the
// producer's counter, so that the driver knows what each order must give.
type Order struct {
	N     int  `json:"n"`
	Parts int  `json:"parts"`  // children
	Seed  int  `json:"seed"`   // what each part adds to its result
	NapMS int  `json:"nap_ms"` // the cool-off
	Long  bool `json:"long"`   // steps of 1–3s, often longer than the lease
}

// NewOrder is the n-th order of a producer: 5 to 12 parts, a cool-off of
// 1 to 2s, and one in ten with long steps.
func NewOrder(n int) Order {
	return Order{N: n, Parts: 5 + n%8, Seed: n * 7919 % 1000, NapMS: 1000 + n*37%1000, Long: n%10 == 3}
}

// Nap is the order's cool-off.
func (o Order) Nap() time.Duration { return time.Duration(o.NapMS) * time.Millisecond }

// Sum is what an order's parts add up to.
func (o Order) Sum() int {
	sum := 0
	for i := range o.Parts {
		sum += Part{I: i, Seed: o.Seed}.Value()
	}
	return sum
}

// PartKey is the key of the i-th part of the order with key: its name
// under the order is "parts/" and i, padded to one width, as
// workflow.StartMany documents.
func (o Order) PartKey(key string, i int) string {
	width := len(strconv.Itoa(max(o.Parts-1, 0)))
	return fmt.Sprintf("%s/%s/%0*d", key, PartsName, width, i)
}

// Part is the input of a part, the order's child.
type Part struct {
	I    int `json:"i"`
	Seed int `json:"seed"`
}

// Value is the result of a part.
func (p Part) Value() int { return p.Seed + p.I*p.I }

// Approval is the payload of the approve signal.
type Approval struct {
	By string `json:"by"`
}

// ApprovalFor is the approval the producer sends the order with key.
func ApprovalFor(key string) Approval { return Approval{By: "approver of " + key} }

// OrderResult is what an order returns.
type OrderResult struct {
	Sum      int    `json:"sum"`      // of its parts' results
	Approved string `json:"approved"` // who approved it, from the signal
	TimedOut bool   `json:"timed_out"`
	// Steps holds the output each step saved: the number (by StepRuns) of
	// the run of its function that completed it.
	Steps map[string]int64 `json:"steps"`
}

// Record keys of the workflows.
const (
	// WorkflowViolations is a list of what a workflow's run saw that must
	// not happen: a step's function running though the step's output was
	// saved, a step returning another output than it saved, a part
	// started twice.
	WorkflowViolations = "chaos:wfviolations"
	// PartDue is a hash: "<part key>#<attempt>" -> the attempt's due time
	// (unix µs) as its first run saw it. A redelivery of an attempt keeps
	// its due time, and so does a release (handed back unstarted); a part
	// started twice (a second execution of its key) would run its first
	// attempt again with another.
	PartDue = "chaos:partdue"
)

// StepRuns counts the runs of a step's function that got as far as their
// effect (an INCR: the step's effect on the outside world).
func StepRuns(key, step string) string { return "chaos:step:" + key + ":" + step }

// StepDone holds the output the step saved, set by the first run of the
// workflow that got it back from workflow.Step.
func StepDone(key, step string) string { return "chaos:stepdone:" + key + ":" + step }

// NapStart is when (Redis TIME, unix µs) the first run of the order that
// was about to sleep was; Woke when the first run past the sleep was.
func NapStart(key string) string { return "chaos:nap:" + key }

// Woke: see NapStart.
func Woke(key string) string { return "chaos:woke:" + key }

// trackResult is track for a task with a result.
func trackResult[In, Out any](l *RunLog, fn func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	if l == nil {
		return fn
	}
	return func(ctx context.Context, in In) (Out, error) {
		var out Out
		err := track(l, func(ctx context.Context, in In) error {
			var err error
			out, err = fn(ctx, in)
			return err
		})(ctx, in)
		return out, err
	}
}

// order is the order workflow: see the constants above.
func (r record) order(part *sdk.ResultTask[Part, int]) func(context.Context, Order) (OrderResult, error) {
	return func(ctx context.Context, in Order) (OrderResult, error) {
		key := sdk.Current(ctx).Key()
		res := OrderResult{Steps: map[string]int64{}}
		step := func(name string) error {
			var n int64
			err := late(ctx, "workflow.Step "+name, func() (err error) {
				n, err = workflow.Step(ctx, name, func(ctx context.Context) (int64, error) {
					return r.step(ctx, key, name, in.Long)
				})
				return err
			})
			if err != nil {
				return err
			}
			res.Steps[name] = n
			return r.stepReturned(ctx, key, name, n)
		}
		if err := step("reserve"); err != nil {
			return res, err
		}
		if err := step("charge"); err != nil {
			return res, err
		}
		parts := make([]Part, in.Parts)
		for i := range parts {
			parts[i] = Part{I: i, Seed: in.Seed}
		}
		var children []*workflow.Future[int]
		if err := late(ctx, "workflow.StartMany", func() (err error) {
			children, err = workflow.StartMany(ctx, part, PartsName, parts)
			return err
		}); err != nil {
			return res, err
		}
		var values []int
		if err := late(ctx, "workflow.All", func() (err error) {
			values, err = workflow.All(ctx, children)
			return err
		}); err != nil {
			return res, err
		}
		for _, v := range values {
			res.Sum += v
		}
		if err := step("pack"); err != nil {
			return res, err
		}

		// The sleep began no earlier than this, by the Redis clock: the
		// first run to get here marks it, and the library stamps the
		// sleep's start when a run first parks on it, later.
		if err := r.stamp(ctx, NapStart(key)); err != nil {
			return res, err
		}
		if err := late(ctx, "workflow.Sleep", func() error { return workflow.Sleep(ctx, NapName, in.Nap()) }); err != nil {
			return res, err
		}
		if err := r.stamp(ctx, Woke(key)); err != nil {
			return res, err
		}

		var approval Approval
		err := late(ctx, "workflow.WaitSignal", func() (err error) {
			approval, err = workflow.WaitSignal[Approval](ctx, SignalApprove, ApproveTimeout)
			return err
		})
		switch {
		case errors.Is(err, workflow.ErrSignalTimeout):
			res.TimedOut = true
		case err != nil:
			return res, err
		default:
			res.Approved = approval.By
		}
		if err := step("ship"); err != nil {
			return res, err
		}
		return res, r.complete(ctx)
	}
}

// late runs a workflow primitive, and says so in the worker's log when it
// returned well after the run's context ended. A primitive waiting for
// Redis does not return when the context ends (go-redis finishes a call in
// progress), so the run goes on past its end: the run logs show a run that
// returned late, or overlapped the run that took its task over, and this
// line tells which primitive held it. A step's own function is no part of
// it: it returns when its context ends (see do).
func late(ctx context.Context, what string, primitive func() error) error {
	var ended atomic.Int64
	stop := context.AfterFunc(ctx, func() { ended.Store(time.Now().UnixNano()) })
	began := time.Now()
	err := primitive()
	stop()
	if at := ended.Load(); at != 0 {
		if after := time.Since(time.Unix(0, at)); after > 100*time.Millisecond {
			fmt.Fprintf(os.Stderr, "chaos: %s: %s returned %v after the run's context ended (%v), %v after it began: %v\n",
				sdk.Current(ctx).Key(), what, after.Round(time.Millisecond), context.Cause(ctx), time.Since(began).Round(time.Millisecond), err)
		}
	}
	return err
}

// step is the function of an order's step. It first checks that the step
// has not completed already — its output is not in the workflow's flow,
// read straight from Redis: a run of the workflow that comes again must
// find the saved output and not run the function (runs of one workflow
// never overlap, so the flow holds whatever an earlier run saved) — then
// has its effect (INCR StepRuns), works, and returns which run it was.
func (r record) step(ctx context.Context, key, name string, long bool) (int64, error) {
	var flow store.Flow
	if err := r.retry(ctx, func(ctx context.Context) (err error) {
		flow, err = r.flows.ReadFlow(ctx, key)
		return err
	}); err != nil {
		return 0, err
	}
	if saved, ok := flow[store.FlowStep+name]; ok {
		if err := r.violation(ctx, fmt.Sprintf("%s: step %s ran again though its output (%s) was saved", key, name, saved)); err != nil {
			return 0, err
		}
	}
	var n int64
	if err := r.retry(ctx, func(ctx context.Context) (err error) {
		n, err = r.rec.Incr(ctx, StepRuns(key, name)).Result()
		return err
	}); err != nil {
		return 0, err
	}
	var err error
	if long {
		err = sleep(ctx, time.Second+rand.N(2*time.Second))
	} else {
		err = work(ctx, 50*time.Millisecond+rand.N(250*time.Millisecond))
	}
	return n, err
}

// stepReturned records the output workflow.Step returned for a step, the
// first time, and checks that every run gets the same: the output saved.
func (r record) stepReturned(ctx context.Context, key, name string, n int64) error {
	var first string
	if err := r.retry(ctx, func(ctx context.Context) error {
		var get *redis.StringCmd
		_, err := r.rec.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SetNX(ctx, StepDone(key, name), n, 0)
			get = p.Get(ctx, StepDone(key, name))
			return nil
		})
		first = get.Val()
		return err
	}); err != nil {
		return err
	}
	if first != strconv.FormatInt(n, 10) {
		return r.violation(ctx, fmt.Sprintf("%s: step %s returned %d, an earlier run got %s", key, name, n, first))
	}
	return nil
}

// stamp sets key to the Redis clock's now (unix µs), unless it is set.
func (r record) stamp(ctx context.Context, key string) error {
	return r.retry(ctx, func(ctx context.Context) error {
		now, err := r.rec.Time(ctx).Result()
		if err != nil {
			return err
		}
		return r.rec.SetNX(ctx, key, now.UnixMicro(), 0).Err()
	})
}

// part is the order's child: it checks that its key runs one execution
// (the runs of an attempt share its due time: a redelivery keeps it, and
// so does a release, a hand-back of an attempt claimed ahead or at a
// worker's shutdown), works up to 200ms, records its completion and
// returns its value.
func (r record) part(ctx context.Context, in Part) (int, error) {
	cur := sdk.Current(ctx)
	field := fmt.Sprintf("%s#%d", cur.Key(), cur.Attempt())
	due := strconv.FormatInt(cur.Due().UnixMicro(), 10)
	var first string
	if err := r.retry(ctx, func(ctx context.Context) error {
		var get *redis.StringCmd
		_, err := r.rec.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSetNX(ctx, PartDue, field, due)
			get = p.HGet(ctx, PartDue, field)
			return nil
		})
		first = get.Val()
		return err
	}); err != nil {
		return 0, err
	}
	if first != due {
		msg := fmt.Sprintf("%s: attempt %d ran due at %s, an earlier run of it was due at %s: started twice", cur.Key(), cur.Attempt(), due, first)
		if err := r.violation(ctx, msg); err != nil {
			return 0, err
		}
	}
	if err := work(ctx, 200*time.Millisecond); err != nil {
		return 0, err
	}
	if err := r.complete(ctx); err != nil {
		return 0, err
	}
	return in.Value(), nil
}

// violation records what a workflow's run saw that must not happen.
func (r record) violation(ctx context.Context, msg string) error {
	return r.retry(ctx, func(ctx context.Context) error { return r.rec.RPush(ctx, WorkflowViolations, msg).Err() })
}
