package main

// The file policy of duet's own data (internal/fsafe's table), seen from
// where main uses it.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOldDeliveryLogLinkRefused: the old delivery log is duet's own file
// in duet's own directory; a symbolic link at its path is not followed (it
// would have duet send the messages queued in a file of someone else's
// choosing as the user's). The import fails naming the file, imports
// nothing, and leaves the link and its target alone.
func TestOldDeliveryLogLinkRefused(t *testing.T) {
	db := openTestDB(t)
	target := filepath.Join(t.TempDir(), "elsewhere.log")
	log := queuedEntry(31, 1, "not yours to send")
	writeFile(t, target, log)
	path := filepath.Join(t.TempDir(), "old.log")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	note, err := importDeliveryLog(db, path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("import through a link: note %q, err %v; want an error naming %s as a symbolic link", note, err, path)
	}
	if db.QueuedAtOpen(31) {
		t.Error("the link's target was imported: its message is queued")
	}
	if st, err := os.Lstat(path); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is gone: %v", err)
	}
	if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, log) {
		t.Errorf("the link's target changed: %q (%v)", got, err)
	}
}
