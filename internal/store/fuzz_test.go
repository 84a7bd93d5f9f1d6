package store_test

import (
	"strings"
	"testing"

	"github.com/docket-go/docket/internal/store"
)

// replyFrom turns fuzz input into a script reply: elements separated by
// "|", those starting with "#" as integers.
func replyFrom(s string) []any {
	var reply []any
	for _, part := range strings.Split(s, "|") {
		if n, ok := strings.CutPrefix(part, "#"); ok {
			var v int64
			for _, c := range n {
				v = v*10 + int64(c-'0')
			}
			reply = append(reply, v)
			continue
		}
		reply = append(reply, part)
	}
	return reply
}

// The decoder of claimed messages never panics, whatever Redis returns, and
// what it accepts is well formed.
func FuzzDecodeClaim(f *testing.F) {
	f.Add("1000|-1|#1|#0|k|n|{}||1 1 5 g ")
	f.Add("1000|0|#0|#1|k|n|cooldown||dropped")
	f.Add("1000|5|#2|#0|a|n|{}||1 1 5 g1 |b|n|{}|00-ab-cd-01|2 3 6 g2 t:n::")
	f.Add("1000|5|#1|#0|a|n|{}||1 1 5 g1")
	f.Add("x|y|#9|#9")
	f.Add("|||||||||||||")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.DecodeClaim(replyFrom(s))
		if err != nil {
			return
		}
		for _, m := range c.Messages {
			if m.Key == "" || m.Gen == "" || m.Attempt < 1 {
				t.Fatalf("accepted a malformed message: %+v", m)
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	f.Add("w")
	f.Add("c:12:key")
	f.Add("c::")
	f.Fuzz(func(t *testing.T, s string) {
		ev := store.ParseEvent(s)
		if ev.Cancel != "" && ev.Gen == "" {
			t.Fatalf("a cancel without a generation: %q", s)
		}
	})
}

func FuzzParseWatchEvent(f *testing.F) {
	f.Add(`{"type":"state","state":"running","attempt":1,"error":""}`)
	f.Add(`{"type":"progress","current":3,"total":10,"message":"x"}`)
	f.Add(`{"type":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := store.ParseWatchEvent(s)
		if err == nil && ev.Type != "state" && ev.Type != "progress" {
			t.Fatalf("accepted an event of type %q", ev.Type)
		}
	})
}
