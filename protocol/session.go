package protocol

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"time"

	"duet/crypto"
	"duet/protocol/keys"
)

// SessionConfig holds the limits of a session's record layer.
type SessionConfig struct {
	Window         time.Duration // timestamp window either way
	RekeyAfter     uint32        // records per send epoch before NeedsRekey
	RekeyInterval  time.Duration // age of a send epoch before NeedsRekey
	SendNonceCap   int           // sender nonce-set cap per epoch
	NonceCacheSize int           // receiver nonce-cache cap (entries)
}

func (c *SessionConfig) fill() {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.RekeyAfter == 0 {
		c.RekeyAfter = DefaultRekeyAfter
	}
	if c.RekeyInterval <= 0 {
		c.RekeyInterval = DefaultRekeyInterval
	}
	if c.SendNonceCap <= 0 {
		c.SendNonceCap = DefaultSendNonceCap
	}
	if c.NonceCacheSize <= 0 {
		c.NonceCacheSize = crypto.DefaultNonceCacheEntries
	}
}

// Session is the record layer of an established (or confirming) session
// (docs/PROTOCOL.md, section 8): one KDF chain per direction (keys.Chain),
// so every record has its own key, erased once the record is sealed or
// opened, and healings (heal.go) that replace both chains by ones derived
// from a fresh exchange. It is not safe for concurrent use: the driver owns
// it.
//
// Invariants: the send seq only grows; a received record changes state only
// after every check passed, authentication included; the receive seq only
// grows; the state held after record n derives no key of record n or
// earlier in either direction.
type Session struct {
	cfg  SessionConfig
	role byte
	th   [HashSize]byte
	peer *crypto.PublicKey
	rand io.Reader
	root [keys.Size]byte // the schedule's root: the next healing starts from it

	send        keys.Chain
	sendEpoch   uint32
	sendSeq     uint32 // last seq sent
	sendRecords uint32 // records sealed in this epoch
	sendSince   time.Time
	// sent holds the nonce and GCM tag of each record sealed in this
	// epoch, in seq order from sentFrom (at most SendNonceCap, then it
	// starts again): what tells our own record sent back (reflection).
	// Seqs are consecutive, so a record's entry is found by its seq alone
	// (no hashing; appending costs a copy of 28 bytes).
	sent     []sentRecord
	sentFrom uint32          // the seq of sent[0]
	nonceBuf [NonceSize]byte // draw buffer: no allocation per record

	recv      keys.Chain
	recvEpoch uint32
	recvSeq   uint32 // last seq accepted
	cache     *crypto.NonceCache

	heal healing
}

// NewSession builds the record layer from a completed handshake: each
// direction's chain starts at the seq after the first seq KT/ACK carried.
func NewSession(res *HandshakeResult, cfg SessionConfig, r io.Reader, now time.Time) (*Session, error) {
	cfg.fill()
	ab, ba := chainKey(res.Keys.encAB), chainKey(res.Keys.encBA)
	sendKey, recvKey := ab, ba
	if res.Role == RoleResponder {
		sendKey, recvKey = ba, ab
	}
	s := &Session{cfg: cfg, role: res.Role, th: res.Transcript, peer: res.PeerKey, rand: r,
		root:    chainKey(res.Keys.root),
		sendSeq: res.SendSeq, recvSeq: res.RecvSeq, sendSince: now,
		send:  keys.NewChain(sendKey, res.SendSeq+1),
		recv:  keys.NewChain(recvKey, res.RecvSeq+1),
		cache: crypto.NewNonceCache(cfg.Window, cfg.NonceCacheSize)}
	clear(ab[:])
	clear(ba[:])
	return s, nil
}

// chainKey copies a schedule key into a fixed-size array.
func chainKey(b []byte) [keys.Size]byte {
	var k [keys.Size]byte
	copy(k[:], b)
	return k
}

// Transcript returns the final handshake transcript hash, the confirmation
// payload.
func (s *Session) Transcript() [HashSize]byte { return s.th }

// PeerKey is the peer's verified identity key.
func (s *Session) PeerKey() *crypto.PublicKey { return s.peer }

// SendSeq and RecvSeq report the last sequence numbers sent and accepted.
func (s *Session) SendSeq() uint32 { return s.sendSeq }
func (s *Session) RecvSeq() uint32 { return s.recvSeq }

