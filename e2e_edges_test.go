package main

// Process-level tests of duet at its edges: special files at its paths,
// --window/--ping bounds, an unresolvable --peer-host, --main equal to
// --sub, a full disk at first contact, and escaping of the peer's text in
// headless JSON and line mode.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2ENotRegularFilesRefused: a FIFO at the identity or known_peers
// path (or a directory at known_peers) is refused at start, never opened
// and waited on (runDuet gives up after 30 s): a one-line error naming the
// path, exit 3. (The old delivery log is no longer opened at all:
// TestOldDeliveryLogOnlyNamed.)
func TestE2ENotRegularFilesRefused(t *testing.T) {
	dir := t.TempDir()
	mkfifo := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
	}
	ports := freePorts(t, 2)
	main, sub := strconv.Itoa(ports[0]), strconv.Itoa(ports[1])

	fifoID := filepath.Join(dir, "fifo-id.pem")
	mkfifo(fifoID)
	fifoKP := filepath.Join(dir, "fifo-kp")
	mkfifo(fifoKP)

	for _, c := range []struct {
		name string
		args []string
		path string
		code int
	}{
		{"identity (fingerprint)", []string{"fingerprint", "--identity", fifoID}, fifoID, exitIdentity},
		{"identity", []string{"--headless", "--identity", fifoID, "--known-peers", filepath.Join(dir, "kp"), "--main", main, "--sub", sub}, fifoID, exitIdentity},
		{"known_peers", []string{"--headless", "--ephemeral", "--known-peers", fifoKP, "--main", main, "--sub", sub}, fifoKP, exitIdentity},
		{"known_peers is a directory", []string{"--headless", "--ephemeral", "--known-peers", dir, "--main", main, "--sub", sub}, dir, exitIdentity},
	} {
		code, _, stderr := runDuet(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.path) || !strings.Contains(stderr, "not a regular file") ||
			strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 {
			t.Errorf("%s: exit %d (want %d), stderr %q (want one line naming %s and \"not a regular file\")", c.name, code, c.code, stderr, c.path)
		}
	}
}

// TestE2EWindowPingBounds: --window and --ping out of their bounds are a
// usage error (exit 2) naming the flag; a window near the largest
// duration would overflow the timestamp check (no session would ever
// form), a ping of 1ns would burn a core. The bounds themselves are
// accepted and give a session.
func TestE2EWindowPingBounds(t *testing.T) {
	for _, args := range [][]string{
		{"--window", "2562047h"}, {"--window", "25h"}, {"--window", "999ms"}, {"--window", "0s"}, {"--window", "-1s"},
		{"--ping", "1ns"}, {"--ping", "99ms"}, {"--ping", "61s"}, {"--ping", "0s"},
	} {
		all := append([]string{"--headless", "--ephemeral", "--main", "0", "--sub", "1", "--known-peers", filepath.Join(t.TempDir(), "kp")}, args...)
		code, _, stderr := runDuet(t, all...)
		if code != exitUsage || !strings.Contains(stderr, args[0]) || !strings.Contains(stderr, "between") {
			t.Errorf("duet %v: exit %d (want %d), stderr %q", args, code, exitUsage, stderr)
		}
	}
	// The largest window and the smallest ping still give a session.
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "", "--window", "24h", "--ping", "100ms")...)
	b := startDuet(t, "B", pr.args("B", "", "--window", "24h", "--ping", "1m")...)
	a.waitFor(t, sessionTimeout, "session established", established)
	b.waitFor(t, sessionTimeout, "session established", established)
}

