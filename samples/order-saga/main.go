// Order-saga shows a saga as a workflow: an order is charged, its stock
// reserved and the parcel shipped, each in a workflow step; when a step
// after the charge fails for good, compensating steps undo what was done,
// newest first (release the stock, refund the charge), and the order fails.
//
//   - A completed step runs once. The carrier times out on the first
//     request for each parcel; the workflow is retried (policy.Retry) and
//     its second run ships, without charging or reserving again.
//   - A failure is final when a service says so (sdk.Permanent: out of
//     stock, an address the carrier cannot serve) or when the retries run
//     out; then the saga compensates.
//   - Every call to a service carries the step's identity as its
//     idempotency key (workflow.StepKey): a step runs at least once, and a
//     step run again after a crash must not charge twice.
//
// Three orders are placed one after another: the first ships after a
// retry, the second is out of stock (refunded), the third cannot be
// delivered (stock released, then refunded).
//
//	go run ./samples/order-saga
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/order-saga
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/workflow"
)

// Order is the input of place_order.
type Order struct {
	ID      int    `json:"id"`
	Item    string `json:"item"`
	Qty     int    `json:"qty"`
	Cents   int    `json:"cents"`
	Address string `json:"address"`
}

// Shipment is what place_order returns for an order that shipped.
type Shipment struct {
	Charge      string `json:"charge"`
	Reservation string `json:"reservation"`
	Tracking    string `json:"tracking"`
}

// A workflow run is retried like any task. The saga compensates when an
// error would end it: a permanent one, or any on the last attempt (the
// workflow cannot ask its retry policy, so both use these).
const (
	attempts   = 3
	retryDelay = time.Second
)

// compensation undoes a step that completed.
type compensation struct {
	name string
	undo func(ctx context.Context) (string, error)
}

// placeOrder is the saga.
func placeOrder(svc *services, say func(string, ...any)) *sdk.ResultTask[Order, Shipment] {
	return sdk.NewResultTask("place_order", func(ctx context.Context, in Order) (Shipment, error) {
		attempt := sdk.Current(ctx).Attempt()
		if attempt > 1 {
			say("  attempt %d: the steps that completed are not run again", attempt)
		}
		// The compensations of the steps completed so far. A run rebuilds
		// the list as it goes: a completed step returns its saved output,
		// so a later run knows what to undo without any history.
		var done []compensation
		fail := func(err error) error {
			if !errors.Is(err, sdk.ErrPermanent) && attempt < attempts {
				return err // worth another try: the workflow is retried
			}
			if ctx.Err() != nil {
				return err // stopped from outside (a shutdown, a lost lease): run again later, no failure of the order
			}
			var undone []string
			for _, c := range slices.Backward(done) {
				if _, err := workflow.Step(ctx, c.name, c.undo); err != nil {
					return err // retried, if attempts are left; compensations done stay done
				}
				undone = append(undone, c.name)
			}
			if len(undone) == 0 {
				return sdk.Permanent(err)
			}
			return sdk.Permanent(fmt.Errorf("%w; undone: %s", err, strings.Join(undone, ", ")))
		}

		charge, err := workflow.Step(ctx, "charge", func(ctx context.Context) (string, error) {
			return svc.Charge(workflow.StepKey(ctx), in.ID, in.Cents)
		})
		if err != nil {
			return Shipment{}, fail(err)
		}
		done = append(done, compensation{"refund", func(ctx context.Context) (string, error) {
			return svc.Refund(workflow.StepKey(ctx), charge)
		}})

		reservation, err := workflow.Step(ctx, "reserve", func(ctx context.Context) (string, error) {
			id, err := svc.Reserve(workflow.StepKey(ctx), in.Item, in.Qty)
			if errors.Is(err, errOutOfStock) {
				return "", sdk.Permanent(err) // waiting will not bring stock
			}
			return id, err
		})
		if err != nil {
			return Shipment{}, fail(err)
		}
		done = append(done, compensation{"release", func(ctx context.Context) (string, error) {
			return svc.Release(workflow.StepKey(ctx), reservation)
		}})

		tracking, err := workflow.Step(ctx, "ship", func(ctx context.Context) (string, error) {
			id, err := svc.Ship(workflow.StepKey(ctx), in.ID, in.Address)
			if errors.Is(err, errUndeliverable) {
				return "", sdk.Permanent(err)
			}
			return id, err
		})
		if err != nil {
			return Shipment{}, fail(err)
		}
		return Shipment{Charge: charge, Reservation: reservation, Tracking: tracking}, nil
	}, policy.Retry(attempts, retryDelay))
}

