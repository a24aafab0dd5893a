package screen

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// panels is which panels and overlays are shown. On a narrow terminal one
// panel at a time floats over the chat (the handshake panel also by itself
// while a handshake is under way, until esc); on a wide one they stack in
// the sidebar, each toggled with its F key. An overlay (help, /verify)
// covers the screen below the header and takes the keys.
type panels struct {
	overlay       overlayKind
	floating      panelKind // narrow terminals: the panel floating over the chat
	hsDismissed   bool      // esc closed the automatic handshake panel
	sideHS        bool      // wide terminals: handshake panel pinned (F2)
	sideInsp      bool      // wide terminals: inspector shown (F3)
	sideLogHidden bool      // wide terminals: security log hidden (F4)
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
// narrow terminal: while a handshake is under way, until esc.
func (s *Screen) autoHandshake() bool {
	return s.panels.floating == panelNone && !s.panels.hsDismissed && s.hs.Active(s.now())
}

// overlayKey takes a key while an overlay is shown: it closes the help, or
// confirms or declines /verify; any other key is ignored.
func (s *Screen) overlayKey(k tea.KeyPressMsg) tea.Cmd {
	switch s.panels.overlay {
	case overlayHelp:
		if key.Matches(k, s.keys.Close, s.keys.Help) || k.String() == "q" {
			s.panels.overlay = overlayNone
		}
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
