package main

// What duet writes on stderr (and stdout) outside the full screen carries
// file paths and other outside text: it is escaped as the full screen
// escapes it (termsafe.Sanitize), so a path cannot drive the terminal.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hostile is a file name part that would drive a terminal shown raw: ESC
// (a colour), BEL, U+202E (right-to-left override) and U+009B (8-bit CSI).
const hostile = "\x1b[31mred\a\u202eevil\u009b2J"

// rawBytes are the raw forms that must never reach stdout or stderr.
var rawBytes = []string{"\x1b", "\a", "\u202e", "\u009b"}

// checkEscaped fails if out holds any raw byte of hostile, or lacks its
// escaped form.
func checkEscaped(t *testing.T, what, out string) {
	t.Helper()
	for _, raw := range rawBytes {
		if strings.Contains(out, raw) {
			t.Errorf("%s has a raw %q: %q", what, raw, out)
		}
	}
	if !strings.Contains(out, `\x1b[31mred\a\u202eevil\u009b2J`) {
		t.Errorf("%s does not show the escaped name: %q", what, out)
	}
}

// TestE2EStderrEscaped runs duet in each mode with an identity (or
// known_peers, or peer host, or flag) whose name holds terminal controls,
// and checks that neither stdout nor stderr carries them raw.
func TestE2EStderrEscaped(t *testing.T) {
	needBinary(t)
	ports := freePorts(t, 2)
	main, sub := strconv.Itoa(ports[0]), strconv.Itoa(ports[1])

	// An identity readable by others (refused, exit 3), in each mode.
	dir := t.TempDir()
	loose := filepath.Join(dir, "id"+hostile+".pem")
	if code, _, stderr := runDuet(t, "fingerprint", "--identity", loose); code != exitOK {
		t.Fatalf("fingerprint: exit %d, stderr %q", code, stderr)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	kp := filepath.Join(dir, "kp")
	for _, mode := range []string{"--lines", "--headless"} {
		code, stdout, stderr := runDuet(t, mode, "--identity", loose, "--known-peers", kp, "--main", main, "--sub", sub)
		if code != exitIdentity {
			t.Errorf("%s with a 0644 identity: exit %d (want %d), stderr %q", mode, code, exitIdentity, stderr)
		}
		checkEscaped(t, mode+" stderr", stderr)
		checkEscaped(t, mode+" stdout+stderr", stdout+stderr)
	}

	// A known_peers others can write (refused, exit 3).
	badKP := filepath.Join(dir, "kp"+hostile)
	if err := os.WriteFile(badKP, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(badKP, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"--lines", "--headless"} {
		code, stdout, stderr := runDuet(t, mode, "--ephemeral", "--known-peers", badKP, "--main", main, "--sub", sub)
		if code != exitIdentity {
			t.Errorf("%s with a 0666 known_peers: exit %d (want %d), stderr %q", mode, code, exitIdentity, stderr)
		}
		checkEscaped(t, mode+" stderr", stdout+stderr)
	}

	// A new identity: the note saying where it was created.
	fresh := filepath.Join(t.TempDir(), "new"+hostile+".pem")
	code, stdout, stderr := runDuet(t, "fingerprint", "--identity", fresh)
	if code != exitOK || !strings.Contains(stderr, "created a new identity") {
		t.Errorf("fingerprint with a new identity: exit %d, stderr %q", code, stderr)
	}
	checkEscaped(t, "fingerprint stderr", stdout+stderr)
	fresh2 := filepath.Join(t.TempDir(), "new"+hostile+".pem")
	code, stdout, stderr = runDuet(t, "--lines", "--identity", fresh2, "--known-peers", kp, "--main", main, "--sub", sub)
	if code != exitOK || !strings.Contains(stderr, "created a new identity") {
		t.Errorf("--lines with a new identity: exit %d, stderr %q", code, stderr)
	}
	checkEscaped(t, "--lines stdout+stderr", stdout+stderr)

	// Usage errors and duet mitm.
	for _, args := range [][]string{
		{"--" + hostile, "1"},
		{"--main", main, "--sub", sub, "--peer-host", hostile},
		{"mitm", "--a-main", "1", "--a-sub", "2", "--b-main", "3", "--b-sub", "4", "--peer-host", hostile},
		{"fingerprint", "--" + hostile},
	} {
		code, stdout, stderr := runDuet(t, args...)
		if code == exitOK {
			t.Errorf("duet %q: exit 0", args)
		}
		checkEscaped(t, fmt.Sprintf("duet %q", args), stdout+stderr)
	}
}
