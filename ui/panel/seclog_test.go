package panel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"duet/protocol"
	"duet/ui/words"
)

func TestSecurityLogRow(t *testing.T) {
	reasons := []string{
		protocol.ReasonReplay, protocol.ReasonReorder, protocol.ReasonStale, protocol.ReasonFuture,
		protocol.ReasonTampered, protocol.ReasonNonceReuse, protocol.ReasonMalformed,
		protocol.ReasonTooLarge, protocol.ReasonBadSignature, protocol.ReasonKeyChanged,
		protocol.ReasonReflected, protocol.ReasonOldVersion, protocol.ReasonDowngrade,
	}
	for _, r := range reasons {
		for _, hasSeq := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/seq=%v", r, hasSeq), func(t *testing.T) {
				l := NewSecurityLog()
				l.Rejected(protocol.RejectedEvent{Reason: r, Seq: 4711, HasSeq: hasSeq, Detail: "protocol: detail"}, t0)
				raw := l.View(testStyles(), 200, 3)
				v := plain(raw)
				for _, want := range []string{"03:00:00", "! rejected " + r, words.ReasonBare(r), "detail: protocol: detail"} {
					if !strings.Contains(v, want) {
						t.Errorf("missing %q in\n%s", want, v)
					}
				}
				if got := strings.Contains(v, "seq 4711"); got != hasSeq {
					t.Errorf("seq shown %v, want %v:\n%s", got, hasSeq, v)
				}
				if raw == v {
					t.Error("rejection not styled")
				}
			})
		}
	}
}

func TestSecurityLogNotesAndOrder(t *testing.T) {
	l := NewSecurityLog()
	if v := plain(l.View(testStyles(), 40, 2)); !strings.Contains(v, "no rejected records") {
		t.Errorf("empty: %q", v)
	}
	l.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonTampered}, t0)
	l.Action("/replay: re-sent CHAT seq 12; the peer should reject it", t0.Add(time.Second))
	l.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: 12, HasSeq: true}, t0.Add(2*time.Second))
	v := plain(l.View(testStyles(), 120, 5))
	r := strings.Split(v, "\n")
	// Newest at the top, no empty rows above; the user's /replay is theirs.
	if !strings.Contains(r[0], "replay seq 12") || !strings.Contains(r[1], "* you: /replay: re-sent CHAT seq 12") || !strings.Contains(r[2], "tampered") {
		t.Errorf("want newest to oldest from the top:\n%s", v)
	}
	if strings.TrimSpace(r[4]) != "" {
		t.Errorf("short log not at the top:\n%s", v)
	}
	if l.Count() != 2 || l.Len() != 3 || l.Actions() != 1 {
		t.Errorf("Count %d Len %d Actions %d, want 2, 3 and 1", l.Count(), l.Len(), l.Actions())
	}
	// Scrolled back by one entry: the newest is out of view.
	v = plain(l.ViewScrolled(testStyles(), 120, 5, 1))
	if strings.Contains(v, "seq 12:") || !strings.Contains(v, "/replay") {
		t.Errorf("scrolled:\n%s", v)
	}
	// Narrow: the entry wraps, newest still at the top.
	v = plain(l.View(testStyles(), 24, 6))
	if !strings.Contains(strings.Split(v, "\n")[0], "rejected") {
		t.Errorf("narrow:\n%s", v)
	}
}

// TestSecurityLogDetailWhole: a long detail wraps and is shown whole,
// never cut with "…".
func TestSecurityLogDetailWhole(t *testing.T) {
	l := NewSecurityLog()
	detail := "protocol: record 1800764890 (last 1800764890): protocol: replayed record from the end of the detail"
	l.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: 1800764890, HasSeq: true, Detail: detail}, t0)
	v := plain(l.View(testStyles(), 38, 12))
	if strings.Contains(v, "…") || !strings.Contains(strings.Join(strings.Fields(v), " "), "from the end of the detail") {
		t.Errorf("detail cut:\n%s", v)
	}
}

func TestSecurityLogBounded(t *testing.T) {
	l := NewSecurityLog()
	const n = 2500
	for i := 0; i < n; i++ {
		l.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: uint32(i), HasSeq: true}, t0)
	}
	if l.Count() != n {
		t.Errorf("Count() = %d, want %d", l.Count(), n)
	}
	if l.Len() != SecurityLogSize {
		t.Errorf("Len() = %d, want %d", l.Len(), SecurityLogSize)
	}
	if first, last := l.EntryText(0), l.EntryText(SecurityLogSize-1); !strings.Contains(first, fmt.Sprintf("seq %d:", n-SecurityLogSize)) ||
		!strings.Contains(last, fmt.Sprintf("seq %d:", n-1)) {
		t.Errorf("kept %q .. %q, want the last %d", first, last, SecurityLogSize)
	}
	if v := plain(l.View(testStyles(), 200, 1)); !strings.Contains(v, fmt.Sprintf("seq %d:", n-1)) {
		t.Errorf("newest not shown: %q", v)
	}
	if l.EntryText(-1) != "" || l.EntryText(SecurityLogSize) != "" {
		t.Error("EntryText out of range")
	}
}

func TestSecurityLogFoldsRepeats(t *testing.T) {
	l := NewSecurityLog()
	ev := protocol.RejectedEvent{Reason: protocol.ReasonTampered, Detail: "protocol: authentication failed"}
	for i := 0; i < 50; i++ {
		l.Rejected(ev, t0.Add(time.Duration(i)*time.Second))
	}
	if l.Count() != 50 || l.Len() != 1 {
		t.Fatalf("Count %d Len %d, want 50 and 1", l.Count(), l.Len())
	}
	v := plain(l.View(testStyles(), 200, 2))
	if !strings.Contains(v, "×50") || !strings.Contains(v, "03:00:49") {
		t.Errorf("folded entry:\n%s", v)
	}
	l.Note("note", t0)
	l.Rejected(ev, t0)
	if l.Len() != 3 {
		t.Errorf("a note between breaks the fold: Len %d", l.Len())
	}
}

func TestSecurityLogEscapesDetail(t *testing.T) {
	l := NewSecurityLog()
	l.Rejected(protocol.RejectedEvent{Reason: protocol.ReasonMalformed, Detail: "bad \x1b[2J\x1b]0;title\x07 end"}, t0)
	raw := l.View(testStyles(), 200, 3)
	if strings.Contains(raw, "\x1b[2J") || strings.Contains(raw, "\x1b]0;") || strings.Contains(raw, "\x07") {
		t.Errorf("raw escape in the view: %q", raw)
	}
	if v := plain(raw); !strings.Contains(v, `bad \x1b[2J\x1b]0;title\a end`) && !strings.Contains(v, `bad \x1b[2J\x1b]0;title\x07 end`) {
		t.Errorf("escaped detail not shown:\n%s", v)
	}
}
