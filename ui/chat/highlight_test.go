package chat

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// marked returns the texts the view draws in reverse video (SGR 7), in
// order: a search's marks.
func marked(view string) []string {
	var out []string
	p := ansi.NewParser()
	var cur strings.Builder
	in := false
	state := byte(0)
	for len(view) > 0 {
		seq, _, n, newState := ansi.DecodeSequence(view, state, p)
		state = newState
		if ansi.HasCsiPrefix(seq) && strings.HasSuffix(seq, "m") {
			params := strings.Split(seq[2:len(seq)-1], ";")
			for _, pm := range params {
				switch pm {
				case "7":
					in = true
				case "", "0", "27":
					if in && cur.Len() > 0 {
						out = append(out, cur.String())
						cur.Reset()
					}
					in = false
				}
			}
		} else if in && !strings.HasPrefix(seq, "\x1b") && seq != "\n" {
			cur.WriteString(seq)
		}
		view = view[n:]
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func TestPaneHighlightMarksEveryMatchCaseInsensitively(t *testing.T) {
	p := newPane(t, 80, 10)
	p.AddPeer(1, "Hello World, hello again", t0, false)
	p.AddOwn(2, "nothing here", t0)
	p.AddNotice(NoticeInfo, "hello from a notice", t0)
	if m := marked(p.View()); len(m) != 0 {
		t.Fatalf("marks without a search: %q", m)
	}
	p.SetHighlight("HELLO", 0)
	checkView(t, p)
	got := marked(p.View())
	want := []string{"Hello", "hello"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("marked %q, want %q (messages only, not notices)", got, want)
	}
	p.SetHighlight("", 0)
	if m := marked(p.View()); len(m) != 0 {
		t.Fatalf("marks after the search ended: %q", m)
	}
}

func TestPaneHighlightCurrentMatchIsBoldUnderlined(t *testing.T) {
	p := newPane(t, 80, 10)
	p.AddPeer(1, "needle one", t0, false)
	p.AddPeer(2, "needle two", t0, false)
	ms := p.Find("needle")
	if len(ms) != 2 || ms[0].ID != 2 || ms[1].ID != 1 {
		t.Fatalf("Find = %+v, want ids 2 then 1 (newest first)", ms)
	}
	p.SetHighlight("needle", ms[1].Seq)
	rows := strings.Split(p.View(), "\n")
	var one, two string
	for _, r := range rows {
		switch {
		case strings.Contains(ansi.Strip(r), "needle one"):
			one = r
		case strings.Contains(ansi.Strip(r), "needle two"):
			two = r
		}
	}
	if !strings.Contains(one, matchCurStyle.Styled("needle")) {
		t.Errorf("current match not drawn bold and underlined: %q", one)
	}
	if strings.Contains(two, matchCurStyle.Styled("needle")) || !strings.Contains(two, matchStyle.Styled("needle")) {
		t.Errorf("other match not drawn as a plain mark: %q", two)
	}
	// A match of two words is one mark: its space too.
	p.SetHighlight("NEEDLE ONE", ms[1].Seq)
	if got := marked(p.View()); len(got) != 1 || got[0] != "needle one" {
		t.Errorf("two-word current match marked as %q, want one mark", got)
	}
}

func TestPaneHighlightAcrossAWrap(t *testing.T) {
	p := newPane(t, 30, 10)
	// The text column is narrow: "wrapping" is split by the wrap.
	p.AddPeer(1, strings.Repeat("x", textWidth(p)-4)+"wrapping", t0, false)
	p.SetHighlight("wrapping", 0)
	checkView(t, p)
	got := strings.Join(marked(p.View()), "")
	if got != "wrapping" {
		t.Fatalf("marks across the wrap = %q, want the whole word", got)
	}
}

func TestPaneHighlightSkipsTheDuplicateFlag(t *testing.T) {
	p := newPane(t, 80, 10)
	p.AddPeer(1, "possible text", t0, true)
	p.SetHighlight("possible", 0)
	checkView(t, p)
	if got := marked(p.View()); len(got) != 1 || got[0] != "possible" {
		t.Fatalf("marked %q, want the text's word only, not the flag's", got)
	}
	if !strings.Contains(ansi.Strip(p.View()), dupFlag+" possible text") {
		t.Fatalf("flag lost:\n%s", ansi.Strip(p.View()))
	}
}

func TestPaneSeqOfAndShowSeq(t *testing.T) {
	p := newPane(t, 60, 6)
	for i := range 50 {
		if i%2 == 0 {
			p.AddOwn(uint64(100+i), "own "+strings.Repeat("o", i%5), t0.Add(time.Duration(i)*time.Second))
		} else {
			p.AddPeer(uint64(100+i), "peer message", t0.Add(time.Duration(i)*time.Second), false)
		}
	}
	p.AddPeer(7, "the old one", t0, false) // id 7 added last: newest
	if p.SeqOf(true, 7) != 0 {
		t.Error("SeqOf found our id 7, which only the peer used")
	}
	seq := p.SeqOf(false, 101)
	if seq == 0 {
		t.Fatal("SeqOf lost the peer's id 101")
	}
	if !p.ShowSeq(seq) {
		t.Fatal("ShowSeq refused a seq on the pane")
	}
	if p.AtBottom() {
		t.Error("ShowSeq of an old message left the pane at the bottom")
	}
	ids := p.VisiblePeer(nil)
	found := false
	for _, id := range ids {
		found = found || id == 101
	}
	if !found {
		t.Fatalf("message 101 not in view after ShowSeq (visible %v):\n%s", ids, ansi.Strip(p.View()))
	}
	if p.ShowSeq(seq + 1000) {
		t.Error("ShowSeq accepted a seq past the end")
	}
}

// textWidth is how many cells of text a row holds.
func textWidth(p *Pane) int { return p.Width() - textCol(p) }
