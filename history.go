package main

// Wiring of the encrypted chat history (protocol.History) to the node and
// the front ends: what is shown or sent is recorded; the screen and the
// line mode show the stored conversation on start.

import (
	"fmt"
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

// openHistory opens the history database: always without --ephemeral,
// since it also locks the (identity, peer) pair against a second duet
// before anything else is written; --no-history only stops recording and
// showing it.
func openHistory(o chatOptions, id *crypto.Identity, peer string) (*protocol.History, error) {
	key, err := crypto.HistoryKey(id, peer)
	if err != nil {
		return nil, err
	}
	var keep time.Duration
	if o.historyDays > 0 {
		keep = time.Duration(o.historyDays) * 24 * time.Hour
	}
	return protocol.OpenHistory(historyPath(o.identityPath, id.Public().Fingerprint(), peer), key, protocol.HistoryOptions{Retention: keep})
}

func toChatEntries(es []protocol.HistoryEntry) []chat.Entry {
	out := make([]chat.Entry, len(es))
	for i, e := range es {
		out[i] = chat.Entry{ID: e.ID, Own: e.Own, Text: e.Text, At: e.At, PossibleDuplicate: e.PossibleDuplicate}
	}
	return out
}

// historyView is the screen's ui.HistorySource over a protocol.History.
type historyView struct{ h *protocol.History }

func (v historyView) Last(n int) ([]chat.Entry, any, error) {
	es, c, err := v.h.Last(n)
	return toChatEntries(es), c, err
}

func (v historyView) Older(pos any, n int) ([]chat.Entry, any, error) {
	c, ok := pos.(protocol.HistoryCursor)
	if !ok {
		return nil, pos, fmt.Errorf("history: bad position %T", pos)
	}
	es, next, err := v.h.Before(c, n)
	return toChatEntries(es), next, err
}

func (v historyView) Clear() error { return v.h.Clear() }

var _ ui.HistorySource = historyView{}

// recordingSession is the node as the front ends drive it, recording each
// message we send in the history once the node accepted it.
type recordingSession struct {
	*protocol.Node
	h *protocol.History
}

func (r recordingSession) SendMessage(text string) (protocol.Outgoing, error) {
	out, err := r.Node.SendMessage(text)
	if err == nil {
		r.h.Add(protocol.HistoryEntry{ID: out.ID, Own: true, Text: text, At: out.SentAt})
	}
	return out, err
}

// recordShown records a message of the peer's as it reaches the front end.
func recordShown(h *protocol.History, ev protocol.Event) {
	if m, ok := ev.(protocol.MessageEvent); ok {
		h.Add(protocol.HistoryEntry{ID: m.ID, Text: m.Text, At: m.SentAt, PossibleDuplicate: m.PossibleDuplicate})
	}
}