// SendEpoch and RecvEpoch report the key epochs: the healings each
// direction has been through.
func (s *Session) SendEpoch() uint32 { return s.sendEpoch }
func (s *Session) RecvEpoch() uint32 { return s.recvEpoch }

// NeedsRekey reports whether a healing is due: the sending direction
// reached RekeyAfter records or RekeyInterval of age since the last one,
// and no healing is under way.
func (s *Session) NeedsRekey(now time.Time) bool {
	if s.heal.underWay() {
		return false
	}
	return s.sendRecords >= s.cfg.RekeyAfter || now.Sub(s.sendSince) >= s.cfg.RekeyInterval
}

// NextRekey is when the sending direction reaches RekeyInterval (it may
// heal earlier, by record count, or on /rekey).
func (s *Session) NextRekey() time.Time { return s.sendSince.Add(s.cfg.RekeyInterval) }

// SeqExhausted reports whether the send seq is close enough to 2^32 that a
// fresh handshake is due.
func (s *Session) SeqExhausted() bool { return s.sendSeq >= SeqRehandshake }

// Seal builds the next record of type typ carrying payload, appended to
// dst, under the next key of the sending chain, and erases that key.
func (s *Session) Seal(dst []byte, typ byte, payload []byte, now time.Time) ([]byte, uint32, error) {
	if s.sendSeq == 1<<32-1 {
		return dst, 0, ErrSeqExhausted
	}
	if len(s.sent) >= s.cfg.SendNonceCap {
		s.forgetSent()
	}
	if len(s.sent) == 0 {
		s.sentFrom = s.sendSeq + 1
	}
	nonce, err := s.drawNonce()
	if err != nil {
		return dst, 0, fmt.Errorf("protocol: seal: %w", err)
	}
	seq := s.sendSeq + 1
	aead, st, err := recordAEAD(&s.send, seq)
	if err != nil {
		return dst, 0, fmt.Errorf("protocol: seal record %d: %w", seq, err)
	}
	defer st.Wipe()
	h := RecordHeader{Type: typ, Seq: seq, Timestamp: now.UnixNano(), Nonce: nonce}
	start := len(dst)
	dst = AppendRecordHeader(dst, &h)
	dst = aead.Seal(dst, &h.Nonce, payload, dst[start:])
	if err := s.send.Commit(&st); err != nil {
		return dst[:start], 0, fmt.Errorf("protocol: seal record %d: %w", seq, err)
	}
	s.sent = append(s.sent, sentRecord{nonce: nonce, tag: [TagSize]byte(dst[len(dst)-TagSize:])})
	s.sendSeq = seq
	s.sendRecords++
	return dst, seq, nil
}

// drawNonce reads 12 random bytes. Every record has its own key, so AES-GCM
// needs no nonce uniqueness and none is checked (a repeat, 2^-96 per pair,
// would only make the earlier record's reflection go unrecognised).
func (s *Session) drawNonce() ([NonceSize]byte, error) {
	if _, err := io.ReadFull(s.rand, s.nonceBuf[:]); err != nil {
		return [NonceSize]byte{}, fmt.Errorf("draw nonce: %w", err)
	}
	return s.nonceBuf, nil
}

// sentRecord is the nonce and GCM tag of a record we sent. A tag is a
// 128-bit value only the holder of the record's key can produce for its
// nonce: a record carrying our seq, our nonce for it and the tag we sent
// with it comes from our own record (whatever else in it was changed).
type sentRecord struct {
	nonce [NonceSize]byte
	tag   [TagSize]byte
}

// forgetSent empties the set of records sent (keeping its memory for the
// next epoch's): records sent before are no longer recognised as
// reflected (they fail as reorder or tampered).
func (s *Session) forgetSent() { s.sent = s.sent[:0] }

// Opened is a record that passed every check.
type Opened struct {
	Header  RecordHeader
	Payload []byte // valid until the next Open with the same buffer
	Gap     uint64 // records skipped before this one
	// Rekeyed: the receive direction moved to the chain of a healing (the
	// record opened only under it); SendRekeyed: so did the send direction
	// (the responder of a healing switches once the healer has).
	Rekeyed, SendRekeyed bool
}

