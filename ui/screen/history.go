package screen

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"duet/ui/chat"
	"duet/ui/termsafe"
	"duet/ui/words"
)

// HistorySource is the stored conversation the screen shows on start and
// pages through when the reader scrolls to the top. Its methods run in
// tea.Cmds, never in Update. A position is opaque to the screen. Entries
// returned together with an error are shown (and paging continues from the
// position returned), and the error is shown as a warning; an error without
// entries stops the paging.
type HistorySource interface {
	// Last returns the newest n entries, oldest first, and the position
	// before the first of them.
	Last(n int) ([]chat.Entry, any, error)
	// Older returns up to n entries before pos, oldest first, and the next
	// position; none means the start of the history.
	Older(pos any, n int) ([]chat.Entry, any, error)
	// Clear removes the stored conversation (/clear).
	Clear() error
}

// HistoryPage is how many entries one load brings: the start-up page and
// each page fetched at the top of the scrollback.
const HistoryPage = 100

// paging is where the stored history shown so far begins, paged in at the
// top of the scrollback one HistoryPage at a time. (Recalling earlier
// inputs is recall, in recall.go.)
type paging struct {
	pos     any  // position before the oldest entry loaded
	more    bool // older entries may exist
	loading bool // a load Cmd is in flight
	asking  bool // /clear history asked "y/N": the next key answers
}

// historyMsg is a page of history loaded by a Cmd.
type historyMsg struct {
	entries []chat.Entry
	pos     any
	initial bool
	err     error
}

// historyClearedMsg reports /clear's removal of the stored history.
type historyClearedMsg struct{ err error }

// loadHistory returns the Cmd loading the first page (initial) or the page
// before s.paging.pos.
func (s *Screen) loadHistory(initial bool) tea.Cmd {
	src := s.cfg.History
	if src == nil || s.paging.loading || (!initial && !s.paging.more) {
		return nil
	}
	s.paging.loading = true
	pos := s.paging.pos
	return func() tea.Msg {
		var m historyMsg
		m.initial = initial
		if initial {
			m.entries, m.pos, m.err = src.Last(HistoryPage)
		} else {
			m.entries, m.pos, m.err = src.Older(pos, HistoryPage)
		}
		return m
	}
}

// handleHistory shows a loaded page. An error is shown as a warning; the
// entries that came with it are shown too and paging goes on from them.
// An error without entries stops the loading.
func (s *Screen) handleHistory(m historyMsg) {
	s.paging.loading = false
	if m.err != nil {
		s.chat.AddNotice(chat.NoticeWarn, "history: "+termsafe.Sanitize(strings.TrimPrefix(errText(m.err), "protocol: ")), s.now())
		if len(m.entries) == 0 {
			s.paging.more = false
			return
		}
	}
	s.paging.pos = m.pos
	s.paging.more = len(m.entries) == HistoryPage
	for _, e := range m.entries {
		if !e.Own {
			s.status.Seen(e.At) // "last seen" for a peer not heard yet
		}
	}
	s.showStored(m.entries)
}

// maybeLoadOlder fetches the page before the oldest shown when the reader
// has reached the top of the scrollback.
func (s *Screen) maybeLoadOlder() tea.Cmd {
	if !s.chat.AtTop() {
		return nil
	}
	return s.loadHistory(false)
}

// clearScreen is /clear: it empties the pane only. The stored history
// stays, and is not paged in again by scrolling up (the screen stays clear
// until the next start).
func (s *Screen) clearScreen() {
	s.chat.Clear()
	s.paging.more, s.paging.pos = false, nil
	s.chat.AddNotice(chat.NoticeInfo, words.ScreenCleared, s.now())
}

// askClearHistory is /clear history: it asks before deleting, and the next
// key answers (clearKey).
func (s *Screen) askClearHistory() tea.Cmd {
	if s.cfg.History == nil && s.cfg.ClearStored == nil {
		s.chat.AddNotice(chat.NoticeInfo, words.NoHistoryToClear, s.now())
		return nil
	}
	s.paging.asking = true
	s.chat.AddNotice(chat.NoticeInfo, words.AskClearHistory, s.now())
	return nil
}

// clearKey answers the /clear history question: y deletes, any other key
// keeps the history (and is otherwise ignored).
func (s *Screen) clearKey(k tea.KeyPressMsg) tea.Cmd {
	s.paging.asking = false
	if k.String() == "y" || k.String() == "Y" {
		s.chat.Clear()
		return s.clearHistory()
	}
	s.chat.AddNotice(chat.NoticeInfo, words.HistoryKept, s.now())
	return nil
}

// clearHistory is /clear history's Cmd for the stored conversation, once
// confirmed.
func (s *Screen) clearHistory() tea.Cmd {
	clear := s.cfg.ClearStored
	if s.cfg.History != nil {
		clear = s.cfg.History.Clear
	}
	if clear == nil {
		return nil
	}
	s.paging.more, s.paging.pos = false, nil
	return func() tea.Msg { return historyClearedMsg{err: clear()} }
}

func (s *Screen) handleHistoryCleared(m historyClearedMsg) {
	if m.err != nil {
		s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("history not cleared: %s", termsafe.Sanitize(errText(m.err))), s.now())
		return
	}
	s.chat.AddNotice(chat.NoticeInfo, "chat cleared here, and its stored history (the peer keeps theirs)", s.now())
}
