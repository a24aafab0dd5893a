package fsafe

import (
	"errors"
	stdnet "net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openWithin opens path and fails the test if that blocks for 10 s.
func openWithin(t *testing.T, path string, flag int, p Policy) (*os.File, error) {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := Open(path, flag, 0o600, p)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		if r.f != nil {
			t.Cleanup(func() { r.f.Close() })
		}
		return r.f, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Open(%s) blocked", path)
		return nil, nil
	}
}

// TestOpenRefusesSpecialFiles: a FIFO, a directory, a socket and a device
// are refused under both policies, without blocking, with what they are.
func TestOpenRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := stdnet.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cases := map[string]string{fifo: "a named pipe (FIFO)", dir: "a directory", sock: "a socket"}
	if st, err := os.Stat("/dev/null"); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		cases["/dev/null"] = "a character device"
	}
	for path, kind := range cases {
		for _, p := range []Policy{UserFile, OwnFile} {
			for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_CREATE} {
				_, err := openWithin(t, path, flag, p)
				if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), kind) {
					t.Errorf("Open(%s, %+v): %v, want ErrNotRegular saying %q", path, p, err, kind)
				}
			}
		}
	}
}

// TestOpenLinks: OwnFile refuses every link; UserFile follows the user's
// own link in a private or sticky directory, and refuses one in a
// directory others can write to.
func TestOpenLinks(t *testing.T) {
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	mk := func(perm os.FileMode) string {
		d := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(d, "link")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, perm); err != nil {
			t.Fatal(err)
		}
		return link
	}
	private, sticky, open := mk(0o700), mk(0o777|os.ModeSticky), mk(0o777)

	if _, err := Open(private, os.O_RDONLY, 0, OwnFile); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a symbolic link") {
		t.Errorf("OwnFile through a link: %v, want ErrNotRegular (a symbolic link)", err)
	}
	for _, link := range []string{private, sticky} {
		if _, err := Open(link, os.O_RDONLY, 0, UserFile); err != nil {
			t.Errorf("UserFile through the user's link %s: %v", link, err)
		}
		if got, err := Resolve(link, UserFile); err != nil || got != target {
			t.Errorf("Resolve(%s) = %q, %v; want %q", link, got, err, target)
		}
	}
	if _, err := Open(open, os.O_RDONLY, 0, UserFile); !errors.Is(err, ErrUntrustedLink) {
		t.Errorf("UserFile through a link in a directory others can write to: %v, want ErrUntrustedLink", err)
	}
	if _, err := Resolve(open, UserFile); !errors.Is(err, ErrUntrustedLink) {
		t.Errorf("Resolve of a link in a directory others can write to: %v, want ErrUntrustedLink", err)
	}
	if _, err := Resolve(private, OwnFile); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Resolve of a link under OwnFile: %v, want ErrNotRegular", err)
	}
	if got, err := Resolve(target, UserFile); err != nil || got != target {
		t.Errorf("Resolve of a regular file = %q, %v", got, err)
	}

	// A dangling link under OwnFile with O_CREATE: nothing is created.
	victim := filepath.Join(t.TempDir(), "victim")
	link := filepath.Join(t.TempDir(), "dangling")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link, os.O_WRONLY|os.O_CREATE, 0o600, OwnFile); !errors.Is(err, ErrNotRegular) {
		t.Errorf("OwnFile O_CREATE through a dangling link: %v", err)
	}
	if _, err := os.Lstat(victim); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
}

// TestOpenCreates: O_CREATE makes a regular file with perm; a missing file
// without it is fs.ErrNotExist.
func TestOpenCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new")
	if _, err := Open(path, os.O_RDONLY, 0, UserFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
	f, err := Open(path, os.O_WRONLY|os.O_CREATE, 0o600, UserFile)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("created: %v %v", st, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
}

// TestOpenNotOwned: UserFile refuses a file owned by another user; OwnFile
// does not look (root only: it gives the file away).
func TestOpenNotOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	path := filepath.Join(t.TempDir(), "theirs")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, os.O_RDONLY, 0, UserFile); !errors.Is(err, ErrNotOwned) || !strings.Contains(err.Error(), "65534") {
		t.Errorf("UserFile of another user's file: %v, want ErrNotOwned naming the uid", err)
	}
	if f, err := Open(path, os.O_RDONLY, 0, OwnFile); err != nil {
		t.Errorf("OwnFile of another user's file: %v", err)
	} else {
		f.Close()
	}
}
