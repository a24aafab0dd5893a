package screen

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"duet/protocol"
	"duet/ui/panel"
	"duet/ui/style"
	"duet/ui/words"
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
		s.center(rows, s.blankSides(s.helpBox()))
	case overlayVerify:
		// A modal page: the panel centres itself, framed when it fits.
		h := l.h - l.header.h
		box := strings.Join(s.fit(panel.Verify(s.st, l.w, h, s.safety, s.peerFP, s.trust), l.w, h), "\n")
		s.splice(rows, box, 0, l.header.h)
	}
	return strings.Join(rows, "\n")
}

// separator is the rule between the chat and the input: hints, the unread
// count while scrolled up, or that we are leaving. Hints that do not fit
// are left out whole, least useful first, never cut mid-word.
func (s *Screen) separator(w int) string {
	room := w - 3 // "─ " before the label, one space after it
	var label string
	switch {
	case s.quitting:
		label = s.st.Warn.Render("leaving: telling the peer…")
	case len(s.aids.compl.cands) > 0: // complete.go
		label = s.completionHint(room)
	case s.aids.search.active: // search.go
		label = s.searchHint(room)
	case !s.chat.AtBottom():
		if n := s.chat.Unread(); n > 0 {
			label = s.st.NewMarker.Render(hintFit([]string{fmt.Sprintf("↓ %d new", n), "ctrl+end to jump down"}, []int{1}, room))
		} else {
			label = s.st.Dim.Render(hintFit([]string{"scrolled up", "ctrl+end to jump down"}, []int{0}, room))
		}
	case s.receipts.peerTyping:
		label = s.st.Dim.Render(s.typingHint())
	case s.lay.side.w == 0 && s.panels.floating != panelNone:
		label = s.st.Dim.Render(hintFit([]string{"esc closes the panel", "f2 handshake", "f3 records", "f4 security log"}, []int{1, 2, 3}, room))
	case s.lay.side.w == 0 && s.autoHandshake():
		label = s.st.Dim.Render(hintFit([]string{"esc hides the handshake panel", "? help", s.ctrlCHint()}, []int{1, 2}, room))
	case s.lay.side.w == 0 && !s.encrypted:
		// The handshake panel no longer opens by itself: say where we are
		// and where to look.
		label = s.st.Dim.Render(hintFit([]string{s.sessionHint(), "f2 handshake", "? help", s.ctrlCHint()}, []int{2, 1}, room))
	default:
		label = s.st.Dim.Render(hintFit([]string{"enter send", "alt+enter/ctrl+j new line", "? help", s.ctrlCHint()}, []int{1, 0, 2}, room))
	}
	rule := s.st.Dim.Render("─ ")
	used := lipgloss.Width(rule) + lipgloss.Width(label) + 1
	if used >= w {
		return rule + label
	}
	return rule + label + " " + s.st.Dim.Render(strings.Repeat("─", w-used))
}

// sessionHint says, while no session is up, what duet is doing.
func (s *Screen) sessionHint() string {
	switch s.status.Liveness() {
	case string(protocol.LiveWaiting), string(protocol.LiveDown), "left":
		return words.WaitingForPeer
	case words.StatusKeyRefused:
		return words.KeyRefusedHint
	}
	return words.NoSessionYet
}

