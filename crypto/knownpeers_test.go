package crypto

import (
	"errors"
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
