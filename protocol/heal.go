package protocol

// Healing (docs/PROTOCOL.md, "Healing"): a fresh X25519 + ML-KEM-768
// exchange inside the session, mixed into the root of the key schedule,
// after which both directions use new chains. Whoever copied the session's
// state before it cannot read a record sealed after it.
//
//	healer H                                     responder R
//	HEAL (seq h): x25519 pub || ML-KEM ek  --->  answers: new chains
//	                                             (R->H starts at a+1, kept
//	                                             back; H->R waits, in step)
//	     <---  HEAL_ACK (seq a): x25519 pub || ML-KEM ct || SHA-256(HEAL payload)
//	new chains; H->R from now on (its chain
//	starts at h+1, moved up to H's next seq);
//	R->H waits, in step
//	any record under the new chain         --->  opens under the waiting
//	                                             chain: R switches both
//	     <---  any record under the new chain:  H switches its receive side
//
// A waiting chain moves in step with the old one (every record accepted
// under the old chain moves it too), so it never holds the key of an
// accepted record and a gap costs it no more than it costs the old one.

import (
	"crypto/mlkem"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"time"

	"duet/crypto"
	"duet/protocol/keys"
)

// Payload sizes of the healing records.
const (
	HealSize    = X25519Size + MLKEMEncapKeySize                  // 1216
	HealAckSize = X25519Size + MLKEMCiphertextSize + HashSize     // 1152
	healContext = "duet/2 heal context"                           // prefix of the context hash
	healAckHash = X25519Size + MLKEMCiphertextSize                // offset of the HEAL hash in HEAL_ACK
	maxForward  = 1 << 20                                         // fastForward's bound (seqs)
	_           = uint(HealAckSize - healAckHash - HashSize)      // compile-time: the hash ends the payload
	_           = uint(HealSize - X25519Size - MLKEMEncapKeySize) // and the key ends HEAL
)

// healing is a session's healing in progress (zero: none).
type healing struct {
	// The healer's offer, from its HEAL until the HEAL_ACK that answers it.
	offer *healOffer
	// recvNext is the peer's next sending chain, waiting for its first
	// record; sendNext, nextRoot and epoch wait with it on the responder
	// (the healer switches its send side at the HEAL_ACK).
	recvNext *keys.Chain
	sendNext *keys.Chain
	nextRoot [keys.Size]byte
}

// healOffer is what the healer keeps between its HEAL and the HEAL_ACK.
type healOffer struct {
	eph     *crypto.Ephemeral
	dk      *mlkem.DecapsulationKey768
	payload []byte         // the HEAL's payload (public keys), for the context hash
	hash    [HashSize]byte // its SHA-256, which the HEAL_ACK must carry
	seq     uint32         // the HEAL record's seq
	sentAt  time.Time
}

// underWay reports whether a healing has started and not finished.
func (h *healing) underWay() bool { return h.offer != nil || h.recvNext != nil }

// HealPending reports whether this side's HEAL has waited for its
// HEAL_ACK longer than retry: the driver then starts a new healing.
func (s *Session) HealPending(now time.Time, retry time.Duration) bool {
	return s.heal.offer != nil && now.Sub(s.heal.offer.sentAt) >= retry
}

// Heal seals a HEAL record (a fresh X25519 key and ML-KEM-768 key) and
// remembers the offer. A HEAL that is still waiting for its answer is
// replaced (its answer, if it comes, is then ignored); a healing whose
// exchange is done but whose new chains wait for the peer's first record
// is left to finish: ErrHealing.
func (s *Session) Heal(dst []byte, now time.Time) ([]byte, error) {
	if s.heal.recvNext != nil {
		return dst, ErrHealing
	}
	eph, err := crypto.GenerateEphemeral(s.rand)
	if err != nil {
		return dst, fmt.Errorf("protocol: heal: %w", err)
	}
	dk, err := newDecapsulationKey(s.rand)
	if err != nil {
		return dst, fmt.Errorf("protocol: heal: %w", err)
	}
	payload := append(eph.PublicBytes(), dk.EncapsulationKey().Bytes()...)
	dst, seq, err := s.Seal(dst, TypeHeal, payload, now)
	if err != nil {
		return dst, err
	}
	s.heal.offer = &healOffer{eph: eph, dk: dk, payload: payload, hash: sha256.Sum256(payload), seq: seq, sentAt: now}
	return dst, nil
}