// hintFit joins items with " · ", first leaving out the items drop names
// (indexes into items, in order) until the rest fits in w cells.
func hintFit(items []string, drop []int, w int) string {
	out := make([]bool, len(items))
	join := func() string {
		var kept []string
		for i, it := range items {
			if !out[i] {
				kept = append(kept, it)
			}
		}
		return strings.Join(kept, " · ")
	}
	h := join()
	for _, d := range drop {
		if lipgloss.Width(h) <= w {
			break
		}
		out[d] = true
		h = join()
	}
	return h
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
		pings := "pings shown F5"
		if !s.insp.ShowLiveness() {
			pings = fmt.Sprintf("%d pings hidden F5", s.insp.Hidden())
		}
		title := "Records in and out"
		hint := " " + hintFit([]string{"F3", pings}, []int{0, 1}, iw-lipgloss.Width(title)-1)
		body = append(s.fit(s.st.PanelTitle.Render(title)+s.st.Dim.Render(hint), iw, 1),
			s.fit(s.insp.View(s.st, iw, ih-1), iw, ih-1)...)
	case panelSecurityLog:
		title := "Security log"
		if n := s.seclog.Count(); n > 0 {
			title += fmt.Sprintf(" · %d rejected", n)
		}
		if n := s.seclog.Actions(); n > 0 {
			title += fmt.Sprintf(" · %d by you", n)
		}
		hint := " F4"
		if lipgloss.Width(title+hint) > iw {
			hint = ""
		}
		body = append(s.fit(s.st.PanelTitle.Render(title)+s.st.Dim.Render(hint), iw, 1),
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

// helpBox is the help overlay: the keys in two groups, then the commands
// in one table (one key column width for all of them). A box taller than
// the screen shows a window of its lines with a scroll hint as its last
// row (↑/↓, pgup/pgdn move it) and keeps its border.
func (s *Screen) helpBox() string {
	l := s.lay
	lines := s.helpLines(s.helpInner())
	avail := max(1, l.h-s.st.Overlay.GetVerticalFrameSize())
	lines = helpWindow(s.st, lines, avail, s.panels.helpScroll)
	return s.st.Overlay.Render(strings.Join(lines, "\n"))
}

// ctrlCHint says what ctrl+c does now: with a draft it clears it (a
// second one quits).
func (s *Screen) ctrlCHint() string {
	if s.input.Value() != "" {
		return "ctrl+c clear"
	}
	return "ctrl+c quit"
}

// helpInner is the width inside the help box's frame.
func (s *Screen) helpInner() int {
	return min(s.lay.w, 80) - s.st.Overlay.GetHorizontalFrameSize()
}

// helpLines is the help's content, each line at most inner cells.
func (s *Screen) helpLines(inner int) []string {
	groups := s.keys.FullHelp()
	lines := []string{s.st.PanelTitle.Render(words.HelpTitle), ""}
	lines = append(lines, strings.Split(helpView(s.help, groups[:2], inner), "\n")...)
	lines = append(lines, "")
	lines = append(lines, commandTable(s.st, s.keys.Commands, inner)...)
	lines = append(lines, "")
	for _, text := range append([]string{words.HelpClearHistory, words.HelpMarks}, words.HelpAttention...) {
		for _, ln := range strings.Split(ansi.Wrap(text, inner, ""), "\n") {
			lines = append(lines, s.st.Dim.Render(ln))
		}
	}
	return lines
}

// helpWindow returns at most avail of lines from the scroll offset off
// (clamped); when they do not all fit, the last row says so and how to
// scroll.
func helpWindow(st *style.Styles, lines []string, avail, off int) []string {
	if len(lines) <= avail {
		return lines
	}
	shown := max(1, avail-1)
	off = max(0, min(off, len(lines)-shown))
	out := append([]string(nil), lines[off:off+shown]...)
	if avail > 1 {
		out = append(out, st.Dim.Render(words.HelpMore(off+1, off+shown, len(lines))))
	}
	return out
}

// commandTable lays the commands out with one key column width: in two
// columns when each description still gets minHelpDesc cells, else in one.
// A command whose description does not fit its column follows the table
// on a row of its own, wrapped at spaces or "|" with a hanging indent.
func commandTable(st *style.Styles, cmds []key.Binding, width int) []string {
	kw := 0
	for _, c := range cmds {
		kw = max(kw, lipgloss.Width(c.Help().Key))
	}
	colW := (width - len(helpColSep)) / 2
	if colW-kw-1 < minHelpDesc {
		colW = width
	}
	var short, long [][]string
	for _, c := range cmds {
		if cell := commandCell(st, c, kw, colW); len(cell) == 1 || colW == width {
			short = append(short, cell)
		} else {
			long = append(long, commandCell(st, c, kw, width))
		}
	}
	var out []string
	if colW == width {
		out = pairColumns(short, len(short), colW)
	} else {
		out = pairColumns(short, (len(short)+1)/2, colW)
	}
	for _, c := range long {
		out = append(out, c...)
	}
	return out
}

// minHelpDesc is the narrowest description column of a two-column table.
const minHelpDesc = 18

// helpColSep separates the help's columns.
const helpColSep = "   "

// commandCell renders one command: its key padded to kw, a space, and the
// description wrapped to the rest of colW with a hanging indent.
func commandCell(st *style.Styles, c key.Binding, kw, colW int) []string {
	h := c.Help()
	dw := max(1, colW-kw-1)
	desc := strings.Split(ansi.Wrap(h.Desc, dw, "|"), "\n")
	pad := strings.Repeat(" ", kw-lipgloss.Width(h.Key))
	out := []string{st.Key.Render(h.Key) + pad + " " + desc[0]}
	for _, d := range desc[1:] {
		out = append(out, strings.Repeat(" ", kw+1)+d)
	}
	return out
}

// pairColumns puts cells[:half] on the left and the rest on the right,
// entry beside entry, the left one padded to colW.
func pairColumns(cells [][]string, half, colW int) []string {
	var out []string
	for i := 0; i < half; i++ {
		left := cells[i]
		var right []string
		if half+i < len(cells) {
			right = cells[half+i]
		}
		for j := 0; j < max(len(left), len(right)); j++ {
			var l, r string
			if j < len(left) {
				l = left[j]
			}
			if j < len(right) {
				r = right[j]
			}
			if r == "" {
				out = append(out, l)
				continue
			}
			out = append(out, l+strings.Repeat(" ", max(0, colW-lipgloss.Width(l)))+helpColSep+r)
		}
	}
	return out
}

// blankSides pads each row of a box centred on the screen with spaces to
// the screen's width, so no text from below shows beside it.
func (s *Screen) blankSides(box string) string {
	lines := strings.Split(box, "\n")
	bw := lipgloss.Width(box)
	left := max(0, (s.lay.w-bw)/2)
	right := max(0, s.lay.w-bw-left)
	for i, ln := range lines {
		lines[i] = strings.Repeat(" ", left) + ln + "\x1b[m" + strings.Repeat(" ", right)
	}
	return strings.Join(lines, "\n")
}

// center splices box over rows, centred on the screen.
func (s *Screen) center(rows []string, box string) {
	bw, bh := lipgloss.Width(box), lipgloss.Height(box)
	s.splice(rows, box, max(0, (s.lay.w-bw)/2), max(0, (s.lay.h-bh)/2))
}

// splice draws box over rows with its top-left corner at (x, y).
func (s *Screen) splice(rows []string, box string, x, y int) {
	m := s.chat.WidthMethod() // the pane follows the renderer (handleModeReport)
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
	m := s.chat.WidthMethod() // the pane follows the renderer (handleModeReport)
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
