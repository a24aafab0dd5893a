package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestE2EUnreadTitleAndDivider: bob's full screen (tmux, 80x24) scrolled
// up while alice's messages arrive shows their count in the window title,
// "(2) duet — alice"; back at the bottom the title is plain again and a
// "── 2 new messages ──" divider sits above the first of them, until bob
// replies. alice runs headless, counting bob's messages unread until
// /read.
func TestE2EUnreadTitleAndDivider(t *testing.T) {
	needBinary(t)
	tm := newTmux(t)
	pr := newPair(t)
	alice := startDuet(t, "alice", pr.args("A", "")...)
	env := []string{"HOME=" + pr.dir, "TERM=xterm-256color", "TZ=UTC"}
	tm.start("b", 80, 24, env, []string{duetBin, "--main", strconv.Itoa(pr.portB), "--sub", strconv.Itoa(pr.portA),
		"--ephemeral", "--known-peers", filepath.Join(pr.dir, "kp_B"), "--name", "bob", "--peer-name", "alice"})
	title := func() string { return strings.TrimSpace(tm.run("display-message", "-p", "-t", "b", "#{pane_title}")) }
	waitTitle := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for title() != want {
			if time.Now().After(deadline) {
				t.Fatalf("title %q, want %q; screen:\n%s", title(), want, tm.capture("b"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	const long = 60 * time.Second // generous: only a real defect misses it
	alice.waitFor(t, long, "session", established)
	for i := range 30 {
		alice.send(fmt.Sprintf("filler %d", i))
	}
	tm.waitFor("b", "the fillers", long, contains("filler 29"))
	waitTitle("duet — alice", long)
	tm.keys("b", "PPage")
	tm.waitFor("b", "scrolled up", long, contains("scrolled up"))

	alice.send("unseen one", "unseen two")
	waitTitle("(2) duet — alice", long)
	tm.waitFor("b", "the new-messages hint", long, contains("↓ 2 new"))

	tm.keys("b", "C-End")
	waitTitle("duet — alice", long)
	scr := tm.waitFor("b", "the divider above the first unseen", long, contains("── 2 new messages ──", "unseen two"))
	rows := strings.Split(scr, "\n")
	for i, r := range rows {
		if strings.Contains(r, "── 2 new messages ──") && (i+1 >= len(rows) || !strings.HasSuffix(strings.TrimRight(rows[i+1], " "), "unseen one")) {
			t.Fatalf("the divider is not right above the first unseen message:\n%s", scr)
		}
	}

	tm.typeText("b", "got them")
	tm.keys("b", "Enter")
	tm.waitFor("b", "the divider gone after the reply", long, func(s string) bool {
		return strings.Contains(s, "got them") && !strings.Contains(s, "new messages")
	})
	alice.waitFor(t, long, "bob's reply", textPrefix("got them"))
	alice.waitFor(t, long, "unread 1", func(e event) bool { return e.Event == "unread" && strings.Contains(e.raw, `"count":1`) })
	alice.send("/read")
	alice.waitFor(t, long, "unread 0", func(e event) bool { return e.Event == "unread" && strings.Contains(e.raw, `"count":0`) })
}

// TestE2ECourtesiesOptOut: bob's full screen with --no-typing and
// --no-read-receipts sends neither (alice, headless, gets her answer with
// no typing or read event before it: both would be sealed before the
// message they precede), and shows neither of alice's: her READ (from
// /read, sealed before her next message) leaves bob's reply at ✓✓.
func TestE2ECourtesiesOptOut(t *testing.T) {
	needBinary(t)
	tm := newTmux(t)
	pr := newPair(t)
	alice := startDuet(t, "alice", pr.args("A", "")...)
	env := []string{"HOME=" + pr.dir, "TERM=xterm-256color", "TZ=UTC"}
	tm.start("b", 80, 24, env, []string{duetBin, "--main", strconv.Itoa(pr.portB), "--sub", strconv.Itoa(pr.portA),
		"--ephemeral", "--known-peers", filepath.Join(pr.dir, "kp_B"), "--name", "bob", "--peer-name", "alice",
		"--no-typing", "--no-read-receipts"})

	const long = 60 * time.Second // generous: only a real defect misses it
	alice.waitFor(t, long, "session", established)
	alice.send("hello bob")
	tm.waitFor("b", "alice's message", long, contains("hello bob"))
	tm.typeText("b", "reply from bob")
	tm.keys("b", "Enter")
	alice.waitFor(t, long, "bob's reply", textPrefix("reply from bob"))
	if n := alice.count(func(e event) bool { return e.Event == "typing" || e.Event == "read" }); n != 0 {
		t.Fatalf("bob opted out but alice got %d typing or read events: %v", n, alice.snapshot())
	}

	tm.waitFor("b", "bob's reply delivered", long, contains("✓✓ reply from bob"))
	alice.send("/read", "after the read")
	scr := tm.waitFor("b", "alice's next message", long, contains("after the read"))
	if strings.Contains(scr, "✔✔") || !strings.Contains(scr, "✓✓ reply from bob") {
		t.Fatalf("bob opted out of read receipts but shows alice's:\n%s", scr)
	}
}
