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
// pair); --no-history only stops recording and showing the history.
func openDB(o chatOptions, id *crypto.Identity, peer string) (*protocol.DB, error) {
	key, err := crypto.HistoryKey(id, peer)
	if err != nil {
		return nil, err
	}
	var keep time.Duration
	if o.historyDays > 0 {
		keep = time.Duration(o.historyDays) * 24 * time.Hour
	}
	return protocol.OpenDB(historyPath(o.identityPath, id.Public().Fingerprint(), peer), key, protocol.DBOptions{Retention: keep, NoHistory: o.noHistory})
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

// importDeliveryLog imports the delivery log an older duet kept at path
// into db, then removes it (and its leftover temporary file): once. A
// crash in between imports it again, which changes nothing (Import is
// idempotent). It returns a note for the user when something was imported.
func importDeliveryLog(db *protocol.DB, path string) (note string, err error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	st, torn, err := protocol.ReadDeliveryLog(path)
	if err != nil {
		return "", err
	}
	if err := db.Import(st); err != nil {
		return "", fmt.Errorf("importing %s: %w", path, err)
	}
	for _, p := range []string{path, path + ".tmp"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("imported %s but cannot remove it: %w", p, err)
		}
	}
	note = fmt.Sprintf("imported the old delivery log %s (%d queued messages) into %s and removed it", path, len(st.Outbox), db.Path())
	if torn > 0 {
		note += fmt.Sprintf("; its last %d bytes were an entry cut short by a crash and were skipped", torn)
	}
	return note, nil
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
