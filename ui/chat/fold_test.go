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

// TestMergeReplacesInPlace: the second half of an event replaces the row
// of the first, under a new key; a wrong key, the old key after the
// merge, or a row in between leaves it alone.
func TestMergeReplacesInPlace(t *testing.T) {
	p := newPane(t, 80, 10)
	p.AddFoldable(NoticeInfo, "half a", "first half", t0)
	if p.Merge("half b", "whole", "never", t0) {
		t.Fatal("merged under another key")
	}
	if !p.Merge("half a", "whole", "both halves", t0) {
		t.Fatal("second half not merged")
	}
	v := ansi.Strip(p.View())
	if p.Len() != 1 || !strings.Contains(v, "both halves") || strings.Contains(v, "first half") || strings.Contains(v, "×") {
		t.Fatalf("after merging (%d rows): %q", p.Len(), v)
	}
	if p.Merge("half a", "whole", "again", t0) {
		t.Fatal("merged under the key it had before")
	}
	p.AddNotice(NoticeInfo, "in between", t0)
	if p.Merge("whole", "x", "across", t0) {
		t.Fatal("merged across a row in between")
	}
}
