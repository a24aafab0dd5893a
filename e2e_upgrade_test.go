package main

// Process-level test of issue 19's "upgrading keeps everything": today's
// duet (protocol 2) started on the files the last protocol-1 duet
// (791c3cf) wrote, testdata/upgrade-v1 (its README.txt says how they were
// made).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	stdnet "net"
)

// The fixture's ports: alice bound 23301, bob 23302. Each side's database
// name, history key and known_peers entry carry the peer's "host:port",
// so the upgraded duets must use the same ones.
const upgradeAlicePort, upgradeBobPort = 23301, 23302

// upgradeFixture copies testdata/upgrade-v1's alice/ and bob/ (identity,
// known_peers, database) into a temporary directory with the modes duet
// requires (git keeps none: 0700 directories, 0600 files) and returns it.
func upgradeFixture(t *testing.T) string {
	t.Helper()
	src, dst := filepath.Join("testdata", "upgrade-v1"), t.TempDir()
	for _, who := range []string{"alice", "bob"} {
		err := filepath.WalkDir(filepath.Join(src, who), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, path)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o700)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
		})
		if err != nil {
			t.Fatalf("copying the fixture: %v", err)
		}
	}
	return dst
}

// upgradeArgs are the flags of who's duet on the fixture copy in dir.
func upgradeArgs(dir, who string, extra ...string) []string {
	mainP, sub := upgradeAlicePort, upgradeBobPort
	if who == "bob" {
		mainP, sub = sub, mainP
	}
	return append([]string{"--main", strconv.Itoa(mainP), "--sub", strconv.Itoa(sub), "--ping", "200ms",
		"--identity", filepath.Join(dir, who, who+".pem"), "--known-peers", filepath.Join(dir, who, "known_peers")}, extra...)
}

// waitPortsFree waits (30 s at most) until the fixture's ports can be
// bound, and fails the test naming them if they cannot.
func waitPortsFree(t *testing.T, ports ...int) {
	t.Helper()
	for _, p := range ports {
		waitAny(t, readyTimeout, "port "+strconv.Itoa(p)+" free (the fixture's files name it; something else holds it)", func() bool {
			l, err := stdnet.Listen("tcp", stdnet.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				return false
			}
			l.Close()
			return true
		})
	}
}

// v1Queued returns the ids and sent_at of the last n messages the
// protocol-1 duet reported queued in the fixture's events of who (written
// by make.sh, in order).
func v1Queued(t *testing.T, who string, n int) (ids, sentAt []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "upgrade-v1", who+".events"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s.events: %v", who, err)
		}
		if e.Event == "queued" {
			ids, sentAt = append(ids, e.ID), append(sentAt, e.SentAt)
		}
	}
	if len(ids) < n {
		t.Fatalf("%s.events: %d queued events, want at least %d", who, len(ids), n)
	}
	return ids[len(ids)-n:], sentAt[len(sentAt)-n:]
}

// upgradeLines runs who's duet in line mode on the fixture copy with no
// input and the peer down, and returns its output (the stored
// conversation it prints at start).
func upgradeLines(t *testing.T, dir, who string) string {
	t.Helper()
	cmd := exec.Command(duetBin, upgradeArgs(dir, who, "--lines", "--name", who)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s in line mode: %v\n%s", who, err, out.String())
	}
	return out.String()
}

// The fixture's conversation: four messages both ways (delivered under
// protocol 1), then three of alice's and one of bob's queued.
var (
	upgradeHistory = []string{"alice: hello bob, from protocol 1", "peer: hi alice, protocol 1 here too",
		"alice: an old message with ünïcödé and 日本語", "peer: the last reply before the upgrade"}
	upgradeAliceQueued = []string{"queued 1 while bob was away", "queued 2 while bob was away", "queued 3 while bob was away"}
	upgradeBobQueued   = "queued by bob while alice was away"
)

