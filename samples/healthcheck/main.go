// Healthcheck shows a perpetual task: added once, under a key, it checks a
// service every five minutes and runs again after every check, whether the
// check passed or failed, until someone cancels it. The service is
// simulated (no network): it answers 503 on its third and fourth checks.
//
// The worker runs for -for (3s by default; 0 runs it until Ctrl-C), so by
// default you see the first check and when the next one is due; shorten
// the interval to watch several:
//
//	go run ./samples/healthcheck
//	go run ./samples/healthcheck -every 2s -for 15s
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/healthcheck
//
// It uses the embedded memory:// backend unless DOCKET_URL names a Redis.
// On a real Redis the chain outlives the program: run it again and the Add
// reports "already scheduled", and the next check keeps its due time.
package main

import (
	"context"
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

// Service is the input of health_check: the service to watch.
type Service struct {
	URL string `json:"url"`
}

// checker checks a service's health; nil means healthy.
type checker func(ctx context.Context, url string) error

// healthCheck is the perpetual task: every `every`, check the service,
// print the outcome and raise an alert when it is down.
func healthCheck(out io.Writer, every time.Duration, check checker) *sdk.Task[Service] {
	say := sample.Printer(out)
	return sdk.NewTask("health_check", func(ctx context.Context, in Service) error {
		at := sdk.Current(ctx).Due().UTC().Format(time.TimeOnly)
		if err := check(ctx, in.URL); err != nil {
			say("%s ✗ %s failed health check: %v", at, in.URL, err)
			say("%s ALERT: service %s is down", at, in.URL)
			return nil // the chain goes on either way; nil keeps the run "completed"
		}
		say("%s ✓ %s is healthy", at, in.URL)
		return nil
	}, policy.Perpetual(every))
}

// flakyService simulates the service behind the URL: it answers 503 on
// the checks listed in down (1 is the first check), 200 otherwise.
type flakyService struct {
	mu     sync.Mutex
	checks int
	down   map[int]bool
}

func newFlakyService() *flakyService {
	return &flakyService{down: map[int]bool{3: true, 4: true}}
}

func (s *flakyService) check(ctx context.Context, url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	if s.down[s.checks] {
		return fmt.Errorf("GET %s/health: 503 Service Unavailable", url)
	}
	return nil
}

func main() {
	url := flag.String("url", "https://api.example.com", "the service to watch")
	every := flag.Duration("every", 5*time.Minute, "how often to check")
	runFor := flag.Duration("for", 3*time.Second, "how long to run the worker; 0 runs it until Ctrl-C")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *url, *every, *runFor); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, url string, every, runFor time.Duration) error {
	d, err := sample.Open(ctx, "healthcheck")
	if err != nil {
		return err
	}
	defer d.Close()

	task := healthCheck(out, every, newFlakyService().check)
	if err := d.Register(task); err != nil {
		return err
	}
	// Added once; the key makes a second Add (another run of this program
	// on the same Redis) a no-op instead of a second chain.
	ex, err := task.Add(ctx, d, Service{URL: url}, sdk.Key("health:"+url))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "watching %s every %v: %s\n", url, every, ex.Disposition())

	if err := sample.RunWorker(ctx, d, runFor); err != nil {
		return err
	}

	info, err := ex.Info(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "stopped; %s is %s, next check at %s UTC\n", info.Key, info.State, info.Due.UTC().Format(time.TimeOnly))
	return nil
}
