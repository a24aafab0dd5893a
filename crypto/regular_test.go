package crypto

import (
	"crypto/rand"
	"errors"
	stdnet "net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// specialFiles returns paths to a FIFO, a directory, a Unix socket and a
// character device (/dev/null), each with a name for the subtest.
func specialFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	out["fifo"] = fifo
	d := filepath.Join(dir, "dir")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	out["directory"] = d
	sock := filepath.Join(dir, "sock")
	if l, err := stdnet.Listen("unix", sock); err == nil {
		t.Cleanup(func() { l.Close() })
		out["socket"] = sock
	}
	if st, err := os.Stat("/dev/null"); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		out["device"] = "/dev/null"
	}
	return out
}

// within fails the test if f does not return within 10 s (opening a FIFO
// blocks until its other end is opened, which may be never).
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked (still running after 10 s)", what)
		return nil
	}
}

// TestIdentityNotRegularRefused: a FIFO, directory, socket or device at
// the identity path is refused at once (ErrNotRegular, naming the path),
// never opened and waited on.
func TestIdentityNotRegularRefused(t *testing.T) {
	for kind, path := range specialFiles(t) {
		t.Run(kind, func(t *testing.T) {
			err := within(t, "LoadIdentity", func() error { _, err := LoadIdentity(path); return err })
			if !errors.Is(err, ErrNotRegular) || !errors.Is(err, ErrBadIdentity) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadIdentity(%s): %v, want ErrNotRegular and ErrBadIdentity naming the path", kind, err)
			}
			err = within(t, "LoadOrCreateIdentity", func() error { _, _, err := LoadOrCreateIdentity(path, rand.Reader); return err })
			if !errors.Is(err, ErrNotRegular) {
				t.Fatalf("LoadOrCreateIdentity(%s): %v, want ErrNotRegular", kind, err)
			}
			t.Logf("%s: %v", kind, err)
		})
	}
}

// TestKnownPeersNotRegularRefused: a FIFO, directory, socket or device at
// the known_peers path is refused at open (ErrNotRegular, naming the path),
// and so is one that appears there after the store was opened.
func TestKnownPeersNotRegularRefused(t *testing.T) {
	for kind, path := range specialFiles(t) {
		t.Run(kind, func(t *testing.T) {
			err := within(t, "OpenKnownPeers", func() error { _, err := OpenKnownPeers(path); return err })
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), path) {
				t.Fatalf("OpenKnownPeers(%s): %v, want ErrNotRegular naming the path", kind, err)
			}
			t.Logf("%s: %v", kind, err)
		})
	}
	// A FIFO appearing after the store was opened: first contact refuses
	// it rather than blocking or writing into it.
	dir := t.TempDir()
	path := filepath.Join(dir, "known_peers")
	k, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	err = within(t, "Check", func() error { _, err := k.Check("127.0.0.1:1", fpSeq(1)); return err })
	if !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Check with a FIFO at the path: %v, want ErrNotRegular", err)
	}
}

// TestKnownPeersFullDiskNotRecorded: first contact on a full disk says
// what failed (the file and the system error), and records nothing in
// memory, so the next contact tries again.
func TestKnownPeersFullDiskNotRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_peers")
	k, err := OpenKnownPeers(path)
	if err != nil {
		t.Fatal(err)
	}
	saved := appendKnownPeer
	defer func() { appendKnownPeer = saved }()
	appendKnownPeer = func(string, string) error {
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	_, err = k.Check("127.0.0.1:5556", fpSeq(1))
	want := "could not record the peer's key in " + path
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, syscall.ENOSPC) ||
		!strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("Check on a full disk: %v, want %q ... no space left on device", err, want)
	}
	appendKnownPeer = saved
	first, err := k.Check("127.0.0.1:5556", fpSeq(1))
	if err != nil || !first {
		t.Fatalf("after the disk has room: first=%v err=%v", first, err)
	}
}
