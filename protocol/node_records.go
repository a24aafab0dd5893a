package protocol

// The Node's record side: opening and dispatching session records,
// sealing with rekeys, and authenticated liveness.

import (
	"encoding/binary"
	"errors"
	"time"

	"duet/crypto"
)

func (n *Node) handleRecord(m []byte) {
	h, err := ParseRecordHeader(m)
	if err != nil {
		n.reject(err, 0, false)
		return
	}
	if h.Type == TypeConfirm && n.pendingSess != nil {
		_, err := n.pendingSess.Open(n.openBuf, m, n.now) // checks the payload against TH
		if err != nil {
			n.reject(err, h.Seq, errors.Is(err, ErrBadConfirm))
			n.handshakeEvent(StepConfirm, err)
			return
		}
		n.establish(n.pendingSess)
		return
	}
	s := n.sess
	if s == nil {
		n.ignore()
		return // a record from a session this process does not have: the peer will re-handshake
	}
	o, err := s.Open(n.openBuf, m, n.now)
	if errors.Is(err, ErrTampered) && n.prevSess != nil && n.now.Before(n.prevUntil) {
		// In flight from the session just replaced: accept it there.
		if po, perr := n.prevSess.Open(n.openBuf, m, n.now); perr == nil {
			s, o, err = n.prevSess, po, nil
		}
	}
	if err != nil {
		// The header parsed above, so every failure but the tag's was found
		// after the record authenticated: its seq is the peer's (a malformed
		// payload included).
		n.reject(err, h.Seq, !errors.Is(err, ErrTampered))
		return
	}
	if o.Gap > 0 && s == n.sess {
		n.emit(GapEvent{Missing: o.Gap})
	}
	if o.Rekeyed {
		n.emitRekeyed(s, DirectionReceive)
	}
	switch h.Type {
	case TypeChat:
		c, _ := ParseChat(o.Payload) // validated by Open
		n.receiveChat(c, h.Seq)
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
	case TypeConfirm:
		// A repeated confirmation in an established session: nothing to do.
	case TypeGoodbye:
		if s == n.sess {
			n.peerLeft()
		} else {
			n.prevSess = nil // the replaced session's end: nothing to report
		}
	}
}

// peerLeft ends the session after an authenticated GOODBYE: the peer quit
// cleanly. The session is discarded as if closed (nothing more is sent in
// it), and so is the candidate key with its reachability, so that a
// returning peer runs a fresh handshake exactly as at start. Unacknowledged
// chat messages stay queued for the next session. Liveness starts over:
// the UI shows "peer left", then waiting (a LiveEvent with LiveWaiting)
// until the returning peer answers a plain ping.
func (n *Node) peerLeft() {
	s := n.sess
	n.sess, n.prevSess, n.pendingSess, n.init, n.resp = nil, nil, nil, nil, nil
	n.peer, n.reachable, n.verified = nil, false, time.Time{}
	n.attempt, n.progress = time.Time{}, time.Time{}
	n.receipts = n.receipts[:0]
	n.resetAttempts()
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
	if s.NeedsRekey(n.now) {
		if err := n.rekey(); err != nil {
			return 0, false
		}
	}
	rec, seq, err := s.Seal(nil, typ, payload, n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return 0, false
	}
	if s.SeqExhausted() && n.attempt.IsZero() {
		n.startHandshake()
	}
	n.lastRecord = rec
	if typ == TypeChat {
		n.lastChat, n.lastChatSess = rec, s
	}
	n.queue(rec)
	return seq, true
}

func (n *Node) rekey() error {
	rec, err := n.sess.Rekey(nil, n.now)
	if err != nil {
		n.emit(ErrorEvent{Err: err})
		return err
	}
	n.lastRecord = rec
	n.queue(rec)
	n.emitRekeyed(n.sess, DirectionSend)
	return nil
}

func (n *Node) sendPing() {
	n.pingID++
	if n.live.pingSent(n.pingID, n.now) {
		n.emit(n.live.event())
	}
	if n.sess != nil {
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], n.pingID)
		n.sealAndQueue(TypePing, p[:])
		return
	}
	n.queue(AppendPlainPing(nil, TypePlainPing, n.pingID))
}

func (n *Node) gotPong(id uint64, authenticated bool) {
	if n.live.pong(id, authenticated, n.now) {
		n.emit(n.live.event())
	}
}

// emitRekeyed reports a key epoch change in one direction of s.
func (n *Node) emitRekeyed(s *Session, dir string) {
	fp := s.PeerKey().Fingerprint()
	n.emit(SessionEvent{State: SessionRekeyed, PeerFingerprint: fp.String(), SafetyNumber: crypto.SafetyNumber(n.self, fp), Direction: dir})
}
