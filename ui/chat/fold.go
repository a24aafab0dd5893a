package chat

import (
	"fmt"
	"time"
)

// fold is the newest foldable notice: rows that repeat it (same key, with
// nothing added in between) are counted into it instead of added.
type fold struct {
	seq uint64 // the row's item seq; 0: none
	key string
	n   int // rows counted into it, itself included
}

// AddFoldable appends a notice (as AddNotice) that later notices with the
// same key may fold into (Fold).
func (p *Pane) AddFoldable(kind NoticeKind, key, text string, at time.Time) {
	p.AddNotice(kind, text, at)
	p.fold = fold{seq: p.items[len(p.items)-1].seq, key: key, n: 1}
}

// Fold counts a repeat into the newest row, in place, when that row is a
// foldable notice with the same key: its text becomes text followed by
// " ×n" (n rows counted so far) and its time at. It reports whether it
// did; when not, the caller adds the row itself (AddFoldable). Anything
// added in between (a message, another notice) ends the fold, so a fold
// never hides what happened between two repeats.
func (p *Pane) Fold(key, text string, at time.Time) bool {
	it := p.foldRow(key)
	if it == nil {
		return false
	}
	p.fold.n++
	it.text = fmt.Sprintf("%s ×%d", text, p.fold.n)
	it.at = at.UnixMilli()
	it.version++
	return true
}

// TextWidth is the cells a row's text gets at the pane's current width
// (after the time, name and delivery columns); at least 1.
func (p *Pane) TextWidth() int {
	l := p.layout()
	return max(1, l.width-l.textCol)
}

// Merge puts text in place of the newest row's, when that row is a
// foldable notice with the given key and nothing was added after it, and
// gives the row newKey (so a third report can merge again only under
// it). It is for one event reported in halves, such as a healing's two
// directions; it reports whether it merged.
func (p *Pane) Merge(key, newKey, text string, at time.Time) bool {
	it := p.foldRow(key)
	if it == nil {
		return false
	}
	p.fold.key = newKey
	it.text = text
	it.at = at.UnixMilli()
	it.version++
	return true
}

// foldRow is the newest row when it is the foldable notice under key with
// nothing added after it; else nil.
func (p *Pane) foldRow(key string) *item {
	n := len(p.items)
	if n == 0 || p.fold.seq == 0 || p.items[n-1].seq != p.fold.seq || p.fold.key != key {
		return nil
	}
	return p.items[n-1]
}