// checkHeal validates a HEAL payload: its size and its ML-KEM key.
func checkHeal(p []byte) error {
	if len(p) != HealSize {
		return fmt.Errorf("%w: heal payload of %d bytes", ErrMalformed, len(p))
	}
	if _, err := mlkem.NewEncapsulationKey768(p[X25519Size:]); err != nil {
		return fmt.Errorf("%w: heal: ML-KEM key: %v", ErrMalformed, err)
	}
	return nil
}

// AnswerHeal answers the peer's HEAL (payload, at seq, just opened): it
// seals the HEAL_ACK and derives the new chains, which wait (the receive
// one for the peer's first record under it, the send one until then).
// When both sides heal at once the initiator's HEAL wins: the initiator
// ignores the responder's (nil, nil) and the responder drops its own
// offer. A healing already waiting is replaced.
func (s *Session) AnswerHeal(dst, payload []byte, seq uint32, now time.Time) ([]byte, error) {
	if s.heal.offer != nil && s.role == RoleInitiator {
		return dst, nil
	}
	if s.heal.recvNext != nil && s.heal.sendNext == nil {
		return dst, nil // our send side already healed: the peer switches on our next record
	}
	s.dropHealing()
	eph, err := crypto.GenerateEphemeral(s.rand)
	if err != nil {
		return dst, fmt.Errorf("protocol: answer heal: %w", err)
	}
	dh, err := eph.Shared(payload[:X25519Size])
	if err != nil {
		return dst, fmt.Errorf("protocol: answer heal: %w", err)
	}
	defer clear(dh)
	ek, err := mlkem.NewEncapsulationKey768(payload[X25519Size:])
	if err != nil {
		return dst, fmt.Errorf("%w: heal: ML-KEM key: %v", ErrMalformed, err)
	}
	ss, ct, err := encapsulate(ek, s.rand)
	if err != nil {
		return dst, fmt.Errorf("protocol: answer heal: %w", err)
	}
	defer clear(ss)
	hash := sha256.Sum256(payload)
	ack := append(append(eph.PublicBytes(), ct...), hash[:]...)
	dst, ackSeq, err := s.Seal(dst, TypeHealAck, ack, now)
	if err != nil {
		return dst, err
	}
	sched, err := keys.Heal(s.root, keys.Secrets{MLKEM: ss, X25519: dh}, healContextHash(payload, ack))
	if err != nil {
		return dst, fmt.Errorf("protocol: answer heal: %w", err)
	}
	defer sched.Wipe()
	send, recv := s.directions(&sched)
	recvNext, sendNext := keys.NewChain(recv, seq+1), keys.NewChain(send, ackSeq+1)
	fastForward(&recvNext, s.recvSeq+1)
	s.heal.recvNext, s.heal.sendNext, s.heal.nextRoot = &recvNext, &sendNext, sched.Root
	return dst, nil
}

