package main

// Where duet keeps its files beside the identity: the database of one
// (identity, peer) pair and the pre-database delivery log it imports.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"duet/crypto"
	"duet/protocol/store"
)

// deliveryLogPath names the delivery log an older duet kept for one
// (identity, peer) pair, in a "delivery" directory beside the identity
// file: under the old name (legacySafeName), the only one it ever had.
func deliveryLogPath(identityPath string, self crypto.Fingerprint, peer string) string {
	return strings.TrimSuffix(legacyHistoryPath(identityPath, self, peer), ".db") + ".log"
}

// safeName makes a peer name ("host:port") usable in a file name, one to
// one: lowercase letters, digits, '.' and '-' stay, every other byte
// (uppercase letters too, for case-insensitive file systems, and '%'
// itself) becomes %XX with uppercase hex. Two peer names never share a
// file name, and no new name contains '_' (legacySafeName's mark).
func safeName(peer string) string {
	var b strings.Builder
	for i := 0; i < len(peer); i++ {
		c := peer[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// legacySafeName is the mapping duet used before issue 16: not one to
// one (every other character became '_'), so "a:1" and "a/1" shared a file.
func legacySafeName(peer string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, peer)
}

// historyPath names the database of one (identity, peer) pair, beside the
// delivery log, so that two terminals sharing one identity (each talking to
// its own peer) keep working side by side.
func historyPath(identityPath string, self crypto.Fingerprint, peer string) string {
	return filepath.Join(filepath.Dir(identityPath), "delivery", fmt.Sprintf("%x-%s.db", self[:8], safeName(peer)))
}

// legacyHistoryPath is historyPath under legacySafeName.
func legacyHistoryPath(identityPath string, self crypto.Fingerprint, peer string) string {
	return filepath.Join(filepath.Dir(identityPath), "delivery", fmt.Sprintf("%x-%s.db", self[:8], legacySafeName(peer)))
}

// migrateLegacyDB moves the database an older duet kept for this pair
// under the old name to path, when that is unambiguous: path does not
// exist and the old file opens under this peer's key. An old file that
// another peer name mapped to as well (it was written under that peer's
// key: ErrWrongKey) is left as it is and reported, never guessed at. It
// returns a note for the user, or "".
func migrateLegacyDB(path, legacy string, key [32]byte, opt store.Options) (string, error) {
	if legacy == path {
		return "", nil
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if _, err := os.Lstat(legacy); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	old, err := store.Open(legacy, key, store.Options{Now: opt.Now})
	switch {
	case errors.Is(err, store.ErrWrongKey):
		return fmt.Sprintf("the database %s was written for another peer name that an older duet mapped to the same file name; it is left as it is, and this peer starts a new database at %s", legacy, path), nil
	case err != nil:
		return "", err
	}
	if err := old.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(legacy, path); err != nil {
		return "", fmt.Errorf("moving the database %s to %s: %w", legacy, path, err)
	}
	return "", nil
}

// openDB opens the database of delivery state and history: always without
// --ephemeral (its lock also keeps a second duet off the (identity, peer)
// pair); --no-history only stops recording and showing the history. It
// returns what the user should be told although it opened (the database's
// Warnings, and a "delivery" directory found open to others, set back to
// 0700: it is duet's own).
func openDB(o chatOptions, id *crypto.Identity, peer string) (*store.DB, []string, error) {
	key, err := crypto.HistoryKey(id, peer)
	if err != nil {
		return nil, nil, err
	}
	path := historyPath(o.identityPath, id.Public().Fingerprint(), peer)
	var warnings []string
	dir := filepath.Dir(path)
	if st, err := os.Lstat(dir); err == nil && st.IsDir() && st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("directory %s has mode %04o and cannot be set to 0700: %w", dir, st.Mode().Perm(), err)
		}
		warnings = append(warnings, fmt.Sprintf("directory %s had mode %04o, so other users could list (or change) what duet keeps there; set back to 0700", dir, st.Mode().Perm()))
	}
	var keep time.Duration
	if o.historyDays > 0 {
		keep = time.Duration(o.historyDays) * 24 * time.Hour
	}
	note, err := migrateLegacyDB(path, legacyHistoryPath(o.identityPath, id.Public().Fingerprint(), peer), key, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	if note != "" {
		warnings = append(warnings, note)
	}
	db, err := store.Open(path, key, store.Options{Retention: keep, NoHistory: o.noHistory})
	if err != nil {
		return nil, nil, err
	}
	return db, append(warnings, db.Warnings()...), nil
}

// importDeliveryLog imports the delivery log an older duet kept at path
// into db, then wipes and removes it (and its leftover temporary file):
// once. A crash in between imports it again, which changes nothing (Import
// is idempotent). It returns a note for the user when something was
// imported.
func importDeliveryLog(db *store.DB, path string) (note string, err error) {
	// A wipe that a crash cut short left its file under the wipe name
	// (never read as a log): finish it.
	wipeFailed, err := store.FinishDeliveryLogWipes(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	st, torn, err := store.ReadDeliveryLog(path)
	if err != nil {
		return "", err
	}
	// Count what the import adds, not the log's whole outbox: an import
	// that a crash interrupted before the removal already queued some (or
	// all) of it. db.Load would show the outbox, but it is not read-only:
	// it hands the loaded state to its caller (the Node, later) and empties
	// it. QueuedAtOpen only reads: it is true for ids in the outbox at open
	// and for those imported since.
	queued := make(map[uint64]bool, len(st.Outbox))
	for _, c := range st.Outbox {
		queued[c.ID] = db.QueuedAtOpen(c.ID)
	}
	if err := db.Import(st); err != nil {
		return "", fmt.Errorf("importing %s: %w", path, err)
	}
	added := 0
	for id, before := range queued {
		if !before && db.QueuedAtOpen(id) {
			added++
		}
	}
	failed, err := store.RemoveDeliveryLog(path)
	if err != nil {
		return "", fmt.Errorf("imported %s but %w", path, err)
	}
	wipeFailed = append(wipeFailed, failed...)
	what := fmt.Sprintf("%d queued messages", added)
	if added == 1 {
		what = "1 queued message"
	}
	if again := len(queued) - added; again > 0 {
		what += fmt.Sprintf("; %d more in it were imported before", again)
	}
	note = fmt.Sprintf("imported the old delivery log %s (%s) into %s, overwrote it with zeros and removed it", path, what, db.Path())
	if torn > 0 {
		note += fmt.Sprintf("; its last %d bytes were an entry cut short by a crash and were skipped", torn)
	}
	for _, w := range wipeFailed {
		note += "; " + w
	}
	return note, nil
}
