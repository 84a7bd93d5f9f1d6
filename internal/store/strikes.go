package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// StrikeSpec is a strike as the scripts read it (see struck in lib.lua).
type StrikeSpec struct {
	Task  string          `json:"t"`
	Field string          `json:"f"`
	Op    string          `json:"o"`
	Value json.RawMessage `json:"v"`
	At    int64           `json:"at,omitempty"` // when it was struck, unix µs
}

// ID is the strike's identity: the same strike struck twice is one.
func (s StrikeSpec) ID() string {
	b, _ := json.Marshal([]any{s.Task, s.Field, s.Op, s.Value}) // plain data: cannot fail
	return string(b)
}

// Strike records a strike; false when it held already.
func (s *Store) Strike(ctx context.Context, spec StrikeSpec) (bool, error) {
	spec.At = 0
	raw, err := json.Marshal(spec)
	if err != nil {
		return false, fmt.Errorf("docket: strike: %w", err)
	}
	n, err := strikeScript.Run(ctx, s.rdb, []string{s.k.strikes}, s.k.prefix, spec.ID(), raw).Int()
	if err != nil {
		return false, fmt.Errorf("docket: strike: %w", err)
	}
	return n == 1, nil
}

// restoredFor is how long Redis keeps the id of the last Restore that
// removed a strike.
const restoredFor = time.Minute

// Restore removes a strike and releases the tasks it held that no other
// strike matches, a thousand per call; false when it did not hold. An
// empty spec ID only releases (after a strike was removed by hand).
//
// The call has a random id, which Redis keeps a minute (restoredFor) once
// it removed the strike: a call go-redis sends again after the network
// lost its reply reports the removal the first send made.
func (s *Store) Restore(ctx context.Context, spec StrikeSpec) (bool, error) {
	id, call := spec.ID(), callID()
	removed := false
	for from := 0; ; {
		reply, err := restoreScript.Run(ctx, s.rdb, []string{s.k.struck}, s.k.prefix, id, from, MaxBatch, call).Int64Slice()
		if err != nil {
			return removed, fmt.Errorf("docket: restore: %w", err)
		}
		if len(reply) != 3 {
			return removed, fmt.Errorf("%w: restore reply has %d elements", ErrMalformed, len(reply))
		}
		removed = removed || reply[0] == 1
		if reply[1] == 0 {
			return removed, nil
		}
		id = "" // removed by the first call
		from += int(reply[2])
	}
}

// Strikes lists the strikes in effect.
func (s *Store) Strikes(ctx context.Context) ([]StrikeSpec, error) {
	m, err := s.rdb.HGetAll(ctx, s.k.strikes).Result()
	if err != nil {
		return nil, fmt.Errorf("docket: strikes: %w", err)
	}
	out := make([]StrikeSpec, 0, len(m))
	for _, v := range m {
		var spec StrikeSpec
		if json.Unmarshal([]byte(v), &spec) == nil {
			out = append(out, spec)
		}
	}
	return out, nil
}

// UnmarshalJSON reads a strike as stored, "at" an integer or, as a real
// Redis wrote it before strike.lua kept it one, a float (1.7960333722501e+15).
func (s *StrikeSpec) UnmarshalJSON(b []byte) error {
	type plain StrikeSpec
	var v struct {
		plain
		At json.Number `json:"at"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = StrikeSpec(v.plain)
	s.At = 0
	if v.At == "" {
		return nil
	}
	if at, err := v.At.Int64(); err == nil {
		s.At = at
		return nil
	}
	at, err := v.At.Float64()
	if err != nil {
		return fmt.Errorf("docket: strike: at %q: %w", v.At, err)
	}
	s.At = int64(math.Round(at))
	return nil
}

// StrikeTime is when a strike was struck.
func (s StrikeSpec) StrikeTime() time.Time {
	if s.At == 0 {
		return time.Time{}
	}
	return time.UnixMicro(s.At)
}
