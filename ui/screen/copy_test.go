package screen

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"duet/protocol"
	"duet/ui/termsafe"
)

// rawOutput runs cmd (and the Cmds of a batch) and returns what they ask
// to write to the terminal raw (tea.Raw), in order.
func rawOutput(t *testing.T, cmd tea.Cmd) []string {
	t.Helper()
	if cmd == nil {
		return nil
	}
	res := make(chan tea.Msg, 1)
	go func() { res <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-res:
	case <-time.After(2 * time.Second):
		return nil // a tick
	}
	switch m := msg.(type) {
	case tea.RawMsg:
		return []string{fmt.Sprint(m.Msg)}
	case tea.BatchMsg:
		var out []string
		for _, c := range m {
			out = append(out, rawOutput(t, c)...)
		}
		return out
	}
	return nil
}

// runCommand types line, presses enter and returns the raw output asked.
func runCommand(t *testing.T, s *Screen, line string) []string {
	t.Helper()
	drive(t, s, typeText(line)...)
	_, cmd := s.Update(keyPress(tea.KeyEnter))
	return rawOutput(t, cmd)
}

// osc52 returns the text an OSC 52 sequence copies.
func osc52(t *testing.T, seq string) string {
	t.Helper()
	payload, ok := strings.CutPrefix(seq, "\x1b]52;c;")
	if !ok || !strings.HasSuffix(payload, "\x1b\\") {
		t.Fatalf("%q is not an OSC 52 sequence", seq)
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(payload, "\x1b\\"))
	if err != nil {
		t.Fatal(err)
	}
	return string(dec)
}

// TestScreenCopy: /copy puts the newest message on the clipboard as
// written (no time, name or indent), /copy 2 the one before; the notice
// says whose and how many characters, never the text; inside tmux the
// sequence is also sent through passthrough.
func TestScreenCopy(t *testing.T) {
	t.Setenv("TMUX", "")
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	drive(t, s, established()...)
	const peerText = "secret plans:\n\tstep one, then 👋🏽 https://example.org/a-b"
	drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: 7, Seq: 3, Text: peerText, SentAt: screenT0, ShownAt: screenT0}})
	drive(t, s, typeText("my own words")...)
	drive(t, s, keyPress(tea.KeyEnter))

	out := runCommand(t, s, "/copy")
	if len(out) != 1 || out[0] != termsafe.Clipboard("my own words") || osc52(t, out[0]) != "my own words" {
		t.Fatalf("/copy wrote %q, want the OSC 52 of our message", out)
	}
	if scr := screenText(t, s); !strings.Contains(scr, "copied your message (12 chars)") {
		t.Errorf("no notice for /copy:\n%s", scr)
	}

	out = runCommand(t, s, "/copy 2")
	if len(out) != 1 || osc52(t, out[0]) != peerText {
		t.Fatalf("/copy 2 wrote %q, want the OSC 52 of %q", out, peerText)
	}
	scr := screenText(t, s)
	if want := fmt.Sprintf("copied bob's message (%d chars)", len([]rune(peerText))); !strings.Contains(scr, want) {
		t.Errorf("screen lacks %q:\n%s", want, scr)
	}
	if n := strings.Count(scr, "secret plans"); n != 1 {
		t.Errorf("the message text is on screen %d times, want once (the notice never shows it):\n%s", n, scr)
	}

	t.Setenv("TMUX", "/tmp/tmux-0/default,1,0")
	out = runCommand(t, s, "/copy")
	if seq := termsafe.Clipboard("my own words"); len(out) != 1 || out[0] != seq+termsafe.Passthrough(seq) {
		t.Errorf("/copy in tmux wrote %q, want OSC 52 and its passthrough", out)
	}
}

// TestScreenCopyErrors: a count past the oldest message, a bad count and
// an empty chat each give a clear notice and copy nothing.
func TestScreenCopyErrors(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	if out := runCommand(t, s, "/copy"); len(out) != 0 {
		t.Errorf("/copy with no message wrote %q", out)
	}
	drive(t, s, established()...)
	drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: 7, Seq: 3, Text: "one", SentAt: screenT0, ShownAt: screenT0}})
	for _, line := range []string{"/copy 5", "/copy x", "/copy 0", "/copy -1"} {
		if out := runCommand(t, s, line); len(out) != 0 {
			t.Errorf("%s wrote %q", line, out)
		}
	}
	scr := strings.ReplaceAll(screenText(t, s), "\n", " ")
	for _, want := range []string{"nothing to copy: no message in view", "no message 5 to copy: 1 message from the bottom one in view up", "/copy N: N counts messages up from the bottom one in view"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
}

// TestScreenCopyScrolled: scrolled up, /copy takes the bottom message on
// screen, not the newest.
func TestScreenCopyScrolled(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	drive(t, s, established()...)
	for i := range 40 {
		drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: uint64(100 + i), Seq: uint32(3 + i), Text: fmt.Sprintf("line m%02d", i), SentAt: screenT0, ShownAt: screenT0}})
	}
	drive(t, s, keyPress(tea.KeyPgUp))
	scr := screenText(t, s)
	shown := regexp.MustCompile(`line m\d\d`).FindAllString(scr, -1)
	if len(shown) == 0 || shown[len(shown)-1] == "line m39" {
		t.Fatalf("pgup did not scroll:\n%s", scr)
	}
	out := runCommand(t, s, "/copy")
	if len(out) != 1 || osc52(t, out[0]) != shown[len(shown)-1] {
		t.Errorf("/copy scrolled up wrote %q, want the bottom message on screen %q", out, shown[len(shown)-1])
	}
}

// TestScreenLinksFollowColorProfile: web addresses are OSC 8 links in
// the frame where colours are on; under NO_COLOR (ASCII) and on a dumb
// terminal (NoTTY) there is none.
func TestScreenLinksFollowColorProfile(t *testing.T) {
	const url = "https://example.org/some-path?q=1"
	link := regexp.MustCompile("\x1b\\]8;id=[A-Za-z0-9._-]+;" + regexp.QuoteMeta(url) + "\x1b\\\\" + regexp.QuoteMeta(url) + "\x1b\\]8;;\x1b\\\\")
	for _, c := range []struct {
		profile colorprofile.Profile
		links   bool
	}{{colorprofile.TrueColor, true}, {colorprofile.ANSI, true}, {colorprofile.ASCII, false}, {colorprofile.NoTTY, false}} {
		for _, size := range [][2]int{{80, 24}, {120, 40}} {
			s := newTestScreen(testConfig(newFakeNode()))
			drive(t, s, tea.ColorProfileMsg{Profile: c.profile}, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			drive(t, s, established()...)
			drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: 7, Seq: 3, Text: "look " + url + " now", SentAt: screenT0, ShownAt: screenT0}})
			v := s.View().Content
			if got := link.MatchString(v); got != c.links {
				t.Errorf("%v at %dx%d: link %v, want %v", c.profile, size[0], size[1], got, c.links)
			}
			if !c.links && strings.Contains(v, "\x1b]8;") {
				t.Errorf("%v: frame has OSC 8", c.profile)
			}
			if !strings.Contains(screenText(t, s), "look "+url+" now") {
				t.Errorf("%v at %dx%d: the text is not intact:\n%s", c.profile, size[0], size[1], screenText(t, s))
			}
		}
	}
}
