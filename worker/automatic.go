package worker

import (
	"context"
	"time"

	"github.com/docket-go/docket/internal/store"
)

// seed starts the chain of every automatic task (keyed by the task's name)
// that has none. A live chain is left alone, so any number of workers
// seeding at once leave exactly one; a lost one is started again, a cron
// task at its expression's next instant. Workers seed when they start and
// with every lease renewal.
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
	res, err := r.store.Add(ctx, store.ModeAdd, tasks)
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
