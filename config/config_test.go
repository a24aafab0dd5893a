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

// writeConfig writes text as a 0600 config file in a fresh directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRemoveCutsOnlyThatTable: Remove takes out the peer's table, header
// to the next table, and keeps every other byte: the defaults, comments,
// the other peers, however the header is spelt and wherever the table is.
// The comments directly above the next table stay with it; the last
// table takes the blank lines before it.
func TestRemoveCutsOnlyThatTable(t *testing.T) {
	const head = "# my duet config\nname = \"alice\" # me\nidentity = \"/k/alice.pem\"\n\n"
	const carol = "# carol: work laptop\n[peer.carol]\nhost = \"10.0.0.3\" # the office\nsub = 6000\n"
	for _, c := range []struct {
		name, text, want string
	}{
		{"middle table",
			head + "[peer.bob]\nsub = 5556\n# old port: 5557\n\n" + carol,
			head + carol},
		{"first table, right after the defaults",
			head + "[peer.bob]\nmain = 5555\nsub = 5556\n\n[peer.carol]\nsub = 6000\n",
			head + "[peer.carol]\nsub = 6000\n"},
		{"last table takes the blank lines before it",
			head + carol + "\n\n[peer.bob]\nsub = 5556\n# end\n",
			head + carol},
		{"last table without a final newline",
			head + carol + "\n[peer.bob]\nsub = 5556",
			head + carol},
		{"the only table",
			"[peer.bob]\nsub = 5556\n",
			""},
		{"quoted and spaced header",
			head + "[ peer . \"bob\" ]   # bob's\nsub = 5556\n\n" + carol,
			head + carol},
		{"literal-quoted header with tabs",
			head + "\t['peer'\t.\t'bob']\nsub = 5556\n\n" + carol,
			head + carol},
		{"escaped key in the header",
			head + "[peer.\"b\\u006fb\"]\nsub = 5556\n\n" + carol,
			head + carol},
		{"comment above its own header is kept",
			head + "# peers\n[peer.bob]\nsub = 5556\n\n" + carol,
			head + "# peers\n" + carol},
		{"a header-like line inside a multi-line string is no header",
			head + "[peer.bob]\npeer_name = \"\"\"\n[peer.carol]\n\"\"\"\nsub = 5556\n\n" + carol,
			head + carol},
		{"a header-like line in another peer's string stays",
			head + "[peer.dave]\npeer_name = '''\n[peer.bob]\n'''\nsub = 7000\n\n[peer.bob]\nsub = 5556\n\n" + carol,
			head + "[peer.dave]\npeer_name = '''\n[peer.bob]\n'''\nsub = 7000\n\n" + carol},
		{"CRLF line ends",
			"name = \"alice\"\r\n\r\n[peer.bob]\r\nsub = 5556\r\n\r\n[peer.carol]\r\nsub = 6000\r\n",
			"name = \"alice\"\r\n\r\n[peer.carol]\r\nsub = 6000\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.text)
			before, _, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := Remove(path, "bob"); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			data, _ := os.ReadFile(path)
			if string(data) != c.want {
				t.Errorf("file after Remove:\n%q\nwant\n%q", data, c.want)
			}
			after, _, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			delete(before.Peers, "bob")
			if after.Defaults != before.Defaults || len(after.Peers) != len(before.Peers) {
				t.Errorf("read back %+v, want %+v", after, before)
			}
			for n, p := range before.Peers {
				if after.Peers[n] != p {
					t.Errorf("peer %s: %+v, want %+v", n, after.Peers[n], p)
				}
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("mode after Remove: %v %v, want 0600", st.Mode(), err)
			}
		})
	}
}

