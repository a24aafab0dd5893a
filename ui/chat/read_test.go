package chat

import (
	"slices"
	"strings"

	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestReadMark: a message the peer read shows "✔✔" (bold), distinct from
// "✓✓" without colour; a receipt arriving after the READ (or a READ before
// the message was added) leaves it read.
func TestReadMark(t *testing.T) {
	p := newPane(t, 40, 4)
	p.AddOwn(1, "first", t0)
	p.SetDelivery(2, Read) // read before it is added
	p.AddOwn(2, "second", t0)
	p.SetDelivery(1, Read)
	p.SetDelivery(1, Delivered) // the receipt after the READ
	if p.Delivery(1) != Read || p.Delivery(2) != Read {
		t.Fatalf("states %d %d, want Read", p.Delivery(1), p.Delivery(2))
	}
	v := p.View()
	if !strings.Contains(v, p.sty.read.Render("✔✔")) || strings.Count(ansi.Strip(v), "✔✔") != 2 || strings.Contains(ansi.Strip(v), "✓✓") {
		t.Fatalf("want two read marks and no delivered one:\n%s", v)
	}
}

// TestVisiblePeer: only the peer's messages whose last row is in view.
func TestVisiblePeer(t *testing.T) {
	p := newPane(t, 40, 3)
	p.AddPeer(1, "old", t0, false)
	p.AddOwn(2, "ours", t0)
	p.AddPeer(3, "mid", t0, false)
	p.AddPeer(4, "new, and long enough to wrap onto a second row", t0, false)
	for _, step := range []struct {
		up   int
		want []uint64
	}{
		{0, []uint64{4, 3}},
		{1, []uint64{3}}, // the last row of 4 is below the view
		{2, []uint64{1}},
	} {
		p.ScrollUp(step.up)
		got := p.VisiblePeer(nil)
		if !slices.Equal(got, step.want) {
			t.Fatalf("after scrolling up %d more: visible %v, want %v:\n%s", step.up, got, step.want, p.View())
		}
	}
}
