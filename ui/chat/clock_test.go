package chat

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestPeerClockFlag: a message whose sent_at was implausible is drawn at
// its arrival time, in the HH:MM name text layout, with "(peer's clock
// says ...)" before its text; no day separator for the claimed 2262 or
// 1677 appears, and the flag goes when its item is dropped.
func TestPeerClockFlag(t *testing.T) {
	p := newPane(t, 80, 8)
	p.AddPeer(1, "before", t0, false)
	p.AddPeerClock(2, "from the future", t0.Add(time.Minute), time.Unix(0, math.MaxInt64), false)
	p.AddPeerClock(3, "from the past", t0.Add(2*time.Minute), time.Unix(0, math.MinInt64), true)
	view := plainRows(t, p)
	for _, want := range []string{
		"15:05   bob    (peer's clock says 2262-04-11 23:47) from the future",
		"15:06   bob    [possible duplicate] (peer's clock says 1677-09-21 00:12) from",
	} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	if n := strings.Count(view, "──"); n != 2 { // one separator: 26 November 2026
		t.Errorf("%d separator marks, want 2 (one day):\n%s", n, view)
	}
	for _, bad := range []string{"2262 ", "1677 ", "Apr", "Sep"} {
		for _, row := range strings.Split(view, "\n") {
			if strings.Contains(row, bad) && !strings.Contains(row, "peer's clock says") {
				t.Errorf("row %q mentions %q: a day separator for the claimed time?", row, bad)
			}
		}
	}
	p.Clear()
	if len(p.says) != 0 {
		t.Errorf("Clear kept %d clock flags", len(p.says))
	}
}

// TestPrependPeerClockFlag: a history entry whose time was implausible
// (ClaimedAt) is flagged on the pane as it was when it arrived; an entry
// without it, and our own, are not.
func TestPrependPeerClockFlag(t *testing.T) {
	p := newPane(t, 80, 8)
	p.AddPeer(9, "live", t0.Add(time.Hour), false)
	p.Prepend([]Entry{
		{ID: 1, Text: "plain", At: t0},
		{ID: 2, Text: "from the future", At: t0.Add(time.Minute), ClaimedAt: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: 3, Own: true, Text: "mine", At: t0.Add(2 * time.Minute), Delivery: Delivered},
	})
	view := plainRows(t, p)
	if want := "15:05   bob    (peer's clock says 2200-01-01 00:00) from the future"; !strings.Contains(view, want) {
		t.Errorf("view lacks %q:\n%s", want, view)
	}
	if n := strings.Count(view, "peer's clock says"); n != 1 {
		t.Errorf("%d clock flags, want 1:\n%s", n, view)
	}
}
