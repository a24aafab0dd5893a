package protocol

// The Node's record side: opening and dispatching session records,
// sealing with rekeys, and authenticated liveness.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"duet/crypto"
)

// Driven by node_records.go.
//
// recordState is the record layer's memory beside the current session
// (Node.sess). prev is the session sess replaced: records still in flight
// in it are accepted until prevUntil (prevSessionGrace after the switch),
// and its GOODBYE only forgets it. lastChat is the last CHAT record
// sealed, which /replay re-sends byte for byte (no other record type);
// lastChatSess is the session it was sealed in (Replay says when that
// session is no longer current).
type recordState struct {
	prev         *Session
	prevUntil    time.Time
	lastChat     []byte
	lastChatSess *Session
	pingID       uint64 // the last ping's id, plain or authenticated
	openBuf      []byte // Open's scratch buffer
}

// handleRecord handles a session record (docs/PROTOCOL.md, sections 5 to
// 9): the confirmation of the pending session, or a record opened in the
// current session (or the one it replaced) and acted on by type.
func (n *Node) handleRecord(m []byte) {
	h, err := ParseRecordHeader(m)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	if !IsKnownRecordType(h.Type) && n.sess == nil {
		n.reject(unknownType(h.Type), 0, false) // as before unknown types were opened
		return
	}
	if h.Type == TypeConfirm && n.hs.pendingSess != nil {
		_, err := n.hs.pendingSess.Open(n.rec.openBuf, m, n.now) // checks the payload against TH
		if err != nil {
			n.reject(err, h.Seq, errors.Is(err, ErrBadConfirm))
			n.handshakeEvent(StepConfirm, err)
			return
		}
		n.establish(n.hs.pendingSess)
		return
	}
	s, o, ok := n.openRecord(m, h)
	if !ok {
		return
	}
	if o.Gap > 0 && s == n.sess {
		n.emit(GapEvent{Missing: o.Gap})
	}
	if o.Rekeyed {
		n.emitRekeyed(s, DirectionReceive)
	}
	if o.SendRekeyed {
		n.emitRekeyed(s, DirectionSend)
	}
	n.actOnRecord(s, h, o)
}

// openRecord opens m, whose header is h, in the current session or, if it
// fails there, in the session just replaced. It returns the session that
// opened it; a record that opens in neither is rejected or ignored.
func (n *Node) openRecord(m []byte, h RecordHeader) (*Session, Opened, bool) {
	s := n.sess
	if s == nil {
		n.ignore()
		return nil, Opened{}, false // a record from a session this process does not have: the peer will re-handshake
	}
	o, err := s.Open(n.rec.openBuf, m, n.now)
	if err != nil && !SeqKnown(err) && n.rec.prev != nil && n.now.Before(n.rec.prevUntil) {
		// Perhaps in flight from the session just replaced: accept it there.
		po, perr := n.rec.prev.Open(n.rec.openBuf, m, n.now)
		switch {
		case perr == nil:
			s, o, err = n.rec.prev, po, nil
		case errors.Is(perr, ErrRecordReflected), errors.Is(perr, ErrReplay):
			err = perr // our own record, or a replay, of the replaced session
		}
	}
	if err != nil {
		// Whether the seq is worth reporting: see SeqKnown.
		known := SeqKnown(err)
		if !known && !IsKnownRecordType(h.Type) && errors.Is(err, ErrTampered) {
			err = unknownType(h.Type) // refused as before unknown types were opened
		}
		n.reject(err, h.Seq, known)
		if errors.Is(err, ErrTooFar) {
			n.recoverFromDrift()
		}
		return nil, Opened{}, false
	}
	return s, o, true
}

// recoverFromDrift starts a new handshake when a record too far ahead of
// the receive chain arrives while the peer has stopped answering our pings
// (liveness down): in a long outage more than keys.MaxSkip of the peer's
// records were lost, so none of its records can be opened again, and the
// new session replaces the drifted one (undelivered messages are resent in
// it). While the peer answers, a too-far record is only an attacker's and
// changes nothing; at worst an attacker makes a peer that is down anyway
// try a handshake, which the peer's key decides.
func (n *Node) recoverFromDrift() {
	if n.live.state == LiveDown && n.hs.attempt.IsZero() {
		n.startHandshake()
	}
}

// actOnRecord acts on an authenticated record of session s.
func (n *Node) actOnRecord(s *Session, h RecordHeader, o Opened) {
	switch h.Type {
	case TypeChat:
		c, _ := ParseChat(o.Payload) // validated by Open
		n.stopPeerTyping()           // the peer sent what it was typing
		n.receiveChat(c, h.Seq)
	case TypeChats:
		cs, _ := ParseChats(nil, o.Payload) // validated by Open
		n.stopPeerTyping()
		for _, c := range cs {
			n.receiveChat(c, h.Seq)
		}
	case TypeReceipt:
		ids, _ := ParseReceipt(nil, o.Payload)
		n.delivered(ids)
	case TypePing:
		id, _ := ParsePingPayload(o.Payload)
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], id)
		n.sealAndQueue(TypePong, p[:])
	case TypePong:
		id, _ := ParsePingPayload(o.Payload)
		n.gotPong(id, true)
	case TypeTyping:
		n.gotTyping()
	case TypeRead:
		n.gotRead(o.Payload)
	case TypeHeal:
		if s == n.sess {
			n.answerHeal(s, h, o.Payload)
		}
	case TypeHealAck:
		if s == n.sess {
			n.finishHeal(s, h, o.Payload)
		}
	case TypeConfirm:
		// A repeated confirmation in an established session: nothing to do.
	case TypeGoodbye:
		if s == n.sess {
			n.peerLeft()
		} else {
			n.rec.prev = nil // the replaced session's end: nothing to report
		}
	default:
		if !IsKnownRecordType(h.Type) {
			n.gotUnknown() // authenticated, in order, fresh: ignored and counted
		}
	}
}

