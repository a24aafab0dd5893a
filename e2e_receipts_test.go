package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// courtesy is the fields of the "typing" and "read" events (docs/HEADLESS.md).
type courtesy struct {
	Active *bool    `json:"active"`
	IDs    []string `json:"ids"`
}

func courtesyOf(e event) courtesy {
	var c courtesy
	_ = json.Unmarshal([]byte(e.raw), &c)
	return c
}

// TestE2EReadAndTyping: a full screen (bob, in tmux, which reports no focus
// changes: focused) marks alice's message read once it is on screen, and
// typing into its input shows alice "typing" until it expires by itself;
// alice runs headless and sees both as events.
func TestE2EReadAndTyping(t *testing.T) {
	needBinary(t)
	tm := newTmux(t)
	pr := newPair(t)
	alice := startDuet(t, "alice", pr.args("A", "")...)
	env := []string{"HOME=" + pr.dir, "TERM=xterm-256color", "TZ=UTC"}
	tm.start("b", 80, 24, env, []string{duetBin, "--main", strconv.Itoa(pr.portB), "--sub", strconv.Itoa(pr.portA),
		"--ephemeral", "--known-peers", filepath.Join(pr.dir, "kp_B"), "--name", "bob", "--peer-name", "alice"})

	const long = 60 * time.Second // generous: only a real defect misses it
	alice.waitFor(t, long, "session", func(e event) bool { return e.Event == "session" && e.State == "established" })
	alice.send("hello bob")
	id := alice.waitFor(t, long, "queued", isEv("queued")).ID
	tm.waitFor("b", "alice's message", long, contains("hello bob"))
	alice.waitFor(t, long, "read "+id, func(e event) bool {
		return e.Event == "read" && slices.Contains(courtesyOf(e).IDs, id)
	})

	tm.typeText("b", "composing")
	on := alice.waitFor(t, long, "typing on", func(e event) bool {
		c := courtesyOf(e)
		return e.Event == "typing" && c.Active != nil && *c.Active
	})
	start := time.Now()
	alice.waitFor(t, long, "typing off by itself", func(e event) bool {
		c := courtesyOf(e)
		return e.Event == "typing" && c.Active != nil && !*c.Active
	})
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("typing ended after %v, before its 6 s (on: %s)", d, on)
	}
	if n := alice.count(isEv("rejected")); n != 0 {
		t.Fatalf("%d rejections; events: %v", n, alice.snapshot())
	}
}
