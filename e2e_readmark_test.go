package main

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestE2EReadMarkSurvivesRestart (issue 17): alice (headless, with an
// identity and so a database) sends; bob's full screen (tmux: focused)
// shows it and reads it; alice gets the read event and quits; bob quits
// too, so nothing live can mark it again. Alice's history then shows the
// message read: ✔✔ on its row of the full screen (120x40), "(read)" in the
// line mode; her other message, sent after bob left, is not.
func TestE2EReadMarkSurvivesRestart(t *testing.T) {
	needBinary(t)
	tm := newTmux(t)
	pr := newPair(t)
	alice := startDuet(t, "alice", pr.args("A", "idA.pem")...)
	env := []string{"HOME=" + pr.dir, "TERM=xterm-256color", "TZ=UTC"}
	tm.start("b", 80, 24, env, []string{duetBin, "--main", strconv.Itoa(pr.portB), "--sub", strconv.Itoa(pr.portA),
		"--ephemeral", "--known-peers", filepath.Join(pr.dir, "kp_B"), "--name", "bob", "--peer-name", "alice"})

	const long = 60 * time.Second // generous: only a real defect misses it
	alice.waitFor(t, long, "session", established)
	alice.send("hello bob")
	id := alice.waitFor(t, long, "queued", isEv("queued")).ID
	tm.waitFor("b", "alice's message", long, contains("hello bob"))
	alice.waitFor(t, long, "read "+id, func(e event) bool {
		return e.Event == "read" && slices.Contains(courtesyOf(e).IDs, id)
	})
	// Bob quits: a message sent now waits in alice's outbox, never read.
	tm.keys("b", "C-c")
	if code := tm.waitExit("b", long); code != 0 {
		t.Fatalf("bob exited with status %d", code)
	}
	alice.send("are you there")
	alice.waitFor(t, long, "queued", func(e event) bool { return e.Event == "queued" && e.ID != id })
	alice.stdin.Close() // EOF: alice quits, committing what she keeps
	if code, ok := alice.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("alice: exit %d (exited %v)", code, ok)
	}

	aliceArgs := []string{"--main", strconv.Itoa(pr.portA), "--sub", strconv.Itoa(pr.portB),
		"--identity", filepath.Join(pr.dir, "idA.pem"), "--known-peers", filepath.Join(pr.dir, "kp_A"),
		"--name", "alice", "--peer-name", "bob"}
	tm.start("a2", 120, 40, env, append([]string{duetBin}, aliceArgs...))
	screen := tm.waitFor("a2", "the earlier conversation", long, contains("hello bob", "are you there"))
	for _, line := range strings.Split(screen, "\n") {
		switch {
		case strings.Contains(line, "hello bob") && !strings.Contains(line, "✔✔"):
			t.Errorf("the message bob read is not marked read (✔✔) after alice's restart: %q\n%s", line, screen)
		case strings.Contains(line, "are you there") && strings.Contains(line, "✔✔"):
			t.Errorf("a message bob never read is marked read: %q", line)
		}
	}
	tm.keys("a2", "C-c")
	if code := tm.waitExit("a2", long); code != 0 {
		t.Fatalf("alice's screen exited with status %d", code)
	}

	code, out, stderr := runDuet(t, append(aliceArgs, "--lines")...)
	if code != 0 {
		t.Fatalf("line mode: exit %d; stderr %s", code, stderr)
	}
	var hello, there string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, "alice: hello bob"):
			hello = line
		case strings.Contains(line, "alice: are you there"):
			there = line
		}
	}
	if !strings.HasSuffix(hello, "hello bob (read)") || strings.Contains(there, "(read)") {
		t.Errorf("line mode history: %q and %q, want the first marked (read) and not the second:\n%s", hello, there, out)
	}
}
