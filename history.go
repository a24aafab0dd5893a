package main

// Wiring of the encrypted chat history (protocol.DB) to the node and
// the front ends: what is shown or sent is recorded; the screen and the
// line mode show the stored conversation on start.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"duet/crypto"
	"duet/protocol"
	"duet/ui"
	"duet/ui/chat"
)

// historyPath names the database of one (identity, peer) pair, beside the
// delivery log, so that two terminals sharing one identity (each talking to
// its own peer) keep working side by side.
func historyPath(identityPath string, self crypto.Fingerprint, peer string) string {
	return filepath.Join(filepath.Dir(identityPath), "delivery", fmt.Sprintf("%x-%s.db", self[:8], safeName(peer)))
}

// openDB opens the database of delivery state and history: always without
// --ephemeral (its lock also keeps a second duet off the (identity, peer)
// pair); --no-history only stops recording and showing the history. It
// returns what the user should be told although it opened (the database's
// Warnings, and a "delivery" directory found open to others, set back to
// 0700: it is duet's own).
func openDB(o chatOptions, id *crypto.Identity, peer string) (*protocol.DB, []string, error) {
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
	db, err := protocol.OpenDB(path, key, protocol.DBOptions{Retention: keep, NoHistory: o.noHistory})
	if err != nil {
		return nil, nil, err
	}
	return db, append(warnings, db.Warnings()...), nil
}

// toChatEntries converts history entries for the screen and the line mode.
// Our own messages get their delivery as the database knows it: still in
// the outbox when it was opened (Queued; the node moves it on when it
// resends it), else Delivered.
func toChatEntries(h *protocol.DB, es []protocol.HistoryEntry) []chat.Entry {
	out := make([]chat.Entry, len(es))
	for i, e := range es {
		out[i] = chat.Entry{ID: e.ID, Own: e.Own, Text: e.Text, At: e.At, PossibleDuplicate: e.PossibleDuplicate}
		if e.Own {
			out[i].Delivery = chat.Delivered
			if h.QueuedAtOpen(e.ID) {
				out[i].Delivery = chat.Queued
			}
		}
	}
	return out
}

// pendingEntries returns the newest n of our messages from an earlier run
// not delivered yet (db.Pending), for a front end that shows no history,
// and how many there are in all.
func pendingEntries(db *protocol.DB, n int) ([]chat.Entry, int) {
	chats, total := db.Pending(n)
	out := make([]chat.Entry, len(chats))
	for i, c := range chats {
		out[i] = chat.Entry{ID: c.ID, Own: true, Text: c.Text, At: time.Unix(0, c.SentAt), Delivery: chat.Queued}
	}
	return out, total
}

// historyView is the screen's ui.HistorySource over a protocol.DB.
type historyView struct{ h *protocol.DB }

func (v historyView) Last(n int) ([]chat.Entry, any, error) {
	es, c, err := v.h.Last(n)
	return toChatEntries(v.h, es), c, err
}

func (v historyView) Older(pos any, n int) ([]chat.Entry, any, error) {
	c, ok := pos.(protocol.HistoryCursor)
	if !ok {
		return nil, pos, fmt.Errorf("history: bad position %T", pos)
	}
	es, next, err := v.h.Before(c, n)
	return toChatEntries(v.h, es), next, err
}

func (v historyView) Clear() error { return v.h.Clear() }

var _ ui.HistorySource = historyView{}

// historyClear is the line and headless modes' /clear (ui.InputConfig.Clear)
// for the history h: nil when there is none (--ephemeral, --no-history),
// so that /clear says so. (h.Clear on a nil h would be a non-nil func.)
func historyClear(h *protocol.DB) func() error {
	if h == nil {
		return nil
	}
	return h.Clear
}