// Open checks a record in the order of docs/PROTOCOL.md ("Receiving a
// record"): header (length, version, type), reflection, seq (replay and
// reorder, decided with the nonce cache, and too-far), then authentication
// under the receive chain's key for the record's seq (or a healing's new
// chain), then timestamp, nonce cache and the payload's shape. The seq
// comes first because an old record's key is erased; everything after
// authentication is refused with the record's (authenticated) seq. State
// changes only when every check passed: the chain then moves past the
// record, erasing its key and those of any seqs skipped. buf is reused for
// the plaintext.
func (s *Session) Open(buf, rec []byte, now time.Time) (Opened, error) {
	h, err := ParseRecordHeader(rec)
	if err != nil {
		return Opened{}, err
	}
	if err := s.checkSeq(h, rec); err != nil {
		return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, err)
	}
	a, err := s.authenticate(buf, h, rec)
	if err != nil {
		return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, err)
	}
	defer a.step.Wipe()
	if err := s.checkAuthentic(h, a.payload, now); err != nil {
		return Opened{}, authenticatedError{fmt.Errorf("protocol: record %d: %w", h.Seq, err)}
	}
	return s.commit(h, &a, now)
}

// authenticatedError marks a refusal of a record that authenticated (its
// time, its nonce, its payload's shape): its seq is the peer's.
type authenticatedError struct{ error }

func (e authenticatedError) Unwrap() error { return e.error }

// SeqKnown reports whether a refusal by Open names a seq that is not the
// attacker's choice: the record authenticated and was refused for its
// time or content, it is a replay (its seq and nonce are those of a record
// accepted before), or it is our own record sent back (byte for byte one
// we sent). reorder, too-far and tampered are decided without
// authentication: since protocol 2 the key of a seq at or below the last
// accepted is erased, and a seq too far ahead is not worth the hashing.
func SeqKnown(err error) bool {
	var a authenticatedError
	return errors.As(err, &a) || errors.Is(err, ErrReplay) || errors.Is(err, ErrRecordReflected)
}

// checkSeq makes the checks that come before any key: reflection, and the
// seq against the last accepted one.
func (s *Session) checkSeq(h RecordHeader, rec []byte) error {
	if s.reflected(h, rec) {
		return ErrRecordReflected
	}
	if h.Seq <= s.recvSeq {
		if s.cache.Contains(h.Nonce) {
			return fmt.Errorf("%w (last %d)", ErrReplay, s.recvSeq)
		}
		return fmt.Errorf("%w (last %d)", ErrReorder, s.recvSeq)
	}
	if h.Seq-s.recvSeq-1 > keys.MaxSkip {
		return fmt.Errorf("%w (last %d)", ErrTooFar, s.recvSeq)
	}
	return nil
}

// recordAEAD is AES-256-GCM under c's key for seq, and the chain step that
// gave it (to Commit, or to Wipe); c does not change. On error nothing is
// kept.
func recordAEAD(c *keys.Chain, seq uint32) (*crypto.AEAD, keys.Step, error) {
	st, err := c.Peek(seq)
	if err != nil {
		return nil, keys.Step{}, err
	}
	aead, err := crypto.NewAEAD(st.Key())
	if err != nil {
		st.Wipe()
		return nil, keys.Step{}, err
	}
	return aead, st, nil
}

// checkAuthentic makes the checks of an authentic record: timestamp, nonce
// cache, payload shape (and a CONFIRM's transcript).
func (s *Session) checkAuthentic(h RecordHeader, payload []byte, now time.Time) error {
	if err := checkTimestamp(h.Timestamp, now, s.cfg.Window); err != nil {
		return err
	}
	if h.Timestamp <= s.cache.Floor() {
		return fmt.Errorf("%w: older than the replay cache remembers", ErrStale)
	}
	if s.cache.Contains(h.Nonce) {
		return ErrNonceReuse
	}
	if err := checkRecordPayload(h.Type, payload); err != nil {
		return err
	}
	if h.Type == TypeConfirm {
		return s.CheckConfirm(payload)
	}
	return nil
}

// authenticated is a record that opened: its plaintext and the chain step
// that opened it (healed: under the healing's new chain).
type authenticated struct {
	payload []byte
	step    keys.Step
	healed  bool
}

// authenticate opens the record under the receive chain's key for its
// seq, then, while a healing waits for the peer's first record under its
// new chain, under that chain. Neither chain changes.
func (s *Session) authenticate(buf []byte, h RecordHeader, rec []byte) (authenticated, error) {
	ad, body := rec[:RecordHeaderSize], rec[RecordHeaderSize:]
	if p, st, err := openUnder(&s.recv, buf, h, body, ad); err == nil {
		return authenticated{payload: p, step: st}, nil
	}
	if c := s.heal.recvNext; c != nil {
		if p, st, err := openUnder(c, buf, h, body, ad); err == nil {
			return authenticated{payload: p, step: st, healed: true}, nil
		}
	}
	return authenticated{}, ErrTampered
}

