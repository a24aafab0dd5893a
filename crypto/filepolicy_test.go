package crypto

// The file policy of the identity key and known_peers (internal/fsafe's
// table): a symbolic link is followed only if it is the user's own, a file
// must belong to the user, and a known_peers others can write is refused.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duet/internal/fsafe"
)

// otherUID owns what "another user" planted (nobody).
const otherUID = 65534

// needRoot skips a test that gives a file to another user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
}

// dirWithMode is a fresh directory with mode perm (chmod, past the umask).
func dirWithMode(t *testing.T, perm os.FileMode) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, perm); err != nil {
		t.Fatal(err)
	}
	return d
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func lchown(t *testing.T, path string) {
	t.Helper()
	if err := os.Lchown(path, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
}

func writeIdentityFile(t *testing.T, path string) Fingerprint {
	t.Helper()
	id := testFixtures(t).a
	pemBytes, err := id.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return id.Public().Fingerprint()
}

// TestIdentityFollowsOwnLinkOnly: an identity linked into place by the
// user (a dotfile manager) loads; a link someone else could have put there
// (owned by another user, or in a directory others can write to and
// without the sticky bit) is refused, as is a key owned by another user.
func TestIdentityFollowsOwnLinkOnly(t *testing.T) {
	target := filepath.Join(t.TempDir(), "id.pem")
	want := writeIdentityFile(t, target)

	for _, c := range []struct {
		name string
		dir  os.FileMode
		ok   bool
	}{
		{"own link, private directory", 0o700, true},
		{"own link, sticky directory others can write to", 0o777 | os.ModeSticky, true},
		{"own link, directory others can write to", 0o777, false},
		{"own link, directory its group can write to", 0o770, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			link := filepath.Join(dirWithMode(t, c.dir), "id.pem")
			symlink(t, target, link)
			id, err := LoadIdentity(link)
			if c.ok {
				if err != nil || id.Public().Fingerprint() != want {
					t.Fatalf("LoadIdentity through the user's link: %v", err)
				}
				return
			}
			if !errors.Is(err, fsafe.ErrUntrustedLink) || !strings.Contains(err.Error(), link) {
				t.Fatalf("LoadIdentity through a link in a directory others can write to: %v, want ErrUntrustedLink naming %s", err, link)
			}
		})
	}

	t.Run("link planted by another user", func(t *testing.T) {
		needRoot(t)
		link := filepath.Join(t.TempDir(), "id.pem")
		symlink(t, target, link)
		lchown(t, link)
		if _, err := LoadIdentity(link); !errors.Is(err, fsafe.ErrUntrustedLink) || !strings.Contains(err.Error(), "another user") {
			t.Fatalf("LoadIdentity through another user's link: %v, want ErrUntrustedLink", err)
		}
		if _, _, err := LoadOrCreateIdentity(link, nil); !errors.Is(err, fsafe.ErrUntrustedLink) {
			t.Fatalf("LoadOrCreateIdentity through another user's link: %v, want ErrUntrustedLink", err)
		}
	})

	t.Run("dangling link planted by another user", func(t *testing.T) {
		needRoot(t)
		dir := t.TempDir()
		victim := filepath.Join(dir, "victim")
		link := filepath.Join(dir, "id.pem")
		symlink(t, victim, link)
		lchown(t, link)
		if _, _, err := LoadOrCreateIdentity(link, nil); err == nil {
			t.Fatal("LoadOrCreateIdentity created a key through another user's link")
		}
		if _, err := os.Lstat(victim); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the link's target was created: %v", err)
		}
	})

	t.Run("key owned by another user", func(t *testing.T) {
		needRoot(t)
		path := filepath.Join(t.TempDir(), "id.pem")
		writeIdentityFile(t, path)
		lchown(t, path)
		if _, err := LoadIdentity(path); !errors.Is(err, fsafe.ErrNotOwned) || !strings.Contains(err.Error(), path) {
			t.Fatalf("LoadIdentity of another user's key: %v, want ErrNotOwned naming the path", err)
		}
	})
}