// TestE2EUnresolvablePeerHost: a --peer-host the resolver says does not
// exist is a usage error (exit 2, issue 18) with the host named, not a
// silent wait forever, for duet and duet mitm. A host that resolves but
// where nobody listens is waited for.
func TestE2EUnresolvablePeerHost(t *testing.T) {
	ports := freePorts(t, 2)
	kp := filepath.Join(t.TempDir(), "kp")
	start := time.Now()
	code, _, stderr := runDuet(t, "--headless", "--ephemeral", "--known-peers", kp, "--main", strconv.Itoa(ports[0]),
		"--sub", strconv.Itoa(ports[1]), "--peer-host", "no-such-host.invalid")
	if code != exitUsage || !strings.Contains(stderr, "no-such-host.invalid") || !strings.Contains(stderr, "--peer-host") ||
		!strings.Contains(stderr, "does not resolve") {
		t.Errorf("unresolvable --peer-host: exit %d (want %d), stderr %q", code, exitUsage, stderr)
	}
	mp := freePorts(t, 4)
	code, _, stderr = runDuet(t, "mitm", "--a-main", strconv.Itoa(mp[0]), "--a-sub", strconv.Itoa(mp[1]),
		"--b-main", strconv.Itoa(mp[2]), "--b-sub", strconv.Itoa(mp[3]), "--peer-host", "no-such-host.invalid")
	if code != exitUsage || !strings.Contains(stderr, "mitm: --peer-host no-such-host.invalid") {
		t.Errorf("duet mitm with an unresolvable --peer-host: exit %d (want %d), stderr %q", code, exitUsage, stderr)
	}
	t.Logf("unresolvable host refused after %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr))

	for _, host := range []string{"127.0.0.1", "localhost"} {
		p := startDuet(t, "down-"+host, "--headless", "--ephemeral", "--known-peers", kp, "--main", strconv.Itoa(ports[0]),
			"--sub", strconv.Itoa(ports[1]), "--peer-host", host)
		p.waitFor(t, readyTimeout, "ready", isEv("ready"))
		time.Sleep(time.Second)
		if !p.running() {
			t.Errorf("--peer-host %s with the peer down: duet exited (stderr %q)", host, p.stderrText())
		}
		p.kill()
	}
}

// TestE2ESelfTalkRefused: --main X --sub X with the peer on this machine
// is a usage error, since duet would talk to itself ("rejected malformed"
// forever).
func TestE2ESelfTalkRefused(t *testing.T) {
	port := strconv.Itoa(freePorts(t, 1)[0])
	for _, host := range []string{"127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"} {
		code, _, stderr := runDuet(t, "--headless", "--ephemeral", "--known-peers", filepath.Join(t.TempDir(), "kp"),
			"--main", port, "--sub", port, "--peer-host", host)
		if code != exitUsage || !strings.Contains(stderr, "itself") {
			t.Errorf("--main %s --sub %s --peer-host %s: exit %d (want %d), stderr %q", port, port, host, code, exitUsage, stderr)
		}
	}
}

// TestE2EFullDiskIsErrorNotRejection: known_peers cannot grow (a
// file-size limit of 512 bytes on a 512-byte file: writes fail with EFBIG,
// as on a full disk). A's first contact then gives an error event saying
// what failed; neither side reports it as a rejection (not "rejected
// malformed", retried forever), and known_peers is left as it was.
func TestE2EFullDiskIsErrorNotRejection(t *testing.T) {
	needBinary(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	pr := newPair(t)
	kpA := filepath.Join(pr.dir, "kp_A")
	full := "#" + strings.Repeat(" ", 510) + "\n" // exactly 512 bytes: ulimit -f 1
	if err := os.WriteFile(kpA, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(pr.dir, "duet-full-disk")
	script := "#!/bin/sh\nulimit -f 1 || exit 99\nexec " + strconv.Quote(duetBin) + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	saved := duetBin
	duetBin = wrapper
	a := startDuet(t, "A", pr.args("A", "")...)
	duetBin = saved
	b := startDuet(t, "B", pr.args("B", "")...)
	e := a.waitFor(t, sessionTimeout, "an error naming known_peers", func(e event) bool {
		return e.Event == "error" && strings.Contains(e.Error, "could not record the peer's key in "+kpA)
	})
	t.Logf("A: %s", e.Error)
	time.Sleep(2 * time.Second) // a retry or two
	if n := a.count(isEv("rejected")); n != 0 {
		t.Errorf("A reported %d rejections for its own disk failure", n)
	}
	if n := b.count(func(e event) bool { return e.Event == "rejected" && e.Reason == "malformed" }); n != 0 {
		t.Errorf("B reported %d malformed rejections", n)
	}
	if data, _ := os.ReadFile(kpA); string(data) != full {
		t.Errorf("known_peers changed: %q", data)
	}
}

// TestE2EPeerTextEscapedOnStdout: text with a raw 8-bit CSI, DEL, bidi
// controls, separators, ZWSP and a BOM, sent by a real peer, reaches B's
// headless stdout and a line-mode stdout only escaped; the JSON text
// decodes to exactly what was sent.
func TestE2EPeerTextEscapedOnStdout(t *testing.T) {
	hostile := []rune{0x9b, 0x7f, 0x85, 0x202e, 0x061c, 0x2066, 0x200e, 0x2028, 0x2029, 0x200b, 0xfeff, 0x00ad}
	text := "esc-test x\u009b31m\u007f\u0085\u202eevil\u061c\u2066\u200e\u2028\u2029\u200b\ufeff\u00ady"
	pr := newPair(t)
	a, b := startPair(t, pr, "", "")
	a.send(text)
	m := b.waitFor(t, msgTimeout, "the message", textPrefix("esc-test"))
	if m.Text != text {
		t.Errorf("headless text round-trips as %q, want %q", m.Text, text)
	}
	for _, r := range hostile {
		if strings.ContainsRune(m.raw, r) {
			t.Errorf("headless line has U+%04X raw: %q", r, m.raw)
		}
	}

	// Line mode: B2 with --lines, A2 headless.
	pr2 := newPair(t)
	argsB := pr2.args("B", "")
	for i, s := range argsB {
		if s == "--headless" {
			argsB[i] = "--lines"
		}
	}
	a2 := startDuet(t, "A2", pr2.args("A", "")...)
	b2 := startDuet(t, "B2-lines", argsB...)
	a2.waitFor(t, sessionTimeout, "session established", established)
	a2.send(text)
	deadline := time.Now().Add(msgTimeout)
	var line string
	for line == "" && time.Now().Before(deadline) {
		b2.mu.Lock()
		for _, l := range b2.bad {
			if strings.Contains(l, "esc-test") {
				line = l
			}
		}
		b2.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	if line == "" {
		t.Fatalf("line mode never showed the message")
	}
	t.Logf("line mode: %s", line)
	for _, r := range hostile {
		if strings.ContainsRune(line, r) {
			t.Errorf("line mode has U+%04X raw: %q", r, line)
		}
	}
	if !strings.Contains(line, `\u009b31m`) || !strings.Contains(line, `\u202eevil`) {
		t.Errorf("line mode: escapes missing: %q", line)
	}
}