// TestRemoveRefuses: a name not saved (or no file), a bad name, a peer the
// text search cannot take out, and a file others can read are refused
// with an error naming the file, and the file is left byte for byte.
func TestRemoveRefuses(t *testing.T) {
	const saved = "name = \"alice\"\n\n[peer.carol]\nsub = 6000\n"
	for _, c := range []struct {
		name, text string
		mode       os.FileMode
		peer       string
		is         error
		want       string
	}{
		{"not saved", saved, 0o600, "bob", ErrNoPeer, `"bob"`},
		{"no peers at all", "name = \"alice\"\n", 0o600, "bob", ErrNoPeer, `"bob"`},
		{"bad name", saved, 0o600, "../carol", ErrBadName, "not a peer name"},
		{"inline at the top level", "name = \"alice\"\npeer.bob = { sub = 5556 }\n\n[peer.carol]\nsub = 6000\n", 0o600, "bob", ErrByHand, "edit the file by hand"},
		{"inline under [peer]", "[peer]\nbob = { sub = 5556 }\n\n[peer.carol]\nsub = 6000\n", 0o600, "bob", ErrByHand, "edit the file by hand"},
		{"dotted keys under [peer]", "[peer]\nbob.sub = 5556\ncarol.sub = 6000\n", 0o600, "bob", ErrByHand, "edit the file by hand"},
		{"the whole peer table inline", "peer = { bob = { sub = 5556 }, carol = { sub = 6000 } }\n", 0o600, "bob", ErrByHand, "edit the file by hand"},
		{"open mode", "[peer.bob]\nsub = 5556\n", 0o644, "bob", ErrPermissions, "chmod 600"},
		{"group readable", "[peer.bob]\nsub = 5556\n", 0o640, "bob", ErrPermissions, "chmod 600"},
		{"unknown key", "[peer.bob]\nsbu = 5556\n", 0o600, "bob", nil, `unknown key "peer.bob.sbu"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.text)
			os.Chmod(path, c.mode)
			err := Remove(path, c.peer)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.want) ||
				(c.is != ErrBadName && !strings.Contains(err.Error(), path)) {
				t.Errorf("Remove(%q): %v, want %v naming %s with %q", c.peer, err, c.is, path, c.want)
			}
			if data, _ := os.ReadFile(path); string(data) != c.text {
				t.Errorf("file changed:\n%q\nwant\n%q", data, c.text)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != c.mode {
				t.Errorf("mode %04o, want %04o", st.Mode().Perm(), c.mode)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), FileName)
	if err := Remove(missing, "bob"); !errors.Is(err, ErrNoPeer) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Remove from a missing file: %v, want ErrNoPeer naming it", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Remove created the missing file: %v", err)
	}
}

// TestRemoveCheckSeesAnyOtherChange: the check Remove makes before
// writing accepts the old file minus exactly that peer, nothing else.
func TestRemoveCheckSeesAnyOtherChange(t *testing.T) {
	old := &File{Defaults: Peer{Name: "alice"}, Peers: map[string]Peer{"bob": {Sub: 1}, "carol": {Sub: 2}}}
	for _, c := range []struct {
		name string
		now  *File
		ok   bool
	}{
		{"exactly bob gone", &File{Defaults: Peer{Name: "alice"}, Peers: map[string]Peer{"carol": {Sub: 2}}}, true},
		{"bob still there", &File{Defaults: Peer{Name: "alice"}, Peers: map[string]Peer{"bob": {Sub: 1}}}, false},
		{"carol changed", &File{Defaults: Peer{Name: "alice"}, Peers: map[string]Peer{"carol": {Sub: 3}}}, false},
		{"carol gone too", &File{Defaults: Peer{Name: "alice"}, Peers: map[string]Peer{}}, false},
		{"carol renamed", &File{Defaults: Peer{Name: "alice"}, Peers: map[string]Peer{"karol": {Sub: 2}}}, false},
		{"defaults changed", &File{Defaults: Peer{}, Peers: map[string]Peer{"carol": {Sub: 2}}}, false},
	} {
		if got := sameBut(old, c.now, "bob"); got != c.ok {
			t.Errorf("%s: sameBut = %v, want %v", c.name, got, c.ok)
		}
	}
}
