package worker

import (
	"context"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// upkeep does what the docket needs of its running workers besides running
// tasks: it starts the chains of automatic tasks, makes due the tasks that
// waited for a worker that knows them, and cancels the children of ended
// workflows. It does so when the worker starts (see renewing), when tasks
// are registered, when it hears that a chain or a workflow ended, and with
// every lease renewal, should an event have been missed.
type upkeep struct {
	*conf
	lifecycle
	changed <-chan struct{} // the registry's, as of before the first preparation
	reseed  chan struct{}   // an automatic task's chain ended
	reap    chan struct{}   // ended workflows have children to cancel
}

func newUpkeep(c *conf) *upkeep {
	u := &upkeep{conf: c, reseed: make(chan struct{}, 1), reap: make(chan struct{}, 1)}
	u.init()
	return u
}

// start follows the registry from now on: it must start before anything is
// prepared, so that no registration is missed.
func (u *upkeep) start() {
	u.changed = u.w.c.Changed()
	u.spawn(u.follow)
}

// renewing runs before each lease renewal, on the leaser's goroutine, so
// that once this worker shows in Snapshot it has started the chains of its
// automatic tasks; and reaps in case an event was missed. (The tasks of
// its names that workers without them handed back are made due by its
// claims: see claimer.introduce.)
func (u *upkeep) renewing(ctx context.Context) {
	u.reapSoon() // the children of ended workflows, should an "r" event have been missed
	if err := u.seed(ctx); err != nil && ctx.Err() == nil {
		u.log.Warn("cannot start automatic tasks; trying again at the next renewal", "err", err)
	}
}

// reapSoon has the upkeep cancel the children of ended workflows.
func (u *upkeep) reapSoon() {
	select {
	case u.reap <- struct{}{}:
	default: // one is coming
	}
}

// chainEnded has the upkeep start again the chain of the task called name,
// if it is an automatic task registered here.
func (u *upkeep) chainEnded(name string) {
	if def := u.w.c.Task(name); def == nil || !def.Policies.Automatic() {
		return
	}
	select {
	case u.reseed <- struct{}{}:
	default: // one is coming
	}
}

// seed starts the chain of every automatic task (keyed by the task's name)
// that has none. A live chain is left alone, so any number of workers
// seeding at once leave exactly one; a lost one is started again, a cron
// task at its expression's next instant.
func (u *upkeep) seed(ctx context.Context) error {
	var tasks []store.NewTask
	var redisNow time.Time
	for _, def := range u.w.c.Tasks() {
		if !def.Policies.Automatic() {
			continue
		}
		t := store.NewTask{Key: def.Name, Name: def.Name, Input: []byte("{}")}
		if cron := def.Policies.Cron; cron != nil {
			if redisNow.IsZero() {
				var err error
				if redisNow, err = u.store.Now(ctx); err != nil {
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
	res, err := u.store.Add(ctx, store.ModeSeed, tasks)
	if err != nil {
		return err
	}
	for i, a := range res {
		if a.Code == store.Added {
			u.log.Info("started automatic task", "task", tasks[i].Name, "due", a.Due)
		}
	}
	return nil
}

// follow starts the chains of automatic tasks registered while the worker
// runs, at once rather than at the next lease renewal, starts again the
// chains that ended, and reaps.
func (u *upkeep) follow() {
	changed := u.changed
	for {
		var err error
		select {
		case <-u.ctx.Done():
			return
		case <-changed:
			changed = u.w.c.Changed()
			err = u.seed(u.ctx)
		case <-u.reseed:
			// A chain that ended may be a workflow whose children are
			// being cancelled: reaped first, they are not left for the
			// next run's add to cancel in one script (see finish_reaping).
			if err = u.store.Reap(u.ctx, u.w.c.Retention); err == nil {
				err = u.seed(u.ctx)
			}
		case <-u.reap:
			err = u.store.Reap(u.ctx, u.w.c.Retention)
		}
		if err != nil && u.ctx.Err() == nil {
			u.log.Warn("cannot start automatic tasks or cancel the children of ended workflows; trying again at the next renewal", "err", err)
		}
	}
}
