package worker

import (
	"context"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// seed starts the chain of every automatic task (keyed by the task's name)
// that has none. A live chain is left alone, so any number of workers
// seeding at once leave exactly one; a lost one is started again, a cron
// task at its expression's next instant. Workers seed when they start, when
// tasks are registered, when they hear that a chain ended (Event.Chain),
// and with every lease renewal, should Redis have lost one.
func (r *run) seed(ctx context.Context) error {
	var tasks []store.NewTask
	var redisNow time.Time
	for _, def := range r.w.c.Tasks() {
		if !def.Policies.Automatic() {
			continue
		}
		t := store.NewTask{Key: def.Name, Name: def.Name, Input: []byte("{}")}
		if cron := def.Policies.Cron; cron != nil {
			if redisNow.IsZero() {
				var err error
				if redisNow, err = r.store.Now(ctx); err != nil {
					return err
				}
			}
			at, err := cron.Next(redisNow)
			if err != nil {
				return err
			}
			t.When = store.When{At: at}
		}
		tasks = append(tasks, t)
	}
	if len(tasks) == 0 {
		return nil
	}
	res, err := r.store.Add(ctx, store.ModeSeed, tasks)
	if err != nil {
		return err
	}
	for i, a := range res {
		if a.Code == store.Added {
			r.log.Info("started automatic task", "task", tasks[i].Name, "due", a.Due)
		}
	}
	return nil
}

// prepare does what the registered tasks need before this worker claims
// them: it starts their automatic chains, and makes due at once the tasks
// of their names that workers without them handed back.
func (r *run) prepare(ctx context.Context) error {
	if err := r.seed(ctx); err != nil {
		return err
	}
	defs := r.w.c.Tasks()
	names := make([]string, len(defs))
	for i, def := range defs {
		names[i] = def.Name
	}
	return r.store.Known(ctx, names)
}

// followRegistry prepares tasks registered while the worker runs, at once
// rather than at the next lease renewal, and starts again the automatic
// chains that ended (see handle). changed is the registry's Changed channel
// as of before the worker first prepared.
func (r *run) followRegistry(changed <-chan struct{}) {
	for {
		var err error
		select {
		case <-r.bgCtx.Done():
			return
		case <-changed:
			changed = r.w.c.Changed()
			err = r.prepare(r.bgCtx)
		case <-r.reseed:
			err = r.seed(r.bgCtx)
		case <-r.reap:
			err = r.store.Reap(r.bgCtx, r.w.c.Retention)
		}
		if err != nil && r.bgCtx.Err() == nil {
			r.log.Warn("cannot start automatic tasks or cancel the children of ended workflows; trying again at the next renewal", "err", err)
		}
	}
}
