package tasks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docket-go/docket/sdk"
)

// RunLog is a worker process's log of the runs of its tasks: a line when a
// task's function starts, and one when it returns, each stamped with the
// host's clock. It is a file, not Redis, so that it does not depend on the
// faults it is there to judge: a run cut off from Redis, or stalled with
// it, still logs when it started and when it stopped. The driver reads the
// logs of every process at the end and checks that no two runs of one key
// overlapped. A process that dies mid-run (SIGKILL, an exiter) leaves a
// start without an end: the driver ends such runs when it saw the process
// die.
//
// Every process of the run is on one host, so their clocks are one clock.
type RunLog struct {
	mu   sync.Mutex
	w    io.Writer
	next int64
}

// NewRunLog logs to w, one write per line (a file opened with O_APPEND).
func NewRunLog(w io.Writer) *RunLog { return &RunLog{w: w} }

// Run is one run of a task's function, as a run log tells it.
type Run struct {
	ID                int64 // in its log
	Key, Task         string
	Attempt           int
	Start, End        time.Time // End is zero until the run ended (or its process died)
	Ended             bool      // the function returned (or panicked)
	Result            string    // ok, error or panic
	Cause             string    // why its context ended, if it did: see CauseName
	Cancelled         time.Time // when its context ended, if it did before the function returned
	CancelledToReturn time.Duration
}

// Causes of a run's context ending, as logged.
const (
	CauseLeaseLost = "lease-lost"
	CauseTimeout   = "timeout"
	CauseShutdown  = "shutdown"
	CauseCancelled = "cancelled"
)

// CauseName names why a task's context ended, in one word.
func CauseName(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, sdk.ErrLeaseLost):
		return CauseLeaseLost
	case errors.Is(err, sdk.ErrTimeout):
		return CauseTimeout
	case errors.Is(err, sdk.ErrShutdown):
		return CauseShutdown
	case errors.Is(err, sdk.ErrCancelled):
		return CauseCancelled
	}
	return "other"
}

// track logs the runs of fn. The start is logged before fn does anything,
// and the end after it has returned (or panicked), so the logged interval
// covers everything the run did.
func track[In any](l *RunLog, fn func(context.Context, In) error) func(context.Context, In) error {
	if l == nil {
		return fn
	}
	return func(ctx context.Context, in In) (err error) {
		cur := sdk.Current(ctx)
		id := l.start(cur.Key(), cur.Task(), cur.Attempt())
		var cancelled atomic.Int64
		stop := context.AfterFunc(ctx, func() { cancelled.Store(time.Now().UnixNano()) })
		returned := false
		defer func() {
			stop()
			result := "ok"
			switch {
			case !returned:
				result = "panic"
			case err != nil:
				result = "error"
			}
			cause, at := "", cancelled.Load()
			if ctx.Err() != nil {
				cause = CauseName(context.Cause(ctx))
				if at == 0 {
					// The function saw its context end before the
					// AfterFunc, on a goroutine of its own, noted when.
					at = time.Now().UnixNano()
				}
			}
			l.end(id, result, at, cause)
		}()
		err = fn(ctx, in)
		returned = true
		return err
	}
}

func (l *RunLog) start(key, task string, attempt int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.write(fmt.Sprintf("S\t%d\t%d\t%s\t%s\t%d\n", l.next, time.Now().UnixNano(), key, task, attempt))
	return l.next
}

func (l *RunLog) end(id int64, result string, cancelled int64, cause string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write(fmt.Sprintf("E\t%d\t%d\t%s\t%d\t%s\n", id, time.Now().UnixNano(), result, cancelled, cause))
}

// write writes a line at once, in one call: a process killed right after
// still leaves it in the file.
func (l *RunLog) write(line string) {
	if _, err := io.WriteString(l.w, line); err != nil {
		// Without its log the run cannot be judged: say so loudly, in the
		// worker's log, which the driver keeps when a run fails.
		fmt.Fprintf(os.Stderr, "chaos: run log: %v\n", err)
	}
}

// ReadRuns reads a run log, in the order the runs started.
func ReadRuns(r io.Reader) ([]*Run, error) {
	var runs []*Run
	byID := map[int64]*Run{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		f := strings.Split(line, "\t")
		bad := func(err error) error { return fmt.Errorf("line %d %q: %v", n, line, err) }
		switch {
		case len(f) == 6 && f[0] == "S":
			id, err1 := strconv.ParseInt(f[1], 10, 64)
			at, err2 := strconv.ParseInt(f[2], 10, 64)
			attempt, err3 := strconv.Atoi(f[5])
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, bad(err)
			}
			run := &Run{ID: id, Start: time.Unix(0, at), Key: f[3], Task: f[4], Attempt: attempt}
			runs = append(runs, run)
			byID[id] = run
		case len(f) == 6 && f[0] == "E":
			id, err1 := strconv.ParseInt(f[1], 10, 64)
			at, err2 := strconv.ParseInt(f[2], 10, 64)
			cancelled, err3 := strconv.ParseInt(f[4], 10, 64)
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, bad(err)
			}
			run := byID[id]
			if run == nil {
				return nil, bad(errors.New("the end of a run that did not start"))
			}
			run.End, run.Ended, run.Result, run.Cause = time.Unix(0, at), true, f[3], f[5]
			if cancelled > 0 {
				run.Cancelled = time.Unix(0, cancelled)
				run.CancelledToReturn = run.End.Sub(run.Cancelled)
			}
		case line == "":
		default:
			// A process killed in the middle of a write leaves a cut line,
			// at the end of its log only.
			if !sc.Scan() {
				return runs, nil
			}
			return nil, bad(errors.New("not a run log line"))
		}
	}
	return runs, sc.Err()
}
