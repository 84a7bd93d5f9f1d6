// Tracing shows docket's OpenTelemetry traces: a producer and a worker in
// one process, exporting spans and metrics over OTLP with
// telemetry/otlp.Setup. A "checkout" span adds two tasks; charge_card
// fails twice and succeeds on its third attempt (policy.Retry(3, …)),
// send_receipt succeeds at once. Each add is a producer span ("add
// charge_card") inside the checkout trace; each attempt is a consumer span
// of its own trace, named after the task and linked to the add's span.
//
// The checkout also adds fulfil_order, a workflow: its first run reserves
// stock in a step (a span "step reserve_stock", child of the run's span),
// starts two children, pack_parcel and print_label, and parks until they
// end (a "parked" event); each child's attempt is a trace of its own,
// linked to the run's span, which names the child in a "child started"
// event. The run that resumes it (a "resumed" event) dispatches the parcel
// in a second step. The program prints every trace ID, to look up in Jaeger.
//
//	scripts/jaeger.sh run &     # builds Jaeger once (~5 min), runs it on 127.0.0.1: OTLP 4317/4318, API 16686
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 go run ./samples/tracing
//	curl 'http://127.0.0.1:16686/api/traces?service=docket-tracing-sample'
//	curl 'http://127.0.0.1:16686/api/traces/<trace id>'
//
// (A Jaeger built from the Go module proxy, as scripts/jaeger.sh does, has
// no UI, only a placeholder page: its HTTP API answers the same queries. A
// released Jaeger, with its UI, shows the traces at /search and /trace/<id>.)
//
// The exporters follow the standard OTEL_* variables (see
// telemetry/otlp); OTEL_SERVICE_NAME overrides the service name. With no
// endpoint set, the sample sends to localhost:4317 without TLS. It uses
// the embedded memory:// backend unless DOCKET_URL names a Redis.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/policy"
	"github.com/docket-go/docket/samples/internal/sample"
	"github.com/docket-go/docket/sdk"
	"github.com/docket-go/docket/telemetry/otlp"
	"github.com/docket-go/docket/worker"
	"github.com/docket-go/docket/workflow"
)

// ServiceName is the service the spans are exported under, unless
// OTEL_SERVICE_NAME names another.
const ServiceName = "docket-tracing-sample"

// Charge is the input of charge_card.
type Charge struct {
	Order  int `json:"order"`
	Amount int `json:"amount_cents"`
}

// Receipt is the input of send_receipt.
type Receipt struct {
	Order int    `json:"order"`
	To    string `json:"to"`
}

// Parcel is the input of the workflow fulfil_order and of its children.
type Parcel struct {
	Order int `json:"order"`
	Items int `json:"items"`
}

