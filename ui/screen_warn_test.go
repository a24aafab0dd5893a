package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// TestScreenStartWarnings: warnings given at start (the database opened at
// its previous commit) are shown in the chat as warnings ("!!"), escaped.
func TestScreenStartWarnings(t *testing.T) {
	cfg := testScreenConfig(newFakeScreenSession())
	cfg.Warnings = []string{"database /x.db: its newest commit record is damaged\x1b[2J"}
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	scr := screenText(t, s)
	var line string
	for _, l := range strings.Split(scr, "\n") {
		if strings.Contains(l, "newest commit record is damaged") {
			line = l
		}
	}
	if !strings.Contains(line, "!!") || !strings.Contains(line, `\x1b[2J`) {
		t.Fatalf("start warning missing, not marked !! or not escaped:\n%s", scr)
	}
}
