package screen

import (
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// editorScript writes a shell script standing for the user's editor.
func editorScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ed")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// editScreen returns a screen whose environment names editor as $EDITOR.
func editScreen(t *testing.T, env map[string]string) *Screen {
	t.Helper()
	s := newTestScreen(testConfig(newFakeNode()))
	s.aids.getenv = func(k string) string { return env[k] }
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24}, keyPress(tea.KeyEscape))
	return s
}

// runEditorFlow drives ctrl+x ctrl+e (or the Cmd given) as Bubble Tea
// would: the Cmd writing the draft, the process (run here, as
// tea.ExecProcess runs it), its callback's message and the Cmd reading
// the text back. It returns the temporary file's directory.
func runEditorFlow(t *testing.T, s *Screen, open tea.Cmd) string {
	t.Helper()
	if open == nil {
		drive(t, s, ctrlKey('x'))
		_, open = s.Update(ctrlKey('e'))
	}
	if open == nil {
		t.Fatal("ctrl+x ctrl+e returned no Cmd")
	}
	ready, ok := open().(editorReadyMsg)
	if !ok || ready.err != nil {
		t.Fatalf("writing the draft: %+v", ready)
	}
	checkPrivate(t, ready)
	cmd, callback := s.editorExec(ready)
	runCmd(t, s, s.handleAid(callback(cmd.Run())))
	return ready.dir
}

// checkPrivate asserts the draft's file is 0600 in a 0700 directory.
func checkPrivate(t *testing.T, m editorReadyMsg) {
	t.Helper()
	fi, err := os.Stat(m.path)
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("draft file %v in directory %v, want 0600 in 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
}

func assertRemoved(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary directory %s left behind (%v)", dir, err)
	}
}

func TestEditorReplacesTheDraft(t *testing.T) {
	got := filepath.Join(t.TempDir(), "seen")
	ed := editorScript(t, `cp "$1" `+strconv.Quote(got)+`; printf 'edited\nsecond line\n' > "$1"`)
	s := editScreen(t, map[string]string{"EDITOR": ed})
	drive(t, s, typeText("my secret draft")...)
	dir := runEditorFlow(t, s, nil)
	if seen, _ := os.ReadFile(got); string(seen) != "my secret draft" {
		t.Fatalf("the editor was given %q, want the draft", seen)
	}
	if v := s.input.Value(); v != "edited\nsecond line" {
		t.Fatalf("input %q, want the edited text without its trailing newline", v)
	}
	assertRemoved(t, dir)
	if sent, _, _, _, _ := s.cfg.Node.(*fakeNode).snapshot(); len(sent) != 0 {
		t.Fatalf("the edited text was sent: %q", sent)
	}
}

func TestEditorFailingKeepsTheDraft(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"exit 1":  {"EDITOR": editorScript(t, `printf 'half' > "$1"; exit 1`)},
		"missing": {"VISUAL": filepath.Join(t.TempDir(), "no-such-editor")},
	} {
		t.Run(name, func(t *testing.T) {
			s := editScreen(t, env)
			drive(t, s, typeText("keep me")...)
			dir := runEditorFlow(t, s, nil)
			if v := s.input.Value(); v != "keep me" {
				t.Fatalf("input %q, want the draft kept", v)
			}
			if scr := screenText(t, s); !strings.Contains(scr, "your draft is kept") {
				t.Fatalf("no notice of the failure:\n%s", scr)
			}
			assertRemoved(t, dir)
		})
	}
}

func TestEditCommandStartsFromItsText(t *testing.T) {
	ed := editorScript(t, `printf '%s, longer\n' "$(cat "$1")" > "$1"`)
	s := editScreen(t, map[string]string{"EDITOR": ed})
	drive(t, s, typeText("/edit a start")...)
	_, cmd := s.Update(keyPress(tea.KeyEnter))
	dir := runEditorFlow(t, s, cmd)
	if v := s.input.Value(); v != "a start, longer" {
		t.Fatalf("input %q", v)
	}
	assertRemoved(t, dir)
}

