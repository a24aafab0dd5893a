package screen

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
	"duet/ui/termsafe"
)

// HistorySearch is a HistorySource that can search the stored
// conversation: the screen's /search uses it when cfg.History has it (an
// optional interface, so that a HistorySource without search still
// pages). Search runs in a tea.Cmd, reads only (nothing is written, texts
// are decrypted in memory), and is bounded per call: it may return fewer
// than n hits, or none, with done false, and the search goes on from next.
type HistorySearch interface {
	// Search returns up to n entries whose text contains query
	// (case-insensitively) older than from (nil: the newest), newest
	// first, the position to go on from, and whether the start of the
	// history was reached. Entries returned with an error are valid.
	Search(query string, from any, n int) (hits []chat.Entry, next any, done bool, err error)
}

// searchBatch is how many hits one Search call asks for.
const searchBatch = 100

// maxSearchRunes bounds the text /search looks for: matching is a scan of
// every message against it, which a page-long query would make slow.
const maxSearchRunes = 200

// search is /search's state: the matches found so far, newest first (on
// the pane first, then the stored ones not on it, which are all older
// than the pane's rows), and which one is shown.
//
// Invariant: hits holds each message once, in order newest first; cur is
// -1 or an index into hits. Search mode lasts until esc: while it lasts, n
// and N with an empty input move to the next older and newer match (with
// text in the input they are typed, as ? is).
type search struct {
	active   bool
	query    string
	hits     []paneKey
	seen     map[paneKey]bool
	cur      int
	from     any  // the store's position to go on from; nil: the newest
	done     bool // no more stored hits (or no store)
	busy     bool // a Search Cmd is in flight
	paneOnly bool // no stored history to search
	want     int  // a hit asked for by n beyond those found; -1: none
	paging   int  // a hit being paged into the pane; -1: none
	gen      int  // bumped by each /search: late results are dropped
	note     string
}

// searchResultMsg is one Search call's result.
type searchResultMsg struct {
	gen  int
	hits []chat.Entry
	next any
	done bool
	err  error
}

// startSearch is /search TEXT: it finds TEXT on the pane at once, and in
// the stored history in Cmds, and shows the newest match.
func (s *Screen) startSearch(query string) tea.Cmd {
	query = strings.TrimSpace(query)
	if query == "" {
		s.chat.AddNotice(chat.NoticeInfo, "usage: /search TEXT (case-insensitive; n and N move, esc ends)", s.now())
		return nil
	}
	if n := utf8.RuneCountInString(query); n > maxSearchRunes {
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("not searched: the text is %d characters long, at most %d", n, maxSearchRunes), s.now())
		return nil
	}
	gen := s.aids.search.gen + 1
	s.aids.search = search{active: true, query: query, seen: make(map[paneKey]bool), cur: -1, want: 0, paging: -1, gen: gen}
	sr := &s.aids.search
	for _, m := range s.chat.Find(query) {
		sr.add(paneKey{own: m.Own, id: m.ID})
	}
	if _, ok := s.cfg.History.(HistorySearch); !ok {
		sr.done, sr.paneOnly = true, true
	}
	s.chat.SetHighlight(query, 0)
	return s.searchSettle()
}

// add appends a hit not found before.
func (sr *search) add(k paneKey) {
	if sr.seen[k] {
		return
	}
	sr.seen[k] = true
	sr.hits = append(sr.hits, k)
}

// searchSettle shows the hit asked for when it is known, or asks the
// store for more hits, or says there is none.
func (s *Screen) searchSettle() tea.Cmd {
	sr := &s.aids.search
	switch {
	case sr.want < 0:
		return nil
	case sr.want < len(sr.hits):
		i := sr.want
		sr.want = -1
		return s.showHit(i)
	case !sr.done:
		return s.searchMore()
	}
	if len(sr.hits) > 0 {
		sr.note = "no older match"
	}
	sr.want = -1
	return nil
}

// searchMore asks the stored history for the next hits.
func (s *Screen) searchMore() tea.Cmd {
	sr := &s.aids.search
	src, ok := s.cfg.History.(HistorySearch)
	if !ok || sr.busy || sr.done {
		return nil
	}
	sr.busy = true
	q, from, gen := sr.query, sr.from, sr.gen
	return func() tea.Msg {
		hits, next, done, err := src.Search(q, from, searchBatch)
		return searchResultMsg{gen: gen, hits: hits, next: next, done: done, err: err}
	}
}

// handleSearchResult adds the stored hits and shows the one waited for.
// An error with hits is shown and the search goes on; one without stops
// it.
func (s *Screen) handleSearchResult(m searchResultMsg) tea.Cmd {
	sr := &s.aids.search
	if !sr.active || m.gen != sr.gen {
		return nil
	}
	sr.busy = false
	if m.err != nil {
		s.chat.AddNotice(chat.NoticeWarn, "search: "+termsafe.Sanitize(strings.TrimPrefix(errText(m.err), "protocol: ")), s.now())
		if len(m.hits) == 0 {
			m.done = true
		}
	}
	for _, e := range m.hits {
		sr.add(paneKey{own: e.Own, id: e.ID})
	}
	sr.from, sr.done = m.next, m.done
	return s.searchSettle()
}

