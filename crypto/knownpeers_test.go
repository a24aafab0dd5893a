package crypto

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKnownPeers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "known_peers")
	fpA, fpB := fpSeq(1), fpSeq(100)
	peer := "127.0.0.1:5556"

	k, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatalf("missing file: %v", err)
	}
	first, err := k.Check(peer, fpA)
	if err != nil || !first {
		t.Fatalf("first contact: first=%v err=%v", first, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %04o, want 0700", dst.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if want := formatKnownPeer(peer, fpA); string(data) != want {
		t.Errorf("file = %q, want %q", data, want)
	}

	first, err = k.Check(peer, fpA)
	if err != nil || first {
		t.Fatalf("same key: first=%v err=%v", first, err)
	}

	_, err = k.Check(peer, fpB)
	assertKeyChanged(t, err, peer, fpA, fpB)
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}

	// Survives reopen.
	k2, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	if first, err := k2.Check(peer, fpA); err != nil || first {
		t.Fatalf("after reopen: first=%v err=%v", first, err)
	}
	_, err = k2.Check(peer, fpB)
	assertKeyChanged(t, err, peer, fpA, fpB)

	if _, err := k2.Check("bad name", fpA); !errors.Is(err, ErrBadPeerName) {
		t.Errorf("name with space: err = %v", err)
	}
}

func assertKeyChanged(t *testing.T, err error, peer string, known, got Fingerprint) {
	t.Helper()
	if !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("err = %v, want ErrKeyChanged", err)
	}
	var kc *KeyChangedError
	if !errors.As(err, &kc) {
		t.Fatalf("err %T is not *KeyChangedError", err)
	}
	if kc.Peer != peer || kc.Known != known || kc.Got != got {
		t.Errorf("KeyChangedError = %+v", kc)
	}
	for _, s := range []string{known.String(), got.String(), peer} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
}

func TestKnownPeersAppendAfterMissingNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_peers")
	line := strings.TrimSuffix(formatKnownPeer("a", fpSeq(1)), "\n")
	if err := os.WriteFile(path, []byte("# comment\n"+line), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	if first, err := k.Check("b", fpSeq(2)); err != nil || !first {
		t.Fatal(first, err)
	}
	k2, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatalf("file corrupted by append: %v", err)
	}
	if len(k2.peers) != 2 {
		t.Fatalf("peers = %v", k2.peers)
	}
}