// TestKnownPeersFollowsOwnLinkOnly: a known_peers linked into place by the
// user is read, appended to and rewritten where the link points (the link
// stays a link); a link someone else could have put there is refused, and
// nothing is written through it.
func TestKnownPeersFollowsOwnLinkOnly(t *testing.T) {
	t.Run("own link", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "known_peers")
		if err := os.WriteFile(target, []byte("# mine\n"+formatKnownPeer("a:1", fpSeq(1))), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(t.TempDir(), "known_peers")
		symlink(t, target, link)
		k, err := OpenKnownPeers(link)
		if err != nil {
			t.Fatal(err)
		}
		if first, err := k.Check("a:1", fpSeq(1)); first || err != nil {
			t.Fatalf("recorded peer through the link: first=%v err=%v", first, err)
		}
		if first, err := k.Check("b:2", fpSeq(2)); !first || err != nil {
			t.Fatalf("first contact through the link: first=%v err=%v", first, err)
		}
		if err := k.MarkVerified("a:1", fpSeq(1)); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("after a rewrite the user's link is no longer a link: %v %v", st.Mode(), err)
		}
		want := "# mine\n" + formatVerifiedPeer("a:1", fpSeq(1)) + formatKnownPeer("b:2", fpSeq(2))
		if got := readString(t, target); got != want {
			t.Fatalf("the link's target: %q, want %q", got, want)
		}
		checkMode(t, target)
	})

	t.Run("link in a directory others can write to", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "known_peers")
		if err := os.WriteFile(target, []byte(formatKnownPeer("a:1", fpSeq(1))), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dirWithMode(t, 0o777), "known_peers")
		symlink(t, target, link)
		if _, err := OpenKnownPeers(link); !errors.Is(err, fsafe.ErrUntrustedLink) || !strings.Contains(err.Error(), link) {
			t.Fatalf("OpenKnownPeers through a link in a directory others can write to: %v, want ErrUntrustedLink naming the path", err)
		}
	})

	t.Run("link planted by another user", func(t *testing.T) {
		needRoot(t)
		// Theirs: it pins their own key for the peer.
		theirs := filepath.Join(t.TempDir(), "theirs")
		if err := os.WriteFile(theirs, []byte(formatKnownPeer("a:1", fpSeq(9))), 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(t.TempDir(), "known_peers")
		symlink(t, theirs, link)
		lchown(t, link)
		if _, err := OpenKnownPeers(link); !errors.Is(err, fsafe.ErrUntrustedLink) {
			t.Fatalf("OpenKnownPeers through another user's link: %v, want ErrUntrustedLink", err)
		}
	})

	t.Run("dangling link planted by another user after the open", func(t *testing.T) {
		needRoot(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "known_peers")
		k, err := OpenKnownPeers(path) // missing: an empty store
		if err != nil {
			t.Fatal(err)
		}
		victim := filepath.Join(t.TempDir(), "victim")
		symlink(t, victim, path)
		lchown(t, path)
		if _, err := k.Check("a:1", fpSeq(1)); !errors.Is(err, fsafe.ErrUntrustedLink) {
			t.Fatalf("first contact through another user's link: %v, want ErrUntrustedLink", err)
		}
		if _, err := os.Lstat(victim); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("first contact wrote through another user's link: %v", err)
		}
		if err := k.Replace("a:1", fpSeq(2)); !errors.Is(err, fsafe.ErrUntrustedLink) {
			t.Fatalf("a rewrite through another user's link: %v, want ErrUntrustedLink", err)
		}
		if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("the planted link was replaced: %v %v", st.Mode(), err)
		}
	})

	t.Run("known_peers owned by another user", func(t *testing.T) {
		needRoot(t)
		path := filepath.Join(t.TempDir(), "known_peers")
		if err := os.WriteFile(path, []byte(formatKnownPeer("a:1", fpSeq(9))), 0o644); err != nil {
			t.Fatal(err)
		}
		lchown(t, path)
		if _, err := OpenKnownPeers(path); !errors.Is(err, fsafe.ErrNotOwned) || !strings.Contains(err.Error(), path) {
			t.Fatalf("OpenKnownPeers of another user's file: %v, want ErrNotOwned naming the path", err)
		}
	})
}

// TestKnownPeersWritableByOthersRefused: a known_peers that its group or
// other users can write is refused (as ssh's StrictModes does) with a
// message naming the file, its mode, what the mode allowed and the chmod
// that fixes it; the file is left exactly as it was. Readable by others is
// fine (fingerprints are public).
func TestKnownPeersWritableByOthersRefused(t *testing.T) {
	content := "# peers\n" + formatKnownPeer("a:1", fpSeq(1))
	for _, perm := range []os.FileMode{0o666, 0o620, 0o602, 0o660, 0o622, 0o777} {
		t.Run(fmt.Sprintf("%04o", perm), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "known_peers")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, perm); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKnownPeers(path)
			if !errors.Is(err, ErrKnownPeersPermissions) {
				t.Fatalf("OpenKnownPeers of a %04o file: %v, want ErrKnownPeersPermissions", perm, err)
			}
			for _, want := range []string{path, fmt.Sprintf("%04o", perm), "other users", "chmod go-w " + path} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			st, serr := os.Stat(path)
			if got := readString(t, path); got != content || serr != nil || st.Mode().Perm() != perm {
				t.Fatalf("refused file changed: %q, mode %v (%v)", got, st.Mode(), serr)
			}
		})
	}
	for _, perm := range []os.FileMode{0o600, 0o640, 0o644, 0o604, 0o400} {
		path := filepath.Join(t.TempDir(), "known_peers")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, perm); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenKnownPeers(path); err != nil {
			t.Errorf("OpenKnownPeers of a %04o file: %v", perm, err)
		}
	}

	// Opened while private, then opened to others: first contact and a
	// rewrite refuse too, and write nothing.
	k, path := knownFile(t, content)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Check("b:2", fpSeq(2)); !errors.Is(err, ErrKnownPeersPermissions) {
		t.Fatalf("first contact into a 0666 file: %v, want ErrKnownPeersPermissions", err)
	}
	if err := k.MarkVerified("a:1", fpSeq(1)); !errors.Is(err, ErrKnownPeersPermissions) {
		t.Fatalf("rewrite of a 0666 file: %v, want ErrKnownPeersPermissions", err)
	}
	if got := readString(t, path); got != content {
		t.Fatalf("refused file changed: %q", got)
	}
}
