package screen

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// rawOf returns what the Cmd writes raw to the terminal ("" for nil).
func rawOf(t *testing.T, cmd tea.Cmd) string {
	t.Helper()
	if cmd == nil {
		return ""
	}
	raw, ok := cmd().(tea.RawMsg)
	if !ok {
		t.Fatalf("the Cmd returns %T, want tea.RawMsg", cmd())
	}
	s, _ := raw.Msg.(string)
	return s
}

// TestAttentionAnnounces: a message the user cannot see (terminal blurred,
// or the pane scrolled up) is announced, at most once per notifyEvery; one
// the user sees is not.
func TestAttentionAnnounces(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	var a attention
	if got := rawOf(t, a.arrived("bob", "hi", false, t0)); got != "" {
		t.Errorf("focused, at the bottom: announced %q; want nothing", got)
	}
	if got := rawOf(t, a.arrived("bob", "hi", true, t0)); got != "\a" {
		t.Errorf("scrolled up: announced %q, want the bell", got)
	}
	a.focus(false)
	if got := rawOf(t, a.arrived("bob", "hi", false, t0.Add(time.Second))); got != "" {
		t.Errorf("a second announcement 1 s later: %q, want none (one per %v)", got, notifyEvery)
	}
	if got := rawOf(t, a.arrived("bob", "hi", false, t0.Add(notifyEvery))); got != "\a" {
		t.Errorf("blurred, %v later: announced %q, want the bell", notifyEvery, got)
	}
	if a.focused() {
		t.Error("focused after a blur")
	}
	a.focus(true)
	if !a.focused() {
		t.Error("not focused after a focus report")
	}
}

// TestAttentionModes: off announces nothing, desktop sends
// OSC 9 and OSC 777 naming the peer and not the text unless withText, the
// peer's words cannot end the sequence, and inside tmux it goes through
// the passthrough.
func TestAttentionModes(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	secret := "the pin is 4711\x07\x1b\\"
	for _, c := range []struct {
		name     string
		a        attention
		want     string
		withText bool
	}{
		{"off", attention{mode: NotifyOff}, "", false},
		{"desktop", attention{mode: NotifyDesktop}, "\x1b]9;duet: message from bob\x1b\\\x1b]777;notify;message from bob;\x1b\\", false},
		{"desktop with text", attention{mode: NotifyDesktop, withText: true}, "\x1b]9;duet: message from bob: the pin is 4711\\\x1b\\\x1b]777;notify;message from bob;the pin is 4711\\\x1b\\", true},
		{"desktop in tmux", attention{mode: NotifyDesktop, tmux: true}, "\x1bPtmux;\x1b\x1b]9;duet: message from bob\x1b\x1b\\\x1b\x1b]777;notify;message from bob;\x1b\x1b\\\x1b\\", false},
	} {
		c.a.focus(false)
		got := rawOf(t, c.a.arrived("bob", secret, false, t0))
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if !c.withText && strings.Contains(got, "4711") {
			t.Errorf("%s: the text reached the notification", c.name)
		}
	}
}

func TestParseNotify(t *testing.T) {
	for _, s := range []string{"bell", "desktop", "off"} {
		n, err := ParseNotify(s)
		if err != nil || n.String() != s {
			t.Errorf("ParseNotify(%q) = %v, %v", s, n, err)
		}
	}
	if _, err := ParseNotify("loud"); err == nil || !strings.Contains(err.Error(), "bell, desktop or off") {
		t.Errorf("ParseNotify(loud): %v, want an error listing the values", err)
	}
}
