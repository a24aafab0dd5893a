package protocol

import (
	"crypto/subtle"
	"fmt"
	"io"
	"time"

	"duet/crypto"
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

// epochKey is one direction's key in one epoch.
type epochKey struct {
	key   []byte
	aead  *crypto.AEAD
	epoch uint32
}

func newEpochKey(key []byte, epoch uint32) (*epochKey, error) {
	a, err := crypto.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	return &epochKey{key: key, aead: a, epoch: epoch}, nil
}

// next derives the following epoch's key: HKDF-Expand(key, LabelRekey, 32).
// The old key cannot be computed from the new one.
func (k *epochKey) next() (*epochKey, error) {
	nk, err := crypto.HKDFExpand(k.key, LabelRekey, SessionKeyLen)
	if err != nil {
		return nil, fmt.Errorf("protocol: rekey: %w", err)
	}
	return newEpochKey(nk, k.epoch+1)
}

// Session is the record layer of an established (or confirming) session.
// It is not safe for concurrent use: the driver owns it.
//
// Invariants: the send seq only grows; a received record changes state only
// after every check passed; the receive seq only grows.
type Session struct {
	cfg  SessionConfig
	role byte
	th   [HashSize]byte
	peer *crypto.PublicKey

	send        *epochKey
	sendSeq     uint32 // last seq sent
	sendRecords uint32 // records sealed in this epoch
	sendSince   time.Time
	nonces      *crypto.SendNonces

	recv     *epochKey
	recvNext *epochKey // lazily derived recv.next(), for a lost rekey record
	recvSeq  uint32    // last seq accepted
	cache    *crypto.NonceCache
}

// NewSession builds the record layer from a completed handshake.
func NewSession(res *HandshakeResult, cfg SessionConfig, r io.Reader, now time.Time) (*Session, error) {
	cfg.fill()
	sendKey, recvKey := res.Keys.encAB, res.Keys.encBA
	if res.Role == RoleResponder {
		sendKey, recvKey = recvKey, sendKey
	}
	s := &Session{cfg: cfg, role: res.Role, th: res.Transcript, peer: res.PeerKey,
		sendSeq: res.SendSeq, recvSeq: res.RecvSeq, sendSince: now,
		nonces: crypto.NewSendNonces(r, cfg.SendNonceCap),
		cache:  crypto.NewNonceCache(cfg.Window, cfg.NonceCacheSize)}
	var err error
	if s.send, err = newEpochKey(sendKey, 0); err != nil {
		return nil, fmt.Errorf("protocol: session: %w", err)
	}
	if s.recv, err = newEpochKey(recvKey, 0); err != nil {
		return nil, fmt.Errorf("protocol: session: %w", err)
	}
	return s, nil
}

// Transcript returns the final handshake transcript hash, the confirmation
// payload.
func (s *Session) Transcript() [HashSize]byte { return s.th }

// PeerKey is the peer's verified identity key.
func (s *Session) PeerKey() *crypto.PublicKey { return s.peer }

// SendSeq and RecvSeq report the last sequence numbers sent and accepted.
func (s *Session) SendSeq() uint32 { return s.sendSeq }
func (s *Session) RecvSeq() uint32 { return s.recvSeq }

// SendEpoch and RecvEpoch report the key epochs.
func (s *Session) SendEpoch() uint32 { return s.send.epoch }
func (s *Session) RecvEpoch() uint32 { return s.recv.epoch }

// NeedsRekey reports whether the send direction must move to a new epoch
// before sealing more than one further record (the rekey record itself).
func (s *Session) NeedsRekey(now time.Time) bool {
	return s.sendRecords >= s.cfg.RekeyAfter-1 ||
		s.nonces.Len() >= s.cfg.SendNonceCap-1 ||
		now.Sub(s.sendSince) >= s.cfg.RekeyInterval
}

// NextRekey is when the send direction's epoch reaches RekeyInterval (it
// may rekey earlier, by record count or nonce-set size).
func (s *Session) NextRekey() time.Time { return s.sendSince.Add(s.cfg.RekeyInterval) }

// SeqExhausted reports whether the send seq is close enough to 2^32 that a
// fresh handshake is due.
func (s *Session) SeqExhausted() bool { return s.sendSeq >= SeqRehandshake }

// Seal builds the next record of type typ carrying payload, appended to dst.
func (s *Session) Seal(dst []byte, typ byte, payload []byte, now time.Time) ([]byte, uint32, error) {
	if s.sendSeq == 1<<32-1 {
		return dst, 0, ErrSeqExhausted
	}
	nonce, err := s.nonces.Next()
	if err != nil {
		return dst, 0, fmt.Errorf("protocol: seal: %w", err)
	}
	h := RecordHeader{Type: typ, Seq: s.sendSeq + 1, Timestamp: now.UnixNano(), Nonce: nonce}
	start := len(dst)
	dst = AppendRecordHeader(dst, &h)
	dst = s.send.aead.Seal(dst, &h.Nonce, payload, dst[start:])
	s.sendSeq++
	s.sendRecords++
	return dst, h.Seq, nil
}

// Rekey seals a rekey record under the current send key and moves the send
// direction to the next epoch. The record must be sent before any record
// sealed afterwards.
func (s *Session) Rekey(dst []byte, now time.Time) ([]byte, error) {
	next, err := s.send.next()
	if err != nil {
		return dst, err
	}
	dst, _, err = s.Seal(dst, TypeRekey, nil, now)
	if err != nil {
		return dst, err
	}
	s.send, s.sendRecords, s.sendSince = next, 0, now
	s.nonces.Reset()
	return dst, nil
}

// Opened is a record that passed every check.
type Opened struct {
	Header  RecordHeader
	Payload []byte // valid until the next Open with the same buffer
	Gap     uint64 // records skipped before this one
	Rekeyed bool   // the receive direction moved to a new epoch
}

// Open checks a record in the order of docs/PROTOCOL.md ("Receiving a
// record"): length bounds, version and type, reflection, AEAD tag, seq,
// timestamp, nonce. State changes only when every check passed. buf is reused for the
// plaintext.
func (s *Session) Open(buf, rec []byte, now time.Time) (Opened, error) {
	h, err := ParseRecordHeader(rec)
	if err != nil {
		return Opened{}, err
	}
	ad, body := rec[:RecordHeaderSize], rec[RecordHeaderSize:]
	if s.reflected(h, body, ad, buf) {
		return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, ErrRecordReflected)
	}
	key := s.recv
	payload, err := key.aead.Open(buf[:0], &h.Nonce, body, ad)
	if err != nil {
		// A rekey record may have been lost: try the next epoch once.
		if s.recvNext == nil {
			if s.recvNext, err = s.recv.next(); err != nil {
				return Opened{}, err
			}
		}
		key = s.recvNext
		if payload, err = key.aead.Open(buf[:0], &h.Nonce, body, ad); err != nil {
			return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, ErrTampered)
		}
	}
	if h.Seq <= s.recvSeq {
		if s.cache.Contains(h.Nonce) {
			return Opened{}, fmt.Errorf("protocol: record %d (last %d): %w", h.Seq, s.recvSeq, ErrReplay)
		}
		return Opened{}, fmt.Errorf("protocol: record %d (last %d): %w", h.Seq, s.recvSeq, ErrReorder)
	}
	if err := checkTimestamp(h.Timestamp, now, s.cfg.Window); err != nil {
		return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, err)
	}
	if h.Timestamp <= s.cache.Floor() {
		return Opened{}, fmt.Errorf("protocol: record %d: %w: older than the replay cache remembers", h.Seq, ErrStale)
	}
	if s.cache.Contains(h.Nonce) {
		return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, ErrNonceReuse)
	}
	if err := checkRecordPayload(h.Type, payload); err != nil {
		return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, err)
	}
	if h.Type == TypeConfirm {
		if err := s.CheckConfirm(payload); err != nil {
			return Opened{}, fmt.Errorf("protocol: record %d: %w", h.Seq, err)
		}
	}
	// Every check passed: commit.
	o := Opened{Header: h, Payload: payload, Gap: uint64(h.Seq - s.recvSeq - 1)}
	s.recvSeq = h.Seq
	s.cache.Add(h.Nonce, h.Timestamp, now.UnixNano())
	if key != s.recv {
		s.recv, s.recvNext, o.Rekeyed = key, nil, true
	}
	if h.Type == TypeRekey {
		next, err := s.recv.next()
		if err != nil {
			return Opened{}, err
		}
		s.recv, s.recvNext, o.Rekeyed = next, nil, true
	}
	return o, nil
}

// reflected reports whether the record is one this side sealed in its
// current send epoch, sent back to it: its nonce is among the epoch's
// issued nonces and it authenticates under the send key. Only a record that
// authenticates under our own key is called reflected, so an attacker
// cannot make a record reflected by copying a nonce (that record is then
// tampered); the extra AEAD check is made only for records carrying one of
// our nonces. Records sealed in an earlier send epoch are not recognised
// (their nonces are forgotten at the rekey) and fail as tampered.
func (s *Session) reflected(h RecordHeader, body, ad, buf []byte) bool {
	if !s.nonces.Issued(h.Nonce) {
		return false
	}
	_, err := s.send.aead.Open(buf[:0], &h.Nonce, body, ad)
	return err == nil
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
	case TypeReceipt:
		if len(p) == 0 || len(p)%8 != 0 || len(p)/8 > MaxReceiptIDs {
			return fmt.Errorf("%w: receipt payload of %d bytes", ErrMalformed, len(p))
		}
	case TypePing, TypePong:
		_, err := ParsePingPayload(p)
		return err
	case TypeRekey:
		if len(p) != 0 {
			return fmt.Errorf("%w: rekey payload of %d bytes", ErrMalformed, len(p))
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
