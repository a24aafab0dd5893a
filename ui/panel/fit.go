package panel

// Layout helpers shared by the panels: every view is built from rows that
// are cut and padded to an exact width, and from blocks of an exact height.

import (
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"duet/ui/style"
	"duet/ui/termsafe"
)

// ellipsis ends a row that had to be cut.
const ellipsis = "…"

// noStyles is used when a caller passes nil styles: plain text, no panic.
var noStyles style.Styles

func styles(st *style.Styles) *style.Styles {
	if st == nil {
		return &noStyles
	}
	return st
}

// clean makes untrusted text (from the peer, from an error, from a file
// name) safe to draw in a panel: the termsafe.Cell policy (widths stay
// exact). It is that policy's short name in this package.
func clean(s string) string { return termsafe.Cell(s) }

// fitRow cuts s (which may hold ANSI styles) to width cells, ending it with
// "…" when it was cut, and pads it with spaces to exactly width cells.
func fitRow(s string, width int) string {
	return fitRowPad(s, width, lipgloss.Style{}, false)
}

// fitRowPad is fitRow with the padding drawn in pad (when styled is true),
// so a bar's background runs to the edge.
func fitRowPad(s string, width int, pad lipgloss.Style, styled bool) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		s = ansi.Truncate(s, width, ellipsis)
		w = ansi.StringWidth(s)
	}
	if w < width {
		fill := strings.Repeat(" ", width-w)
		if styled {
			fill = pad.Render(fill)
		}
		s += fill
	}
	return s
}

// block returns exactly height rows of exactly width cells: lines beyond
// height are dropped, missing ones are blank. A line holding newlines counts
// as several. Zero rows is the empty string; n rows have n-1 newlines.
func block(lines []string, width, height int) string {
	if height <= 0 {
		return ""
	}
	out := make([]string, 0, height)
	for _, l := range lines {
		for _, part := range strings.Split(l, "\n") {
			if len(out) == height {
				break
			}
			out = append(out, fitRow(part, width))
		}
		if len(out) == height {
			break
		}
	}
	for len(out) < height {
		out = append(out, fitRow("", width))
	}
	return strings.Join(out, "\n")
}

// wrap word-wraps plain text to width cells and returns its lines. Words
// longer than a line are broken. Continuation lines are indented by indent
// spaces when there is room for it (indent < width/2).
func wrap(s string, width, indent int) []string {
	if width <= 0 {
		return []string{s}
	}
	if indent < 0 || indent >= width/2 {
		indent = 0
	}
	pad := strings.Repeat(" ", indent)
	var (
		lines     []string
		b         strings.Builder
		w         int // cells in b
		lineStart = true
	)
	newLine := func() {
		lines = append(lines, b.String())
		b.Reset()
		b.WriteString(pad)
		w, lineStart = indent, true
	}
	for _, word := range strings.Fields(s) {
		ww := ansi.StringWidth(word)
		if !lineStart && w+1+ww > width {
			newLine()
		}
		if lineStart && w+ww > width {
			pieces := strings.Split(ansi.Hardwrap(word, width-indent, true), "\n")
			for i, p := range pieces {
				if i > 0 {
					newLine()
				}
				b.WriteString(p)
				w += ansi.StringWidth(p)
			}
			lineStart = false
			continue
		}
		if !lineStart {
			b.WriteByte(' ')
			w++
		}
		b.WriteString(word)
		w += ww
		lineStart = false
	}
	lines = append(lines, b.String())
	return lines
}

// center places lines in the middle of a width×height area: the block is
// centred as a whole (its lines stay aligned), or each line on its own when
// each is true.
func center(lines []string, width, height int, each bool) string {
	if height <= 0 {
		return ""
	}
	var flat []string
	for _, l := range lines {
		flat = append(flat, strings.Split(l, "\n")...)
	}
	if len(flat) > height {
		flat = flat[:height]
	}
	blockW := 0
	for _, l := range flat {
		blockW = max(blockW, ansi.StringWidth(l))
	}
	top := (height - len(flat)) / 2
	out := make([]string, top, height)
	for _, l := range flat {
		w := blockW
		if each {
			w = ansi.StringWidth(l)
		}
		if w < width {
			l = strings.Repeat(" ", (width-w)/2) + l
		}
		out = append(out, l)
	}
	return block(out, width, height)
}

// seg is one field of a one-row bar. Fields are dropped, highest drop
// first, until the bar fits; drop 0 is never dropped (only cut).
type seg struct {
	text  string         // plain text, already sanitized
	style lipgloss.Style // drawn over the bar's base style
	drop  int
	sep   string // drawn before the field unless it is the first shown
}

// bar lays out segs on one row of exactly width cells in base style.
func bar(base lipgloss.Style, segs []seg, width int) string {
	if width <= 0 {
		return ""
	}
	shown := make([]bool, len(segs))
	for i := range segs {
		shown[i] = segs[i].text != ""
	}
	rowWidth := func() int {
		w, first := 1, true // one cell of margin on the left
		for i, s := range segs {
			if !shown[i] {
				continue
			}
			if !first {
				w += ansi.StringWidth(s.sep)
			}
			first = false
			w += ansi.StringWidth(s.text)
		}
		return w
	}
	for rowWidth() > width {
		worst := -1
		for i, s := range segs {
			if shown[i] && s.drop > 0 && (worst < 0 || s.drop > segs[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		shown[worst] = false
	}
	var b strings.Builder
	b.WriteString(base.Render(" "))
	first := true
	for i, s := range segs {
		if !shown[i] {
			continue
		}
		if !first && s.sep != "" {
			b.WriteString(base.Render(s.sep))
		}
		first = false
		b.WriteString(s.style.Inherit(base).Render(s.text))
	}
	return fitRowPad(b.String(), width, base, true)
}