// openUnder opens body under c's key for h.Seq; the step is wiped unless
// the record opened.
func openUnder(c *keys.Chain, buf []byte, h RecordHeader, body, ad []byte) ([]byte, keys.Step, error) {
	aead, st, err := recordAEAD(c, h.Seq)
	if err != nil {
		return nil, keys.Step{}, err
	}
	p, err := aead.Open(buf[:0], &h.Nonce, body, ad)
	if err != nil {
		st.Wipe()
		return nil, keys.Step{}, err
	}
	return p, st, nil
}

// commit moves the receive side past an authentic record: the chain that
// opened it (switching to a healing's chain if that was it), the seq, the
// nonce cache; a waiting healing's chain follows in step, so it too holds
// no key of this record or earlier.
func (s *Session) commit(h RecordHeader, a *authenticated, now time.Time) (Opened, error) {
	o := Opened{Header: h, Payload: a.payload, Gap: uint64(h.Seq - s.recvSeq - 1)}
	if a.healed {
		o.SendRekeyed = s.switchRecv(now)
		o.Rekeyed = true
	}
	if err := s.recv.Commit(&a.step); err != nil {
		return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, err)
	}
	if c := s.heal.recvNext; c != nil {
		fastForward(c, h.Seq+1)
	}
	s.recvSeq = h.Seq
	s.cache.Add(h.Nonce, h.Timestamp, now.UnixNano())
	return o, nil
}

// reflected reports whether the record is one this side sealed since its
// sent set was last reset, sent back to it: its seq is one we sealed, with
// the nonce we drew for it and the tag we sent with it. A forged record
// that copies one of our nonces is not reflected (it fails later); one
// that also copies our seq and tag is our own record, changed on the way,
// and is called reflected (its body cannot be checked: the key is erased;
// it is refused either way and changes nothing). Records sent before a
// healing are not recognised (the set is reset with the send chain), nor
// our records with their seq changed: those fail as reorder, too-far or
// tampered.
func (s *Session) reflected(h RecordHeader, rec []byte) bool {
	i := uint64(h.Seq) - uint64(s.sentFrom) // wraps far out of range below sentFrom
	if i >= uint64(len(s.sent)) || len(rec) < MinRecordSize {
		return false
	}
	want := &s.sent[i]
	return subtle.ConstantTimeCompare(h.Nonce[:], want.nonce[:])&
		subtle.ConstantTimeCompare(rec[len(rec)-TagSize:], want.tag[:]) == 1
}

// checkRecordPayload validates the authenticated payload's shape for its
// type before any state changes.
func checkRecordPayload(typ byte, p []byte) error {
	switch typ {
	case TypeConfirm:
		if len(p) != HashSize {
			return fmt.Errorf("%w: confirm payload of %d bytes", ErrMalformed, len(p))
		}
	case TypeChat:
		return checkChat(p)
	case TypeChats:
		_, err := checkChats(p)
		return err
	case TypeReceipt:
		if len(p) == 0 || len(p)%8 != 0 || len(p)/8 > MaxReceiptIDs {
			return fmt.Errorf("%w: receipt payload of %d bytes", ErrMalformed, len(p))
		}
	case TypePing, TypePong:
		_, err := ParsePingPayload(p)
		return err
	case TypeHeal:
		return checkHeal(p)
	case TypeHealAck:
		if len(p) != HealAckSize {
			return fmt.Errorf("%w: heal ack payload of %d bytes", ErrMalformed, len(p))
		}
	case TypeGoodbye:
		if len(p) != 0 {
			return fmt.Errorf("%w: goodbye payload of %d bytes", ErrMalformed, len(p))
		}
	case TypeTyping:
		return checkTyping(p)
	case TypeRead:
		return checkRead(p)
	}
	return nil // a type this implementation does not know: any payload
}

// CheckConfirm compares a confirmation payload with this session's
// transcript in constant time.
func (s *Session) CheckConfirm(payload []byte) error {
	if subtle.ConstantTimeCompare(payload, s.th[:]) != 1 {
		return ErrBadConfirm
	}
	return nil
}
