package main

import (
	"crypto/rand"
	"io"
	"path/filepath"
	"testing"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/screen"
)

// TestReadMarkKeptThroughStore (issue 17): the node's ReadEvent, through
// the front end's emit, is kept in the real database, and after a restart
// the history gives those messages chat.Read (✔✔) on the screen and in
// the line mode (also one whose outbox record still waits for another),
// while the others keep Delivered and Queued. With --no-history nothing is
// kept.
func TestReadMarkKeptThroughStore(t *testing.T) {
	id, err := crypto.GenerateIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := chatOptions{mode: modeLines, identityPath: filepath.Join(t.TempDir(), "id.pem"), name: "alice", peerName: "bob"}
	const peer = "127.0.0.1:4001"
	open := func(o chatOptions) *chatStore {
		t.Helper()
		st, err := openStore(o, id, peer, &startNotes{stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	emitRead := func(st *chatStore, ids ...uint64) {
		fe := &front{sink: screen.NewSink()}
		fe.keepReadsIn(st)
		fe.emit(protocol.ReadEvent{IDs: ids})
		st.close() // commits the marks
	}

	st := open(o)
	// Two records: an outbox record stays until all its messages are
	// delivered (and its messages count as queued at open).
	if err := st.db.Queue([]protocol.Chat{{ID: 1, SentAt: 1, Text: "read one"}, {ID: 2, SentAt: 2, Text: "delivered two"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Queue([]protocol.Chat{{ID: 3, SentAt: 3, Text: "queued three"}, {ID: 4, SentAt: 4, Text: "read, its record still queued"}}); err != nil {
		t.Fatal(err)
	}
	st.db.Delivered([]uint64{1, 2, 4})
	emitRead(st, 1, 4)

	st = open(o)
	want := map[uint64]chat.Delivery{1: chat.Read, 2: chat.Delivered, 3: chat.Queued, 4: chat.Read}
	check := func(where string, es []chat.Entry) {
		t.Helper()
		if len(es) != 4 {
			t.Fatalf("%s: %d entries, want 4", where, len(es))
		}
		for _, e := range es {
			if e.Delivery != want[e.ID] {
				t.Errorf("%s: %q delivery %d, want %d", where, e.Text, e.Delivery, want[e.ID])
			}
		}
	}
	check("line mode", st.shown)
	es, _, err := historyView{st.hist}.Last(10)
	if err != nil {
		t.Fatal(err)
	}
	check("screen", es)
	st.close()

	o.noHistory = true
	st = open(o)
	emitRead(st, 2) // --no-history: kept nowhere
	o.noHistory = false
	st = open(o)
	defer st.close()
	check("after a --no-history run", st.shown)
}
