package main

// End-to-end tests of the encrypted history: real duet processes, restarted.

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol/store"
)

// runLines runs A (identity a.pem) once in line mode with input on stdin,
// until stdin ends, and returns its stdout and stderr; it fails the test
// if A does not exit 0.
func runLines(t *testing.T, pr pair, input string, extra ...string) (stdout, stderr string) {
	t.Helper()
	args := append([]string{"--lines"}, pr.args("A", "a.pem", extra...)[1:]...) // drop --headless
	cmd := exec.Command(duetBin, args...)
	cmd.Stdin = strings.NewReader(input)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("A in line mode %v: %v\n%s%s", extra, err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

// TestE2EHistoryAcrossRestart: what was said is shown again after a
// restart (line mode prints the end of the stored conversation, our
// messages without a receipt marked so), and the database holds no
// plaintext.
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
	a.waitFor(t, sessionTimeout, "A's message delivered", func(e event) bool { return e.Event == "delivered" })
	// One more, with B gone: it stays in A's outbox, without a receipt.
	b.kill()
	a.send("unanswered 7a8b9c")
	a.waitFor(t, sessionTimeout, "queued", func(e event) bool { return e.Event == "queued" })
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
	if all, _ := filepath.Glob(filepath.Join(pr.dir, "delivery", "*")); len(all) != len(dbs) {
		t.Fatalf("files beside the databases (nothing else is kept): %v", all)
	}
	for _, db := range dbs {
		raw, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"1f2e3d", "4c5b6a", "7a8b9c"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Fatalf("%s holds plaintext %q", db, secret)
			}
		}
	}

	// A again, in line mode: the earlier conversation comes first.
	text, _ := runLines(t, pr, "")
	i := strings.Index(text, "earlier conversation")
	j, k := strings.Index(text, "remember this 1f2e3d"), strings.Index(text, "and this reply 4c5b6a")
	if i < 0 || j < i || k < j {
		t.Fatalf("restarted A does not show the earlier conversation in order:\n%s", text)
	}
	// Our delivered message shows no mark; the one still in the outbox
	// says it has no receipt yet.
	for _, c := range []struct {
		text    string
		pending bool
	}{{"remember this 1f2e3d", false}, {"unanswered 7a8b9c", true}} {
		line := ""
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, c.text) {
				line = l
				break
			}
		}
		if line == "" || strings.Contains(line, "(no receipt yet)") != c.pending {
			t.Errorf("history line for %q: %q (want a no-receipt mark: %v)\n%s", c.text, line, c.pending, text)
		}
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
	db, err := store.Open(logs[0], key, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _ := db.Load()
	if len(st.Outbox) != 1 || st.Outbox[0].Text != "queued while the peer is away" {
		t.Fatalf("outbox after the second instance and a kill: %+v", st.Outbox)
	}
}

