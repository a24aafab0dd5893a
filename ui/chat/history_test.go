package chat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func historyEntries(from, n int, at time.Time) []Entry {
	var es []Entry
	for i := from; i < from+n; i++ {
		es = append(es, Entry{ID: uint64(1000 + i), Own: i%2 == 0, Text: fmt.Sprintf("old %03d", i), At: at.Add(time.Duration(i) * time.Minute)})
	}
	return es
}

func plainRows(t *testing.T, p *Pane) string {
	t.Helper()
	return ansi.Strip(strings.Join(checkView(t, p), "\n"))
}

func TestPrependKeepsTheView(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	p := newPane(t, 60, 6)
	// Start-up: the last page of history, then this run's messages.
	p.Prepend(historyEntries(100, 20, at))
	p.AddPeer(1, "new in this run", at.Add(3*time.Hour), false)
	if v := plainRows(t, p); !strings.Contains(v, "new in this run") || !strings.Contains(v, "old 119") {
		t.Fatalf("start-up view:\n%s", v)
	}
	if p.AtTop() {
		t.Fatal("at the bottom of 21 items in 6 rows: not at the top")
	}
	// Scroll to the top: AtTop; older history comes in without moving the view.
	p.Top()
	if !p.AtTop() {
		t.Fatal("Top: not at the top")
	}
	before := plainRows(t, p)
	p.Prepend(historyEntries(80, 20, at))
	// Every message row the reader saw is still in view (the day separator
	// moves up to the new first message of the day, which frees its row).
	after := plainRows(t, p)
	for _, row := range strings.Split(before, "\n") {
		if strings.Contains(row, "old ") && !strings.Contains(after, row) {
			t.Fatalf("prepend moved the view: %q gone\nbefore:\n%s\nafter:\n%s", row, before, after)
		}
	}
	if p.AtTop() {
		t.Fatal("after a prepend above the view: not at the top any more")
	}
	p.ScrollUp(3)
	if v := plainRows(t, p); !strings.Contains(v, "old 099") {
		t.Fatalf("scrolling up after the prepend does not reach the older history:\n%s", v)
	}
	p.Top()
	if v := plainRows(t, p); !strings.Contains(v, "old 080") {
		t.Fatalf("top after the prepend:\n%s", v)
	}
	if p.Len() != 41 {
		t.Fatalf("Len %d, want 41", p.Len())
	}
	// New messages still append after prepends; the bottom follows.
	p.Bottom()
	p.AddPeer(2, "newest", at.Add(4*time.Hour), false)
	if v := plainRows(t, p); !strings.Contains(v, "newest") {
		t.Fatalf("newest not shown:\n%s", v)
	}
}

func TestPrependOwnDelivery(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	p := newPane(t, 60, 10)
	p.SetDelivery(1002, Sent)      // reported before the history arrived
	p.SetDelivery(1006, Delivered) // delivered in this run, before it was scrolled to
	es := historyEntries(0, 8, at)
	es[4].Delivery = Delivered // delivered before this run
	es[6].Delivery = Queued    // still in the outbox at start...
	p.Prepend(es)
	if d := p.Delivery(1000); d != 0 {
		t.Fatalf("own history entry without a known delivery has %d, want none until the node reports one", d)
	}
	if d := p.Delivery(1002); d != Sent {
		t.Fatalf("early state not applied: %d", d)
	}
	if d := p.Delivery(1004); d != Delivered {
		t.Fatalf("the entry's own delivery not applied: %d", d)
	}
	if d := p.Delivery(1006); d != Delivered {
		t.Fatalf("...and delivered since: %d, want Delivered (states only move forward)", d)
	}
	p.Bottom()
	if v := plainRows(t, p); strings.Count(v, deliveryMarks[Delivered]) != 2 {
		t.Fatalf("want the delivered mark on the two delivered messages:\n%s", v)
	}
	p.SetDelivery(1000, Delivered) // resent from the outbox and receipted
	if d := p.Delivery(1000); d != Delivered {
		t.Fatalf("SetDelivery on a history entry: %d", d)
	}
	// An id already in the scrollback is not added twice.
	p.Prepend([]Entry{{ID: 1000, Own: true, Text: "old 000", At: at}})
	if p.Len() != 8 {
		t.Fatalf("Len %d after prepending a duplicate, want 8", p.Len())
	}
}

func TestPrependBoundedByMaxItems(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	p := newPane(t, 40, 5)
	for i := range MaxItems - 3 {
		p.AddPeer(uint64(i+1), "x", at, false)
	}
	p.Prepend(historyEntries(0, 10, at))
	if p.Len() != MaxItems {
		t.Fatalf("Len %d, want the cap %d", p.Len(), MaxItems)
	}
	p.Top()
	if v := plainRows(t, p); !strings.Contains(v, "old 007") || strings.Contains(v, "old 006") {
		t.Fatalf("the newest 3 of the history should be kept:\n%s", v)
	}
	p.Prepend(historyEntries(20, 5, at)) // full: nothing more
	if p.Len() != MaxItems {
		t.Fatalf("Len %d", p.Len())
	}
}

func TestAtTopEmptyAndShort(t *testing.T) {
	p := newPane(t, 40, 10)
	if !p.AtTop() {
		t.Fatal("empty pane: at the top")
	}
	p.AddPeer(1, "one", time.Now(), false)
	if !p.AtTop() {
		t.Fatal("everything fits: at the top")
	}
}
