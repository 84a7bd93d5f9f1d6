package worker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/docket-go/docket/internal/core"
	"github.com/docket-go/docket/internal/store"
	"github.com/docket-go/docket/telemetry"
)

// rules returns the admission rules of the tasks of reg, encoded for the
// claim script, rebuilt only when the registry changes.
func (l *claimer) rules(reg core.Registry) store.Rules {
	if l.rulesBuilt && l.rulesOf == reg {
		return l.cachedRules
	}
	byTask := map[string]store.Rule{}
	for _, def := range reg.Tasks() {
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
	l.cachedRules, l.rulesOf, l.rulesBuilt = store.NewRules(byTask), reg, true
	return l.cachedRules
}

// dropped reports tasks ended without running — submissions admission
// control turned away, poison tasks dead-lettered, tasks whose input or
// record could not be read: a log line, a count, and a span linked to the
// producer's.
func (l *claimer) dropped(ds []store.Dropped) {
	for _, d := range ds {
		if d.Held {
			l.log.Info("task held by a strike", "key", d.Key, "task", d.Name, "reason", d.Reason)
			l.w.metrics.Struck.Add(context.Background(), 1, l.w.metrics.Task(l.w.c.Name, d.Name).Add...)
			continue
		}
		outcome := "dropped"
		switch d.Failure {
		case "":
			l.log.Info("task dropped", "key", d.Key, "task", d.Name, "reason", d.Reason)
			l.w.metrics.Dropped.Add(context.Background(), 1, l.w.metrics.Task(l.w.c.Name, d.Name).Add...)
		case store.FailureDeadLetter:
			outcome = "dead-lettered"
			l.log.Error("task dead-lettered", "key", d.Key, "task", d.Name, "reason", d.Reason)
		default:
			outcome = "failed"
			l.log.Error("task failed before it ran", "key", d.Key, "task", d.Name, "reason", d.Reason)
		}
		if d.Failure != "" {
			l.w.metrics.Failed.Add(context.Background(), 1, telemetry.Failure(l.w.c.Name, d.Name, d.Failure))
		}
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String(telemetry.AttrDocket, l.w.c.Name),
				attribute.String(telemetry.AttrTask, d.Name),
				attribute.String(telemetry.AttrKey, d.Key),
				attribute.String(telemetry.AttrWorker, l.w.id),
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

// introduce makes due the tasks that workers without them handed back, of
// the names reg has and the last claim's registry had not, before the
// claim that carries their admission rules: a task registered while the
// worker runs is then claimed in its place in line, not after the
// submissions added while it waited (see Store.Known). The first exchange
// of a run introduces every registered task: a worker that comes up makes
// due the tasks handed back for it before it claims. On an error the next
// exchange tries again.
func (l *claimer) introduce(reg core.Registry) {
	l.introducing.Lock()
	defer l.introducing.Unlock()
	if reg == l.introduced {
		return
	}
	var names []string
	for _, def := range reg.Tasks() {
		if l.introduced.Task(def.Name) == nil {
			names = append(names, def.Name)
		}
	}
	if len(names) == 0 {
		return // an exchange sent before the last one introduced (registries only grow)
	}
	if err := l.store.Known(l.ctx, names); err != nil {
		l.log.Debug("cannot make due the newly registered tasks that workers handed back; trying again", "err", err)
		return
	}
	l.introduced = reg
}
