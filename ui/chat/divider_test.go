package chat

import (
	"strings"
	"testing"
)

// TestDividerAway: messages that arrive while the reader is away (the
// terminal lost the focus) open the divider above the first of them even
// though the pane follows the bottom, and count in Unread; coming back
// clears Unread and keeps the divider, seen, until we send; a new unseen
// burst after it was seen opens a new one.
func TestDividerAway(t *testing.T) {
	p := newPane(t, 40, 8)
	p.AddPeer(1, "seen before", t0, false)
	p.AddPeer(2, "first unseen", t0, false)
	p.MarkUnseen()
	p.AddNotice(NoticeInfo, "a notice", t0)
	p.MarkUnseen() // not a peer message: nothing
	p.AddPeer(3, "second unseen", t0, false)
	p.MarkUnseen()
	p.MarkUnseen() // the same message twice: counted once
	rs := checkView(t, p)
	i := indexOf(rs, "── 2 new messages ──")
	if i < 0 || !strings.HasSuffix(rs[i+1], "first unseen") || p.Unread() != 2 || !p.AtBottom() {
		t.Fatalf("away: Unread %d (want 2), divider above the first unseen:\n%s", p.Unread(), strings.Join(rs, "\n"))
	}
	if shown, seen := p.HasDivider(); !shown || seen {
		t.Fatalf("HasDivider %v %v, want true false", shown, seen)
	}

	p.MarkSeen()
	p.AddPeer(4, "read live", t0, false) // the reader is looking: not unseen
	rs = checkView(t, p)
	if shown, seen := p.HasDivider(); !shown || !seen || p.Unread() != 0 || indexOf(rs, "── 2 new messages ──") < 0 {
		t.Fatalf("back: HasDivider %v %v, Unread %d; want the divider kept, seen:\n%s", shown, seen, p.Unread(), strings.Join(rs, "\n"))
	}

	p.AddPeer(5, "next burst", t0, false)
	p.MarkUnseen()
	rs = checkView(t, p)
	if i := indexOf(rs, "── 1 new message ──"); i < 0 || !strings.HasSuffix(rs[i+1], "next burst") || indexOf(rs, "2 new") >= 0 {
		t.Fatalf("a new burst after the divider was seen: want a new divider above it only:\n%s", strings.Join(rs, "\n"))
	}

	p.AddOwn(6, "unseen divider stays when we send", t0)
	if shown, _ := p.HasDivider(); !shown {
		t.Fatal("our message removed a divider not seen yet")
	}
	p.MarkSeen()
	p.AddOwn(7, "a reply", t0)
	rs = checkView(t, p)
	if shown, _ := p.HasDivider(); shown || indexOf(rs, "new message") >= 0 {
		t.Fatalf("the divider stays after we sent a message:\n%s", strings.Join(rs, "\n"))
	}
}

// TestDividerScrolledUpSeen: scrolled up, coming back (focus) does not
// make the messages below seen; scrolling down to them does.
func TestDividerScrolledUpSeen(t *testing.T) {
	p := newPane(t, 40, 6)
	fill(p, 30)
	p.PageUp()
	p.AddPeer(1, "below", t0, false)
	p.MarkUnseen() // scrolled up and away: counted once
	p.MarkSeen()
	if p.Unread() != 1 {
		t.Fatalf("Unread %d after focus while scrolled up, want 1", p.Unread())
	}
	p.Bottom()
	if shown, seen := p.HasDivider(); p.Unread() != 0 || !shown || !seen {
		t.Fatalf("at the bottom: Unread %d, divider %v %v; want 0, shown and seen", p.Unread(), shown, seen)
	}
}