func TestEditorTooLongKeepsTheDraft(t *testing.T) {
	ed := editorScript(t, `head -c 2000000 /dev/zero | tr '\0' x > "$1"`)
	s := editScreen(t, map[string]string{"EDITOR": ed})
	drive(t, s, typeText("short")...)
	dir := runEditorFlow(t, s, nil)
	if v := s.input.Value(); v != "short" {
		t.Fatalf("input of %d bytes, want the draft kept", len(v))
	}
	assertRemoved(t, dir)
}

func TestEditorCommandOrder(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"VISUAL": "nano", "EDITOR": "ed"}, []string{"nano", "F"}},
		{map[string]string{"EDITOR": "emacs -nw"}, []string{"emacs", "-nw", "F"}},
		{map[string]string{"VISUAL": "  ", "EDITOR": "ed"}, []string{"ed", "F"}},
		{map[string]string{}, []string{"vi", "F"}},
	}
	for _, tc := range tests {
		cmd := editorCommand(func(k string) string { return tc.env[k] }, "F")
		if strings.Join(cmd.Args, " ") != strings.Join(tc.want, " ") {
			t.Errorf("env %v: %q, want %q", tc.env, cmd.Args, tc.want)
		}
	}
}

func TestCtrlXThenOtherKeyTypes(t *testing.T) {
	s := editScreen(t, nil)
	drive(t, s, ctrlKey('x'))
	drive(t, s, typeText("a")...)
	if v := s.input.Value(); v != "a" {
		t.Fatalf("input %q after ctrl+x a", v)
	}
}

// TestOnlyTheLauncherStartsProcesses holds ui to one process launcher:
// no file of ui but ui/screen/editor.go imports os/exec.
func TestOnlyTheLauncherStartsProcesses(t *testing.T) {
	root := filepath.Join("..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if imp.Path.Value == `"os/exec"` && filepath.ToSlash(path) != "../screen/editor.go" {
				t.Errorf("%s imports os/exec: only ui/screen/editor.go starts processes in ui", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hasClearScreen reports whether msgs hold Bubble Tea's clear-screen
// message (a full repaint).
func hasClearScreen(msgs []tea.Msg) bool {
	for _, m := range msgs {
		if m == tea.ClearScreen() {
			return true
		}
	}
	return false
}

// TestEditorEndRedraws: when the editor gives the terminal back, the
// screen is cleared and drawn whole (a lost frame there left the pane
// blank), whether the editor succeeded or failed.
func TestEditorEndRedraws(t *testing.T) {
	for _, err := range []error{nil, errors.New("exit status 1")} {
		s := editScreen(t, nil)
		dir := t.TempDir()
		path := filepath.Join(dir, "draft.txt")
		if e := os.WriteFile(path, []byte("x"), 0o600); e != nil {
			t.Fatal(e)
		}
		msgs := cmdMsgs(t, s.handleAid(editorDoneMsg{dir: dir, path: path, name: "ed", err: err}))
		if !hasClearScreen(msgs) {
			t.Errorf("editor ended (err %v): messages %#v, want a clear screen among them", err, msgs)
		}
	}
}

// TestRedrawKey: ctrl+l clears and redraws in every state (chat, an
// overlay, the key-changed dialog) and changes nothing else: the draft
// and the overlay stay.
func TestRedrawKey(t *testing.T) {
	cases := []struct {
		name  string
		setup []tea.Msg
	}{
		{"chat", typeText("half a draft")},
		{"overlay", []tea.Msg{keyPress(tea.KeyF2)}},
		{"key changed", []tea.Msg{keyChanged("/tmp/known_peers")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestScreen(testConfig(newFakeNode()))
			drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
			drive(t, s, c.setup...)
			before, draft, overlay := screenText(t, s), s.input.Value(), s.panels.overlay
			_, cmd := s.Update(ctrlKey('l'))
			if !hasClearScreen(cmdMsgs(t, cmd)) {
				t.Fatal("ctrl+l: no clear screen")
			}
			if after := screenText(t, s); after != before || s.input.Value() != draft || s.panels.overlay != overlay {
				t.Fatalf("ctrl+l changed the screen:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}
