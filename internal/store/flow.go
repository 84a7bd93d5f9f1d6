package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// ErrNotHeld reports a workflow primitive of a run that no longer holds its
// task (cancelled, replaced, or taken over after its lease lapsed): it
// changed nothing.
var ErrNotHeld = errors.New("docket: this run no longer holds its task")

// Flow is what a workflow's execution did, as its flow hash holds it (see
// keys.go and lib.lua): field → value.
type Flow map[string]string

// Flow fields, by prefix (see lib.lua).
const (
	FlowStep     = "s:" // a step's output
	FlowChild    = "c:" // a child's key, by name
	FlowEnded    = "o:" // an ended child's outcome, by key
	FlowTimer    = "t:" // a sleep's end (unix µs)
	FlowReceived = "r:" // what a signal wait received
	FlowQueued   = "q:" // signals delivered, not yet received
	FlowWhy      = "why"
)

// ReadFlow reads what a workflow's execution did; empty when nothing.
func (s *Store) ReadFlow(ctx context.Context, key string) (Flow, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.flow(key)).Result()
	if isWrongType(err) {
		return nil, fmt.Errorf("%w: the flow of workflow %q: %v", ErrWrongType, key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("docket: read workflow %q: %w", key, err)
	}
	return m, nil
}

// ErrWrongType reports a key of the docket that holds another type than
// the docket writes there: another program wrote it.
var ErrWrongType = errors.New("docket: a key holds another type than the docket writes (another program wrote it)")

// isWrongType reports Redis's refusal of a command on a key of another
// type.
func isWrongType(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "WRONGTYPE")
}

// ChildOutcome is how an ended child ended, as its parent's flow keeps it.
type ChildOutcome struct {
	State  State  `json:"s"`
	Result string `json:"r"`
	Error  string `json:"e"`
	Reason string `json:"x"`
}

// ParseChildOutcome decodes a FlowEnded value.
func ParseChildOutcome(v string) (ChildOutcome, error) {
	var o ChildOutcome
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		return ChildOutcome{}, fmt.Errorf("%w: child outcome %q: %v", ErrMalformed, v, err)
	}
	return o, nil
}

// Record writes fields of a workflow's flow (a step's output), if the run
// of key holding gen still holds its task; ErrNotHeld if not.
func (s *Store) Record(ctx context.Context, key, gen string, fieldValues ...string) error {
	args := make([]any, 0, 3+len(fieldValues))
	args = append(args, s.k.prefix, key, gen)
	for _, v := range fieldValues {
		args = append(args, v)
	}
	n, err := stepScript.Run(ctx, s.rdb, []string{s.k.task(key)}, args...).Int()
	if err != nil {
		return fmt.Errorf("docket: record workflow %q: %w", key, err)
	}
	if n != 1 {
		return ErrNotHeld
	}
	return nil
}

// Child is a child task a workflow's run starts.
type Child struct {
	Name  string // under its workflow
	Key   string
	Task  string
	Input []byte
	When  When
	Trace string
}

// Started says what Start did with one child.
type Started struct {
	New bool   // started now; false: an earlier run of the execution had
	Key string // the child's key
	// Taken says that a live execution that is not this child of the
	// workflow holds the child's key: the child was not started. Holder
	// names its task ('' when its record names none).
	Taken  bool
	Holder string
}

// Start starts children of the workflow key whose run holds gen, a
// thousand per call, unless an earlier run of the execution started them;
// ErrNotHeld when the run no longer holds its task. A child whose key a
// live task other than the workflow's child holds is not started (its
// Started says Taken).
func (s *Store) Start(ctx context.Context, key, gen string, children []Child) ([]Started, error) {
	out := make([]Started, 0, len(children))
	for from := 0; from < len(children); from += MaxBatch {
		chunk := children[from:min(from+MaxBatch, len(children))]
		args := make([]any, 0, 3+6*len(chunk))
		args = append(args, s.k.prefix, key, gen)
		for _, c := range chunk {
			args = append(args, c.Name, c.Key, c.Task, c.Input, c.When.arg(), c.Trace)
		}
		reply, err := startScript.Run(ctx, s.rdb, []string{s.k.scheduled}, args...).Slice()
		if err != nil {
			return out, fmt.Errorf("docket: start children of %q: %w", key, err)
		}
		if len(reply) == 1 {
			return out, ErrNotHeld
		}
		if len(reply) != 2*len(chunk) {
			return out, fmt.Errorf("%w: start reply has %d elements for %d children", ErrMalformed, len(reply), len(chunk))
		}
		var d decoder
		for i, c := range chunk {
			switch code, v := d.int(reply[2*i]), d.str(reply[2*i+1]); code {
			case 2:
				out = append(out, Started{Key: c.Key, Taken: true, Holder: v})
			default:
				out = append(out, Started{New: code == 1, Key: v})
			}
		}
		if d.err != nil {
			return out, d.err
		}
	}
	return out, nil
}

// Received is what a wait for a signal got.
type Received struct {
	Payload  []byte // the signal's payload, when Got
	Got      bool
	TimedOut bool
}

