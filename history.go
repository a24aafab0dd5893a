package main

// Wiring of the encrypted chat history (store.DB) to the node and
// the front ends: what is shown or sent is recorded; the screen and the
// line mode show the stored conversation on start.

import (
	"fmt"
	"time"

	"duet/protocol"
	"duet/protocol/store"
	"duet/ui/chat"
	"duet/ui/screen"
)

// toChatEntries converts history entries for the screen and the line mode.
// Our own messages get their delivery as the database knows it: read by
// the peer (a read mark, in this run or an earlier one: Read), else still
// in the outbox when it was opened (Queued; the node moves it on when it
// resends it), else Delivered. A read mark wins over the outbox: the peer
// read it, so it was delivered, whatever receipt this run still awaits.
func toChatEntries(h *store.DB, es []protocol.HistoryEntry) []chat.Entry {
	out := make([]chat.Entry, len(es))
	for i, e := range es {
		out[i] = chat.Entry{ID: e.ID, Own: e.Own, Text: e.Text, At: e.At, PossibleDuplicate: e.PossibleDuplicate, ClaimedAt: e.ClaimedAt}
		if e.Own {
			out[i].Delivery = ownDelivery(h, e.ID)
		}
	}
	return out
}

// ownDelivery is the state of our message id as the database knows it.
func ownDelivery(h *store.DB, id uint64) chat.Delivery {
	switch {
	case h.ReadByPeer(id):
		return chat.Read
	case h.QueuedAtOpen(id):
		return chat.Queued
	}
	return chat.Delivered
}

// keepReadMarks stores the ids of a ReadEvent in h (the node's emit
// calls it; PeerRead never waits); nothing without a history (h nil:
// --ephemeral, --no-history).
func keepReadMarks(h *store.DB, ev protocol.Event) {
	if e, ok := ev.(protocol.ReadEvent); ok && h != nil {
		h.PeerRead(e.IDs)
	}
}

// pendingEntries returns the newest n of our messages from an earlier run
// not delivered yet (db.Pending), for a front end that shows no history,
// and how many there are in all.
func pendingEntries(db *store.DB, n int) ([]chat.Entry, int) {
	chats, total := db.Pending(n)
	out := make([]chat.Entry, len(chats))
	for i, c := range chats {
		out[i] = chat.Entry{ID: c.ID, Own: true, Text: c.Text, At: time.Unix(0, c.SentAt), Delivery: chat.Queued}
	}
	return out, total
}

// historyView is a screen.HistorySource over a store.DB.
type historyView struct{ h *store.DB }

func (v historyView) Last(n int) ([]chat.Entry, any, error) {
	es, c, err := v.h.Last(n)
	return toChatEntries(v.h, es), c, err
}

func (v historyView) Older(pos any, n int) ([]chat.Entry, any, error) {
	c, ok := pos.(store.HistoryCursor)
	if !ok {
		return nil, pos, fmt.Errorf("history: bad position %T", pos)
	}
	es, next, err := v.h.Before(c, n)
	return toChatEntries(v.h, es), next, err
}

func (v historyView) Clear() error { return v.h.Clear() }

// Search is the screen's /search over the stored history: read only, the
// texts decrypted in memory (store.DB.Search). A nil from is the newest.
func (v historyView) Search(query string, from any, n int) ([]chat.Entry, any, bool, error) {
	var c store.HistoryCursor
	if from != nil {
		var ok bool
		if c, ok = from.(store.HistoryCursor); !ok {
			return nil, from, true, fmt.Errorf("history search: bad position %T", from)
		}
	}
	hits, next, done, err := v.h.Search(query, c, n)
	es := make([]protocol.HistoryEntry, len(hits))
	for i, h := range hits {
		es[i] = h.Entry
	}
	return toChatEntries(v.h, es), next, done, err
}

var (
	_ screen.HistorySource = historyView{}
	_ screen.HistorySearch = historyView{}
)

// inputView is a screen.InputStore over a store.DB: the draft and the
// input history, sealed in the database's input bucket.
type inputView struct{ h *store.DB }

func (v inputView) LoadInput() (string, []string, error) {
	in, err := v.h.LoadInput()
	return in.Draft, in.Recall, err
}

func (v inputView) SaveInput(draft string, recall []string) error {
	return v.h.SaveInput(store.Input{Draft: draft, Recall: recall})
}

var _ screen.InputStore = inputView{}

// historyClear is the line and headless modes' /clear (ui.InputConfig.Clear)
// for the history h: nil when there is none (--ephemeral, --no-history),
// so that /clear says so. (h.Clear on a nil h would be a non-nil func.)
func historyClear(h *store.DB) func() error {
	if h == nil {
		return nil
	}
	return h.Clear
}
