package screen

import (
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

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

// attention knows whether the user can see a new message: the terminal
// has focus (it is taken to have it until it reports otherwise: terminals
// without focus reporting never do) and the pane is at its bottom. A peer
// message that arrives otherwise is unseen: it is counted for the window
// title and announced as Notify says, at most once per notifyEvery.
//
// A notification names the peer and not the text unless withText: it can
// reach a lock screen or the system's notification history.
type attention struct {
	mode     Notify
	withText bool
	tmux     bool // inside tmux: desktop notifications go through its passthrough
	blurred  bool // the terminal reported that it lost focus
	unseen   int  // peer messages that arrived while blurred
	last     time.Time
}

// focus records a focus report (tea.FocusMsg: true, tea.BlurMsg: false).
// Regaining focus makes the messages that arrived while blurred seen.
func (a *attention) focus(focused bool) {
	a.blurred = !focused
	if focused {
		a.unseen = 0
	}
}

// focused reports whether the terminal has focus, as far as duet knows.
func (a *attention) focused() bool { return !a.blurred }

// arrived records a peer message arriving at now; scrolledUp says the
// pane is not at its bottom (the pane counts those unread itself). It
// returns the Cmd that announces it, or nil when the user can see it,
// announcements are off, or the last one was less than notifyEvery ago.
func (a *attention) arrived(peer, text string, scrolledUp bool, now time.Time) tea.Cmd {
	if a.blurred {
		a.unseen++
	}
	if !a.blurred && !scrolledUp || a.mode == NotifyOff || now.Sub(a.last) < notifyEvery && !a.last.IsZero() {
		return nil
	}
	a.last = now
	return tea.Raw(a.announcement(peer, text))
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
