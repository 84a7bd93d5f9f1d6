// Quickstart registers two tasks, one with a retry policy and one with a
// timeout, adds a few, runs a worker until every task has finished, and
// prints what ran. It needs no Redis: it uses the embedded memory://
// backend unless DOCKET_URL names another.
//
//	go run ./samples/quickstart
//	DOCKET_URL=redis://localhost:6379/0 go run ./samples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/worker"
)

// Email is the input of send_email.
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// Report is the input of build_report.
type Report struct {
	Name  string        `json:"name"`
	Takes time.Duration `json:"takes"`
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	url := os.Getenv("DOCKET_URL")
	if url == "" {
		url = "memory://quickstart"
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := sdk.Open(ctx, url, sdk.WithName("quickstart"), sdk.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer d.Close()

	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}

	// The mail server refuses the first two tries; the retry policy gets
	// the message through on the third attempt.
	sendEmail := sdk.NewTask("send_email", func(ctx context.Context, in Email) error {
		attempt := sdk.Current(ctx).Attempt()
		if attempt < 3 {
			say("send_email to %s: attempt %d failed", in.To, attempt)
			return errors.New("mail server busy")
		}
		say("send_email to %s: sent %q on attempt %d", in.To, in.Subject, attempt)
		return nil
	}, policy.Retry(3, 100*time.Millisecond))

	// A report that takes longer than its timeout is cancelled.
	buildReport := sdk.NewTask("build_report", func(ctx context.Context, in Report) error {
		select {
		case <-time.After(in.Takes):
			say("build_report %s: done in %v", in.Name, in.Takes)
			return nil
		case <-ctx.Done():
			say("build_report %s: stopped, %v", in.Name, context.Cause(ctx))
			return ctx.Err()
		}
	}, policy.Timeout(200*time.Millisecond))

	if err := d.Register(sendEmail, buildReport); err != nil {
		return err
	}

	welcome, err := sendEmail.Add(ctx, d, Email{To: "ada@example.com", Subject: "Welcome"}, sdk.Key("welcome-ada"))
	if err != nil {
		return err
	}
	again, err := sendEmail.Add(ctx, d, Email{To: "ada@example.com", Subject: "Welcome"}, sdk.Key("welcome-ada"))
	if err != nil {
		return err
	}
	say("added %s: %s; added it again: %s", welcome.Key(), welcome.Disposition(), again.Disposition())

	quick, err := buildReport.Add(ctx, d, Report{Name: "daily", Takes: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	slow, err := buildReport.Add(ctx, d, Report{Name: "yearly", Takes: time.Hour}, sdk.After(100*time.Millisecond))
	if err != nil {
		return err
	}

	// RunUntilFinished returns once every task added has finished: it
	// waits through the email's retry delays too.
	w := worker.New(d, worker.Options{Concurrency: 4, Logger: quiet})
	if err := w.RunUntilFinished(ctx); err != nil {
		return err
	}

	for _, ex := range []*sdk.Execution{welcome, quick, slow} {
		info, err := ex.Info(ctx)
		if err != nil {
			return err
		}
		say("%s %s: %s after %d attempt(s) %s", info.Task, shortKey(info.Key), info.State, info.Attempt, info.Error)
	}
	return nil
}

func shortKey(k string) string {
	if len(k) > 13 {
		return k[:8] + "…" + k[len(k)-4:]
	}
	return k
}
