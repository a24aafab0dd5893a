package screen

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"duet/ui/panel"
)

// View draws the whole screen. It reads only the model: no I/O.
func (s *Screen) View() tea.View {
	v := tea.NewView(s.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = s.windowTitle()
	v.ReportFocus = true // read receipts need the focus (receipts.go)
	if s.keyChange == nil && s.panels.overlay == overlayNone && !s.lay.tooSmall && !s.quitting {
		if c := s.input.Cursor(); c != nil {
			c.X += s.lay.input.x
			c.Y += s.lay.input.y
			v.Cursor = c
		}
	}
	return v
}

func (s *Screen) windowTitle() string {
	t := "duet — " + s.peerName
	if n := s.chat.Unread(); n > 0 {
		t += fmt.Sprintf(" (%d unread)", n)
	}
	return t
}

// render returns the frame: exactly h rows of w cells.
func (s *Screen) render() string {
	l := s.lay
	now := s.now()
	if l.tooSmall {
		return strings.Join(s.fit(panel.TooSmall(s.st, l.w, l.h, MinWidth, MinHeight), l.w, l.h), "\n")
	}
	if s.keyChange != nil {
		return strings.Join(s.keyChange.view(s.st, l.w, l.h, s.fit), "\n")
	}
	rows := make([]string, 0, l.h)
	rows = append(rows, s.fit(s.headerCache, l.w, l.header.h)...)
	main := make([]string, 0, l.chat.h+1+l.input.h)
	main = append(main, s.fit(s.chat.View(), l.chat.w, l.chat.h)...)
	main = append(main, s.fit(s.separator(l.sep.w), l.sep.w, 1)...)
	main = append(main, s.fit(s.input.View(), l.input.w, l.input.h)...)
	if l.side.w > 0 {
		side := s.sidebar(l.side.w, l.side.h)
		for i := range main {
			main[i] += side[i]
		}
	}
	rows = append(rows, main...)
	rows = append(rows, s.fit(s.status.View(s.st, l.w, now), l.w, 1)...)

	// Floating panels (narrow terminals) cover the chat, never the input.
	if l.side.w == 0 {
		if p := s.floatingPanel(); p != "" {
			s.splice(rows, p, l.chat.x+(l.chat.w-lipgloss.Width(p))/2, l.chat.y)
		}
	}
	switch s.panels.overlay {
	case overlayHelp:
		s.center(rows, s.helpBox())
	case overlayVerify:
		// A modal page: the panel centres itself, framed when it fits.
		h := l.h - l.header.h
		box := strings.Join(s.fit(panel.Verify(s.st, l.w, h, s.safety, s.peerFP, s.trust), l.w, h), "\n")
		s.splice(rows, box, 0, l.header.h)
	}
	return strings.Join(rows, "\n")
}

// separator is the rule between the chat and the input: hints, the unread
// count while scrolled up, or that we are leaving.
func (s *Screen) separator(w int) string {
	var label string
	switch {
	case s.quitting:
		label = s.st.Warn.Render("leaving: telling the peer…")
	case !s.chat.AtBottom():
		if n := s.chat.Unread(); n > 0 {
			label = s.st.NewMarker.Render(fmt.Sprintf("↓ %d new · ctrl+end to jump down", n))
		} else {
			label = s.st.Dim.Render("scrolled up · ctrl+end to jump down")
		}
	case s.receipts.peerTyping:
		label = s.st.Dim.Render(s.typingHint())
	case s.lay.side.w == 0 && s.panels.floating != panelNone:
		label = s.st.Dim.Render("esc closes the panel · f2 handshake · f3 records · f4 security log")
	case s.lay.side.w == 0 && s.autoHandshake():
		label = s.st.Dim.Render("esc hides the handshake panel · ? help · ctrl+c quit")
	default:
		label = s.st.Dim.Render("enter send · alt+enter/ctrl+j new line · ? help · ctrl+c quit")
	}
	rule := s.st.Dim.Render("─ ")
	used := lipgloss.Width(rule) + lipgloss.Width(label) + 1
	if used >= w {
		return rule + label
	}
	return rule + label + " " + s.st.Dim.Render(strings.Repeat("─", w-used))
}

// sidebar stacks the panels of a wide terminal: the handshake (while a
// handshake is under way, or pinned with F2), the record inspector (F3) and
// the security log (unless hidden with F4).
func (s *Screen) sidebar(w, h int) []string {
	now := s.now()
	showHS := s.panels.sideHS || s.hs.Active(now)
	showLog := !s.panels.sideLogHidden
	showInsp := s.panels.sideInsp
	rows := make([]string, 0, h)
	rest := h
	if showHS {
		hh := min(handshakePanelHeight, rest)
		if !showLog && !showInsp {
			hh = rest
		}
		rows = append(rows, s.framed(panelHandshake, w, hh)...)
		rest -= hh
	}
	switch {
	case rest <= 0:
	case showLog && showInsp:
		ih := rest / 2
		rows = append(rows, s.framed(panelInspector, w, ih)...)
		rows = append(rows, s.framed(panelSecurityLog, w, rest-ih)...)
	case showInsp:
		rows = append(rows, s.framed(panelInspector, w, rest)...)
	case showLog:
		rows = append(rows, s.framed(panelSecurityLog, w, rest)...)
	default:
		rows = append(rows, s.fit(s.st.Dim.Render(" F2 handshake · F3 records · F4 log"), w, rest)...)
	}
	return rows
}

// framed draws one panel in a w x h box: border, title (the handshake
// panel has its own), body.
func (s *Screen) framed(p panelKind, w, h int) []string {
	fw, fh := s.st.PanelBorder.GetHorizontalFrameSize(), s.st.PanelBorder.GetVerticalFrameSize()
	iw, ih := w-fw, h-fh
	if iw < 4 || ih < 1 {
		return s.fit("", w, h)
	}
	var body []string
	switch p {
	case panelHandshake:
		body = s.fit(s.hs.View(s.st, iw, ih, s.now()), iw, ih)
	case panelInspector:
		hint := " F3 · pings shown F5"
		if !s.insp.ShowLiveness() {
			hint = fmt.Sprintf(" F3 · %d pings hidden F5", s.insp.Hidden())
		}
		body = append(s.fit(s.st.PanelTitle.Render("Records in and out")+s.st.Dim.Render(hint), iw, 1),
			s.fit(s.insp.View(s.st, iw, ih-1), iw, ih-1)...)
	case panelSecurityLog:
		title := "Security log"
		if n := s.seclog.Count(); n > 0 {
			title += fmt.Sprintf(" · %d rejected", n)
		}
		body = append(s.fit(s.st.PanelTitle.Render(title)+s.st.Dim.Render(" F4"), iw, 1),
			s.fit(s.seclog.View(s.st, iw, ih-1), iw, ih-1)...)
	}
	return s.fit(s.st.PanelBorder.Render(strings.Join(body, "\n")), w, h)
}

// floatingPanel is the panel floating over the chat on a narrow terminal.
func (s *Screen) floatingPanel() string {
	l := s.lay
	w, h := l.chat.w, l.chat.h
	p := s.panels.floating
	if p == panelNone && s.autoHandshake() {
		p = panelHandshake
	}
	if p == panelNone {
		return ""
	}
	if p == panelHandshake {
		h = min(h, handshakePanelHeight)
	}
	return strings.Join(s.framed(p, w, h), "\n")
}

func (s *Screen) helpBox() string {
	l := s.lay
	inner := min(l.w, 80) - s.st.Overlay.GetHorizontalFrameSize()
	title := s.st.PanelTitle.Render("duet: keys and commands")
	body := helpView(s.help, s.keys.FullHelp(), inner)
	mouse := s.st.Dim.Render("duet captures the mouse: hold shift and drag to select text.")
	content := lipgloss.JoinVertical(lipgloss.Left, title, "", body, "", mouse)
	return s.st.Overlay.MaxWidth(l.w).MaxHeight(l.h).Render(content)
}

// center splices box over rows, centred on the screen.
func (s *Screen) center(rows []string, box string) {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	s.splice(rows, box, max(0, (s.lay.w-bw)/2), max(0, (s.lay.h-bh)/2))
}

// splice draws box over rows with its top-left corner at (x, y).
func (s *Screen) splice(rows []string, box string, x, y int) {
	m := s.widthMethod
	for i, line := range strings.Split(box, "\n") {
		r := y + i
		if r < 0 || r >= len(rows) {
			continue
		}
		lw := m.StringWidth(line)
		if x+lw > s.lay.w {
			line = m.Truncate(line, s.lay.w-x, "")
			lw = m.StringWidth(line)
		}
		left := m.Truncate(rows[r], x, "")
		if pad := x - m.StringWidth(left); pad > 0 {
			left += strings.Repeat(" ", pad)
		}
		right := m.TruncateLeft(rows[r], x+lw, "")
		rows[r] = left + "\x1b[m" + line + "\x1b[m" + right
	}
}

// fit cuts or pads str to exactly h rows of w cells.
func (s *Screen) fit(str string, w, h int) []string {
	m := s.widthMethod
	lines := strings.Split(str, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	out := make([]string, h)
	for i := range out {
		var line string
		if i < len(lines) {
			line = lines[i]
		}
		lw := m.StringWidth(line)
		if lw > w {
			line = m.Truncate(line, w, "")
			lw = m.StringWidth(line)
		}
		if strings.IndexByte(line, '\x1b') >= 0 {
			line += "\x1b[m" // a cut style never leaks into the next region
		}
		if lw < w {
			line += strings.Repeat(" ", w-lw)
		}
		out[i] = line
	}
	return out
}
