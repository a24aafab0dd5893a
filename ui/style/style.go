// Package style holds every style of the full-screen UI in one place.
package style

import (
	"hash/fnv"
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles holds every style the full-screen UI draws with, by meaning rather
// than by look, so that a screen never picks a colour itself. Colours are the
// 16 ANSI colours, which every colour terminal has and which the terminal's
// own theme maps to readable shades; Bubble Tea drops them entirely under
// NO_COLOR or on a terminal without colour. No state is ever shown by colour
// alone: every coloured state also has a word or a mark (see the views).
type Styles struct {
	// Frame.
	Header      lipgloss.Style // the top bar
	HeaderName  lipgloss.Style // a person's name in the header
	StatusBar   lipgloss.Style // the bottom bar
	PanelTitle  lipgloss.Style // a panel's title line
	PanelBorder lipgloss.Style // a side panel's border
	Dim         lipgloss.Style // secondary text: times, hints, fingerprints
	Bold        lipgloss.Style
	Key         lipgloss.Style // a key name in hints

	// Chat.
	Self        lipgloss.Style // our own name
	Time        lipgloss.Style // the time column
	Notice      lipgloss.Style // "* session established", day separators
	Gap         lipgloss.Style // "3 messages never arrived"
	NewMarker   lipgloss.Style // the "new messages" rule
	Queued      lipgloss.Style // delivery mark: queued
	Sent        lipgloss.Style // delivery mark: sent
	Delivered   lipgloss.Style // delivery mark: delivered
	Duplicate   lipgloss.Style // "possible duplicate" flag
	InputPrompt lipgloss.Style

	// State words.
	Good    lipgloss.Style // live, done, verified
	Warn    lipgloss.Style // degraded, waiting, new key
	Bad     lipgloss.Style // down, failed, rejected, key changed
	Neutral lipgloss.Style // known, queued

	// Security log and record inspector.
	Rejected   lipgloss.Style // a rejection line: highlighted
	InspectIn  lipgloss.Style
	InspectOut lipgloss.Style

	// Overlays.
	Overlay      lipgloss.Style // help, /verify, handshake panel when floating
	WarningFrame lipgloss.Style // the key-changed screen's frame
	WarningTitle lipgloss.Style
	FormLabel    lipgloss.Style
	FormError    lipgloss.Style
}

// ANSI colour indices used below.
var (
	colGreen   = lipgloss.Color("2")
	colYellow  = lipgloss.Color("3")
	colBlue    = lipgloss.Color("4")
	colMagenta = lipgloss.Color("5")
	colCyan    = lipgloss.Color("6")
	colGrey    = lipgloss.Color("8")
	colBRed    = lipgloss.Color("9")
	colBGreen  = lipgloss.Color("10")
	colBYellow = lipgloss.Color("11")
	colBBlue   = lipgloss.Color("12")
	colBMag    = lipgloss.Color("13")
	colBCyan   = lipgloss.Color("14")
)

// DefaultStyles returns the styles the UI uses.
func DefaultStyles() Styles {
	s := lipgloss.NewStyle
	return Styles{
		Header:      s().Bold(true).Reverse(true),
		HeaderName:  s().Bold(true),
		StatusBar:   s().Reverse(true),
		PanelTitle:  s().Bold(true).Underline(true),
		PanelBorder: s().Border(lipgloss.NormalBorder()).BorderForeground(colGrey),
		Dim:         s().Foreground(colGrey),
		Bold:        s().Bold(true),
		Key:         s().Bold(true),

		Self:        s().Bold(true).Foreground(colBBlue),
		Time:        s().Foreground(colGrey),
		Notice:      s().Foreground(colGrey).Italic(true),
		Gap:         s().Foreground(colYellow),
		NewMarker:   s().Foreground(colBRed).Bold(true),
		Queued:      s().Foreground(colGrey),
		Sent:        s().Foreground(colGrey),
		Delivered:   s().Foreground(colGreen),
		Duplicate:   s().Foreground(colYellow).Bold(true),
		InputPrompt: s().Bold(true),

		Good:    s().Foreground(colGreen).Bold(true),
		Warn:    s().Foreground(colYellow).Bold(true),
		Bad:     s().Foreground(colBRed).Bold(true),
		Neutral: s().Foreground(colCyan),

		Rejected:   s().Foreground(colBRed).Bold(true),
		InspectIn:  s().Foreground(colCyan),
		InspectOut: s().Foreground(colMagenta),

		Overlay:      s().Border(lipgloss.RoundedBorder()).Padding(0, 1),
		WarningFrame: s().Border(lipgloss.DoubleBorder()).BorderForeground(colBRed).Padding(0, 1),
		WarningTitle: s().Foreground(colBRed).Bold(true),
		FormLabel:    s().Bold(true),
		FormError:    s().Foreground(colBRed),
	}
}

// personColours are the colours a peer's name may take: bright, distinct,
// readable on dark and light themes, and never red (kept for warnings).
var personColours = []color.Color{colGreen, colYellow, colMagenta, colCyan, colBGreen, colBYellow, colBMag, colBCyan, colBlue}

// PersonStyle returns the stable colour of a person, chosen by a hash of a
// stable identifier (the key fingerprint, or the name when no key is known),
// so the same person keeps the same colour across runs.
func PersonStyle(stableID string) lipgloss.Style {
	h := fnv.New32a()
	h.Write([]byte(stableID))
	return lipgloss.NewStyle().Bold(true).Foreground(personColours[h.Sum32()%uint32(len(personColours))])
}