// unknownType is the refusal of a record of a type this node does not
// know that did not authenticate (or came without a session): "malformed",
// exactly as such a record was refused before the rule of section 8.
func unknownType(t byte) error { return fmt.Errorf("%w: 0x%02x", ErrUnknownType, t) }

// peerLeft ends the session after an authenticated GOODBYE: the peer quit
// cleanly. The session is discarded as if closed (nothing more is sent in
// it), and so is the candidate key with its reachability, so that a
// returning peer runs a fresh handshake exactly as at start. Unacknowledged
// chat messages stay queued for the next session. Liveness starts over:
// the UI shows "peer left", then waiting (a LiveEvent with LiveWaiting)
// until the returning peer answers a plain ping.
func (n *Node) peerLeft() {
	s := n.sess
	n.sess, n.rec.prev, n.hs.pendingSess, n.hs.init, n.hs.resp = nil, nil, nil, nil, nil
	n.hs.peer, n.hs.reachable, n.hs.verified = nil, false, time.Time{}
	n.hs.attempt, n.hs.progress = time.Time{}, time.Time{}
	n.inbox.receipts = n.inbox.receipts[:0]
	n.tally.reset()
	n.stopPeerTyping()
	n.emitSession(SessionPeerLeft, s)
	n.live = newLiveness()
	n.emit(n.live.event())
}

// sealAndQueue seals a record in the current session (rekeying first when
// due) and queues it. It returns the record's seq.
func (n *Node) sealAndQueue(typ byte, payload []byte) (uint32, bool) {
	s := n.sess
	if s == nil {
		return 0, false
	}
	if s.NeedsRekey(n.now) || s.HealPending(n.now, DefaultHealRetry) {
		n.startHeal() // on failure the record is still sent under the current chain
	}
	rec, seq, err := s.Seal(nil, typ, payload, n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return 0, false
	}
	if s.SeqExhausted() && n.hs.attempt.IsZero() {
		n.startHandshake()
	}
	if IsChatRecord(typ) {
		n.rec.lastChat, n.rec.lastChatSess = rec, s
	}
	n.queue(rec)
	return seq, true
}

// startHeal seals and queues a HEAL (/rekey, or the limits): the
// rekeyed events follow as the two directions switch.
func (n *Node) startHeal() error {
	rec, err := n.sess.Heal(nil, n.now)
	if err != nil {
		if !errors.Is(err, ErrHealing) {
			n.emit(ErrorEvent{Err: err})
		}
		return err
	}
	n.queue(rec)
	return nil
}

// answerHeal answers the peer's HEAL with a HEAL_ACK. A HEAL that cannot be
// answered (a low-order X25519 key: only the authenticated peer can send
// one) is reported as malformed; the peer's healing then times out.
func (n *Node) answerHeal(s *Session, h RecordHeader, payload []byte) {
	rec, err := s.AnswerHeal(nil, payload, h.Seq, n.now)
	if err != nil {
		n.reject(err, h.Seq, true)
		return
	}
	if len(rec) > 0 {
		n.queue(rec)
	}
}

// finishHeal takes the peer's HEAL_ACK: our send side switches, and a ping
// under the new chain tells the peer to switch too.
func (n *Node) finishHeal(s *Session, h RecordHeader, payload []byte) {
	switched, err := s.FinishHeal(payload, h.Seq, n.now)
	if err != nil {
		n.reject(err, h.Seq, true)
		return
	}
	if switched {
		n.emitRekeyed(s, DirectionSend)
		n.sendPing()
	}
}

func (n *Node) sendPing() {
	n.rec.pingID++
	if n.live.pingSent(n.rec.pingID, n.now) {
		n.emit(n.live.event())
	}
	if n.sess != nil {
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], n.rec.pingID)
		n.sealAndQueue(TypePing, p[:])
		return
	}
	n.queue(AppendPlainPing(nil, TypePlainPing, n.rec.pingID))
}

func (n *Node) gotPong(id uint64, authenticated bool) {
	if n.live.pong(id, authenticated, n.now) {
		n.emit(n.live.event())
	}
}

// emitRekeyed reports a key epoch change in one direction of s.
func (n *Node) emitRekeyed(s *Session, dir string) {
	fp := s.PeerKey().Fingerprint()
	epoch := s.SendEpoch()
	if dir == DirectionReceive {
		epoch = s.RecvEpoch()
	}
	n.emit(SessionEvent{State: SessionRekeyed, PeerFingerprint: fp.String(), SafetyNumber: crypto.SafetyNumber(n.self, fp), Direction: dir,
		KeyExchange: KeyExchangeHealing, PostQuantum: true, Epoch: epoch})
}
