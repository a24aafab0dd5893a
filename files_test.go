package main

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duet/crypto"
	"duet/protocol"
	"duet/protocol/store"
)

// TestSafeNameInjective: peer names that the old mapping sent to one file
// name get distinct ones, and the mapping keeps plain names readable.
func TestSafeNameInjective(t *testing.T) {
	names := []string{"a:1", "a/1", "a_1", "a%3A1", "A:1", "a:1 ", "é:1", "127.0.0.1:9000"}
	seen := map[string]string{}
	for _, n := range names {
		s := safeName(n)
		if prev, ok := seen[strings.ToLower(s)]; ok {
			t.Errorf("%q and %q both map to %q (case folded)", prev, n, s)
		}
		seen[strings.ToLower(s)] = n
		if strings.ContainsAny(s, "/_:\\") {
			t.Errorf("safeName(%q) = %q", n, s)
		}
	}
	if got := safeName("127.0.0.1:9000"); got != "127.0.0.1%3A9000" {
		t.Errorf("safeName = %q", got)
	}
}

// TestOpenDBMigratesLegacyName: a database under the old file name is moved
// to the new one and used when it is this peer's; one that another peer
// name (mapped to the same old name) wrote is left alone and reported.
func TestOpenDBMigratesLegacyName(t *testing.T) {
	idPath := filepath.Join(t.TempDir(), "identity.pem")
	id, _, err := crypto.LoadOrCreateIdentity(idPath, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fp := id.Public().Fingerprint()
	o := chatOptions{identityPath: idPath}
	seed := func(peer, file string) {
		t.Helper()
		key, err := crypto.HistoryKey(id, peer)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(file, key, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		db.Add(protocol.HistoryEntry{ID: 1, Text: "kept from " + peer})
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// Ours under the old name: moved and used.
	legacy := legacyHistoryPath(idPath, fp, "a:1")
	seed("a:1", legacy)
	db, warnings, err := openDB(o, id, "a:1")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Len(); n != 1 || db.Path() != historyPath(idPath, fp, "a:1") {
		t.Errorf("opened %s with %d entries, want the migrated one", db.Path(), n)
	}
	db.Close()
	if _, err := os.Lstat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old file still there: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}

	// Another peer name's file under the shared old name: left, reported.
	legacy = legacyHistoryPath(idPath, fp, "b:2")
	seed("b/2", legacy)
	db, warnings, err = openDB(o, id, "b:2")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := db.Len(); n != 0 {
		t.Errorf("the new database holds %d entries, want 0", n)
	}
	db.Close()
	if _, err := os.Lstat(legacy); err != nil {
		t.Errorf("the other peer's file was moved: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "another peer name") || !strings.Contains(warnings[0], legacy) {
		t.Errorf("warnings %q, want one naming %s", warnings, legacy)
	}
}

// TestOpenDBMigrates6302def: a database the last duet before issue 16 wrote
// (format 2, under the legacy history key and the old file name) is moved
// to the new name and opened with its queued messages: the name migration
// opens it under the legacy key, not only under the new one.
func TestOpenDBMigrates6302def(t *testing.T) {
	const peer = "127.0.0.1:4001" // the peer testdata/6302def.db was written for
	dir := t.TempDir()
	idPath := filepath.Join(dir, "identity.pem")
	copyFile(t, filepath.Join("protocol", "store", "testdata", "identity.pem"), idPath, 0o600)
	id, _, err := crypto.LoadOrCreateIdentity(idPath, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fp := id.Public().Fingerprint()
	legacy := legacyHistoryPath(idPath, fp, peer)
	if legacy == historyPath(idPath, fp, peer) {
		t.Fatal("the peer's old and new file names are the same: the test would not migrate")
	}
	if err := os.MkdirAll(filepath.Dir(legacy), 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join("protocol", "store", "testdata", "6302def.db"), legacy, 0o600)

	db, warnings, err := openDB(chatOptions{identityPath: idPath}, id, peer)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Path() != historyPath(idPath, fp, peer) {
		t.Errorf("opened %s, want the new name", db.Path())
	}
	for _, w := range warnings {
		if strings.Contains(w, "another peer name") {
			t.Errorf("warning %q: the file is this peer's", w)
		}
	}
	st, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, c := range st.Outbox {
		texts = append(texts, c.Text)
	}
	if got := strings.Join(texts, "|"); got != "queued one|queued two|queued three 🔒" {
		t.Errorf("outbox %q, want the three queued messages", got)
	}
	if _, err := os.Lstat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old file still there: %v", err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
