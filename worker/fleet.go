package worker

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/docket-go/docket/sdk"
)

// fleet tells whether another worker of the docket has a task registered,
// from the descriptions the workers register (see leaser.description): a
// worker that hands back a task it does not have leaves it, during a
// rolling deploy, to a worker that has it. The descriptions are read at
// most once per fleetRefresh, however many tasks are handed back.
type fleet struct {
	*conf
	mu    sync.Mutex
	read  time.Time // when names was read; zero: never
	names map[string]bool
}

// fleetRefresh is how long the fleet's task names are trusted.
const fleetRefresh = time.Second

func newFleet(c *conf) *fleet { return &fleet{conf: c} }

// has reports whether a registered worker has the task name; false when
// the workers cannot be read.
func (f *fleet) has(ctx context.Context, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.read.IsZero() || time.Since(f.read) >= fleetRefresh {
		f.names = f.load(ctx)
		f.read = time.Now()
	}
	return f.names[name]
}

func (f *fleet) load(ctx context.Context) map[string]bool {
	descriptions, err := f.store.WorkerDescriptions(ctx)
	if err != nil {
		f.log.Debug("cannot read the workers' task names", "err", err)
		return nil
	}
	names := map[string]bool{}
	for _, raw := range descriptions {
		var info sdk.WorkerInfo
		if json.Unmarshal(raw, &info) != nil || info.ID == f.w.id {
			continue
		}
		for _, name := range info.Tasks {
			names[name] = true
		}
	}
	return names
}