// TestE2EForgedDeliveryLogNotSent (issue 16 item 3): a delivery log
// planted where an older duet kept its own (plaintext, unauthenticated:
// anyone who can write the directory can forge one) is not imported: the
// peer never receives its queued ('Q') entries, before or after a
// restart, the log is left as it was, and each start names it and says
// that nothing was sent from it.
func TestE2EForgedDeliveryLogNotSent(t *testing.T) {
	pr := newPair(t)
	idPath := filepath.Join(pr.dir, "a.pem")
	id, _, err := crypto.LoadOrCreateIdentity(idPath, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peer := "127.0.0.1:" + strconv.Itoa(pr.portB)
	logPath := deliveryLogPath(idPath, id.Public().Fingerprint(), peer)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		t.Fatal(err)
	}
	const forged = "forged by whoever could write the delivery directory"
	var log []byte
	for i, at := range []time.Time{time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), time.Now()} {
		log = append(log, 'Q')
		log = binary.BigEndian.AppendUint64(log, 0x1234567890abcdef+uint64(i))
		log = binary.BigEndian.AppendUint64(log, uint64(at.UnixNano()))
		log = binary.BigEndian.AppendUint32(log, uint32(len(forged)))
		log = append(log, forged...)
	}
	if err := os.WriteFile(logPath, log, 0o600); err != nil {
		t.Fatal(err)
	}

	a, b := startPair(t, pr, "a.pem", "b.pem")
	// A message typed after the start is a marker: it is sent after
	// anything queued at start would have been.
	a.send("typed after the start")
	b.waitFor(t, msgTimeout, "the typed message", func(e event) bool { return e.Event == "message" && e.Text == "typed after the start" })
	a.send("/quit")
	if code, ok := a.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("A: /quit exited %v, code %d", ok, code)
	}
	a2 := startDuet(t, "A2", pr.args("A", "a.pem")...)
	a2.waitFor(t, sessionTimeout, "session", established)
	a2.send("after the restart")
	b.waitFor(t, msgTimeout, "the next message", func(e event) bool { return e.Event == "message" && e.Text == "after the restart" })
	if n := b.count(func(e event) bool { return e.Event == "message" && strings.Contains(e.Text, "forged") }); n != 0 {
		t.Errorf("the peer received %d messages from the planted log", n)
	}
	for i, p := range []*proc{a, a2} {
		if stderr := p.waitStderr(msgTimeout, logPath, "sent nothing from it"); !strings.Contains(stderr, logPath) || !strings.Contains(stderr, "sent nothing from it") {
			t.Errorf("start %d does not name the log and say nothing was sent from it:\n%s", i+1, stderr)
		}
	}
	if got, err := os.ReadFile(logPath); err != nil || !bytes.Equal(got, log) {
		t.Errorf("the planted log was changed or removed: %v", err)
	}
}

// TestE2EOneIdentityTwoPeers: two duets sharing one identity file (the
// original's run instructions), each with its own peer, run side by side:
// each has its own database, and neither's conversation leaks into the
// other's history.
func TestE2EOneIdentityTwoPeers(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 4)
	shared := filepath.Join(dir, "shared.pem")
	start := func(name string, mainP, sub int, identity string) *proc {
		return startDuet(t, name, "--headless", "--main", strconv.Itoa(mainP), "--sub", strconv.Itoa(sub),
			"--known-peers", filepath.Join(dir, "kp_"+name), "--ping", "200ms", "--identity", identity)
	}
	a1 := start("A1", ports[0], ports[1], shared)
	b1 := start("B1", ports[1], ports[0], filepath.Join(dir, "b1.pem"))
	a1.waitFor(t, sessionTimeout, "A1 session", established)
	a2 := start("A2", ports[2], ports[3], shared) // same identity, another peer
	b2 := start("B2", ports[3], ports[2], filepath.Join(dir, "b2.pem"))
	a2.waitFor(t, sessionTimeout, "A2 session", established)
	a1.send("to the first peer")
	a2.send("to the second peer")
	b1.waitFor(t, msgTimeout, "B1's message", func(e event) bool { return e.Event == "message" && e.Text == "to the first peer" })
	b2.waitFor(t, msgTimeout, "B2's message", func(e event) bool { return e.Event == "message" && e.Text == "to the second peer" })
	for _, p := range []*proc{a1, a2} {
		p.send("/quit")
		if code, ok := p.waitExit(exitTimeout); !ok || code != 0 {
			t.Fatalf("%s: /quit exited %v, code %d", p.name, ok, code)
		}
	}
	id, err := crypto.LoadIdentity(shared)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		peer int
		want string
	}{{ports[1], "to the first peer"}, {ports[3], "to the second peer"}} {
		peer := "127.0.0.1:" + strconv.Itoa(c.peer)
		key, err := crypto.HistoryKey(id, peer)
		if err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(historyPath(shared, id.Public().Fingerprint(), peer), key, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		es, _, err := db.Last(10)
		db.Close()
		if err != nil || len(es) != 1 || es[0].Text != c.want {
			t.Errorf("history with %s: %+v (%v), want only %q", peer, es, err, c.want)
		}
	}
}

