package chat

import (
	"strings"
	"testing"
	"time"
)

// TestMessageInView: /copy's message is the newest when following, the
// bottom one on screen when scrolled up, the n-th counting up from it;
// notices are skipped; past the oldest there is none, with the count.
func TestMessageInView(t *testing.T) {
	p := newPane(t, 40, 5)
	if _, have, ok := p.MessageInView(1); ok || have != 0 {
		t.Fatalf("empty pane: ok %v have %d, want none", ok, have)
	}
	fill(p, 10) // peer "msg 0".."msg 9", one row each
	p.AddOwn(100, "mine\n\twith a tab", t0.Add(20*time.Second))
	p.AddNotice(NoticeInfo, "a notice", t0.Add(21*time.Second))

	m, _, ok := p.MessageInView(1)
	if !ok || !m.Own || m.Text != "mine\n\twith a tab" {
		t.Errorf("newest = %+v %v, want our own message as written", m, ok)
	}
	if m, _, ok := p.MessageInView(3); !ok || m.Own || m.Text != "msg 8" {
		t.Errorf("3rd newest = %+v %v, want the peer's msg 8", m, ok)
	}
	if _, have, ok := p.MessageInView(12); ok || have != 11 {
		t.Errorf("12th: ok %v have %d, want none of 11", ok, have)
	}
	if _, _, ok := p.MessageInView(0); ok {
		t.Errorf("0th: ok, want none")
	}

	p.ScrollUp(4) // the notice and our message (3 rows) and msg 9 leave the view
	rs := checkView(t, p)
	bottom := rs[len(rs)-1]
	m, _, ok = p.MessageInView(1)
	if !ok || m.Text != "msg 8" || !strings.HasSuffix(strings.TrimRight(bottom, " "), m.Text) {
		t.Errorf("scrolled: bottom row %q, /copy would take %+v", bottom, m)
	}
	if m2, have, ok := p.MessageInView(2); !ok || have != 2 || m2.Text != "msg 7" {
		t.Errorf("scrolled: 2nd = %+v %v", m2, ok)
	}
}
