package screen

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func tabKey() tea.KeyPressMsg      { return keyPress(tea.KeyTab) }
func shiftTabKey() tea.KeyPressMsg { return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift} }

func TestCompletion(t *testing.T) {
	tests := []struct {
		name  string
		draft string
		keys  []tea.KeyPressMsg
		want  []string // the input after each key
	}{
		{"unique", "/rek", []tea.KeyPressMsg{tabKey()}, []string{"/rekey"}},
		{"cycle", "/re", []tea.KeyPressMsg{tabKey(), tabKey(), tabKey()}, []string{"/replay", "/rekey", "/replay"}},
		{"cycle back", "/re", []tea.KeyPressMsg{tabKey(), shiftTabKey(), shiftTabKey()}, []string{"/replay", "/rekey", "/replay"}},
		{"shift+tab first", "/re", []tea.KeyPressMsg{shiftTabKey()}, []string{"/rekey"}},
		{"argument", "/se", []tea.KeyPressMsg{tabKey()}, []string{"/search "}},
		{"common prefix, then clear history", "/cl", []tea.KeyPressMsg{tabKey(), tabKey(), tabKey()}, []string{"/clear", "/clear history", "/clear"}},
		{"clear history", "/clear h", []tea.KeyPressMsg{tabKey()}, []string{"/clear history"}},
		{"extra command", "/at", []tea.KeyPressMsg{tabKey()}, []string{"/attack "}},
		{"edit", "/ed", []tea.KeyPressMsg{tabKey()}, []string{"/edit "}},
		{"upper case", "/REK", []tea.KeyPressMsg{tabKey()}, []string{"/rekey"}},
		{"message", "hello", []tea.KeyPressMsg{tabKey()}, []string{"hello"}},
		{"leading slash message", "//re", []tea.KeyPressMsg{tabKey()}, []string{"//re"}},
		{"unknown", "/zz", []tea.KeyPressMsg{tabKey()}, []string{"/zz"}},
		{"with arguments", "/search foo", []tea.KeyPressMsg{tabKey()}, []string{"/search foo"}},
		{"empty", "", []tea.KeyPressMsg{tabKey()}, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(newFakeNode())
			cfg.Extra = []ExtraCommand{{Name: "/attack", Help: "demo", Run: func(string) (string, error) { return "", nil }}}
			s := newTestScreen(cfg)
			drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
			drive(t, s, typeText(tc.draft)...)
			for i, k := range tc.keys {
				drive(t, s, k)
				if got := s.input.Value(); got != tc.want[i] {
					t.Fatalf("after key %d (%s): input %q, want %q", i+1, k.String(), got, tc.want[i])
				}
			}
		})
	}
}

func TestCompletionListsCandidatesInTheFooter(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
	drive(t, s, typeText("/re")...)
	drive(t, s, tabKey())
	if sep := separatorRow(t, s); !strings.Contains(sep, "[/replay] /rekey") {
		t.Fatalf("separator %q, want the candidates, the current one marked", sep)
	}
	drive(t, s, tabKey())
	if sep := separatorRow(t, s); !strings.Contains(sep, "/replay [/rekey]") {
		t.Fatalf("separator %q after a second tab", sep)
	}
	drive(t, s, typeText(" ")...) // any other key ends the cycle
	if sep := separatorRow(t, s); strings.Contains(sep, "/replay") {
		t.Fatalf("separator %q: the list stays after typing", sep)
	}
	if got := s.input.Value(); got != "/rekey " {
		t.Fatalf("input %q", got)
	}
}
