package screen

import (
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"

	"duet/ui/style"
)

// KeyMap is every key the full-screen UI reacts to. It is the single
// source of both the key handling and the help overlay. Bindings marked
// "help only" are never matched: they label a group of keys in the help
// (as "pgup/pgdn") or an action of the terminal or mouse.
type KeyMap struct {
	Quit     key.Binding
	Help     key.Binding
	Send     key.Binding
	Newline  key.Binding
	History  key.Binding // help only: up/down
	PrevLine key.Binding
	NextLine key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Page     key.Binding // help only: pgup/pgdn
	Top      key.Binding // home, when the input is empty
	Bottom   key.Binding // end, when the input is empty
	Ends     key.Binding // help only: home/end
	// TopAlways and BottomAlways scroll even while the input has text
	// (home/end then move within the input line).
	TopAlways    key.Binding
	BottomAlways key.Binding
	EndsAlways   key.Binding // help only: ctrl+home/end
	Handshake    key.Binding
	Inspector    key.Binding
	Pings        key.Binding
	SecurityLog  key.Binding
	Close        key.Binding
	Select       key.Binding // help only: shift+drag
	Confirm      key.Binding // /verify overlay
	Decline      key.Binding // /verify overlay
	// Search mode (/search): n and N, while the input is empty.
	SearchOlder  key.Binding
	SearchNewer  key.Binding
	Complete     key.Binding // tab: complete a /command
	CompleteBack key.Binding // shift+tab: the previous candidate
	Edit         key.Binding // help only: ctrl+x ctrl+e (editor.go)
	// Redraw clears the terminal and draws the screen again, as ctrl+l
	// does in weechat, irssi, vim and less: for a screen another program
	// wrote over, or a terminal that lost a frame.
	Redraw key.Binding

	// Commands, help only.
	Commands []key.Binding
}

// commands are the slash commands, in the order help lists them.
var commands = []struct{ name, help string }{
	{"/help", "this help"},
	{"/quit", "leave (tells the peer)"},
	{"/verify", "check the safety number"},
	{"/fingerprint", "show both fingerprints"},
	{"/search", "find text; n/N move"},
	{"/edit", "write in $EDITOR"},
	{"/replay", "attack demo: resend"},
	{"/rekey", "move to fresh keys now"},
	{"/copy", "copy message (/copy N)"},
	{"/clear", "clear the screen"},
	{"//text", "send a leading /"},
}

// helpOnly makes a binding that labels keys in the help but never matches.
func helpOnly(keys, desc string) key.Binding {
	return key.NewBinding(key.WithKeys("help:"+keys), key.WithHelp(keys, desc))
}

// DefaultKeyMap returns the key bindings of the full-screen UI; the
// help lists extra's commands after duet's own.
func DefaultKeyMap(extra ...ExtraCommand) KeyMap {
	nb := key.NewBinding
	k := KeyMap{
		Quit:         nb(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "clear input, else quit")),
		Help:         nb(key.WithKeys("?", "f1"), key.WithHelp("? / f1", "help (? if input empty)")),
		Send:         nb(key.WithKeys("enter"), key.WithHelp("enter", "send")),
		Newline:      nb(key.WithKeys("alt+enter", "ctrl+j", "shift+enter"), key.WithHelp("alt+enter", "new line (or ctrl+j)")),
		History:      helpOnly("↑ / ↓", "earlier input"),
		PrevLine:     nb(key.WithKeys("up")),
		NextLine:     nb(key.WithKeys("down")),
		PageUp:       nb(key.WithKeys("pgup")),
		PageDown:     nb(key.WithKeys("pgdown")),
		Page:         helpOnly("pgup/pgdn", "scroll (wheel too)"),
		Top:          nb(key.WithKeys("home")),
		Bottom:       nb(key.WithKeys("end")),
		Ends:         helpOnly("home/end", "top/bottom, no input"),
		TopAlways:    nb(key.WithKeys("ctrl+home")),
		BottomAlways: nb(key.WithKeys("ctrl+end")),
		EndsAlways:   helpOnly("ctrl+home/end", "top/bottom"),
		Handshake:    nb(key.WithKeys("f2"), key.WithHelp("f2", "handshake panel")),
		Inspector:    nb(key.WithKeys("f3"), key.WithHelp("f3", "record inspector")),
		Pings:        nb(key.WithKeys("f5"), key.WithHelp("f5", "inspector: pings")),
		SecurityLog:  nb(key.WithKeys("f4"), key.WithHelp("f4", "security log")),
		Close:        nb(key.WithKeys("esc"), key.WithHelp("esc", "close overlay")),
		Select:       helpOnly("shift+drag", "select text"),
		Confirm:      nb(key.WithKeys("y", "Y"), key.WithHelp("y", "confirm")),
		Decline:      nb(key.WithKeys("n", "N", "esc"), key.WithHelp("n / esc", "cancel")),
		SearchOlder:  nb(key.WithKeys("n"), key.WithHelp("n / N", "older/newer match")),
		SearchNewer:  nb(key.WithKeys("N")),
		Complete:     nb(key.WithKeys("tab"), key.WithHelp("tab", "complete a /command")),
		CompleteBack: nb(key.WithKeys("shift+tab")),
		Edit:         helpOnly("ctrl+x ctrl+e", "draft in $EDITOR"),
		Redraw:       nb(key.WithKeys("ctrl+l"), key.WithHelp("ctrl+l", "redraw the screen")),
	}
	for _, c := range commands {
		k.Commands = append(k.Commands, helpOnly(c.name, c.help))
	}
	for _, c := range extra {
		k.Commands = append(k.Commands, helpOnly(c.Name, c.Help))
	}
	return k
}

// ShortHelp implements help.KeyMap.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Send, k.Newline, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap: every key and command, in groups
// (commands split in two columns).
func (k KeyMap) FullHelp() [][]key.Binding {
	half := (len(k.Commands) + 1) / 2
	return [][]key.Binding{
		{k.Send, k.Newline, k.History, k.Complete, k.Edit, k.Help, k.Close, k.Quit, k.Select},
		{k.Page, k.Ends, k.EndsAlways, k.SearchOlder, k.Handshake, k.Inspector, k.Pings, k.SecurityLog, k.Redraw},
		k.Commands[:half],
		k.Commands[half:],
	}
}

// newHelp returns a help model drawn with the UI's styles only.
func newHelp(st *style.Styles) help.Model {
	h := help.New()
	h.Styles = help.Styles{
		Ellipsis:       st.Dim,
		ShortKey:       st.Key,
		ShortDesc:      st.Dim,
		ShortSeparator: st.Dim,
		FullKey:        st.Key,
		FullDesc:       lipgloss.NewStyle(),
		FullSeparator:  st.Dim,
	}
	h.FullSeparator = "   "
	return h
}

// helpView lays the help groups out in as many columns as fit in width,
// wrapping groups onto further rows rather than cutting any off (help's own
// full view drops the columns that do not fit).
func helpView(h help.Model, groups [][]key.Binding, width int) string {
	h.SetWidth(0)
	var rows []string
	var row []string
	rowW := 0
	sep := "   "
	for _, g := range groups {
		col := h.FullHelpView([][]key.Binding{g})
		w := lipgloss.Width(col)
		if len(row) > 0 && rowW+len(sep)+w > width {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, rowW = nil, 0
		}
		if len(row) > 0 {
			row = append(row, sep)
			rowW += len(sep)
		}
		row = append(row, col)
		rowW += w
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	return strings.Join(rows, "\n\n")
}
