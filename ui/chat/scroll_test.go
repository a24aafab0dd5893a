package chat

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func last(rs []string) string { return rs[len(rs)-1] }

func TestNotYankedAndUnread(t *testing.T) {
	p := newPane(t, 40, 10)
	fill(p, 100)
	p.ScrollUp(5)
	if p.AtBottom() {
		t.Fatal("AtBottom after ScrollUp")
	}
	before := checkView(t, p)
	if !strings.HasSuffix(last(before), "msg 94") {
		t.Fatalf("bottom row %q, want msg 94", last(before))
	}
	p.AddPeer(200, "new 1", t0, false)
	p.AddOwn(201, "ours, not unread", t0)
	p.AddNotice(NoticeInfo, "a notice, not unread", t0)
	p.AddPeer(202, "new 2", t0, false)
	after := checkView(t, p)
	if strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatalf("the view moved:\nbefore\n%s\nafter\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if p.Unread() != 2 || p.AtBottom() {
		t.Fatalf("Unread %d AtBottom %v, want 2 false", p.Unread(), p.AtBottom())
	}

	steps := []struct {
		down   int
		bottom string // suffix of the bottom row
		unread int
	}{
		{5, "msg 99", 2},
		{1, "── 2 new messages ──", 2},
		{1, "new 1", 1},
		{1, "ours, not unread", 1},
		{1, "a notice, not unread", 1},
		{1, "new 2", 0},
	}
	for i, s := range steps {
		p.ScrollDown(s.down)
		rs := checkView(t, p)
		if !strings.HasSuffix(strings.TrimRight(last(rs), " "), s.bottom) || p.Unread() != s.unread {
			t.Fatalf("step %d: bottom %q, Unread %d; want %q, %d", i, last(rs), p.Unread(), s.bottom, s.unread)
		}
		if rule := indexOf(rs, "new messages"); rule >= 0 && rule+1 < len(rs) && !strings.HasSuffix(rs[rule+1], "new 1") {
			t.Fatalf("step %d: the rule is not right above the first unread message:\n%s", i, strings.Join(rs, "\n"))
		}
	}
	if !p.AtBottom() {
		t.Fatal("not AtBottom after scrolling down to the newest message")
	}
	if rs := checkView(t, p); indexOf(rs, "── 2 new messages ──") < 0 {
		t.Fatalf("the divider went once seen (it stays until we send):\n%s", strings.Join(rs, "\n"))
	}
	// At the bottom, new messages follow.
	p.AddPeer(300, "followed", t0, false)
	if rs := checkView(t, p); !strings.HasSuffix(last(rs), "followed") || p.Unread() != 0 {
		t.Fatalf("new message not followed: %q, Unread %d", last(rs), p.Unread())
	}
}

func TestBottomClearsUnread(t *testing.T) {
	p := newPane(t, 40, 6)
	fill(p, 30)
	p.PageUp()
	p.AddPeer(1, "one", t0, false)
	p.AddPeer(2, "two", t0, false)
	p.AddPeer(3, "three", t0, false)
	if p.Unread() != 3 {
		t.Fatalf("Unread %d, want 3", p.Unread())
	}
	p.ScrollDown(4) // the rule comes into view
	rs := checkView(t, p)
	if i := indexOf(rs, "── 3 new messages ──"); i < 0 {
		t.Fatalf("no rule:\n%s", strings.Join(rs, "\n"))
	}
	p.Bottom()
	rs = checkView(t, p)
	if p.Unread() != 0 || !p.AtBottom() || indexOf(rs, "── 3 new messages ──") < 0 || !strings.HasSuffix(last(rs), "three") {
		t.Fatalf("after Bottom: Unread %d AtBottom %v\n%s", p.Unread(), p.AtBottom(), strings.Join(rs, "\n"))
	}
	// A second burst replaces the seen divider: a fresh rule and count.
	p.ScrollUp(1)
	p.AddPeer(4, "four", t0, false)
	p.ScrollDown(1) // "three"
	p.ScrollDown(1) // the rule
	if rs = checkView(t, p); last(rs) != "── 1 new message ──" && strings.TrimSpace(last(rs)) != "── 1 new message ──" {
		t.Fatalf("singular rule: %q", last(rs))
	}
	p.ScrollDown(1) // "four", the newest
	rs = checkView(t, p)
	if p.Unread() != 0 || !p.AtBottom() {
		t.Fatalf("Unread %d AtBottom %v", p.Unread(), p.AtBottom())
	}
	if indexOf(rs, "── 1 new message ──") < 0 || indexOf(rs, "── 3 new") >= 0 || !strings.HasSuffix(last(rs), "four") {
		t.Fatalf("at the bottom again: want the second divider only:\n%s", strings.Join(rs, "\n"))
	}
}

