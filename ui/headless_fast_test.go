package ui

import (
	"bytes"
	"testing"
	"time"

	"duet/protocol"
)

// TestFastLinesMatch: the hand-written lines are byte for byte those of the
// general encoder, for every kind of text (those that need escaping take
// the general encoder).
func TestFastLinesMatch(t *testing.T) {
	h := newTestHeadless(&bytes.Buffer{})
	defer h.Close()
	at := time.Date(2026, 11, 26, 6, 30, 0, 123456789, time.FixedZone("X", 3600))
	var evs []protocol.Event
	for _, text := range []string{
		"", "hello", "x y ~ { } [ ] : , ' `", `a "quoted" word`, `back\slash`,
		"tab\there", "line\nbreak", "del\x7f", "é", "👋🏽", "漢字", "\u2028", "\u202e bidi", "\xff bad utf-8",
		string(make([]byte, 1000)),
	} {
		evs = append(evs,
			protocol.MessageEvent{ID: 1<<63 + 5, Seq: 42, Text: text, SentAt: at},
			protocol.MessageEvent{ID: 7, Seq: 0, Text: text, SentAt: at, PossibleDuplicate: true})
	}
	evs = append(evs,
		protocol.MessageEvent{ID: 9, Text: "zero time"},
		protocol.SentEvent{ID: 1, Seq: 1<<32 - 1},
		protocol.DeliveredEvent{ID: 1<<64 - 1})
	fast := 0
	for _, ev := range evs {
		slow := h.encode(h.marshalEvent(ev))
		if b := h.fastLine(ev); b != nil {
			fast++
			if !bytes.Equal(b, slow) {
				t.Errorf("%#v:\nfast %s\nslow %s", ev, b, slow)
			}
		}
		if got := h.line(ev); !bytes.Equal(got, slow) {
			t.Errorf("line(%#v) = %s, want %s", ev, got, slow)
		}
	}
	if fast != 9 { // 3 plain texts x 2, the zero time, sent, delivered
		t.Errorf("%d events took the fast path, want 9", fast)
	}
	for _, id := range []uint64{1, 1<<64 - 1} {
		if q, s := h.queuedLine(id, at), h.queuedSlow(id, at); !bytes.Equal(q, s) {
			t.Errorf("queued:\nfast %s\nslow %s", q, s)
		}
	}
}