// showHit makes hit i the current match: highlighted and scrolled to,
// once older history is paged in far enough to hold it.
func (s *Screen) showHit(i int) tea.Cmd {
	sr := &s.aids.search
	sr.cur, sr.note = i, ""
	h := sr.hits[i]
	if seq := s.chat.SeqOf(h.own, h.id); seq != 0 {
		sr.paging = -1
		s.chat.SetHighlight(sr.query, seq)
		s.chat.ShowSeq(seq)
		return nil
	}
	if !s.paging.more || s.chat.Len() >= chat.MaxItems {
		sr.paging = -1
		sr.note = "this match is older than the screen's scrollback (after /clear, or beyond its size)"
		return nil
	}
	sr.paging = i
	return s.loadHistory(false)
}

// searchPaged goes on after a page of history loaded for a match: shows
// it, or loads the next page.
func (s *Screen) searchPaged() tea.Cmd {
	sr := &s.aids.search
	if !sr.active || sr.paging < 0 {
		return nil
	}
	return s.showHit(sr.paging)
}

// searchMove is n (dir +1: the next older match) and N (-1: newer).
func (s *Screen) searchMove(dir int) tea.Cmd {
	sr := &s.aids.search
	sr.note = ""
	if sr.busy || sr.paging >= 0 {
		return nil // a move is under way
	}
	i := sr.cur + dir
	switch {
	case dir < 0 && i < 0:
		if len(sr.hits) > 0 {
			sr.note = "no newer match"
		}
		return nil
	case i < len(sr.hits):
		return s.showHit(i)
	}
	sr.want = i
	return s.searchSettle()
}

// endSearch is esc in search mode: the marks go, the view stays.
func (s *Screen) endSearch() {
	s.aids.search = search{gen: s.aids.search.gen, cur: -1, want: -1, paging: -1}
	s.chat.SetHighlight("", 0)
}

// searchKey takes n, N and esc in search mode (n and N only while the
// input is empty; esc once no panel is left to close); it reports whether
// k was one.
func (s *Screen) searchKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	if !s.aids.search.active {
		return nil, false
	}
	empty := s.input.Value() == ""
	switch {
	case key.Matches(k, s.keys.Close) && s.panels.floating == panelNone && !s.autoHandshake():
		s.endSearch()
		return nil, true
	case key.Matches(k, s.keys.SearchOlder) && empty:
		return s.searchMove(+1), true
	case key.Matches(k, s.keys.SearchNewer) && empty:
		return s.searchMove(-1), true
	}
	return nil, false
}

// searchHint is the separator's label in search mode: where we are among
// the matches ("match 3 of ≥12": more may be stored), or that none
// matched, and the keys.
func (s *Screen) searchHint(room int) string {
	sr := &s.aids.search
	q := "“" + snippet(termsafe.Sanitize(sr.query), 20) + "”"
	var where string
	switch {
	case len(sr.hits) == 0 && !sr.done:
		where = "searching for " + q + "…"
	case len(sr.hits) == 0:
		where = "no match for " + q
	case sr.cur < 0:
		where = fmt.Sprintf("%s: %d matches", q, len(sr.hits))
	default:
		of := fmt.Sprintf("%d", len(sr.hits))
		if !sr.done {
			of = "≥" + of
		}
		where = fmt.Sprintf("match %d of %s for %s", sr.cur+1, of, q)
	}
	// Left out first when they do not fit: the note, esc, n/N, and last
	// that only the screen is searched.
	items := []string{where}
	var drop []int
	if sr.note != "" {
		drop = append(drop, len(items))
		items = append(items, sr.note)
	}
	keys := len(items)
	items = append(items, "n older · N newer", "esc ends")
	drop = append(drop, keys+1, keys)
	if sr.paneOnly {
		drop = append(drop, len(items))
		items = append(items, "screen only: no stored history")
	}
	return hintFit(items, drop, room)
}

// aids are the input's helpers: the earlier inputs walked with up and
// down (recall.go), /search (search.go), tab completion (complete.go) and
// the editor's chord (editor.go).
type aids struct {
	recall recall
	search search
	compl  completion
	chord  bool                // ctrl+x was pressed: ctrl+e opens the editor
	getenv func(string) string // nil: os.Getenv (tests set it)
}

// aidKey gives k to the helpers first: the editor's chord, search mode's
// n, N and esc, tab completion. It reports whether one took it.
func (s *Screen) aidKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	if cmd, ok := s.editorKey(k); ok {
		return cmd, true
	}
	if cmd, ok := s.searchKey(k); ok {
		return cmd, true
	}
	return s.completeKey(k)
}

// handleAid takes the results of the helpers' Cmds.
func (s *Screen) handleAid(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case searchResultMsg:
		return s.handleSearchResult(m)
	case editorReadyMsg:
		return s.runEditor(m)
	case editorDoneMsg:
		// The editor wrote over the terminal; Bubble Tea redraws after it,
		// but a frame lost there left the pane blank until the next change
		// (once in 21 loaded runs): clear and draw it all, as ctrl+l does.
		return tea.Batch(readEdited(m), tea.ClearScreen)
	case editedMsg:
		s.handleEdited(m)
	}
	return nil
}
