package mitm

import (
	"errors"
	"fmt"
	"strings"

	"duet/crypto"
	"duet/protocol"
	"duet/protocol/internal/tap"
	"duet/protocol/keys"
)

// This file is the thief of "/attack steal" (issue 19): the demo hands the
// relay a copy of its in-process bob's sending chain, as malware on bob's
// machine would, and the relay then tries to open each record of that flow
// it saw (the last seenMax before the theft) and sees after it, reporting
// each as Read or Unreadable. What it shows is the two boundaries of a
// key compromise: the stolen chain opens no record sealed before the theft
// (its keys were erased as they were used) and none sealed after bob's
// keys healed (a fresh X25519 + ML-KEM-768 exchange the thief did not see
// into). Between them it reads everything, and keeps up (it moves its copy
// past each record it opened, as bob's chain moved).
//
// Only Relay.Steal can give the thief a chain, and only for a
// *protocol.Node in the same process: no duet ever sends or shows its key
// state, so `duet mitm`, a separate process, cannot steal (Arm refuses
// Steal with ErrCannotSteal). Events carry the record's type, seq, and for
// a CHAT read its text; never a key.

// seenMax bounds the records of each flow the relay keeps to try at the
// moment of a theft; the oldest goes first. Its memory is bounded by
// seenMax times the largest message the transport passes.
const seenMax = 16

// Why a record was unreadable (Event.Why).
const (
	WhyBeforeTheft = "before the theft" // sealed before the chain was copied: its key was erased
	WhyHealed      = "after healing"    // sealed under the chain a healing put in place
	WhyNotOpened   = "did not open"     // neither: altered on the way, or not bob's
)

// ErrCannotSteal is Arm's answer to Steal: a relay of bytes has no key
// state to steal, and no duet hands out its own.
var ErrCannotSteal = errors.New("mitm: steal needs a copy of the sender's key state, which no duet gives out " +
	"(nothing in the chat path exposes it); only `duet demo` can, from its own in-process bob")

// thief holds the stolen chain of one flow. Guarded by Relay.mu.
type thief struct {
	chain  keys.Chain
	from   uint32 // the chain's Next at the theft: records below it were sealed before
	epoch  uint32 // the sender's send epoch at the theft
	heals  uint32 // HEAL records seen on either flow since the theft
	healed bool   // a record failed after a healing began: the chain is dead
}

// Steal copies from's sending chain (from is the sender of flow f, the
// demo's own bob) and makes the relay the thief of flow f: it tries the
// records of f it kept (each reported Unreadable, WhyBeforeTheft) and,
// from now on, every record of f it relays. It replaces an earlier theft;
// Disarm ends it. It is the demo's malware and nothing else.
func (m *Relay) Steal(f Flow, from *protocol.Node) error {
	if f != FlowAB && f != FlowBA {
		return fmt.Errorf("mitm: flow %d", f)
	}
	chain, epoch, err := tap.SendChain(from)
	if err != nil {
		return fmt.Errorf("mitm: steal %s: %w", f, err)
	}
	m.mu.Lock()
	th := &thief{chain: chain, from: chain.Next(), epoch: epoch}
	m.thief[f] = th
	evs := []Event{{Flow: f, Action: Armed, Attack: Steal, Seq: th.from, HasSeq: true, Epoch: epoch}}
	for _, rec := range m.seen[f] {
		evs = append(evs, m.try(f, rec))
	}
	m.seen[f] = nil
	m.mu.Unlock()
	for _, ev := range evs {
		m.emit(ev)
	}
	return nil
}

// watch is process's hook for the thief: it notes healings (a HEAL's type
// byte is in the clear, on either flow), keeps msg among flow f's last
// records while there is no thief, and tries it when there is. It returns
// the thief's event, if any. m.mu is held.
func (m *Relay) watch(f Flow, msg []byte) (Event, bool) {
	h, err := protocol.ParseRecordHeader(msg)
	if err != nil || !protocol.IsRecordType(h.Type) || len(msg) < protocol.MinRecordSize {
		return Event{}, false
	}
	if h.Type == protocol.TypeHeal {
		for _, th := range m.thief {
			if th != nil {
				th.heals++
			}
		}
	}
	if m.thief[f] == nil {
		if len(m.seen[f]) == seenMax {
			m.seen[f] = append(m.seen[f][:0], m.seen[f][1:]...)
		}
		m.seen[f] = append(m.seen[f], append([]byte(nil), msg...))
		return Event{}, false
	}
	return m.try(f, msg), true
}

// try opens rec, a record of flow f, under a copy of the thief's chain,
// and moves the chain past it if it opened. m.mu is held.
func (m *Relay) try(f Flow, rec []byte) Event {
	th := m.thief[f]
	ev := m.event(f, Unreadable, Steal, rec)
	ev.Epoch = th.epoch
	h, err := protocol.ParseRecordHeader(rec)
	if err != nil {
		ev.Why = WhyNotOpened
		return ev
	}
	p, ok := th.open(h, rec) // below th.from the chain has no key: it fails
	switch {
	case !ok && h.Seq < th.from:
		ev.Why = WhyBeforeTheft
	case ok:
		ev.Action = Read
		ev.Text = chatText(h.Type, p)
	case th.heals > 0 || th.healed:
		th.healed = true
		ev.Why = WhyHealed
		ev.Epoch = th.epoch + max(th.heals, 1)
	default:
		ev.Why = WhyNotOpened
	}
	return ev
}

// open authenticates rec under the thief's chain (a Peek, so a failure
// leaves it as it was) and commits on success; a dead chain opens nothing.
func (th *thief) open(h protocol.RecordHeader, rec []byte) ([]byte, bool) {
	if th.healed {
		return nil, false
	}
	st, err := th.chain.Peek(h.Seq)
	if err != nil {
		return nil, false
	}
	defer st.Wipe()
	aead, err := crypto.NewAEAD(st.Key())
	if err != nil {
		return nil, false
	}
	p, err := aead.Open(nil, &h.Nonce, rec[protocol.RecordHeaderSize:], rec[:protocol.RecordHeaderSize])
	if err != nil {
		return nil, false
	}
	if th.chain.Commit(&st) != nil {
		return nil, false
	}
	return p, true
}

// chatText is the text of the chat messages in an opened record's payload
// p: a CHAT's text, or a CHATS record's texts joined by "” “" (shown
// between quotes, each message in its own); "" for other records.
func chatText(typ byte, p []byte) string {
	switch typ {
	case protocol.TypeChat:
		if c, err := protocol.ParseChat(p); err == nil {
			return c.Text
		}
	case protocol.TypeChats:
		cs, err := protocol.ParseChats(nil, p)
		if err != nil {
			return ""
		}
		texts := make([]string, len(cs))
		for i, c := range cs {
			texts[i] = c.Text
		}
		return strings.Join(texts, "” “")
	}
	return ""
}
