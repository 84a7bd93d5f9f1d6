package worker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/telemetry"
)

// rules returns the admission rules of the registered tasks, encoded for the
// claim script, rebuilt only when the registry changes.
func (r *run) rules() store.Rules {
	v := r.w.c.Version()
	if r.rulesVersion == v && r.rulesBuilt {
		return r.cachedRules
	}
	byTask := map[string]store.Rule{}
	for _, def := range r.w.c.Tasks() {
		p := def.Policies
		var rule store.Rule
		if d := p.Debounce; d != nil {
			rule.Debounce = &store.Debounce{Arg: d.Arg, Settle: d.Settle}
		}
		for _, c := range p.Cooldown {
			rule.Cooldowns = append(rule.Cooldowns, store.Cooldown{Arg: c.Arg, Window: c.Window})
		}
		for _, c := range p.Concurrency {
			rule.Limits = append(rule.Limits, store.Limit{Arg: c.Arg, Max: c.Max, Scope: c.Scope})
		}
		for _, r := range p.RateLimit {
			rule.Rates = append(rule.Rates, store.Rate{Arg: r.Arg, Limit: r.Limit, Per: r.Per, Scope: r.Scope, Drop: r.Drop})
		}
		byTask[def.Name] = rule
	}
	r.cachedRules, r.rulesVersion, r.rulesBuilt = store.NewRules(byTask), v, true
	return r.cachedRules
}

// dropped reports tasks ended without running — submissions admission
// control turned away, poison tasks dead-lettered, tasks whose input or
// record could not be read: a log line, a count, and a span linked to the
// producer's.
func (r *run) dropped(ds []store.Dropped) {
	for _, d := range ds {
		if d.Held {
			r.log.Info("task held by a strike", "key", d.Key, "task", d.Name, "reason", d.Reason)
			r.w.metrics.Struck.Add(context.Background(), 1, r.w.metrics.Task(r.w.c.Name, d.Name))
			continue
		}
		outcome := "dropped"
		switch d.Failure {
		case "":
			r.log.Info("task dropped", "key", d.Key, "task", d.Name, "reason", d.Reason)
			r.w.metrics.Dropped.Add(context.Background(), 1, r.w.metrics.Task(r.w.c.Name, d.Name))
		case store.FailureDeadLetter:
			outcome = "dead-lettered"
			r.log.Error("task dead-lettered", "key", d.Key, "task", d.Name, "reason", d.Reason)
		default:
			outcome = "failed"
			r.log.Error("task failed before it ran", "key", d.Key, "task", d.Name, "reason", d.Reason)
		}
		if d.Failure != "" {
			r.w.metrics.Failed.Add(context.Background(), 1, telemetry.Failure(r.w.c.Name, d.Name, d.Failure))
		}
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String(telemetry.AttrDocket, r.w.c.Name),
				attribute.String(telemetry.AttrTask, d.Name),
				attribute.String(telemetry.AttrKey, d.Key),
				attribute.String(telemetry.AttrWorker, r.w.id),
			),
		}
		if producer := telemetry.ExtractTrace(d.Trace); producer.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: producer}))
		}
		_, span := telemetry.Tracer().Start(context.Background(), d.Name, opts...)
		span.AddEvent(telemetry.EventDropped, trace.WithAttributes(attribute.String(telemetry.AttrReason, d.Reason)))
		span.SetAttributes(attribute.String(telemetry.AttrOutcome, outcome))
		span.End()
	}
}