// TestE2ENoHistoryShowsPending: with --no-history nothing of the
// conversation is kept, but our messages not delivered when duet quit are
// still listed at the next start (they are sent when the peer is back), so
// they never go out unseen.
func TestE2ENoHistoryShowsPending(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "a.pem", "--no-history")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	a.send("undelivered one", "undelivered two")
	a.waitN(t, 2, sessionTimeout, "queued", isEv("queued"))
	a.send("/quit")
	if code, ok := a.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("A: /quit exited %v, code %d", ok, code)
	}
	text, _ := runLines(t, pr, "", "--no-history")
	i := strings.Index(text, "the 2 messages below, from an earlier run, are not delivered yet")
	j, k := strings.Index(text, "undelivered one (no receipt yet)"), strings.Index(text, "undelivered two (no receipt yet)")
	if i < 0 || j < i || k < j || strings.Contains(text, "earlier conversation") {
		t.Fatalf("restarted A does not list its undelivered messages (and only them):\n%s", text)
	}
}

// TestE2ESharedIdentityWarned: two terminals that share one identity file
// (the original's run instructions) chat, each with its own database, and
// each is told once that the peer holds its own key, so that equal
// fingerprints and safety numbers do not pass for a verified peer.
func TestE2ESharedIdentityWarned(t *testing.T) {
	pr := newPair(t)
	if _, _, err := crypto.LoadOrCreateIdentity(filepath.Join(pr.dir, "shared.pem"), rand.Reader); err != nil {
		t.Fatal(err)
	}
	a := startDuet(t, "A", pr.args("A", "shared.pem")...)
	b := startDuet(t, "B", pr.args("B", "shared.pem")...)
	a.waitFor(t, sessionTimeout, "session", established)
	b.waitFor(t, sessionTimeout, "session", established)
	a.send("from A to itself")
	b.waitFor(t, msgTimeout, "A's message", textPrefix("from A to itself"))
	b.send("/rekey") // another handshake step; the note stays single
	b.send("from B")
	a.waitFor(t, msgTimeout, "B's message", textPrefix("from B"))
	for _, p := range []*proc{a, b} {
		if n := strings.Count(p.waitStderr(msgTimeout, "the peer uses your own identity key"), "the peer uses your own identity key"); n != 1 {
			t.Errorf("%s's stderr has the own-key warning %d times, want once:\n%s", p.name, n, p.stderrText())
		}
	}
	if dbs, _ := filepath.Glob(filepath.Join(pr.dir, "delivery", "*.db")); len(dbs) != 2 {
		t.Errorf("want a database per side, found %v", dbs)
	}
}

// TestE2ENoHistoryClear: /clear in a --no-history run deletes the history
// that earlier runs stored (it used to say there was none to clear while
// the file still held it).
func TestE2ENoHistoryClear(t *testing.T) {
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "a.pem")...)
	b := startDuet(t, "B", pr.args("B", "b.pem")...)
	a.waitFor(t, sessionTimeout, "session", established)
	a.send("kept in the history")
	b.waitFor(t, msgTimeout, "A's message", textPrefix("kept in the history"))
	a.waitFor(t, msgTimeout, "delivered", isEv("delivered"))
	b.kill()
	a.send("/quit")
	if code, ok := a.waitExit(exitTimeout); !ok || code != 0 {
		t.Fatalf("A: /quit exited %v, code %d", ok, code)
	}
	if out, _ := runLines(t, pr, "/clear history\ny\n", "--no-history"); !strings.Contains(out, "* history cleared here") || strings.Contains(out, "kept in the history") {
		t.Fatalf("/clear with --no-history:\n%s", out)
	}
	if out, _ := runLines(t, pr, ""); strings.Contains(out, "kept in the history") || strings.Contains(out, "earlier conversation") {
		t.Fatalf("the history is still there after /clear:\n%s", out)
	}
}
