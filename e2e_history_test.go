package main

// End-to-end tests of the encrypted history: real duet processes, restarted.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol"
)

// TestE2EHistoryAcrossRestart: what was said is shown again after a
// restart (line mode prints the end of the stored conversation), and the
// database holds no plaintext.
func TestE2EHistoryAcrossRestart(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	b := startDuet(t, "B", pr.args("B", "b.pem")...)
	a.waitFor(t, sessionTimeout, "session", established)
	b.waitFor(t, sessionTimeout, "session", established)
	a.send("remember this 1f2e3d")
	b.waitFor(t, sessionTimeout, "A's message", func(e event) bool { return e.Event == "message" && e.Text == "remember this 1f2e3d" })
	b.send("and this reply 4c5b6a")
	a.waitFor(t, sessionTimeout, "B's reply", func(e event) bool { return e.Event == "message" && e.Text == "and this reply 4c5b6a" })
	a.send("/quit")
	if code, ok := a.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("A: /quit exited %v, code %d", ok, code)
	}

	// The history databases (A's and B's: they share a directory here) are
	// beside the identities, encrypted.
	dbs, _ := filepath.Glob(filepath.Join(pr.dir, "delivery", "*.db"))
	if len(dbs) != 2 {
		t.Fatalf("want a history database for A and one for B, found %v", dbs)
	}
	for _, db := range dbs {
		raw, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"1f2e3d", "4c5b6a"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("%s holds plaintext %q", db, secret)
			}
		}
	}

	// A again, in line mode: the earlier conversation comes first.
	args := append([]string{"--lines"}, pr.args("A", "a.pem")[1:]...) // drop --headless
	cmd := exec.Command(duetBin, args...)
	cmd.Stdin = strings.NewReader("")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("A restarted in line mode: %v\n%s%s", err, out.String(), errb.String())
	}
	text := out.String()
	i := strings.Index(text, "earlier conversation")
	j, k := strings.Index(text, "remember this 1f2e3d"), strings.Index(text, "and this reply 4c5b6a")
	if i < 0 || j < i || k < j {
		t.Fatalf("restarted A does not show the earlier conversation in order:\n%s", text)
	}
}

// TestE2ESecondInstanceLocked: a second duet with the same identity and
// peer exits at once naming the running one's database, and touches
// nothing (the database is the same bytes afterwards, and the message
// queued in it is still there after the first one is killed).
func TestE2ESecondInstanceLocked(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	a.waitFor(t, readyTimeout, "ready", func(e event) bool { return e.Event == "ready" })
	a.send("queued while the peer is away")
	a.waitFor(t, sessionTimeout, "queued", func(e event) bool { return e.Event == "queued" })
	logs, _ := filepath.Glob(filepath.Join(pr.dir, "delivery", "*.db"))
	if len(logs) != 1 {
		t.Fatalf("want one database, found %v", logs)
	}
	before, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Same identity and peer, another --main port (so the port is not what stops it).
	args := pr.args("A", "a.pem")
	for i, a := range args {
		if a == "--main" {
			args[i+1] = strconv.Itoa(freePorts(t, 1)[0])
		}
	}
	cmd := exec.Command(duetBin, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start := time.Now()
	err = cmd.Run()
	code := -1
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != exitRuntime || !strings.Contains(errb.String(), "in use by another duet") || !strings.Contains(errb.String(), ".db") {
		t.Fatalf("second instance: exit %d (want %d), stderr %q", code, exitRuntime, errb.String())
	}
	t.Logf("second instance refused in %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(errb.String()))
	after, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the second instance changed the running one's database")
	}
	if !a.running() {
		t.Fatal("the first instance died")
	}
	a.kill()
	id, err := crypto.LoadIdentity(filepath.Join(pr.dir, "a.pem"))
	if err != nil {
		t.Fatal(err)
	}
	peer := "127.0.0.1:" + args[slices.Index(args, "--sub")+1]
	key, err := crypto.HistoryKey(id, peer)
	if err != nil {
		t.Fatal(err)
	}
	db, err := protocol.OpenDB(logs[0], key, protocol.DBOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _ := db.Load()
	if len(st.Outbox) != 1 || st.Outbox[0].Text != "queued while the peer is away" {
		t.Fatalf("outbox after the second instance and a kill: %+v", st.Outbox)
	}
}