// FinishHeal takes the peer's HEAL_ACK (payload, at seq, just opened) for
// this side's offer: the new root and chains are derived, the send side
// switches at once (its chain starts at the HEAL's seq + 1, moved up to
// the next seq), and the receive side waits for the peer's first record
// under its new chain. It reports whether the send side switched: a
// HEAL_ACK that answers no offer of ours (an older HEAL, replaced) is
// ignored.
func (s *Session) FinishHeal(payload []byte, seq uint32, now time.Time) (bool, error) {
	o := s.heal.offer
	if o == nil || subtle.ConstantTimeCompare(payload[healAckHash:], o.hash[:]) != 1 {
		return false, nil
	}
	s.heal.offer = nil
	dh, err := o.eph.Shared(payload[:X25519Size])
	if err != nil {
		return false, fmt.Errorf("protocol: finish heal: %w", err)
	}
	defer clear(dh)
	ss, err := o.dk.Decapsulate(payload[X25519Size:healAckHash])
	if err != nil {
		return false, fmt.Errorf("%w: heal ack: ML-KEM ciphertext: %v", ErrMalformed, err)
	}
	defer clear(ss)
	sched, err := keys.Heal(s.root, keys.Secrets{MLKEM: ss, X25519: dh}, healContextHash(o.payload, payload))
	if err != nil {
		return false, fmt.Errorf("protocol: finish heal: %w", err)
	}
	defer sched.Wipe()
	send, recv := s.directions(&sched)
	sendNext, recvNext := keys.NewChain(send, o.seq+1), keys.NewChain(recv, seq+1)
	fastForward(&recvNext, s.recvSeq+1)
	s.root = sched.Root
	s.switchSend(&sendNext, now)
	s.heal.recvNext = &recvNext
	return true, nil
}

// healContextHash binds a healing's keys to both of its records:
// SHA-256(healContext || HEAL payload || HEAL_ACK payload).
func healContextHash(heal, ack []byte) []byte {
	h := sha256.New()
	io.WriteString(h, healContext)
	h.Write(heal)
	h.Write(ack)
	return h.Sum(nil)
}

// directions returns the schedule's chain keys as (ours to send, the
// peer's), by role: A sends on AB.
func (s *Session) directions(sched *keys.Schedule) (send, recv [keys.Size]byte) {
	if s.role == RoleResponder {
		return sched.BA, sched.AB
	}
	return sched.AB, sched.BA
}

// switchRecv moves the receive side to the waiting chain (the peer's first
// record under it just opened) and, on the responder, the send side with
// it. It reports whether the send side switched.
func (s *Session) switchRecv(now time.Time) bool {
	s.recv.Wipe()
	s.recv, s.heal.recvNext = *s.heal.recvNext, nil
	s.recvEpoch++
	next := s.heal.sendNext
	if next == nil {
		return false
	}
	s.root, s.heal.sendNext, s.heal.nextRoot = s.heal.nextRoot, nil, [keys.Size]byte{}
	s.switchSend(next, now)
	return true
}

// switchSend moves the send side to next (fast-forwarded to the next seq)
// and starts a new send epoch: its count, its age and its set of sent
// records.
func (s *Session) switchSend(next *keys.Chain, now time.Time) {
	fastForward(next, s.sendSeq+1)
	s.send.Wipe()
	s.send = *next
	next.Wipe()
	s.sendEpoch++
	s.sendRecords = 0
	s.sendSince = now
	s.forgetSent()
}

// dropHealing forgets a healing in progress, wiping its keys.
func (s *Session) dropHealing() {
	if c := s.heal.recvNext; c != nil {
		c.Wipe()
	}
	if c := s.heal.sendNext; c != nil {
		c.Wipe()
	}
	s.heal = healing{}
}

// fastForward moves c so that its next seq is at least seq, erasing the
// keys it passes; the steps are taken at most keys.MaxSkip at a time.
// Nothing is done when c is already there; past maxForward seqs (never
// the case between a HEAL and its answer in practice) the chain is wiped.
func fastForward(c *keys.Chain, seq uint32) {
	if seq <= c.Next() {
		return
	}
	if seq-c.Next() > maxForward {
		c.Wipe()
		return
	}
	for c.Next() < seq {
		to := seq - 1
		if to-c.Next() > keys.MaxSkip {
			to = c.Next() + keys.MaxSkip
		}
		st, err := c.Peek(to)
		if err != nil {
			c.Wipe()
			return
		}
		c.Commit(&st)
	}
}
