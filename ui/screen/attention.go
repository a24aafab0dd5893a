package screen

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
	"duet/ui/termsafe"
)

// Notify is how a message that arrives unseen is announced (--notify).
type Notify int

const (
	NotifyBell    Notify = iota // the terminal bell (BEL): the default
	NotifyDesktop               // a desktop notification (OSC 9 and OSC 777)
	NotifyOff                   // nothing: the title's unread count only
)

// ParseNotify reads --notify's value: "bell", "desktop" or "off".
func ParseNotify(s string) (Notify, error) {
	switch s {
	case "bell":
		return NotifyBell, nil
	case "desktop":
		return NotifyDesktop, nil
	case "off":
		return NotifyOff, nil
	}
	return 0, fmt.Errorf("--notify %q: want bell, desktop or off", s)
}

func (n Notify) String() string {
	return [...]string{"bell", "desktop", "off"}[n]
}

// notifyEvery is the shortest time between two announcements: a burst of
// messages rings (or notifies) once, not once each.
const notifyEvery = 5 * time.Second

// attention owns the terminal's focus, as far as duet knows it (it is
// taken to have it until it reports otherwise: terminals without focus
// reporting, and tmux without focus-events, never do), and announces the
// peer's messages that arrive unseen: while the terminal is unfocused or
// the pane is scrolled up. An announcement is what Notify says, at most
// once per notifyEvery, so that a burst rings once. The read receipts ask
// it for the focus (receipts.go); the chat pane counts the unseen messages
// (chat.Pane.Unread, the window title's count) and draws the divider.
//
// A notification names the peer and not the text unless withText: it can
// reach a lock screen or the system's notification history.
type attention struct {
	mode     Notify
	withText bool
	tmux     bool // inside tmux: desktop notifications go through its passthrough
	blurred  bool // the terminal reported that it lost focus
	last     time.Time
}

// focus records a focus report (tea.FocusMsg: true, tea.BlurMsg: false).
func (a *attention) focus(focused bool) { a.blurred = !focused }

// focused reports whether the terminal has focus, as far as duet knows.
func (a *attention) focused() bool { return !a.blurred }

// arrived records a peer message arriving at now; scrolledUp says the
// pane is not at its bottom. It returns the Cmd that announces it, or nil
// when the user can see it, announcements are off, or the last one was
// less than notifyEvery ago.
func (a *attention) arrived(peer, text string, scrolledUp bool, now time.Time) tea.Cmd {
	if !a.blurred && !scrolledUp || a.mode == NotifyOff || now.Sub(a.last) < notifyEvery && !a.last.IsZero() {
		return nil
	}
	a.last = now
	return tea.Raw(a.announcement(peer, text))
}

// peerArrived takes a live peer message just added to the pane (history
// is never announced): unseen while the terminal is unfocused (the pane
// counts it and opens the divider), and announced when unseen.
func (s *Screen) peerArrived(e protocol.MessageEvent, now time.Time) tea.Cmd {
	a := &s.receipts.attn
	if !a.focused() {
		s.chat.MarkUnseen()
	}
	return a.arrived(s.peerName, e.Text, !s.chat.AtBottom(), now)
}

// announcement is the escape sequence of one announcement.
func (a *attention) announcement(peer, text string) string {
	if a.mode == NotifyBell {
		return "\a"
	}
	title, body := "message from "+peer, ""
	if a.withText {
		body = text
	}
	seq := termsafe.Notification(title, body)
	if a.tmux {
		seq = termsafe.Passthrough(seq)
	}
	return seq
}
