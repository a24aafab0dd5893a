package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDefaultsAndPeers(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	text := "# mine\nname = \"alice\"\nidentity = \"/k/alice.pem\"\n\n[peer.bob]\nhost = \"10.0.0.2\"\nmain = 5555\nsub = 5556\nidentity = \"/k/a2.pem\"\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, exists, err := Load(path)
	if err != nil || !exists {
		t.Fatalf("Load: %v %v", exists, err)
	}
	if f.Defaults.Name != "alice" || f.Defaults.Identity != "/k/alice.pem" {
		t.Errorf("defaults %+v", f.Defaults)
	}
	if b := f.Peers["bob"]; b.Host != "10.0.0.2" || b.Main != 5555 || b.Sub != 5556 || b.Identity != "/k/a2.pem" {
		t.Errorf("bob %+v", b)
	}
	if _, exists, err := Load(filepath.Join(t.TempDir(), "none.toml")); err != nil || exists {
		t.Errorf("missing file: exists %v, %v", exists, err)
	}
}

// TestLoadRefuses: a mode like an identity's that is too open, unknown
// keys, bad TOML and bad peer names are errors naming the file, never
// ignored.
func TestLoadRefuses(t *testing.T) {
	for _, c := range []struct {
		text string
		mode os.FileMode
		want string
	}{
		{"name = \"a\"\n", 0o644, "chmod 600"},
		{"name = \"a\"\n", 0o640, "chmod 600"},
		{"nmae = \"a\"\n", 0o600, `unknown key "nmae"`},
		{"[peer.bob]\nprot = 1\n", 0o600, `unknown key "peer.bob.prot"`},
		{"[peer.bob\n", 0o600, "config"},
		{"[peer.\"../x\"]\nsub = 1\n", 0o600, "not a peer name"},
		{"[peer.bob]\nsub = \"x\"\n", 0o600, "config"},
	} {
		path := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(path, []byte(c.text), c.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, c.mode)
		_, _, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q mode %04o: %v, want an error naming the file with %q", c.text, c.mode, err, c.want)
		}
	}
}

// TestAdd: the table is appended (comments kept), the file is 0600 and
// reads back; a saved name and a bad name are refused.
func TestAdd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", FileName)
	if err := Add(path, "bob", Peer{Host: "h", Sub: 5556, Main: 5555}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append([]byte("# keep me\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Add(path, "carol", Peer{Sub: 6000}); err != nil {
		t.Fatal(err)
	}
	f, _, err := Load(path)
	if err != nil || f.Peers["bob"].Sub != 5556 || f.Peers["carol"].Sub != 6000 || len(f.Names()) != 2 {
		t.Fatalf("read back: %+v %v", f, err)
	}
	if data, _ := os.ReadFile(path); !strings.HasPrefix(string(data), "# keep me\n") {
		t.Errorf("comment lost:\n%s", data)
	}
	if err := Add(path, "bob", Peer{Sub: 1}); !errors.Is(err, ErrPeerExists) {
		t.Errorf("second bob: %v", err)
	}
	for _, bad := range []string{"", "Bob", "-x", "a b", "../etc", "a.b", strings.Repeat("x", 33)} {
		if err := Add(path, bad, Peer{Sub: 1}); !errors.Is(err, ErrBadName) {
			t.Errorf("Add(%q): %v, want ErrBadName", bad, err)
		}
	}
}

// TestLoadAttention: the notification and courtesy keys are read (duet
// checks notify's value).
func TestLoadAttention(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	text := "notify = \"desktop\"\nnotify_text = true\n\n[peer.bob]\nsub = 5556\nno_typing = true\nno_read_receipts = true\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := f.Defaults; d.Notify != "desktop" || !d.NotifyText || d.NoTyping {
		t.Errorf("defaults %+v", d)
	}
	if b := f.Peers["bob"]; !b.NoTyping || !b.NoReadReceipts || b.Notify != "" {
		t.Errorf("bob %+v", b)
	}
}
