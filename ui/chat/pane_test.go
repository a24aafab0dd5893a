package chat

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

func TestGolden(t *testing.T) {
	skipIfEastAsian(t)
	p := newPane(t, 48, 14)
	p.SetClock(time.FixedZone("CET", 3600))
	at := time.Date(2026, 11, 25, 22, 58, 0, 0, time.UTC) // 23:58 Wednesday in CET
	p.AddNotice(NoticeInfo, "session established", at)
	p.AddOwn(1, "hello bob, this message is long enough to wrap onto a second row", at)
	p.SetDelivery(1, Delivered)
	p.AddOwn(2, "still sending", at.Add(time.Minute))
	p.AddNotice(NoticeGap, "3 messages never arrived", at.Add(3*time.Minute))
	p.AddPeer(7, "hi 漢字 👋🏽\nsecond line", at.Add(4*time.Minute), false)
	p.AddPeer(7, "hi again", at.Add(5*time.Minute), true)
	p.AddNotice(NoticeWarn, "peer left", at.Add(6*time.Minute))
	golden.RequireEqual(t, []byte(strings.Join(checkView(t, p), "\n")+"\n"))
}

func TestHangingIndent(t *testing.T) {
	tests := []struct {
		name  string
		width int
		text  string
		want  []string // rows of the message, stripped of ANSI, trailing spaces trimmed
	}{
		{"fits", 40, "short", []string{"15:04   bob    short"}},
		{"wraps at words", 40, "one two three four five six", []string{
			"15:04   bob    one two three four five",
			"               six"}},
		{"long word breaks", 40, "abcdefghijklmnopqrstuvwxyz", []string{
			"15:04   bob    abcdefghijklmnopqrstuvwxy",
			"               z"}},
		{"keeps line breaks", 40, "one\ntwo\n\nfour", []string{
			"15:04   bob    one",
			"               two",
			"",
			"               four"}},
		{"cjk breaks at clusters", 40, "漢字漢字漢字漢字漢字漢字漢字", []string{
			"15:04   bob    漢字漢字漢字漢字漢字漢字",
			"               漢字"}},
		{"narrow: name column shrinks", 30, "one two three four five six", []string{
			"15:04  bob    one two three",
			"              four five six"}},
		{"narrower: no time column", 24, "one two three four five six", []string{
			"  bob    one two three",
			"         four five six"}},
		{"tab becomes spaces", 40, "a\tb", []string{"15:04   bob    a    b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPane(t, tt.width, 10)
			p.AddPeer(1, tt.text, t0, false)
			rs := checkView(t, p)
			start := indexOf(rs, "bob")
			got := append([]string(nil), rs[start:]...)
			for i := range got {
				got[i] = strings.TrimRight(got[i], " ")
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(rs[start:], "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDelivery(t *testing.T) {
	tests := []struct {
		name  string
		early []Delivery // SetDelivery before AddOwn
		late  []Delivery // SetDelivery after AddOwn
		want  Delivery
		mark  string
	}{
		{"queued", nil, nil, Queued, "…"},
		{"sent", nil, []Delivery{Sent}, Sent, "✓"},
		{"delivered", nil, []Delivery{Sent, Delivered}, Delivered, "✓✓"},
		{"skips sent", nil, []Delivery{Delivered}, Delivered, "✓✓"},
		{"never backwards", nil, []Delivery{Delivered, Sent, Queued}, Delivered, "✓✓"},
		{"invalid ignored", nil, []Delivery{0, 7, -1}, Queued, "…"},
		{"early", []Delivery{Sent}, nil, Sent, "✓"},
		{"early then later", []Delivery{Sent}, []Delivery{Delivered}, Delivered, "✓✓"},
		{"early never backwards", []Delivery{Delivered, Sent}, []Delivery{Queued}, Delivered, "✓✓"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPane(t, 40, 6)
			p.AddPeer(1, "before", t0, false)
			for _, d := range tt.early {
				p.SetDelivery(42, d)
			}
			p.AddOwn(42, "a message from us that wraps to two rows", t0)
			p.AddPeer(2, "after", t0, false)
			before := checkView(t, p)
			for _, d := range tt.late {
				p.SetDelivery(42, d)
			}
			if got := p.Delivery(42); got != tt.want {
				t.Fatalf("Delivery = %d, want %d", got, tt.want)
			}
			after := checkView(t, p)
			i := indexOf(after, "alice")
			if i < 0 || indexOf(before, "alice") != i {
				t.Fatalf("our message moved: before\n%s\nafter\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
			}
			if f := strings.Fields(after[i]); f[2] != tt.mark {
				t.Fatalf("row %q: mark %q, want %q", after[i], f[2], tt.mark)
			}
			// In place: every other row is unchanged.
			for j := range after {
				if j != i && after[j] != before[j] {
					t.Fatalf("row %d changed: %q -> %q", j, before[j], after[j])
				}
			}
		})
	}
}

func TestDeliveryStyles(t *testing.T) {
	p := newPane(t, 40, 3)
	p.AddOwn(1, "x", t0)
	queued := p.View()
	p.SetDelivery(1, Delivered)
	delivered := p.View()
	if !strings.Contains(queued, p.sty.queued.Render("…")) || !strings.Contains(delivered, p.sty.delivered.Render("✓✓")) {
		t.Fatalf("delivery marks not styled: %q / %q", queued, delivered)
	}
}

func TestPendingDeliveryBounded(t *testing.T) {
	p := newPane(t, 40, 3)
	for id := range uint64(3 * maxPending) {
		p.SetDelivery(id, Sent)
	}
	if len(p.pending) > maxPending || len(p.pendingQ) > 2*maxPending {
		t.Fatalf("pending %d, queue %d: not bounded", len(p.pending), len(p.pendingQ))
	}
	p.AddOwn(0, "evicted", t0) // the oldest was forgotten
	p.AddOwn(3*maxPending-1, "kept", t0)
	if p.Delivery(0) != Queued || p.Delivery(3*maxPending-1) != Sent {
		t.Fatalf("got %d and %d, want queued and sent", p.Delivery(0), p.Delivery(3*maxPending-1))
	}
	// Consumed entries do not grow the queue without bound.
	for id := range uint64(10 * maxPending) {
		p.SetDelivery(1e9+id, Sent)
		p.AddOwn(1e9+id, "x", t0)
	}
	if len(p.pendingQ) > 2*maxPending+1 {
		t.Fatalf("queue grew to %d", len(p.pendingQ))
	}
}

func TestDaySeparators(t *testing.T) {
	zone := time.FixedZone("UTC+5", 5*3600)
	// 18:55 UTC is 23:55 on Wednesday in UTC+5; 19:05 UTC is 00:05 Thursday.
	wed := time.Date(2026, 11, 25, 18, 55, 0, 0, time.UTC)
	p := newPane(t, 60, 12)
	p.SetClock(zone)
	p.AddPeer(1, "late", wed, false)
	p.AddOwn(1, "still wednesday", wed.Add(4*time.Minute))
	p.AddPeer(2, "after midnight", wed.Add(10*time.Minute), false)
	p.AddNotice(NoticeInfo, "same day", wed.Add(20*time.Minute))
	rs := checkView(t, p)
	var seps []string
	for _, r := range rs {
		if strings.Contains(r, "──") {
			seps = append(seps, strings.TrimSpace(r))
		}
	}
	want := []string{"── Wednesday 25 November 2026 ──", "── Thursday 26 November 2026 ──"}
	if strings.Join(seps, "|") != strings.Join(want, "|") {
		t.Fatalf("separators %q, want %q\n%s", seps, want, strings.Join(rs, "\n"))
	}
	if i, j := indexOf(rs, "Thursday"), indexOf(rs, "after midnight"); j != i+1 {
		t.Fatalf("Thursday separator at row %d, message at %d", i, j)
	}
	if indexOf(rs, "23:55") < 0 || indexOf(rs, "00:05") < 0 {
		t.Fatalf("times not in the clock's zone:\n%s", strings.Join(rs, "\n"))
	}
	// Centred.
	r := rs[indexOf(rs, "Thursday")]
	left := len(r) - len(strings.TrimLeft(r, " "))
	if w := ansi.StringWidth(strings.TrimSpace(r)); left != (60-w)/2 {
		t.Fatalf("separator %q not centred", r)
	}
	// In UTC all four are on Wednesday: one separator.
	p.SetClock(time.UTC)
	rs = checkView(t, p)
	if n := strings.Count(strings.Join(rs, "\n"), "──"); n != 2 || indexOf(rs, "Wednesday") < 0 {
		t.Fatalf("in UTC, want one Wednesday separator:\n%s", strings.Join(rs, "\n"))
	}
}

func TestNotices(t *testing.T) {
	tests := []struct {
		kind NoticeKind
		mark string
	}{{NoticeInfo, "*"}, {NoticeGap, "!"}, {NoticeWarn, "!!"}, {0, "*"}}
	for _, tt := range tests {
		p := newPane(t, 50, 3)
		p.AddNotice(tt.kind, "3 messages never arrived", t0)
		rs := checkView(t, p)
		r := rs[len(rs)-1]
		if f := strings.Fields(r); f[0] != "15:04" || f[1] != tt.mark || !strings.HasSuffix(r, "3 messages never arrived") {
			t.Fatalf("kind %d: notice row %q", tt.kind, r)
		}
		if strings.Contains(r, "bob") || strings.Contains(r, "alice") {
			t.Fatalf("notice attributed to a person: %q", r)
		}
	}
	p := newPane(t, 50, 3)
	p.AddNotice(NoticeGap, "gap", t0)
	if !strings.Contains(p.View(), p.sty.gap.Render("gap")) {
		t.Fatalf("gap notice not in the gap style: %q", p.View())
	}
}

func TestPossibleDuplicate(t *testing.T) {
	for _, width := range []int{80, 30, 22} {
		p := newPane(t, width, 6)
		p.AddPeer(1, "hello", t0, true)
		p.AddPeer(2, "hello", t0, false)
		rs := checkView(t, p)
		all := strings.Join(rs, "\n")
		if strings.Count(all, "[possible") != 1 || strings.Count(all, "duplicate]") != 1 {
			t.Fatalf("width %d: want one flag:\n%s", width, all)
		}
		if v := p.View(); !strings.Contains(v, p.sty.dup.Render("[possible duplicate]")) && !strings.Contains(v, p.sty.dup.Render("[possible")) {
			t.Fatalf("width %d: flag not styled: %q", width, p.View())
		}
		if i, j := indexOf(rs, "[possible"), indexOf(rs, "hello"); j < i {
			t.Fatalf("width %d: flag after the text:\n%s", width, all)
		}
	}
}

func TestEscapesSanitized(t *testing.T) {
	skipIfEastAsian(t)
	evil := "a\x1b[31mred\x1b]0;title\x07 c1:\u009b2J bidi:\u202eevil\u2066 bell\a end"
	p := New(nil, Person{Name: "me"}, Person{Name: "b\x1b[2Job\u202e"})
	p.SetSize(200, 4)
	p.AddPeer(1, evil, t0, false)
	p.AddOwn(1, "mine\x1b[5m", t0)
	v := p.View()
	for _, bad := range []string{"\x1b[31m", "\x1b]0", "\a", "\u009b", "\u202e", "\u2066", "\x1b[2J", "\x1b[5m"} {
		if strings.Contains(v, bad) {
			t.Fatalf("view contains raw %q: %q", bad, v)
		}
	}
	plain := ansi.Strip(v)
	for _, want := range []string{`\x1b[31mred`, `\x1b]0;title\a`, `\u009b2J`, `\u202eevil\u2066`, `b\x1b[2Job\…`, `mine\x1b[5m`} {
		if !strings.Contains(plain, want) {
			t.Fatalf("view lacks escaped %q:\n%s", want, plain)
		}
	}
}

func TestClear(t *testing.T) {
	p := newPane(t, 40, 5)
	fill(p, 20)
	p.AddOwn(1, "mine", t0)
	p.ScrollUp(3)
	p.AddPeer(99, "unread", t0, false)
	p.Clear()
	if p.Len() != 0 || p.Unread() != 0 || !p.AtBottom() {
		t.Fatalf("after Clear: Len %d Unread %d AtBottom %v", p.Len(), p.Unread(), p.AtBottom())
	}
	if rs := checkView(t, p); strings.TrimSpace(strings.Join(rs, "")) != "" {
		t.Fatalf("view not empty after Clear: %q", rs)
	}
	p.SetDelivery(1, Delivered) // the cleared message is gone: remembered, harmless
	p.AddPeer(1, "fresh", t0, false)
	if rs := checkView(t, p); !strings.Contains(rs[4], "fresh") {
		t.Fatalf("after Clear, new message not shown: %q", rs)
	}
}

func TestMaxItems(t *testing.T) {
	p := newPane(t, 40, 4)
	p.AddOwn(1, "first, ours", t0)
	for i := range MaxItems + 9 {
		p.AddPeer(uint64(i), "m"+strconv.Itoa(i), t0, false)
	}
	if p.Len() != MaxItems {
		t.Fatalf("Len = %d, want %d", p.Len(), MaxItems)
	}
	if got := p.items[0].text; got != "m9" {
		t.Fatalf("oldest kept item is %q, want m9", got)
	}
	if len(p.own) != 0 {
		t.Fatalf("dropped own message still indexed")
	}
	p.SetDelivery(1, Sent) // no longer there: must not panic
	p.Top()
	rs := checkView(t, p)
	if !strings.Contains(rs[0], "Thursday") || !strings.Contains(rs[1], "m9") {
		t.Fatalf("top after the cap:\n%s", strings.Join(rs, "\n"))
	}
	// Scrolled to the top while the oldest items are dropped: the view stays full.
	for i := range 10 {
		p.AddPeer(uint64(i), "more", t0, false)
	}
	rs = checkView(t, p)
	if !strings.Contains(rs[0], "Thursday") || !strings.Contains(rs[1], "m19") {
		t.Fatalf("top after more drops:\n%s", strings.Join(rs, "\n"))
	}
}

func TestTinySizes(t *testing.T) {
	texts := []string{"hello world", "漢字漢字", "👨‍👩‍👧‍👦👋🏽❤️", "a\nb\n\nc", ""}
	for width := -1; width <= 10; width++ {
		for height := -1; height <= 3; height++ {
			for _, m := range []ansi.Method{ansi.WcWidth, ansi.GraphemeWidth} {
				p := New(nil, Person{Name: "a very long name"}, Person{Name: "漢字漢字漢字漢字"})
				p.SetSize(width, height)
				p.SetWidthMethod(m)
				checkView(t, p)
				for i, text := range texts {
					p.AddPeer(uint64(i), text, t0, i%2 == 0)
					p.AddOwn(uint64(i), text, t0.Add(24*time.Hour))
					p.AddNotice(NoticeGap, text, t0)
				}
				for _, op := range []func(){p.PageUp, func() { p.ScrollUp(2) }, p.Top, p.PageDown, func() { p.ScrollDown(1) }, p.Bottom} {
					op()
					if width >= 0 && height >= 0 && p.Height() != height {
						t.Fatalf("height changed")
					}
					checkView(t, p)
				}
			}
		}
	}
}
