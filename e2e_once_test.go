package main

// End-to-end tests of "exactly once on screen" (issue 17): a message that
// arrives while duet starts is both in the stored history the front end
// shows on start and a live event; every mode shows it once.

import (
	"strings"
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