func TestTopBottomPages(t *testing.T) {
	p := newPane(t, 40, 10)
	fill(p, 50) // rows: day separator, msg 0 .. msg 49
	p.Top()
	rs := checkView(t, p)
	if !strings.Contains(rs[0], "Thursday") || !strings.HasSuffix(rs[1], "msg 0") || !strings.HasSuffix(rs[9], "msg 8") || p.AtBottom() {
		t.Fatalf("Top:\n%s", strings.Join(rs, "\n"))
	}
	p.PageUp() // at the top already
	if got := checkView(t, p); strings.Join(got, "\n") != strings.Join(rs, "\n") {
		t.Fatalf("PageUp at the top moved the view")
	}
	p.PageDown() // half a page
	if rs := checkView(t, p); !strings.HasSuffix(rs[0], "msg 4") || !strings.HasSuffix(rs[9], "msg 13") {
		t.Fatalf("PageDown from the top:\n%s", strings.Join(rs, "\n"))
	}
	p.PageUp()
	if got := checkView(t, p); strings.Join(got, "\n") != strings.Join(rs, "\n") {
		t.Fatalf("PageUp did not undo PageDown")
	}
	p.Bottom()
	if rs := checkView(t, p); !strings.HasSuffix(last(rs), "msg 49") || !p.AtBottom() {
		t.Fatalf("Bottom: %q", last(rs))
	}
	p.PageUp()
	if rs := checkView(t, p); !strings.HasSuffix(last(rs), "msg 44") || p.AtBottom() {
		t.Fatalf("PageUp from the bottom: %q", last(rs))
	}
	p.ScrollUp(3)
	if rs := checkView(t, p); !strings.HasSuffix(last(rs), "msg 41") {
		t.Fatalf("ScrollUp(3): %q", last(rs))
	}
	p.ScrollUp(0)
	p.ScrollUp(-4)
	p.ScrollDown(-4)
	if rs := checkView(t, p); !strings.HasSuffix(last(rs), "msg 41") {
		t.Fatalf("no-op scrolls moved the view: %q", last(rs))
	}
	p.ScrollUp(1 << 30)
	if rs := checkView(t, p); !strings.HasSuffix(rs[1], "msg 0") {
		t.Fatalf("ScrollUp past the top: %q", rs[1])
	}
	p.ScrollDown(1 << 30)
	if rs := checkView(t, p); !strings.HasSuffix(last(rs), "msg 49") || !p.AtBottom() {
		t.Fatalf("ScrollDown past the bottom: %q", last(rs))
	}
}

func TestShortScrollbackSitsAtBottom(t *testing.T) {
	p := newPane(t, 40, 6)
	fill(p, 2)
	for _, op := range []func(){p.PageUp, p.Top, func() { p.ScrollUp(1) }} {
		op()
		rs := checkView(t, p)
		if !p.AtBottom() || rs[0] != "" || !strings.HasSuffix(last(rs), "msg 1") {
			t.Fatalf("short scrollback: AtBottom %v\n%s", p.AtBottom(), strings.Join(rs, "\n"))
		}
	}
	// Empty pane: every operation is a no-op.
	e := newPane(t, 40, 3)
	e.PageUp()
	e.Top()
	e.ScrollDown(2)
	if !e.AtBottom() || e.Len() != 0 {
		t.Fatal("empty pane")
	}
	checkView(t, e)
}

func TestResizeKeepsPosition(t *testing.T) {
	p := newPane(t, 60, 8)
	for i := range 40 {
		p.AddPeer(uint64(i), strings.Repeat("word ", 5+i%7)+"end "+strconv.Itoa(i), t0, false)
	}
	p.ScrollUp(20)
	rs := checkView(t, p)
	bottom := last(rs)
	n := bottom[strings.LastIndex(bottom, "end "):]
	for _, w := range []int{30, 100, 60} {
		p.SetSize(w, 8)
		rs := checkView(t, p)
		if !strings.HasSuffix(last(rs), n) {
			t.Fatalf("width %d: bottom row %q, want %q", w, last(rs), n)
		}
	}
	// Growing taller than the remaining scrollback above keeps the view full.
	p.Top()
	p.SetSize(60, 30)
	if rs := checkView(t, p); !strings.Contains(rs[0], "Thursday") {
		t.Fatalf("after growing at the top: %q", rs[0])
	}
}

func TestSetPeerAndClockRedraw(t *testing.T) {
	p := newPane(t, 50, 3)
	p.AddPeer(1, "hi", t0, false)
	checkView(t, p)
	p.SetPeer(Person{Name: "robert", StableID: "other-fp"})
	if rs := checkView(t, p); !strings.Contains(last(rs), "robert") {
		t.Fatalf("SetPeer not redrawn: %q", last(rs))
	}
	p.SetClock(time.FixedZone("UTC+2", 2*3600))
	if rs := checkView(t, p); !strings.HasPrefix(last(rs), "17:04") {
		t.Fatalf("SetClock not redrawn: %q", last(rs))
	}
}

// View renders only the items in view, whatever the length of the
// scrollback.
func TestViewTouchesOnlyVisible(t *testing.T) {
	p := newPane(t, 80, 20)
	for i := range 10_000 {
		p.AddPeer(uint64(i), "message "+strconv.Itoa(i), t0, false)
		p.AddOwn(uint64(i), "reply", t0)
		p.SetDelivery(uint64(i), Sent)
	}
	touched := func() int {
		n := 0
		for _, it := range p.items {
			if it.cache != nil {
				n++
			}
		}
		return n
	}
	checkView(t, p)
	p.PageUp()
	p.ScrollUp(3)
	checkView(t, p)
	p.Top()
	checkView(t, p)
	if n := touched(); n > 3*(20+2) {
		t.Fatalf("%d of %d items were drawn for three views of 20 rows", n, p.Len())
	}
}