// importDeliveryLog imports the delivery log an older duet kept at path
// into db, then wipes and removes it (and its leftover temporary file):
// once. A crash in between imports it again, which changes nothing (Import
// is idempotent). It returns a note for the user when something was
// imported.
func importDeliveryLog(db *protocol.DB, path string) (note string, err error) {
	// A wipe that a crash cut short left its file under the wipe name
	// (never read as a log): finish it.
	var wipeFailed []string
	for _, p := range []string{path + wipeSuffix, path + ".tmp" + wipeSuffix} {
		werr, err := finishWipe(p)
		if err != nil {
			return "", fmt.Errorf("cannot remove %s: %w", p, err)
		}
		if werr != "" {
			wipeFailed = append(wipeFailed, werr)
		}
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	st, torn, err := protocol.ReadDeliveryLog(path)
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
	for _, p := range []string{path, path + ".tmp"} {
		werr, err := wipeAndRemove(p)
		if err != nil {
			return "", fmt.Errorf("imported %s but cannot remove it: %w", p, err)
		}
		if werr != "" {
			wipeFailed = append(wipeFailed, werr)
		}
	}
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

// wipeSuffix names a delivery log (or its .tmp) being wiped: it is renamed
// first, so that a crash during the wipe never leaves a log of zeros under
// the log's own name (which would fail to read at the next start), only a
// file that the next start finishes wiping.
const wipeSuffix = ".wipe"

// wipeAndRemove renames the file at p to p+wipeSuffix, then overwrites it
// with zeros and removes it (finishWipe). It returns why the overwrite
// failed, if it did (the file is removed all the same), and an error if
// the file could not be removed.
func wipeAndRemove(p string) (wipeFailed string, err error) {
	if err := os.Rename(p, p+wipeSuffix); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	syncDir(filepath.Dir(p)) // the rename is on disk before any zero is
	return finishWipe(p + wipeSuffix)
}

// finishWipe overwrites the file at p with zeros (overwriteWithZeros),
// removes it and syncs its directory. A failed overwrite is returned as a
// note, not an error: the file is removed all the same.
func finishWipe(p string) (wipeFailed string, err error) {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err := overwriteWithZeros(p); err != nil {
		wipeFailed = fmt.Sprintf("could not overwrite %s with zeros before removing it: %v", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	syncDir(filepath.Dir(p))
	return wipeFailed, nil
}

// overwriteWithZeros overwrites the regular file at p with zeros, in
// place and at the same length, and fsyncs it, so that the old log's
// plaintext (message texts) does not stay readable in the blocks a removal
// frees. Anything but a regular file is left to the removal untouched: a
// symbolic link is not followed (nothing outside is written), and a FIFO,
// device or directory is not even opened.
//
// Best effort only: on journaling filesystems (ext4 data=journal), on
// copy-on-write ones (btrfs, ZFS, APFS), under snapshots and on SSDs (wear
// levelling remaps blocks) the zeros may go to new blocks and leave the old
// ones readable until they are reused; only an encrypted disk covers that.
func overwriteWithZeros(p string) error {
	if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
		return nil // gone, or not a regular file
	}
	// O_NOFOLLOW and O_NONBLOCK: a link or FIFO swapped in since the Lstat
	// is neither followed nor waited on; the descriptor is checked again.
	f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENXIO) || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	zeros := make([]byte, 64<<10)
	for off, size := int64(0), st.Size(); off < size; {
		n, err := f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off)
		if err != nil {
			return err
		}
		off += int64(n)
	}
	return f.Sync()
}

// syncDir fsyncs a directory, so that a rename or removal in it is on
// disk (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// openBenchStores opens two fresh databases in a temporary directory for
// duet bench's durable measures, and a func closing and removing them.
func openBenchStores(ids [2]*crypto.Identity) (protocol.Store, protocol.Store, func(), error) {
	dir, err := os.MkdirTemp("", "duet-bench-")
	if err != nil {
		return nil, nil, nil, err
	}
	var dbs [2]*protocol.DB
	cleanup := func() {
		for _, db := range dbs {
			if db != nil {
				db.Close()
			}
		}
		os.RemoveAll(dir)
	}
	for i, id := range ids {
		key, err := crypto.HistoryKey(id, "bench")
		if err != nil {
			cleanup()
			return nil, nil, nil, err
		}
		if dbs[i], err = protocol.OpenDB(filepath.Join(dir, fmt.Sprintf("%d.db", i)), key, protocol.DBOptions{}); err != nil {
			cleanup()
			return nil, nil, nil, err
		}
	}
	return dbs[0], dbs[1], cleanup, nil
}
