package main

// End-to-end test of /search and the editor on the full screen (issue 17,
// finding 9): bob's screen in tmux finds a message older than the history
// page shown on start, and writes a message in $EDITOR (a script).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestE2ESearchAndEditorInTmux(t *testing.T) {
	needBinary(t)
	tm := newTmux(t)
	pr := newPair(t)
	editor := filepath.Join(pr.dir, "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nprintf 'from the editor 7f3a\\n' > \"$1\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + pr.dir, "TERM=xterm-256color", "TZ=UTC", "VISUAL=", "EDITOR=" + editor}
	args := append([]string{duetBin}, pr.args("B", "b.pem", "--name", "bob", "--peer-name", "alice")[1:]...) // drop --headless
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	tm.start("bob", 80, 24, env, args)
	a.waitFor(t, sessionTimeout, "session", established)
	// The needle, then more than a history page after it.
	a.send("the Needle-Early one")
	if err := <-sendMany(a, "filler ", 0, 150, ""); err != nil {
		t.Fatal(err)
	}
	a.waitN(t, 151, 2*msgTimeout, "all delivered", isEv("delivered"))
	tm.typeText("bob", "/quit")
	tm.keys("bob", "Enter")
	tm.waitExit("bob", time.Minute)

	tm.start("bob2", 80, 24, env, args)
	tm.waitFor("bob2", "the history page", time.Minute, contains("filler 000149"))
	if s := tm.capture("bob2"); strings.Contains(s, "Needle-Early") {
		t.Fatalf("the needle is on the first page already; the test needs it older:\n%s", s)
	}
	tm.typeText("bob2", "/search needle-early")
	tm.keys("bob2", "Enter")
	tm.waitFor("bob2", "the old match paged in and counted", time.Minute, contains("the Needle-Early one", "match 1 of 1"))
	tm.keys("bob2", "Escape")
	tm.waitFor("bob2", "search ended", time.Minute, func(s string) bool { return !strings.Contains(s, "match 1 of") })

	tm.keys("bob2", "C-x", "C-e")
	if screen, ok := tm.poll("bob2", 30*time.Second, contains("› from the editor 7f3a")); !ok {
		// Seen once in 21 loaded runs (CI, stop 24), before the editor's
		// end cleared and redrew the screen (TestEditorEndRedraws): the
		// pane stayed blank. Should a frame still be lost, say so and press
		// ctrl+l as a user would; the draft is required then, so a program
		// that hung still fails.
		t.Logf("bob2: no edited draft on screen 30 s after ctrl+x ctrl+e; pressing ctrl+l; screen:\n%s", screen)
		tm.keys("bob2", "C-l")
	}
	tm.waitFor("bob2", "the edited draft", time.Minute, contains("› from the editor 7f3a"))
	tm.keys("bob2", "Enter")
	a.waitFor(t, msgTimeout, "the edited message", func(e event) bool { return e.Event == "message" && e.Text == "from the editor 7f3a" })
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "duet-edit-*", "draft.txt")); len(left) > 0 {
		t.Logf("temporary drafts present (maybe other runs'): %v", left)
	}
	tm.keys("bob2", "C-c")
	tm.waitExit("bob2", time.Minute)
}
