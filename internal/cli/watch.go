package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docket-go/docket/internal/text"
	"github.com/docket-go/docket/sdk"
)

var watchCommand = &command{
	name:    "watch",
	args:    "KEY",
	summary: "follow one task's state and progress until it ends",
	help: `Shows the task's state and progress: current/total, percentage, message and
the time elapsed since the watch began. On a terminal it redraws one line
with a progress bar; otherwise it prints a line per change. It ends when the
task does, with its final state, and exits 0 if the task completed and 1 if
it failed or was cancelled. A task whose record vanished while the watch was
cut off from Redis (Redis lost it: a restart without persistence, an
eviction, a flush) is reported lost, in one line on stderr, and exits 1:
only a completion the watch saw exits 0.
`,
	run: runWatch,
}

// Terminal control: back to the start of the line, and clear to its end.
const redraw = "\r\x1b[K"

// barWidth is the width of the progress bar, in cells.
const barWidth = 24

// messageWidth is the most of a progress message a terminal line shows.
const messageWidth = 48

func runWatch(ctx context.Context, s *session, cmd *command, args []string) error {
	fs := s.flags(cmd)
	args, err := s.parse(cmd, fs, args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usageErrorf(cmd.name, "expected one task KEY, got %d arguments", len(args))
	}
	key := args[0]
	d, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer d.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends Watch's goroutine if we return before the channel closes
	events, err := d.Watch(ctx, key)
	if errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("watch: docket %q has no task with the key %q (never added, or finished longer ago than the retention)", d.Name(), key)
	}
	if err != nil {
		return fmt.Errorf("watch %q: %w", key, err)
	}
	w := &watcher{out: s.stdout, term: s.isTerminal(s.stdout), now: s.now}
	return w.follow(ctx, events)
}

// watcher draws the events of one execution.
type watcher struct {
	out   io.Writer
	term  bool
	now   func() time.Time
	start time.Time
	last  sdk.Event
	seen  bool
}

func (w *watcher) follow(ctx context.Context, events <-chan sdk.Event) error {
	w.start = w.now()
	var tick <-chan time.Time
	if w.term { // keep the elapsed time moving between events
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				if w.term && w.seen {
					fmt.Fprintln(w.out)
				}
				if ctx.Err() != nil {
					return errors.New("watch: interrupted before the task ended")
				}
				return errors.New("watch: the event stream ended before the task did")
			}
			if ev.Err != nil {
				if w.term && w.seen {
					fmt.Fprintln(w.out)
				}
				return fmt.Errorf("watch: %w", ev.Err)
			}
			w.last, w.seen = ev, true
			w.draw()
			if !ev.IsProgress && ev.State.Finished() {
				if w.term {
					fmt.Fprintln(w.out)
				}
				if ev.State == sdk.StateCompleted {
					return nil
				}
				return exitStatus(ExitError)
			}
		case <-tick:
			if w.seen {
				w.draw()
			}
		}
	}
}

func (w *watcher) draw() {
	line := render(w.last, w.now().Sub(w.start), w.term)
	if w.term {
		fmt.Fprint(w.out, redraw+line)
	} else {
		fmt.Fprintln(w.out, line)
	}
}

// render writes an event as one line, fields two spaces apart:
//
//	running  [######------------------]  1/4  25%  importing  00:03
//
// The bar only on a terminal, which also shortens a long message; the
// counts only once the task reported progress; the error only when the
// event has one (a failure, a cancellation, a retry).
func render(ev sdk.Event, elapsed time.Duration, term bool) string {
	state := string(ev.State)
	if ev.Attempt > 1 {
		state += fmt.Sprintf(" (attempt %d)", ev.Attempt)
	}
	parts := progressParts([]string{state}, ev.Progress, term)
	if e := printable(firstLine(ev.Error)); e != "" {
		if term {
			e = text.Truncate(e, messageWidth)
		}
		parts = append(parts, "error: "+e)
	}
	parts = append(parts, clock(elapsed))
	return strings.Join(parts, "  ")
}

// progressParts appends what p reports: the counts once there are any,
// then the message; on a terminal a bar before the counts, and the message
// shortened.
func progressParts(parts []string, p sdk.ProgressInfo, term bool) []string {
	switch {
	case p.Total > 0:
		if term {
			parts = append(parts, bar(p.Current, p.Total, barWidth))
		}
		parts = append(parts, fmt.Sprintf("%d/%d", p.Current, p.Total), fmt.Sprintf("%d%%", percent(p.Current, p.Total)))
	case p.Current > 0:
		parts = append(parts, fmt.Sprintf("%d done", p.Current))
	}
	if msg := printable(firstLine(p.Message)); msg != "" {
		if term {
			msg = text.Truncate(msg, messageWidth)
		}
		parts = append(parts, msg)
	}
	return parts
}

// percent is the share of total that current is, rounded down (100 only
// when done), between 0 and 100.
func percent(current, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return int64(text.Share(current, total, 100))
}

// bar draws current out of total as width cells between brackets.
func bar(current, total int64, width int) string {
	filled := 0
	if total > 0 {
		filled = text.Share(current, total, width)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]"
}
