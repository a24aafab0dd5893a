package panel

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"duet/crypto"
	"duet/ui/style"
	"duet/ui/words"
)

// section is a run of lines of a full-screen page. When the page is too
// short, sections go, highest drop first; drop 0 stays (then the page is
// cut at the bottom).
type section struct {
	lines []string
	drop  int
}

// stack joins sections with a blank line between them, leaving out
// sections (highest drop first) until the result fits in height rows. If
// the sections kept still do not fit, the blank lines go, and then rows
// from the middle: the first section (the title) and the last (what to
// do) are the last to be cut. ok is false when sections or rows were cut.
func stack(secs []section, height int) (lines []string, ok bool) {
	on := make([]bool, len(secs))
	for i := range secs {
		on[i] = len(secs[i].lines) > 0
	}
	total := func() int {
		n, k := 0, 0
		for i, s := range secs {
			if on[i] {
				n += len(s.lines)
				k++
			}
		}
		return n + max(0, k-1)
	}
	ok = true
	for total() > height {
		worst := -1
		for i, s := range secs {
			if on[i] && s.drop > 0 && (worst < 0 || s.drop > secs[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		on[worst], ok = false, false
	}
	blank := total() <= height
	var kept [][]string
	for i, s := range secs {
		if on[i] {
			kept = append(kept, s.lines)
		}
	}
	for i, s := range kept {
		if i > 0 && blank {
			lines = append(lines, "")
		}
		lines = append(lines, s...)
	}
	if len(lines) <= height {
		return lines, ok
	}
	// Too tall even without blank lines: keep the title, the last section
	// and as much of the middle as fits.
	last := kept[len(kept)-1]
	if len(last) >= height || len(kept) == 1 {
		return lines[:height], false
	}
	head := lines[:height-len(last)]
	if len(head) > 1 {
		head[len(head)-1] = "…" // rows left out here
	}
	return append(head, last...), false
}

// maxPageInner caps the text width of a full-screen page.
const maxPageInner = 76

// page draws sections built for a text width inside frame, centred in a
// width×height area; when the area is too small for the frame, without it.
func page(frame lipgloss.Style, width, height int, build func(inner int) []section) string {
	if height <= 0 {
		return ""
	}
	fh, fv := frame.GetHorizontalFrameSize(), frame.GetVerticalFrameSize()
	if width-fh >= 24 && height-fv >= 6 {
		inner := min(width-fh, maxPageInner)
		if lines, ok := stack(build(inner), height-fv); ok {
			for i := range lines {
				lines[i] = fitRow(lines[i], inner)
			}
			return center(strings.Split(frame.Render(strings.Join(lines, "\n")), "\n"), width, height, false)
		}
		// Too short for everything in a frame: the frame goes first.
	}
	lines, _ := stack(build(min(width, maxPageInner)), height)
	return center(lines, width, height, false)
}

// para wraps plain text to width and styles each line.
func para(s lipgloss.Style, text string, width int) []string {
	lines := wrap(text, width, 0)
	for i, l := range lines {
		lines[i] = s.Render(l)
	}
	return lines
}

// groupRows lays out space-separated groups (of a fingerprint or a safety
// number) per rows of `per` groups, halving per until a row fits in width.
func groupRows(groups []string, per, width int) []string {
	if len(groups) == 0 {
		return nil
	}
	gw := ansi.StringWidth(groups[0])
	for per > 1 && per*(gw+1)-1 > width {
		per /= 2
	}
	var rows []string
	for i := 0; i < len(groups); i += per {
		rows = append(rows, strings.Join(groups[i:min(i+per, len(groups))], " "))
	}
	return rows
}

// KeyChangedInfo describes a peer key that differs from the recorded one.
type KeyChangedInfo struct {
	Peer  string // the peer's name in known_peers
	Known string // recorded or pinned fingerprint, grouped form
	Got   string // presented fingerprint, grouped form
	Path  string // the known_peers file; "" when pinned by --peer-fingerprint
}

// KeyChanged renders the full-screen key-changed warning: both full
// fingerprints, what it may mean, that nothing was sent, and how to accept
// the new key on purpose (type accept and press Enter; typed is what the
// user typed so far) or quit. When the key is pinned (Path "") accepting is
// not offered: --peer-fingerprint must change.
func KeyChanged(st *style.Styles, width, height int, info KeyChangedInfo, typed string) string {
	st = styles(st)
	peer := clean(info.Peer)
	if peer == "" {
		peer = "the peer"
	}
	path := clean(info.Path)
	typed = clean(typed)
	build := func(w int) []section {
		where := "recorded in " + path
		if path == "" {
			where = "pinned with --peer-fingerprint"
		}
		fp := func(label, value string) []string {
			out := []string{st.FormLabel.Render(label)}
			rows := groupRows(fpGroups(value), 16, w-2)
			if len(rows) == 0 {
				rows = []string{"(none)"}
			}
			for _, r := range rows {
				out = append(out, "  "+st.Bold.Render(r))
			}
			return out
		}
		keys := append(fp("recorded key:", info.Known), fp("presented key:", info.Got)...)
		var act []string
		if path != "" {
			act = append(act, para(st.Bold, "To accept the new key on purpose, type accept and press Enter: this replaces the line for "+peer+" in "+path+".", w)...)
			act = append(act, para(lipgloss.Style{}, "To leave without accepting, press q or ctrl+c.", w)...)
			shown := typed
			if room := w - 3; room > 1 && ansi.StringWidth(shown) > room {
				// Keep the end, where the cursor is.
				shown = ellipsis + ansi.TruncateLeft(shown, ansi.StringWidth(shown)-room+1, "")
			}
			input := st.InputPrompt.Render("> ") + shown + "_"
			act = append(act, input)
			switch {
			case typed == "accept":
				act = append(act, para(st.Warn, "press Enter to accept the new key", w)...)
			case typed != "" && !strings.HasPrefix("accept", typed):
				act = append(act, para(st.FormError, "type exactly: accept", w)...)
			}
		} else {
			act = append(act, para(st.Bold, "This key is pinned with --peer-fingerprint, so it cannot be accepted here. If the new key is right, restart duet with --peer-fingerprint set to the presented key.", w)...)
			act = append(act, para(lipgloss.Style{}, "Press q or ctrl+c to quit.", w)...)
		}
		return []section{
			{lines: para(st.WarningTitle, "! WARNING: THE PEER'S KEY HAS CHANGED !", w)},
			{lines: para(lipgloss.Style{}, "The key "+peer+" presented is not the one "+where+".", w), drop: 1},
			{lines: keys},
			{lines: para(lipgloss.Style{}, "This may mean that the peer reinstalled duet or changed its --identity, or that someone is intercepting the connection (a man-in-the-middle).", w), drop: 2},
			{lines: para(st.Good, "Nothing was sent to this key: your messages wait.", w), drop: 3},
			{lines: para(st.Dim, "Before accepting, check the presented key with your peer over another channel (in person, by phone).", w), drop: 4},
			{lines: act},
		}
	}
	return page(st.WarningFrame, width, height, build)
}

// SafetyGroups splits a safety number into its groups of 5 digits (12 for
// a well-formed one). Anything but digits is ignored; nil when there are
// no digits.
func SafetyGroups(safetyNumber string) []string {
	var digits []byte
	for i := 0; i < len(safetyNumber); i++ {
		if c := safetyNumber[i]; c >= '0' && c <= '9' {
			digits = append(digits, c)
		}
	}
	var g []string
	for i := 0; i < len(digits); i += 5 {
		g = append(g, string(digits[i:min(i+5, len(digits))]))
	}
	return g
}

// Verify renders the /verify overlay: the safety number in 4 rows of 3
// groups of 5 digits, the peer's full fingerprint, what to do (compare over
// another channel; y marks the peer verified, n or esc closes) and the
// current trust.
func Verify(st *style.Styles, width, height int, safetyNumber, peerFP string, trust crypto.Trust) string {
	st = styles(st)
	build := func(w int) []section {
		sn := []string{st.FormLabel.Render("Safety number")}
		if g := SafetyGroups(safetyNumber); len(g) > 0 {
			for _, r := range groupRows(g, 3, w-2) {
				sn = append(sn, "  "+st.Bold.Render(r))
			}
		} else {
			sn = append(sn, "  "+st.Dim.Render("none yet: no session"))
		}
		fp := []string{st.FormLabel.Render("Peer fingerprint")}
		if rows := groupRows(fpGroups(peerFP), 16, w-2); len(rows) > 0 {
			for _, r := range rows {
				fp = append(fp, "  "+r)
			}
		} else {
			fp = append(fp, "  "+st.Dim.Render("none yet"))
		}
		keys := []string{
			"press " + st.Key.Render("y") + " if they match, to mark the peer verified",
			"press " + st.Key.Render("n") + " or " + st.Key.Render("esc") + " to close",
		}
		if ansi.StringWidth(keys[0]) > w {
			keys = []string{st.Key.Render("y") + ": match, verified · " + st.Key.Render("n") + "/" + st.Key.Render("esc") + ": close"}
		}
		return []section{
			{lines: para(st.PanelTitle, "Verify your peer's key", w)},
			{lines: sn},
			{lines: fp, drop: 2},
			{lines: para(lipgloss.Style{}, "Compare the safety number with your peer over another channel (in person or by phone, not in this chat). It is the same on both sides.", w), drop: 3},
			{lines: keys},
			{lines: []string{"trust now: " + TrustStyle(st, trust).Render(words.Trust(trust))}, drop: 1},
		}
	}
	return page(st.Overlay, width, height, build)
}

// TooSmall renders, centred, the terminal's size and the minimum the UI
// needs; each line wraps at spaces to the width, so the notice is never
// itself cut (the hint goes first when the height is short).
func TooSmall(st *style.Styles, width, height, minWidth, minHeight int) string {
	st = styles(st)
	var lines []string
	add := func(s lipgloss.Style, text string) {
		for _, ln := range wrap(text, width, 0) {
			lines = append(lines, s.Render(ln))
		}
	}
	add(st.Warn, "terminal too small")
	add(lipgloss.NewStyle(), fmt.Sprintf("now %d×%d", width, height))
	add(lipgloss.NewStyle(), fmt.Sprintf("needs at least %d×%d", minWidth, minHeight))
	hint := wrap("enlarge the window, or press ctrl+c to quit", width, 0)
	if len(lines)+1+len(hint) <= height {
		lines = append(lines, "")
		add(st.Dim, "enlarge the window, or press ctrl+c to quit")
	}
	return center(lines, width, height, true)
}

// FingerprintRows lays a fingerprint out as /verify does: rows of 8
// groups of 4, halved until a row fits in width, so that no group is ever
// split across lines. A fingerprint without spaces is grouped first.
func FingerprintRows(fp string, width int) []string {
	return groupRows(fpGroups(fp), 8, width)
}
