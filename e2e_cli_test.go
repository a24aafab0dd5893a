package main

// End-to-end tests of the saved peers: duet peer add, then duet chat NAME
// and duet NAME chat with each other from the config file alone; peer list
// shows the trust known_peers recorded; a config file others can read is
// refused like an identity key.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestE2ESavedPeerChat(t *testing.T) {
	pr := newPair(t)
	cfg := filepath.Join(pr.dir, "config.toml")
	kp := filepath.Join(pr.dir, "known_peers")
	a, b := strconv.Itoa(pr.portA), strconv.Itoa(pr.portB)
	for _, args := range [][]string{
		{"peer", "add", "bob", "--config", cfg, "--main", a, "--sub", b, "--identity", filepath.Join(pr.dir, "alice.pem"), "--name", "alice"},
		{"peer", "add", "alice", "--config", cfg, "--main", b, "--sub", a, "--identity", filepath.Join(pr.dir, "bob.pem"), "--name", "bob"},
	} {
		if code, _, stderr := runDuet(t, args...); code != 0 {
			t.Fatalf("duet %v: exit %d, %s", args, code, stderr)
		}
	}
	if st, err := os.Stat(cfg); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode: %v %v", st, err)
	}
	alice := startDuet(t, "alice", "chat", "bob", "--config", cfg, "--headless", "--known-peers", kp, "--ping", "200ms")
	bob := startDuet(t, "bob", "alice", "--config", cfg, "--headless", "--known-peers", kp, "--ping", "200ms")
	ra := alice.waitFor(t, readyTimeout, "ready", isEv("ready"))
	if ra.Main != pr.portA || ra.Sub != pr.portB {
		t.Errorf("alice's ports %d/%d, want the saved %d/%d", ra.Main, ra.Sub, pr.portA, pr.portB)
	}
	alice.waitFor(t, sessionTimeout, "session established", established)
	bob.waitFor(t, sessionTimeout, "session established", established)
	alice.send("hello from a saved peer")
	bob.waitFor(t, msgTimeout, "alice's message", textPrefix("hello from a saved peer"))
	for _, key := range []string{"alice.pem", "bob.pem"} {
		if _, err := os.Stat(filepath.Join(pr.dir, key)); err != nil {
			t.Errorf("the saved identity %s was not used: %v", key, err)
		}
	}
	// peer list shows the trust of the known_peers the chats used: the
	// config's default names it.
	withKP := filepath.Join(pr.dir, "config2.toml")
	data, _ := os.ReadFile(cfg)
	if err := os.WriteFile(withKP, append([]byte("known_peers = \""+kp+"\"\n\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, list, stderr := runDuet(t, "peer", "list", "--config", withKP)
	if code != 0 || strings.Count(list, "known, not verified") != 2 || !strings.Contains(list, "127.0.0.1:"+b) {
		t.Errorf("peer list after the chat: exit %d, stderr %q:\n%s", code, stderr, list)
	}
}

// TestE2EConfigRefused: a config file its group or others can read, one
// with an unknown key, and a --config naming no file are usage errors
// (exit 2) before anything starts.
func TestE2EConfigRefused(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.toml")
	typo := filepath.Join(dir, "typo.toml")
	os.WriteFile(open, []byte("[peer.bob]\nsub = 5556\n"), 0o600)
	os.Chmod(open, 0o644)
	os.WriteFile(typo, []byte("[peer.bob]\nsbu = 5556\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bob", "--config", open, "--lines"}, "chmod 600"},
		{[]string{"peer", "list", "--config", open}, "chmod 600"},
		{[]string{"chat", "bob", "--config", typo, "--lines"}, `unknown key "peer.bob.sbu"`},
		{[]string{"bob", "--config", filepath.Join(dir, "none.toml"), "--lines"}, "no such file"},
		{[]string{"carol", "--config", typo}, "unknown key"},
	} {
		code, _, stderr := runDuet(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("duet %v: exit %d, stderr %q; want exit 2 with %q", c.args, code, stderr, c.want)
		}
	}
}