// orders are the orders the program places.
var orders = []Order{
	{ID: 1001, Item: "widget", Qty: 2, Cents: 2500, Address: "1 Main St, Springfield"},
	{ID: 1002, Item: "gadget", Qty: 3, Cents: 9000, Address: "2 Elm St, Shelbyville"},
	{ID: 1003, Item: "widget", Qty: 1, Cents: 1250, Address: "Atlantis"},
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	d, err := sample.Open(ctx, "order-saga")
	if err != nil {
		return err
	}
	defer d.Close()

	say := sample.Printer(out)
	svc := newServices(say)
	task := placeOrder(svc, say)
	if err := d.Register(task); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	worked := make(chan error, 1)
	go func() { worked <- sample.RunWorker(ctx, d, 0) }()

	// One order at a time, so that the story reads in order: Call adds the
	// workflow and waits for its result.
	for _, o := range orders {
		say("order %d: %d × %s, %s, to %s", o.ID, o.Qty, o.Item, dollars(o.Cents), o.Address)
		s, err := task.Call(ctx, d, o, sdk.Key(fmt.Sprint("order-", o.ID)))
		if te, ok := errors.AsType[*sdk.TaskError](err); ok {
			say("order %d failed: %s", o.ID, te.Message)
			continue
		}
		if err != nil {
			stop()
			return errors.Join(err, <-worked)
		}
		say("order %d shipped: %s, %s, %s", o.ID, s.Charge, s.Reservation, s.Tracking)
	}
	stop()
	if err := <-worked; err != nil {
		return err
	}
	say("payments: %s charged in all; warehouse: %d widget(s), %d gadget(s) left",
		dollars(svc.Charged()), svc.Stock("widget"), svc.Stock("gadget"))
	return nil
}

func dollars(cents int) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

// The services' final refusals. Any other error of theirs (a timeout, a
// lost reply) may go away on another try.
var (
	errOutOfStock    = errors.New("out of stock")
	errUndeliverable = errors.New("the carrier does not deliver there")
)

// services simulates the payment provider, the warehouse and the carrier.
// Each call takes an idempotency key and, as real providers do, answers a
// key it has seen with its first answer, without doing the work again.
type services struct {
	say  func(string, ...any)
	mu   sync.Mutex
	seen map[string]string // idempotency key → answer

	charges  map[string]int   // charge → cents, less refunds
	stock    map[string]int   // item → units not reserved
	reserved map[string]stock // reservation → what it holds
	shipped  map[string]int   // idempotency key → requests to ship the parcel

	// lostReplies is how many charges answer with an error after they
	// charged, as when the reply is lost on the network; carrierDown
	// makes every request to ship time out.
	lostReplies int
	carrierDown bool
}

func newServices(say func(string, ...any)) *services {
	return &services{
		say:      say,
		seen:     map[string]string{},
		charges:  map[string]int{},
		stock:    map[string]int{"widget": 10, "gadget": 1},
		reserved: map[string]stock{},
		shipped:  map[string]int{},
	}
}

// replay answers a key seen before.
func (s *services) replay(service, key string) (string, bool) {
	answer, ok := s.seen[key]
	if ok {
		s.say("  %s: %s seen before: %s, nothing done again", service, key, answer)
	}
	return answer, ok
}

func (s *services) Charge(key string, order, cents int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.replay("payments", key); ok {
		return id, nil
	}
	id := fmt.Sprint("ch_", order)
	s.seen[key] = id
	s.charges[id] = cents
	s.say("  payments: charged %s as %s (idempotency key %s)", dollars(cents), id, key)
	if s.lostReplies > 0 {
		s.lostReplies--
		s.say("  payments: the reply is lost on its way back")
		return "", errors.New("payments: connection reset")
	}
	return id, nil
}

func (s *services) Refund(key, charge string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.replay("payments", key); ok {
		return id, nil
	}
	id := "re_" + charge[len("ch_"):]
	s.seen[key] = id
	s.say("  payments: refunded %s of %s as %s (idempotency key %s)", dollars(s.charges[charge]), charge, id, key)
	s.charges[charge] = 0
	return id, nil
}

func (s *services) Reserve(key, item string, qty int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.replay("warehouse", key); ok {
		return id, nil
	}
	if s.stock[item] < qty {
		s.say("  warehouse: %d %s wanted, %d in stock (idempotency key %s)", qty, item, s.stock[item], key)
		return "", fmt.Errorf("%w: %d %s wanted, %d left", errOutOfStock, qty, item, s.stock[item])
	}
	id := fmt.Sprintf("rs_%s_%d", item, len(s.reserved)+1)
	s.seen[key] = id
	s.stock[item] -= qty
	s.reserved[id] = stock{item, qty}
	s.say("  warehouse: reserved %d %s as %s (idempotency key %s)", qty, item, id, key)
	return id, nil
}

func (s *services) Release(key, reservation string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if answer, ok := s.replay("warehouse", key); ok {
		return answer, nil
	}
	r := s.reserved[reservation]
	s.stock[r.item] += r.qty
	delete(s.reserved, reservation)
	s.seen[key] = "released"
	s.say("  warehouse: released %s (idempotency key %s)", reservation, key)
	return "released", nil
}

func (s *services) Ship(key string, order int, address string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.replay("carrier", key); ok {
		return id, nil
	}
	s.shipped[key]++
	switch {
	case address == "Atlantis":
		s.say("  carrier: %s? (idempotency key %s)", address, key)
		return "", fmt.Errorf("%w: %s", errUndeliverable, address)
	case s.carrierDown || s.shipped[key] == 1: // its first request for each parcel times out
		s.say("  carrier: timed out (idempotency key %s)", key)
		return "", errors.New("carrier: timed out")
	}
	id := fmt.Sprint("trk_", order)
	s.seen[key] = id
	s.say("  carrier: shipped as %s (idempotency key %s)", id, key)
	return id, nil
}

// Charged is what the customers paid in all.
func (s *services) Charged() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	for _, cents := range s.charges {
		total += cents
	}
	return total
}

// stock is units of an item.
type stock struct {
	item string
	qty  int
}

// Stock is how many units of item are not reserved.
func (s *services) Stock(item string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stock[item]
}