// Receive takes the next signal called name for the wait of the workflow
// key whose run holds gen, or learns that the wait timed out; both are
// recorded. Neither: the zero Received. ErrNotHeld when the run no longer
// holds its task. passed says the wait's time has passed already (a
// negative timeout) where it has no deadline yet: it gets a signal sent
// before now, or times out now.
func (s *Store) Receive(ctx context.Context, key, gen, name, wait string, passed bool) (Received, error) {
	reply, err := receiveScript.Run(ctx, s.rdb, []string{s.k.task(key)}, s.k.prefix, key, gen, name, wait, passed).StringSlice()
	if err != nil {
		return Received{}, fmt.Errorf("docket: receive signal %q: %w", name, err)
	}
	if len(reply) != 2 {
		return Received{}, fmt.Errorf("%w: receive reply has %d elements", ErrMalformed, len(reply))
	}
	switch reply[0] {
	case "p":
		return Received{Payload: []byte(reply[1]), Got: true}, nil
	case "t":
		return Received{TimedOut: true}, nil
	case "x":
		return Received{}, ErrNotHeld
	}
	return Received{}, nil
}

// ErrTooManySignals reports a signal refused because as many of its name
// wait to be received as a workflow keeps.
var ErrTooManySignals = errors.New("docket: too many signals of that name wait to be received")

// MaxSignals is how many signals of one name may wait to be received (the
// scripts' MAX_SIGNALS).
const MaxSignals = 1000

// signalsRemembered is how many of the latest signals' ids a workflow
// keeps, to know one sent again (see Signal).
const signalsRemembered = 64

// Signal delivers a signal to the workflow key; false when no live
// execution has the key.
//
// Each call gives its signal a random id. go-redis sends a command again
// when the connection fails before the reply comes (MaxRetries), though
// Redis may have carried out the first: the script knows the id, and
// delivers the signal once.
func (s *Store) Signal(ctx context.Context, key, name string, payload []byte) (bool, error) {
	return s.signal(ctx, key, name, payload, callID())
}

func (s *Store) signal(ctx context.Context, key, name string, payload []byte, id string) (bool, error) {
	n, err := signalScript.Run(ctx, s.rdb, []string{s.k.task(key)}, s.k.prefix, key, name, payload, id).Int()
	if err != nil {
		return false, fmt.Errorf("docket: signal %q: %w", name, err)
	}
	if n < 0 {
		return false, fmt.Errorf("%w: %d signals %q wait for %q", ErrTooManySignals, MaxSignals, name, key)
	}
	return n == 1, nil
}

// Reap cancels the live children of workflows that ended without
// completing, until none is left.
func (s *Store) Reap(ctx context.Context, retention time.Duration) error {
	for {
		n, err := reapScript.Run(ctx, s.rdb, []string{s.k.reaping}, s.k.prefix, retentionMS(retention)).Int()
		if err != nil {
			return fmt.Errorf("docket: reap children: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

// Park is what a workflow's run waits for: children, a signal, or the end
// of a sleep. It travels as the payload of a Parked outcome.
type Park struct {
	Kind     ParkKind
	Children []string      // the keys of children it awaits, all of them
	Signal   string        // the name of a signal it awaits
	Wait     string        // the identity of that wait
	Timeout  time.Duration // how long the wait for the signal may last; zero for ever
	Timer    string        // the name of a sleep
	For      time.Duration // how long the sleep lasts, from its first park
	Until    time.Time     // or until when
}

// ParkKind is what a run parks for.
type ParkKind string

// What a run parks for.
const (
	ParkChildren ParkKind = "children"
	ParkSignal   ParkKind = "signal"
	ParkSleep    ParkKind = "sleep"
)

// Encode is the Park as the park script reads it. JSON text cannot hold a
// string that is not UTF-8 (each bad byte becomes U+FFFD): a child's key, a
// signal's or a sleep's name that is not travels in hex too (see exact in
// lib.lua), or the park would await a child or a signal that does not
// exist, or keep its sleep's end under a name the run never looks up.
func (p Park) Encode() []byte {
	w := map[string]any{"k": p.Kind}
	switch p.Kind {
	case ParkChildren:
		w["keys"] = p.Children
		if !slices.ContainsFunc(p.Children, notUTF8) {
			break
		}
		hexed := make([]string, len(p.Children))
		for i, k := range p.Children {
			hexed[i] = hex.EncodeToString([]byte(k))
		}
		w["keys_hex"] = hexed
	case ParkSignal:
		putText(w, "name", p.Signal)
		putText(w, "wait", p.Wait)
		if p.Timeout > 0 {
			w["timeout"] = p.Timeout.Microseconds()
		}
	case ParkSleep:
		putText(w, "timer", p.Timer)
		if !p.Until.IsZero() {
			w["until"] = Exact(p.Until).UnixMicro() // never before it, as an added task's due time
		} else {
			w["for"] = max(p.For, 0).Microseconds()
		}
	}
	b, _ := json.Marshal(w) // plain data: cannot fail
	return b
}

func notUTF8(s string) bool { return !utf8.ValidString(s) }

// putText sets w[name] to s, and w[name_hex] to its bytes in hex when s is
// not UTF-8 (see Park.Encode).
func putText(w map[string]any, name, s string) {
	w[name] = s
	if notUTF8(s) {
		w[name+"_hex"] = hex.EncodeToString([]byte(s))
	}
}
