// Adaptive-rate shows a perpetual task that changes its own schedule and
// input: every minute it reads an endpoint's load and adjusts the rate
// limit. Under high load it lowers the limit by 10 (down to 30 requests a
// minute) and checks again after 30 seconds; otherwise it raises the limit
// by 5 (up to 120) and checks again after a minute. The new limit is the
// input of the next run (sdk.Perpetuate), the new interval is set with
// Perpetual().SetEvery. The load is simulated: a fixed series of readings.
//
// The worker runs for -for (3s by default; 0 runs it until Ctrl-C), so by
// default you see the first reading; shorten the interval (-every sets the
// normal one, high load halves it) to watch the limit move:
//
//	go run ./samples/adaptive-rate
//	go run ./samples/adaptive-rate -every 2s -for 15s
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/adaptive-rate
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
)

// Limit is the input of adaptive_rate_limiter: an endpoint and the rate it
// is allowed now.
type Limit struct {
	Endpoint          string `json:"endpoint"`
	RequestsPerMinute int    `json:"requests_per_minute"`
}

// The bounds of the rate, and the load above which it goes down.
const (
	minRate  = 30
	maxRate  = 120
	highLoad = 0.8
)

// loadFunc reports an endpoint's load, from 0 to 1.
type loadFunc func(ctx context.Context, endpoint string) (float64, error)

// adaptiveRateLimiter is the perpetual task: every `every` (every/2 under
// high load), read the load and set the rate of the next run.
func adaptiveRateLimiter(out io.Writer, every time.Duration, load loadFunc) *sdk.Task[Limit] {
	say := sample.Printer(out)
	return sdk.NewTask("adaptive_rate_limiter", func(ctx context.Context, in Limit) error {
		cur := sdk.Current(ctx)
		at := cur.Due().UTC().Format(time.TimeOnly)
		l, err := load(ctx, in.Endpoint)
		if err != nil {
			return err // the next run comes after `every`, with this run's input
		}
		next := in
		p := cur.Perpetual()
		if l > highLoad {
			next.RequestsPerMinute = max(minRate, in.RequestsPerMinute-10)
			p.SetEvery(every / 2) // check more often
			say("%s high load (%.0f%%) on %s: %d → %d req/min, next check in %v",
				at, l*100, in.Endpoint, in.RequestsPerMinute, next.RequestsPerMinute, p.Every())
		} else {
			next.RequestsPerMinute = min(maxRate, in.RequestsPerMinute+5)
			p.SetEvery(every)
			say("%s normal load (%.0f%%) on %s: %d → %d req/min, next check in %v",
				at, l*100, in.Endpoint, in.RequestsPerMinute, next.RequestsPerMinute, p.Every())
		}
		return sdk.Perpetuate(ctx, next)
	}, policy.Perpetual(every))
}

// meter simulates the endpoint's load: it returns the readings one after
// the other, then starts again.
type meter struct {
	mu       sync.Mutex
	readings []float64
	n        int
}

func newMeter() *meter {
	return &meter{readings: []float64{0.42, 0.55, 0.91, 0.88, 0.95, 0.97, 0.99, 0.63, 0.35}}
}

func (m *meter) load(ctx context.Context, endpoint string) (float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.readings[m.n%len(m.readings)]
	m.n++
	return l, nil
}

func main() {
	endpoint := flag.String("endpoint", "https://api.example.com/v1/search", "the endpoint to limit")
	every := flag.Duration("every", time.Minute, "how often to check under normal load; half that under high load")
	runFor := flag.Duration("for", 3*time.Second, "how long to run the worker; 0 runs it until Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *endpoint, *every, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, endpoint string, every, runFor time.Duration) error {
	d, err := sample.Open(ctx, "adaptive-rate")
	if err != nil {
		return err
	}
	defer d.Close()

	task := adaptiveRateLimiter(out, every, newMeter().load)
	if err := d.Register(task); err != nil {
		return err
	}
	ex, err := task.Add(ctx, d, Limit{Endpoint: endpoint, RequestsPerMinute: 60}, sdk.Key("rate:"+endpoint))
	if err != nil {
		return err
	}
	if err := sample.RunWorker(ctx, d, runFor); err != nil {
		return err
	}

	info, err := ex.Info(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	var next Limit
	if err := json.Unmarshal(info.Input, &next); err != nil {
		return err
	}
	fmt.Fprintf(out, "stopped; next check at %s UTC with %d req/min\n", info.Due.UTC().Format(time.TimeOnly), next.RequestsPerMinute)
	return nil
}
