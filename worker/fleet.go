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

// A name found is trusted for fleetRefresh; a name missing is looked for
// again after fleetRetry (a worker that has it may have just started).
const (
	fleetRefresh = time.Second
	fleetRetry   = 100 * time.Millisecond
)

func newFleet(c *conf) *fleet { return &fleet{conf: c} }

// has reports whether a registered worker has the task name; false when
// the workers cannot be read (a failed read is not kept).
func (f *fleet) has(ctx context.Context, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	age := time.Since(f.read)
	if f.read.IsZero() || age >= fleetRefresh || !f.names[name] && age >= fleetRetry {
		names, err := f.load(ctx)
		if err != nil {
			f.log.Debug("cannot read the workers' task names", "err", err)
			return false
		}
		f.names, f.read = names, time.Now()
	}
	return f.names[name]
}

func (f *fleet) load(ctx context.Context) (map[string]bool, error) {
	descriptions, err := f.store.WorkerDescriptions(ctx)
	if err != nil {
		return nil, err
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
	return names, nil
}
