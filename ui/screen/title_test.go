package screen

import (
	"bytes"
	"os"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// TestKeepTitleRewrites: the title in use is pushed just before duet's
// first title, and the blank title at exit becomes a pop.
func TestKeepTitleRewrites(t *testing.T) {
	var buf bytes.Buffer
	w := KeepTitle(&buf)
	for _, s := range []string{"frame", "\x1b]2;duet — bob\x07", "\x1b]2;duet — bob (1 unread)\x07", "bye\x1b]2;\x07\x1b[?1049l"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	want := "frame" + pushTitle + "\x1b]2;duet — bob\x07" + "\x1b]2;duet — bob (1 unread)\x07" + "bye" + popTitle + "\x1b[?1049l"
	if got := buf.String(); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// A blank title never pushed stays as it is.
	buf.Reset()
	_, _ = KeepTitle(&buf).Write(blankTitle)
	if buf.String() != string(blankTitle) {
		t.Fatalf("blank without push: %q", buf.String())
	}
	// A file stays a file (the program finds the terminal by its Fd).
	if _, ok := KeepTitle(os.Stdout).(interface{ Fd() uintptr }); !ok {
		t.Fatal("KeepTitle(*os.File) lost Fd")
	}
}

// titleModel shows a title and quits on its first key.
type titleModel struct{}

func (titleModel) Init() tea.Cmd { return nil }
func (m titleModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if _, ok := msg.(tea.KeyPressMsg); ok {
		return m, tea.Quit
	}
	return m, nil
}
func (titleModel) View() tea.View {
	v := tea.NewView("hello")
	v.AltScreen = true
	v.WindowTitle = "duet — bob"
	return v
}

// TestKeepTitleProgram: a real Bubble Tea program that sets a title
// leaves the terminal with the title popped (restored), never blanked.
func TestKeepTitleProgram(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader("q")
	p := tea.NewProgram(titleModel{}, tea.WithInput(in), tea.WithOutput(KeepTitle(&out)), tea.WithWindowSize(80, 24))
	if _, err := p.Run(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	push, set, pop := strings.Index(got, pushTitle), strings.Index(got, "\x1b]2;duet — bob\x07"), strings.LastIndex(got, popTitle)
	if push < 0 || set < push || pop < set || strings.Contains(got, string(blankTitle)) {
		t.Fatalf("push %d, title %d, pop %d, blank %v in %q", push, set, pop, strings.Contains(got, string(blankTitle)), got)
	}
}
