package screen

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// panels is which panels and overlays are shown. On a narrow terminal one
// panel at a time floats over the chat (the handshake panel also by itself
// while the handshake is stalled, until esc); on a wide one they stack in
// the sidebar, each toggled with its F key. An overlay (help, /verify)
// covers the screen below the header and takes the keys.
type panels struct {
	overlay       overlayKind
	floating      panelKind // narrow terminals: the panel floating over the chat
	hsDismissed   bool      // esc closed the automatic handshake panel
	sideHS        bool      // wide terminals: handshake panel pinned (F2)
	sideInsp      bool      // wide terminals: inspector shown (F3)
	sideLogHidden bool      // wide terminals: security log hidden (F4)
	helpScroll    int       // the help's first line shown, when it does not fit
}

// overlayKind is the overlay shown, if any.
type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayHelp
	overlayVerify
)

// panelKind is one of the panels.
type panelKind int

const (
	panelNone panelKind = iota
	panelHandshake
	panelInspector
	panelSecurityLog
)

// toggle shows panel k floating, or hides it if it is shown (hiding the
// handshake panel also stops it from floating by itself).
func (p *panels) toggle(k panelKind) {
	if p.floating == k {
		p.floating = panelNone
		if k == panelHandshake {
			p.hsDismissed = true
		}
		return
	}
	p.floating = k
}

// autoHandshake reports whether the handshake panel floats by itself on a
// narrow terminal: only while the handshake is stalled (the peer answers
// but refuses our key: a security event worth covering the chat for),
// until esc. A first handshake, a rekey or the peer coming back never
// cover the chat: F2 shows the panel.
func (s *Screen) autoHandshake() bool {
	return s.panels.floating == panelNone && !s.panels.hsDismissed && s.hs.Stalling()
}

// overlayKey takes a key while an overlay is shown: it closes the help, or
// confirms or declines /verify; any other key is ignored.
func (s *Screen) overlayKey(k tea.KeyPressMsg) tea.Cmd {
	switch s.panels.overlay {
	case overlayHelp:
		if key.Matches(k, s.keys.Close, s.keys.Help) || k.String() == "q" {
			s.panels.overlay, s.panels.helpScroll = overlayNone, 0
			return nil
		}
		s.scrollHelp(k)
	case overlayVerify:
		switch {
		case key.Matches(k, s.keys.Confirm):
			s.panels.overlay = overlayNone
			return s.confirmVerify()
		case key.Matches(k, s.keys.Decline):
			s.panels.overlay = overlayNone
		}
	}
	return nil
}

// panelKey takes the keys that show and hide the help and the panels (on a
// wide terminal in the sidebar, else floating); it reports whether k was
// one. Esc never clears the draft.
func (s *Screen) panelKey(k tea.KeyPressMsg) bool {
	wide := s.lay.side.w > 0
	switch {
	case key.Matches(k, s.keys.Help) && (k.String() != "?" || s.input.Value() == ""):
		s.panels.overlay = overlayHelp
	case key.Matches(k, s.keys.Handshake):
		if wide {
			s.panels.sideHS = !s.panels.sideHS
		} else {
			s.panels.toggle(panelHandshake)
		}
	case key.Matches(k, s.keys.Inspector):
		if wide {
			s.panels.sideInsp = !s.panels.sideInsp
		} else {
			s.panels.toggle(panelInspector)
		}
	case key.Matches(k, s.keys.Pings):
		s.insp.SetShowLiveness(!s.insp.ShowLiveness())
	case key.Matches(k, s.keys.SecurityLog):
		if wide {
			s.panels.sideLogHidden = !s.panels.sideLogHidden
		} else {
			s.panels.toggle(panelSecurityLog)
		}
	case key.Matches(k, s.keys.Close):
		if s.panels.floating != panelNone {
			s.panels.floating = panelNone
		} else if s.autoHandshake() {
			s.panels.hsDismissed = true
		}
	default:
		return false
	}
	return true
}

// scrollHelp moves the help's window by a line (up/down) or a page
// (pgup/pgdn), within its lines.
func (s *Screen) scrollHelp(k tea.KeyPressMsg) {
	page := max(1, s.lay.h-s.st.Overlay.GetVerticalFrameSize()-1)
	switch {
	case key.Matches(k, s.keys.PrevLine):
		s.panels.helpScroll--
	case key.Matches(k, s.keys.NextLine):
		s.panels.helpScroll++
	case key.Matches(k, s.keys.PageUp):
		s.panels.helpScroll -= page
	case key.Matches(k, s.keys.PageDown):
		s.panels.helpScroll += page
	default:
		return
	}
	last := max(0, len(s.helpLines(s.helpInner()))-page)
	s.panels.helpScroll = max(0, min(s.panels.helpScroll, last))
}
