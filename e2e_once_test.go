package main

// End-to-end tests of "exactly once on screen" (issue 17): a message that
// arrives while duet starts is both in the stored history the front end
// shows on start and a live event; every mode shows it once.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// restartWithMessageAway runs the restart case: bob (side B, b.pem) and
// alice (A, a.pem, headless) talk; bob quits; alice sends "third while
// away" (queued); then start brings bob back in some mode. It returns
// alice once her message has been delivered (bob showed it and
// acknowledged it).
func restartWithMessageAway(t *testing.T, pr pair, start func()) *proc {
	t.Helper()
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	b := startDuet(t, "B", pr.args("B", "b.pem")...)
	a.waitFor(t, sessionTimeout, "session", established)
	b.waitFor(t, sessionTimeout, "session", established)
	a.send("first from alice")
	b.waitFor(t, msgTimeout, "alice's first", func(e event) bool { return e.Event == "message" && e.Text == "first from alice" })
	b.send("second from bob")
	a.waitFor(t, msgTimeout, "bob's reply", func(e event) bool { return e.Event == "message" && e.Text == "second from bob" })
	b.send("/quit")
	if code, ok := b.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("B: /quit exited %v, code %d", ok, code)
	}
	a.waitFor(t, sessionTimeout, "bob left", func(e event) bool { return e.Event == "session" && e.State == "peer-left" })
	a.send("third while away")
	a.waitFor(t, msgTimeout, "queued", isEv("queued"))
	delivered := a.count(isEv("delivered"))
	start()
	a.waitN(t, delivered+1, 2*msgTimeout, "third delivered", isEv("delivered"))
	return a
}

// TestE2EOnceAfterRestartScreen: the full screen in tmux shows the message
// once, under the history shown on start.
func TestE2EOnceAfterRestartScreen(t *testing.T) {
	needBinary(t)
	tm := newTmux(t)
	pr := newPair(t)
	env := []string{"HOME=" + pr.dir, "TERM=xterm-256color", "TZ=UTC"}
	args := append([]string{duetBin}, pr.args("B", "b.pem", "--name", "bob", "--peer-name", "alice")[1:]...) // drop --headless
	restartWithMessageAway(t, pr, func() { tm.start("bob", 80, 24, env, args) })
	// Alice's message was delivered: bob's screen had taken the live event.
	// A key typed now is taken after it, so the frame that echoes it shows
	// the pane as the live event left it; "first from alice" comes only
	// from the stored history, so that frame also shows the history page.
	tm.typeText("bob", "zz-marker")
	scr := tm.waitFor("bob", "history, the live message and the echo", time.Minute, contains("first from alice", "second from bob", "zz-marker"))
	if n := strings.Count(scr, "third while away"); n != 1 {
		t.Fatalf("bob's screen shows the message %d times, want once:\n%s", n, scr)
	}
	tm.keys("bob", "C-c", "C-c") // the first clears the draft
	tm.waitExit("bob", time.Minute)
}

// TestE2EOnceAfterRestartLines: the line mode prints it once.
func TestE2EOnceAfterRestartLines(t *testing.T) {
	pr := newPair(t)
	var b *proc
	restartWithMessageAway(t, pr, func() {
		b = startDuet(t, "B2", append([]string{"--lines"}, pr.args("B", "b.pem")[1:]...)...)
	})
	b.send("/quit")
	if code, ok := b.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("B in line mode: /quit exited %v, code %d", ok, code)
	}
	b.mu.Lock()
	out := strings.Join(b.bad, "\n")
	b.mu.Unlock()
	if n := strings.Count(out, "third while away"); n != 1 {
		t.Fatalf("line mode prints the message %d times, want once:\n%s", n, out)
	}
}

// TestE2EOnceAfterRestartHeadless: headless emits one message event for it.
func TestE2EOnceAfterRestartHeadless(t *testing.T) {
	pr := newPair(t)
	var b *proc
	restartWithMessageAway(t, pr, func() { b = startDuet(t, "B2", pr.args("B", "b.pem")...) })
	b.send("/quit")
	if code, ok := b.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("B headless: /quit exited %v, code %d", ok, code)
	}
	if n := b.count(func(e event) bool { return e.Event == "message" && e.Text == "third while away" }); n != 1 {
		t.Fatalf("%d message events for it, want 1", n)
	}
}

// TestE2EDraftSurvivesRestart: the unsent draft survives a restart (here
// after SIGTERM, which quits as /quit does), and a draft cleared with
// ctrl+c is recalled with up after a restart: both kept encrypted in the
// database (issue 17, item 4).
func TestE2EDraftSurvivesRestart(t *testing.T) {
	needBinary(t)
	tm := newTmux(t)
	pr := newPair(t)
	env := []string{"HOME=" + pr.dir, "TERM=xterm-256color", "TZ=UTC"}
	args := append([]string{duetBin}, pr.args("A", "a.pem", "--name", "alice", "--peer-name", "bob")[1:]...) // drop --headless
	run := func(name string) {
		tm.start(name, 80, 24, env, args)
		tm.waitFor(name, "the waiting screen", time.Minute, contains("waiting for the peer"))
	}
	run("a1")
	tm.typeText("a1", "half a thought 9d8c")
	tm.waitFor("a1", "the draft", time.Minute, contains("half a thought 9d8c"))
	if err := syscall.Kill(tm.pid("a1"), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := tm.waitExit("a1", time.Minute); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	run("a2")
	tm.waitFor("a2", "the kept draft in the input", time.Minute, contains("half a thought 9d8c"))
	tm.keys("a2", "C-c") // clears the draft: up brings it back, also after a restart
	tm.waitFor("a2", "the draft cleared", time.Minute, contains("draft cleared"))
	tm.keys("a2", "C-c")
	if code := tm.waitExit("a2", time.Minute); code != 0 {
		t.Fatalf("exit status %d after ctrl+c", code)
	}
	run("a3")
	if s := tm.capture("a3"); strings.Contains(s, "half a thought") {
		t.Fatalf("a cleared draft came back in the input:\n%s", s)
	}
	// The kept input history loads beside the first frame: Up again each
	// second until it is in (Up at the oldest entry stays there).
	recalled := contains("half a thought 9d8c")
	for deadline := time.Now().Add(time.Minute); !recalled(tm.capture("a3")); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("the cleared draft was not recalled by Up:\n%s", tm.capture("a3"))
		}
		tm.keys("a3", "Up")
	}
	dbs, _ := filepath.Glob(filepath.Join(pr.dir, "delivery", "*.db"))
	for _, db := range dbs {
		raw, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("9d8c")) {
			t.Fatalf("%s holds the draft in plaintext", db)
		}
	}
	if len(dbs) == 0 {
		t.Fatal("no database found")
	}
}
