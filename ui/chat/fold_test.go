package chat

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestFoldUpdatesInPlace: a repeat folds into the row already drawn (its
// cached rows are redrawn with "×n"); another row in between ends the fold.
func TestFoldUpdatesInPlace(t *testing.T) {
	p := newPane(t, 80, 10)
	p.AddFoldable(NoticeWarn, "k", "rejected replay seq 1", t0)
	if v := ansi.Strip(p.View()); !strings.Contains(v, "seq 1") {
		t.Fatalf("first row: %q", v)
	}
	for _, text := range []string{"rejected replay seq 2", "rejected replay seq 3"} {
		if !p.Fold("k", text, t0) {
			t.Fatal("repeat not folded")
		}
	}
	v := ansi.Strip(p.View())
	if p.Len() != 1 || !strings.Contains(v, "rejected replay seq 3 ×3") || strings.Contains(v, "seq 1") {
		t.Fatalf("after folding (%d rows): %q", p.Len(), v)
	}
	if p.Fold("other", "x", t0) {
		t.Fatal("another key folded")
	}
	p.AddNotice(NoticeInfo, "in between", t0)
	if p.Fold("k", "rejected replay seq 4", t0) {
		t.Fatal("folded across a row in between")
	}
}