func main() {
	// A sample talks to a local Jaeger or collector: without an endpoint,
	// reach localhost without TLS (the exporters' default is TLS).
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" &&
		os.Getenv("OTEL_EXPORTER_OTLP_INSECURE") == "" {
		_ = os.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	}
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) (err error) {
	shutdown, err := otlp.Setup(ctx, otlp.WithServiceName(ServiceName))
	if err != nil {
		return err
	}
	defer func() {
		// Flush every span before exiting: otherwise the last ones are lost.
		flushCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if ferr := shutdown(flushCtx); ferr != nil {
			err = errors.Join(err, fmt.Errorf("flushing telemetry (is a collector listening at OTEL_EXPORTER_OTLP_ENDPOINT?): %w", ferr))
		}
	}()

	d, err := sample.Open(ctx, "tracing")
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
	tracer := otel.Tracer("github.com/docket-go/docket/samples/tracing")

	// The payment gateway times out twice; the third attempt goes through.
	// The task's context carries its attempt's span: the gateway call is a
	// child span of it.
	chargeCard := sdk.NewTask("charge_card", func(ctx context.Context, in Charge) error {
		attempt := sdk.Current(ctx).Attempt()
		traceID := trace.SpanContextFromContext(ctx).TraceID()
		_, call := tracer.Start(ctx, "POST /v1/charges", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.Int("order", in.Order)))
		defer call.End()
		if attempt < 3 {
			err := errors.New("payment gateway timed out")
			call.SetStatus(codes.Error, err.Error())
			say("charge_card   attempt %d failed: %v  trace %s", attempt, err, traceID)
			return err
		}
		say("charge_card   attempt %d charged %d.%02d  trace %s", attempt, in.Amount/100, in.Amount%100, traceID)
		return nil
	}, policy.Retry(3, 200*time.Millisecond))

	sendReceipt := sdk.NewTask("send_receipt", func(ctx context.Context, in Receipt) error {
		say("send_receipt  attempt %d sent to %s  trace %s",
			sdk.Current(ctx).Attempt(), in.To, trace.SpanContextFromContext(ctx).TraceID())
		return nil
	})

	// A workflow: a step, two children, a park until they end, and a step
	// in the run that resumes it.
	child := func(name, did string) *sdk.Task[Parcel] {
		return sdk.NewTask(name, func(ctx context.Context, in Parcel) error {
			say("%-13s attempt %d %s order %d  trace %s", name, sdk.Current(ctx).Attempt(), did, in.Order,
				trace.SpanContextFromContext(ctx).TraceID())
			return nil
		})
	}
	packParcel, printLabel := child("pack_parcel", "packed"), child("print_label", "printed the label of")
	fulfilOrder := sdk.NewTask("fulfil_order", func(ctx context.Context, in Parcel) error {
		traceID := trace.SpanContextFromContext(ctx).TraceID()
		if err := workflow.Do(ctx, "reserve_stock", func(ctx context.Context) error {
			say("fulfil_order  step reserve_stock: %d items  trace %s", in.Items, traceID)
			return nil
		}); err != nil {
			return err
		}
		pack, err := workflow.StartTask(ctx, packParcel, "pack", in)
		if err != nil {
			return err
		}
		label, err := workflow.StartTask(ctx, printLabel, "label", in)
		if err != nil {
			return err
		}
		if err := workflow.Wait(ctx, pack, label); err != nil {
			if errors.Is(err, workflow.ErrParked) {
				say("fulfil_order  parked until pack_parcel and print_label end  trace %s", traceID)
			}
			return err
		}
		return workflow.Do(ctx, "dispatch", func(ctx context.Context) error {
			say("fulfil_order  resumed: step dispatch  trace %s", traceID)
			return nil
		})
	})

	if err := d.Register(chargeCard, sendReceipt, packParcel, printLabel, fulfilOrder); err != nil {
		return err
	}

	// The adds happen inside the caller's span, as they would inside an
	// HTTP handler: their producer spans join the checkout trace.
	checkoutCtx, checkout := tracer.Start(ctx, "checkout", trace.WithAttributes(attribute.Int("order", 1042)))
	charge, err := chargeCard.Add(checkoutCtx, d, Charge{Order: 1042, Amount: 4999})
	if err == nil {
		_, err = sendReceipt.Add(checkoutCtx, d, Receipt{Order: 1042, To: "ada@example.com"})
	}
	var fulfil *sdk.Execution
	if err == nil {
		fulfil, err = fulfilOrder.Add(checkoutCtx, d, Parcel{Order: 1042, Items: 3})
	}
	checkout.End()
	if err != nil {
		return err
	}
	say("checkout      add charge_card, add send_receipt, add fulfil_order  trace %s", checkout.SpanContext().TraceID())

	// RunUntilFinished waits through the retry delays too.
	if err := worker.New(d, worker.Options{Concurrency: 4}).RunUntilFinished(ctx); err != nil {
		return err
	}

	info, err := charge.Info(ctx)
	if err != nil {
		return err
	}
	say("charge_card %s: %s after %d attempts", info.Key, info.State, info.Attempt)
	if info, err = fulfil.Info(ctx); err != nil {
		return err
	}
	say("fulfil_order %s: %s", info.Key, info.State)
	say("each attempt is a trace of its own, linked (FOLLOWS_FROM in Jaeger) to the add in the checkout trace;")
	say("each child's attempt is linked to the fulfil_order run that started it;")
	say("in Jaeger: http://127.0.0.1:16686/api/traces?service=%s, or /api/traces/<id> (/search and /trace/<id> in its UI)", serviceName())
	return nil
}

// serviceName is the service the spans go out under.
func serviceName() string {
	if name := os.Getenv("OTEL_SERVICE_NAME"); name != "" {
		return name
	}
	return ServiceName
}