func TestParseKnownPeers(t *testing.T) {
	h := strings.TrimSuffix(formatKnownPeer("x", fpSeq(1)), "\n")[2:]
	h2 := strings.TrimSuffix(formatKnownPeer("x", fpSeq(2)), "\n")[2:]
	tests := []struct {
		name     string
		in       string
		n        int
		wantLine string // "" = no error
	}{
		{"empty", "", 0, ""},
		{"comments and blanks", "# hi\n\n   \n\t# indented\n", 0, ""},
		{"entries", "a " + h + "\r\n[::1]:5556\t" + h2 + "\n", 2, ""},
		{"identical duplicate", "a " + h + "\na " + h + "\n", 1, ""},
		{"conflicting duplicate", "a " + h + "\na " + h2 + "\n", 0, "line 2"},
		{"one field", "# c\n\njusthost\n", 0, "line 3"},
		{"three fields", "a " + h + " extra\n", 0, "line 1"},
		{"verified", "a " + h + " verified\nb " + h2 + "\tverified\r\n", 2, ""},
		{"verified uppercase", "a " + h + " Verified\n", 0, "line 1"},
		{"verified twice", "a " + h + " verified verified\n", 0, "line 1"},
		{"verified typo line 2", "a " + h + "\nb " + h2 + " verifed\n", 0, "line 2"},
		{"uppercase hex", "a " + strings.ToUpper(h) + "\n", 0, "line 1"},
		{"short hex", "a\n" + "b " + h[:62] + "\n", 0, "line 1"},
		{"short hex line 2", "a " + h + "\nb " + h[:62] + "\n", 0, "line 2"},
		{"grouped fingerprint", "a " + fpSeq(1).String() + "\n", 0, "line 1"},
		{"control char name", "a\x01b " + h + "\n", 0, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseKnownPeers([]byte(tt.in))
			if tt.wantLine == "" {
				if err != nil || len(m) != tt.n {
					t.Fatalf("got %d entries, err %v", len(m), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantLine+":") {
				t.Fatalf("err = %v, want mention of %q", err, tt.wantLine)
			}
		})
	}

	// OpenKnownPeers names the file and the line.
	path := filepath.Join(t.TempDir(), "known_peers")
	os.WriteFile(path, []byte("a "+h+"\nbroken\n"), 0o600)
	_, err := OpenKnownPeers(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckPinned(t *testing.T) {
	if err := CheckPinned(fpSeq(1), fpSeq(1)); err != nil {
		t.Fatal(err)
	}
	err := CheckPinned(fpSeq(1), fpSeq(2))
	assertKeyChanged(t, err, "pinned", fpSeq(1), fpSeq(2))
}

// knownFile writes content to a fresh known_peers file and opens it.
func knownFile(t *testing.T, content string) (*KnownPeers, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_peers")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	return k, path
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkNoTempFiles fails if a rewrite left a temporary file behind.
func checkNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name() != "known_peers" {
			t.Errorf("stray file %s", e.Name())
		}
	}
}

func checkMode(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
}

func TestKnownPeersMarkVerified(t *testing.T) {
	fpA, fpB, fpO := fpSeq(1), fpSeq(2), fpSeq(3)
	other := formatKnownPeer("other", fpO)
	k, path := knownFile(t, "# my peers\n"+other+"peer "+strings.TrimSuffix(formatKnownPeer("", fpA), "\n")[1:]+"\r\n# end")
	if k.Verified("peer", fpA) {
		t.Fatal("verified before MarkVerified")
	}
	before := readString(t, path)
	// Only the recorded key can be marked verified.
	for _, c := range []struct {
		peer string
		fp   Fingerprint
	}{{"peer", fpB}, {"nobody", fpA}} {
		if err := k.MarkVerified(c.peer, c.fp); !errors.Is(err, ErrNotRecorded) {
			t.Errorf("MarkVerified(%s, %v) = %v, want ErrNotRecorded", c.peer, c.fp, err)
		}
	}
	if err := k.MarkVerified("bad name", fpA); !errors.Is(err, ErrBadPeerName) {
		t.Errorf("bad name: %v", err)
	}
	if readString(t, path) != before || k.Verified("peer", fpB) || k.Verified("peer", fpA) {
		t.Fatal("a refused MarkVerified changed something")
	}

	if err := k.MarkVerified("peer", fpA); err != nil {
		t.Fatal(err)
	}
	if !k.Verified("peer", fpA) || k.Verified("peer", fpB) || k.Verified("other", fpO) {
		t.Fatal("Verified wrong after MarkVerified")
	}
	want := "# my peers\n" + other + formatVerifiedPeer("peer", fpA) + "# end\n"
	if got := readString(t, path); got != want {
		t.Fatalf("file\n%q\nwant\n%q", got, want)
	}
	checkMode(t, path)
	checkNoTempFiles(t, filepath.Dir(path))
	if err := k.MarkVerified("peer", fpA); err != nil { // again: no change
		t.Fatal(err)
	}
	k2, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Verified("peer", fpA) || k2.Verified("other", fpO) {
		t.Fatal("verified mark lost on reopen")
	}
	if first, err := k2.Check("peer", fpA); first || err != nil {
		t.Fatalf("Check after verify: %v %v", first, err)
	}
}

func TestKnownPeersReplace(t *testing.T) {
	fpA, fpB, fpO := fpSeq(1), fpSeq(2), fpSeq(3)
	content := formatVerifiedPeer("peer", fpA) + formatKnownPeer("other", fpO) + formatKnownPeer("peer", fpA)
	k, path := knownFile(t, content)
	if err := os.Chmod(path, 0o644); err != nil { // the rewrite is 0600 whatever it was
		t.Fatal(err)
	}
	if !k.Verified("peer", fpA) {
		t.Fatal("verified line not read")
	}
	if err := k.Replace("peer", fpB); err != nil {
		t.Fatal(err)
	}
	want := formatKnownPeer("peer", fpB) + formatKnownPeer("other", fpO)
	if got := readString(t, path); got != want {
		t.Fatalf("file\n%q\nwant\n%q", got, want)
	}
	checkMode(t, path)
	checkNoTempFiles(t, filepath.Dir(path))
	if k.Verified("peer", fpB) || k.Verified("peer", fpA) {
		t.Fatal("a replaced key is not verified")
	}
	if first, err := k.Check("peer", fpB); first || err != nil {
		t.Fatalf("Check(new key) = %v, %v", first, err)
	}
	_, err := k.Check("peer", fpA)
	assertKeyChanged(t, err, "peer", fpB, fpA)
	k2, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	if first, err := k2.Check("peer", fpB); first || err != nil {
		t.Fatalf("after reopen: %v, %v", first, err)
	}

	// A peer without an entry is appended; a missing file is created.
	if err := k.Replace("new", fpA); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != want+formatKnownPeer("new", fpA) {
		t.Fatalf("file %q", got)
	}
	missing := filepath.Join(t.TempDir(), "sub", "known_peers")
	k3, err := OpenKnownPeers(missing)
	if err != nil {
		t.Fatal(err)
	}
	if err := k3.Replace("peer", fpA); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, missing); got != formatKnownPeer("peer", fpA) {
		t.Fatalf("new file %q", got)
	}
	checkMode(t, missing)
}

// TestKnownPeersRewriteRefusesBrokenFile: a file that was broken on disk
// after it was opened is never rewritten; nothing changes.
func TestKnownPeersRewriteRefusesBrokenFile(t *testing.T) {
	fpA, fpB := fpSeq(1), fpSeq(2)
	k, path := knownFile(t, formatKnownPeer("peer", fpA))
	broken := formatKnownPeer("peer", fpA) + "x " + strings.TrimSuffix(formatKnownPeer("", fpB), "\n")[1:] + " trusted\n"
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.Replace("peer", fpB); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Replace on a broken file: %v", err)
	}
	if err := k.MarkVerified("peer", fpA); err == nil {
		t.Fatal("MarkVerified rewrote a broken file")
	}
	if got := readString(t, path); got != broken {
		t.Fatalf("broken file rewritten: %q", got)
	}
	if k.Verified("peer", fpA) {
		t.Fatal("marked verified although the write failed")
	}
	if first, err := k.Check("peer", fpA); first || err != nil {
		t.Fatalf("in-memory entry changed: %v %v", first, err)
	}
	checkNoTempFiles(t, filepath.Dir(path))
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}