// lineWith returns the first line of out that contains s, or "".
func lineWith(out, s string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestE2EUpgradeFromV1: today's duet opens what the last protocol-1 duet
// wrote and keeps all of it. Before any session, alice's line mode shows
// the stored conversation in order, her queued messages without a receipt.
// Then alice and bob, both upgraded, make a protocol-2 session with no
// key-changed (the known_peers pins carry over); the messages each had
// queued under protocol 1 go out, under the ids and sent_at the old duet
// gave them, and are shown by the other side exactly once, none flagged
// as a possible duplicate and none of the already delivered ones again;
// afterwards alice's stored conversation holds the old messages and the
// queued ones, now delivered.
func TestE2EUpgradeFromV1(t *testing.T) {
	dir := upgradeFixture(t)
	waitPortsFree(t, upgradeAlicePort, upgradeBobPort)

	before := upgradeLines(t, dir, "alice")
	checkUpgradeHistory(t, "before the upgrade's first session", before, true)

	bob := startDuet(t, "bob", append([]string{"--headless"}, upgradeArgs(dir, "bob")...)...)
	alice := startDuet(t, "alice", append([]string{"--headless"}, upgradeArgs(dir, "alice")...)...)
	ra, rb := alice.waitFor(t, readyTimeout, "alice ready", isEv("ready")), bob.waitFor(t, readyTimeout, "bob ready", isEv("ready"))
	sa := alice.waitFor(t, sessionTimeout, "alice's session", established)
	sb := bob.waitFor(t, sessionTimeout, "bob's session", established)
	if sa.PeerFingerprint != rb.Fingerprint || sb.PeerFingerprint != ra.Fingerprint {
		t.Errorf("peer fingerprints: alice sees %s (bob is %s), bob sees %s (alice is %s)", sa.PeerFingerprint, rb.Fingerprint, sb.PeerFingerprint, ra.Fingerprint)
	}
	for _, e := range []event{sa, sb} {
		if !strings.Contains(e.raw, `"post_quantum":true`) {
			t.Errorf("session without protocol 2's post-quantum exchange: %s", e)
		}
	}

	aIDs, aSent := v1Queued(t, "alice", len(upgradeAliceQueued))
	bIDs, bSent := v1Queued(t, "bob", 1)
	for i, text := range upgradeAliceQueued {
		m := bob.waitFor(t, msgTimeout, "alice's queued "+strconv.Itoa(i+1)+" at bob", shows(text))
		if m.ID != aIDs[i] || m.SentAt != aSent[i] {
			t.Errorf("bob shows %q as id %s sent at %s; protocol 1 queued it as %s at %s", text, m.ID, m.SentAt, aIDs[i], aSent[i])
		}
	}
	m := alice.waitFor(t, msgTimeout, "bob's queued message at alice", shows(upgradeBobQueued))
	if m.ID != bIDs[0] || m.SentAt != bSent[0] {
		t.Errorf("alice shows bob's queued message as id %s sent at %s; protocol 1 queued it as %s at %s", m.ID, m.SentAt, bIDs[0], bSent[0])
	}
	var got []string
	for _, d := range alice.waitN(t, 3, msgTimeout, "alice's 3 queued messages delivered", isEv("delivered")) {
		got = append(got, d.ID)
	}
	if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(aIDs))) {
		t.Errorf("delivered ids %v, want the queued ones %v", got, aIDs)
	}
	bob.waitFor(t, msgTimeout, "bob's queued message delivered", func(e event) bool { return e.Event == "delivered" && e.ID == bIDs[0] })

	// A message each way after them: whatever would be shown twice comes
	// before it.
	alice.send("alice after the upgrade")
	bob.waitFor(t, msgTimeout, "alice's new message", shows("alice after the upgrade"))
	bob.send("bob after the upgrade")
	alice.waitFor(t, msgTimeout, "bob's new message", shows("bob after the upgrade"))
	checkShownOnce(t, bob, append(upgradeAliceQueued, "alice after the upgrade"), upgradeHistory)
	checkShownOnce(t, alice, []string{upgradeBobQueued, "bob after the upgrade"}, upgradeHistory)
	for _, p := range []*proc{alice, bob} {
		if n := p.count(isEv("rejected")); n != 0 {
			t.Errorf("%s: %d rejections (a changed key, a replay?)", p.name, n)
		}
		p.send("/quit")
		if code, ok := p.waitExit(exitTimeout); !ok || code != 0 {
			t.Fatalf("%s: /quit exited %v, code %d", p.name, ok, code)
		}
	}

	after := upgradeLines(t, dir, "alice")
	checkUpgradeHistory(t, "after the upgrade", after, false)
	for _, s := range []string{"alice: alice after the upgrade", "peer: bob after the upgrade"} {
		if strings.Count(after, s) != 1 {
			t.Errorf("alice's stored conversation shows %q %d times, want once:\n%s", s, strings.Count(after, s), after)
		}
	}
}

// checkUpgradeHistory checks the conversation alice's line mode printed
// at start (out): the fixture's messages, each once, in order; her queued
// ones marked "(no receipt yet)" while pending and unmarked once
// delivered, and bob's queued one only after it arrived (!pending).
func checkUpgradeHistory(t *testing.T, when, out string, pending bool) {
	t.Helper()
	want := slices.Clone(upgradeHistory)
	for _, q := range upgradeAliceQueued {
		want = append(want, "alice: "+q)
	}
	bobs := "peer: " + upgradeBobQueued
	if pending {
		if strings.Contains(out, bobs) {
			t.Errorf("%s: alice's stored conversation shows bob's queued message before it was sent:\n%s", when, out)
		}
	} else {
		want = append(want, bobs)
	}
	last := -1
	for _, s := range want {
		i := strings.Index(out, s)
		if n := strings.Count(out, s); n != 1 {
			t.Errorf("%s: alice's stored conversation shows %q %d times, want once:\n%s", when, s, n, out)
			continue
		}
		if i < last {
			t.Errorf("%s: %q out of order:\n%s", when, s, out)
		}
		last = i
		if strings.HasPrefix(s, "alice: queued") {
			if got := strings.Contains(lineWith(out, s), "(no receipt yet)"); got != pending {
				t.Errorf("%s: %q marked no-receipt: %v, want %v:\n%s", when, s, got, pending, out)
			}
		}
	}
	if strings.Contains(out, "duplicate") {
		t.Errorf("%s: something is flagged as a duplicate:\n%s", when, out)
	}
}

// checkShownOnce checks that p showed each of once exactly once, none of
// never, and no message as a possible duplicate.
func checkShownOnce(t *testing.T, p *proc, once, never []string) {
	t.Helper()
	for _, s := range once {
		if n := p.count(shows(s)); n != 1 {
			t.Errorf("%s showed %q %d times, want once", p.name, s, n)
		}
	}
	for _, s := range never {
		_, text, _ := strings.Cut(s, ": ")
		if n := p.count(shows(text)); n != 0 {
			t.Errorf("%s showed %q again (delivered under protocol 1)", p.name, text)
		}
	}
	for _, e := range p.snapshot() {
		if e.PossibleDup {
			t.Errorf("%s flagged a message as a possible duplicate: %s", p.name, e)
		}
	}
}
