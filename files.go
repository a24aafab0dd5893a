package main

// Where duet keeps its files beside the identity: the database of one
// (identity, peer) pair, and the pre-database delivery log it names (and no
// longer imports).

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
	old, err := store.Open(legacy, key, store.Options{Now: opt.Now, LegacyKey: opt.LegacyKey})
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
	// A database an older duet wrote is under the legacy key: Open seals
	// it again under key. (Nil if this Go cannot encode the key as older
	// duets did: only such a database would then fail to open.)
	var legacy *[32]byte
	if lk, err := crypto.LegacyHistoryKey(id, peer); err == nil {
		legacy = &lk
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
	note, err := migrateLegacyDB(path, legacyHistoryPath(o.identityPath, id.Public().Fingerprint(), peer), key, store.Options{LegacyKey: legacy})
	if err != nil {
		return nil, nil, err
	}
	if note != "" {
		warnings = append(warnings, note)
	}
	db, err := store.Open(path, key, store.Options{Retention: keep, NoHistory: o.noHistory, LegacyKey: legacy})
	if err != nil {
		return nil, nil, err
	}
	return db, append(warnings, db.Warnings()...), nil
}

// oldDeliveryLogNotes returns a warning for each file at path (the
// delivery log a duet older than the database kept for this identity and
// peer) or beside it (its temporary file, or a wipe a crash cut short):
// duet no longer reads them (issue 16 item 3: the log is plaintext and
// unauthenticated, so whoever could write the directory could have duet
// send messages as the user). They are only named, never opened, changed
// or removed (they may hold the text of messages the user wants to read),
// at every start until the user deletes them.
func oldDeliveryLogNotes(path string) []string {
	var notes []string
	for _, p := range []string{path, path + ".tmp", path + ".wipe", path + ".tmp.wipe"} {
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		notes = append(notes, fmt.Sprintf("found %s, a delivery log from a duet older than its database: duet no longer imports it and sent nothing from it; it may hold message text in plaintext: read it if you need to, and delete it by hand", p))
	}
	return notes
}
