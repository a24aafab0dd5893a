package chat

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"duet/ui/style"
)

var (
	testSelf = Person{Name: "alice", StableID: "self-fp"}
	testPeer = Person{Name: "bob", StableID: "peer-fp"}
	// t0 is a Thursday in UTC.
	t0 = time.Date(2026, 11, 26, 15, 4, 0, 0, time.UTC)
)

// newPane returns a pane of the given size in UTC.
func newPane(t testing.TB, width, height int) *Pane {
	t.Helper()
	st := style.DefaultStyles()
	p := New(&st, testSelf, testPeer)
	p.SetClock(time.UTC)
	p.SetSize(width, height)
	return p
}

// checkView asserts the view has exactly Height rows, none wider than Width
// under either method.
func checkView(t testing.TB, p *Pane) []string {
	t.Helper()
	v := p.View()
	if p.Height() == 0 {
		if v != "" {
			t.Fatalf("height 0: view %q, want empty", v)
		}
		return nil
	}
	rs := strings.Split(v, "\n")
	if len(rs) != p.Height() {
		t.Fatalf("view has %d rows, want %d", len(rs), p.Height())
	}
	for i, r := range rs {
		wc, gw := ansi.WcWidth.StringWidth(r), ansi.GraphemeWidth.StringWidth(r)
		if wc > p.Width() || gw > p.Width() {
			t.Fatalf("row %d %q is %d (wcwidth) / %d (grapheme) cells, wider than %d", i, ansi.Strip(r), wc, gw, p.Width())
		}
	}
	return strings.Split(ansi.Strip(v), "\n")
}

// textCol is the column the message text starts at.
func textCol(p *Pane) int { return p.layout().textCol }

// indexOf returns the index of the first row containing s, or -1.
func indexOf(rs []string, s string) int {
	for i, r := range rs {
		if strings.Contains(r, s) {
			return i
		}
	}
	return -1
}

// fill adds n peer messages "msg 0".. each on one row, a second apart.
func fill(p *Pane, n int) {
	for i := range n {
		p.AddPeer(uint64(i), "msg "+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Second), false)
	}
}

// skipIfEastAsian skips a test whose expected rows assume that ambiguous
// characters such as "…" are one cell (not so under RUNEWIDTH_EASTASIAN=1,
// where the width-bound tests still apply).
func skipIfEastAsian(t *testing.T) {
	t.Helper()
	if safeWidth(ellipsis) != 1 {
		t.Skip("RUNEWIDTH_EASTASIAN: ambiguous characters are two cells")
	}
}
