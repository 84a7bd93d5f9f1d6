package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/docket-go/docket/internal/store"
)

// WorkflowInfo is what a workflow's execution did (see package workflow):
// Info.Workflow, for an execution whose runs called workflow primitives.
type WorkflowInfo struct {
	// Steps are the names of the steps done, in name order.
	Steps []string
	// Children are the children started, in name order.
	Children []ChildInfo
	// WaitingFor says, while the workflow is parked, what it waits for:
	// "3 of 10 children", "signal approve", "sleep cool-off"; Info.Due is
	// when a sleep ends or a wait for a signal times out, if it does.
	WaitingFor string
	// Signals counts the signals delivered and not yet received, by name.
	Signals map[string]int
}

// ChildInfo is one child of a workflow.
type ChildInfo struct {
	Name  string // its name in the workflow
	Key   string // its execution's key
	State State  // completed, failed or cancelled once it ended; empty while it lives
	Error string // why it did not complete
}

// workflowInfo reads what the workflow with key did; nil when its runs
// called no workflow primitive.
func (d *Docket) workflowInfo(ctx context.Context, key string) (*WorkflowInfo, error) {
	flow, err := d.core.Store.ReadFlow(ctx, key)
	if errors.Is(err, store.ErrWrongType) {
		return nil, nil // garbled by another program: the record is shown without it
	}
	if err != nil || len(flow) == 0 {
		return nil, err
	}
	w := &WorkflowInfo{WaitingFor: flow[store.FlowWhy]}
	ended := map[string]store.ChildOutcome{}
	for field, v := range flow {
		switch {
		case strings.HasPrefix(field, store.FlowStep):
			w.Steps = append(w.Steps, field[len(store.FlowStep):])
		case strings.HasPrefix(field, store.FlowEnded):
			if o, err := store.ParseChildOutcome(v); err == nil {
				ended[field[len(store.FlowEnded):]] = o
			}
		case strings.HasPrefix(field, store.FlowQueued):
			if w.Signals == nil {
				w.Signals = map[string]int{}
			}
			var queued []string
			if json.Unmarshal([]byte(v), &queued) == nil {
				w.Signals[field[len(store.FlowQueued):]] = len(queued)
			}
		}
	}
	for field, v := range flow {
		if name, ok := strings.CutPrefix(field, store.FlowChild); ok {
			c := ChildInfo{Name: name, Key: v}
			if o, ok := ended[v]; ok {
				c.State, c.Error = State(o.State), o.Error
			}
			w.Children = append(w.Children, c)
		}
	}
	slices.Sort(w.Steps)
	slices.SortFunc(w.Children, func(a, b ChildInfo) int { return strings.Compare(a.Name, b.Name) })
	return w, nil
}
