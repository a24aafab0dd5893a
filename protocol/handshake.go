package protocol

import (
	"bytes"
	"crypto/mlkem"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"duet/crypto"
	"duet/protocol/keys"
)

// The handshake (docs/PROTOCOL.md, "Handshake"). These types are pure state
// machines: they consume and produce message bytes and never touch the
// network or the clock on their own, so tests drive them directly.

// sessionKeys are the four per-direction keys derived after the hellos,
// and the root of the schedule. The record layer of this step keeps its
// version-1 shape: encAB and encBA are the epoch-0 AES keys (Combine's
// chain keys ck_AB, ck_BA; step 2 of issue 19 turns them into chains).
// root is handed to nobody yet: the session does not keep it (healing,
// step 3, will start from it).
type sessionKeys struct {
	encAB, encBA, macAB, macBA []byte
	root                       []byte
}

// deriveKeys computes the schedule keys.Combine(mlkem_ss, dh, secret,
// salt = H(T2)) (docs/PROTOCOL.md, section 6): prk = HKDF-Extract(salt,
// mlkem_ss || dh || secret), then one HKDF-Expand per key and label.
func deriveKeys(mlkemSS, dh, secret []byte, salt [HashSize]byte) (sessionKeys, error) {
	s, err := keys.Combine(keys.Secrets{MLKEM: mlkemSS, X25519: dh, RSA: secret}, salt[:])
	if err != nil {
		return sessionKeys{}, fmt.Errorf("protocol: derive session keys: %w", err)
	}
	defer s.Wipe()
	return sessionKeys{
		encAB: bytes.Clone(s.AB[:]), encBA: bytes.Clone(s.BA[:]),
		macAB: bytes.Clone(s.MacAB[:]), macBA: bytes.Clone(s.MacBA[:]),
		root: bytes.Clone(s.Root[:]),
	}, nil
}

// newDecapsulationKey derives A's ML-KEM-768 key pair from MLKEMSeedSize
// bytes of r (the seed d || z of FIPS 203), so the result is deterministic
// for a deterministic r, like crypto.GenerateEphemeral.
func newDecapsulationKey(r io.Reader) (*mlkem.DecapsulationKey768, error) {
	var seed [MLKEMSeedSize]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return nil, fmt.Errorf("protocol: ML-KEM seed: %w", err)
	}
	dk, err := mlkem.NewDecapsulationKey768(seed[:])
	if err != nil {
		return nil, fmt.Errorf("protocol: ML-KEM key: %w", err)
	}
	return dk, nil
}

// encapsulate is B's ML-KEM-768 encapsulation to A's key: crypto/mlkem's
// own, whose randomness does not come from r. The test vectors replace it
// by the derandomized one of crypto/mlkem/mlkemtest, fed from r (only they
// may: mlkemtest is for known-answer tests).
var encapsulate = func(ek *mlkem.EncapsulationKey768, _ io.Reader) (shared, ciphertext []byte, err error) {
	shared, ciphertext = ek.Encapsulate()
	return shared, ciphertext, nil
}

// checkTimestamp enforces the window on a handshake or record timestamp.
// It cannot overflow: |ts-n| is compared in uint64, so any window (even
// near math.MaxInt64) and any ts (even a negative one) give the right
// answer.
func checkTimestamp(ts int64, now time.Time, window time.Duration) error {
	n := now.UnixNano()
	w := uint64(max(window, 0))
	switch {
	case ts < n && uint64(n)-uint64(ts) > w:
		return fmt.Errorf("%w: %v behind", ErrStale, satDuration(uint64(n)-uint64(ts)).Round(time.Millisecond))
	case ts > n && uint64(ts)-uint64(n) > w:
		return fmt.Errorf("%w: %v ahead", ErrFuture, satDuration(uint64(ts)-uint64(n)).Round(time.Millisecond))
	}
	return nil
}

// satDuration converts a distance in nanoseconds to a Duration, saturating.
func satDuration(d uint64) time.Duration {
	return time.Duration(min(d, uint64(math.MaxInt64)))
}

// HandshakeResult is what a completed key exchange hands to the session.
type HandshakeResult struct {
	Role       byte
	Keys       sessionKeys
	SendSeq    uint32 // our initial seq: our first record carries SendSeq+1
	RecvSeq    uint32 // the peer's initial seq
	Transcript [HashSize]byte
	PeerKey    *crypto.PublicKey
	Started    time.Time
}

func randomSeq(r io.Reader) (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("protocol: random seq: %w", err)
	}
	return binary.BigEndian.Uint32(b[:]) % InitialSeqLimit, nil
}

// newHello makes our signed hello of role, carrying the ephemeral and the
// ML-KEM share, and extends t by its fields.
func newHello(role byte, id *crypto.Identity, t *transcript, label string, eph *crypto.Ephemeral, share []byte, r io.Reader, now time.Time) (*Hello, error) {
	h := &Hello{Role: role, Timestamp: now.UnixNano(), KEM: share}
	if _, err := io.ReadFull(r, h.Nonce[:]); err != nil {
		return nil, fmt.Errorf("protocol: hello nonce: %w", err)
	}
	copy(h.Ephemeral[:], eph.PublicBytes())
	t.add(h.signedFields())
	sig, err := id.Sign(r, t.labelled(label))
	if err != nil {
		return nil, fmt.Errorf("protocol: sign hello: %w", err)
	}
	copy(h.Signature[:], sig)
	return h, nil
}

// verifyHello checks a peer hello's role, timestamp and signature against the
// transcript t extended by its fields; t is extended only if all pass.
func verifyHello(msg []byte, wantRole byte, peer *crypto.PublicKey, t *transcript, label string, now time.Time, window time.Duration) (*Hello, error) {
	h, err := ParseHello(msg)
	if err != nil {
		return nil, err
	}
	if h.Role != wantRole {
		return nil, fmt.Errorf("%w: hello role %d, want %d", ErrUnexpected, h.Role, wantRole)
	}
	// The signature is checked first: a timestamp error must never be
	// reported for a forged hello.
	fields := h.signedFields()
	n := len(t.b)
	t.add(fields)
	err = peer.Verify(t.labelled(label), h.Signature[:])
	if err == nil {
		err = checkTimestamp(h.Timestamp, now, window)
	}
	if err != nil {
		t.b = t.b[:n]
		return nil, fmt.Errorf("protocol: hello: %w", err)
	}
	return h, nil
}

// Initiator runs role A.
type Initiator struct {
	id   *crypto.Identity
	peer *crypto.PublicKey
	// eph and kem, the X25519 and ML-KEM-768 private keys of our hello,
	// live together: from NewInitiator until HandleHello succeeds (then
	// both are dropped), or as long as the initiator while it fails.
	eph    *crypto.Ephemeral
	kem    *mlkem.DecapsulationKey768
	t      *transcript
	rand   io.Reader
	window time.Duration
	hello  *Hello
	keys   sessionKeys
	seq    uint32
	state  int // 0: want hello B, 1: want ack, 2: done
	t1, t3 int // transcript lengths after A's hello and after the key transport
	Start  time.Time
}

// NewInitiator starts a handshake as A and returns the signed hello to send.
func NewInitiator(id *crypto.Identity, peer *crypto.PublicKey, r io.Reader, now time.Time, window time.Duration) (*Initiator, []byte, error) {
	eph, err := crypto.GenerateEphemeral(r)
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: ephemeral key: %w", err)
	}
	kem, err := newDecapsulationKey(r)
	if err != nil {
		return nil, nil, err
	}
	h := &Initiator{id: id, peer: peer, eph: eph, kem: kem, rand: r, window: window, Start: now,
		t: newTranscript(id.Public().DER(), peer.DER())}
	h.hello, err = newHello(RoleInitiator, id, h.t, LabelHelloA, eph, kem.EncapsulationKey().Bytes(), r, now)
	if err != nil {
		return nil, nil, err
	}
	h.t1 = len(h.t.b)
	return h, AppendHello(nil, h.hello), nil
}

// pinError wraps an error returned by the pin callback of HandleHello.
type pinError struct{ err error }

func (e *pinError) Error() string { return "protocol: verify peer: " + e.err.Error() }
func (e *pinError) Unwrap() error { return e.err }

// IsPinError reports whether err came from the key-pinning callback (step
// 3) rather than from the key transport (step 4).
func IsPinError(err error) bool {
	var p *pinError
	return errors.As(err, &p)
}

// HandleHello verifies B's hello (step 3: signature, timestamp, then pin,
// the key-pinning check, which may be nil) and returns the key-transport
// message (step 4). On error the initiator is unchanged.
func (h *Initiator) HandleHello(msg []byte, now time.Time, pin func(*crypto.PublicKey) error) ([]byte, error) {
	if h.state != 0 {
		return nil, fmt.Errorf("%w: hello after hello", ErrUnexpected)
	}
	hb, err := verifyHello(msg, RoleResponder, h.peer, h.t, LabelHelloB, now, h.window)
	if err != nil {
		return nil, err
	}
	undo := len(h.t.b) - helloSignedBase - MLKEMCiphertextSize
	fail := func(err error) ([]byte, error) { h.t.b = h.t.b[:undo]; return nil, err }
	if pin != nil {
		if err := pin(h.peer); err != nil {
			return fail(&pinError{err})
		}
	}
	dh, err := h.eph.Shared(hb.Ephemeral[:])
	if err != nil {
		return fail(fmt.Errorf("%w: ephemeral key: %v", ErrMalformed, err))
	}
	// Decapsulation fails only on a ciphertext of the wrong length, which
	// ParseHello refused; a wrong ciphertext of the right length gives a
	// key B does not have (implicit rejection), and the MACs fail.
	mlkemSS, err := h.kem.Decapsulate(hb.KEM)
	if err != nil {
		return fail(fmt.Errorf("%w: ML-KEM ciphertext: %v", ErrMalformed, err))
	}
	var plain [ktPlainSize]byte
	if _, err := io.ReadFull(h.rand, plain[:SessionKeyLen]); err != nil {
		return fail(fmt.Errorf("protocol: session secret: %w", err))
	}
	seq, err := randomSeq(h.rand)
	if err != nil {
		return fail(err)
	}
	binary.BigEndian.PutUint32(plain[SessionKeyLen:], seq)
	binary.BigEndian.PutUint64(plain[SessionKeyLen+SeqSize:], uint64(now.UnixNano()))
	keys, err := deriveKeys(mlkemSS, dh, plain[:SessionKeyLen], h.t.hash())
	clear(mlkemSS)
	if err != nil {
		return fail(err)
	}
	kt := &KeyTransport{}
	ct, err := h.peer.EncryptOAEP(h.rand, plain[:], []byte(LabelKeyTransport))
	if err != nil {
		return fail(fmt.Errorf("protocol: encrypt key transport: %w", err))
	}
	copy(kt.Ciphertext[:], ct)
	h.t.add(kt.Ciphertext[:])
	kt.MAC = crypto.MAC(keys.macAB, h.t.labelled(LabelKTMAC))
	h.t.add(kt.MAC[:])
	sig, err := h.id.Sign(h.rand, h.t.labelled(LabelKeyTransport))
	if err != nil {
		return fail(fmt.Errorf("protocol: sign key transport: %w", err))
	}
	copy(kt.Signature[:], sig)
	h.t.add(kt.Signature[:])
	h.keys, h.seq, h.state, h.t3 = keys, seq, 1, len(h.t.b)
	h.eph, h.kem = nil, nil // used once: the session keys are derived
	return AppendKeyTransport(nil, kt), nil
}

// HandleAck checks B's ack (step 5) and completes the key exchange.
func (h *Initiator) HandleAck(msg []byte, now time.Time) (*HandshakeResult, error) {
	if h.state != 1 {
		return nil, fmt.Errorf("%w: ack before key transport", ErrUnexpected)
	}
	a, err := ParseAck(msg)
	if err != nil {
		return nil, err
	}
	n := len(h.t.b)
	h.t.add(a.Ciphertext[:])
	ok := crypto.VerifyMAC(h.keys.macBA, a.MAC[:], h.t.labelled(LabelAckMAC))
	if !ok {
		h.t.b = h.t.b[:n]
		return nil, fmt.Errorf("protocol: ack mac: %w", ErrTampered)
	}
	plain, err := h.id.DecryptOAEP(a.Ciphertext[:], []byte(LabelAck))
	if err == nil && (len(plain) != ackPlainSize || string(plain[:3]) != AckMagic) {
		err = fmt.Errorf("%w: ack plaintext", ErrTampered)
	}
	if err == nil {
		err = checkTimestamp(int64(binary.BigEndian.Uint64(plain[3+SeqSize:])), now, h.window)
	}
	if err != nil {
		h.t.b = h.t.b[:n]
		return nil, fmt.Errorf("protocol: ack: %w", err)
	}
	h.t.add(a.MAC[:])
	h.state = 2
	return &HandshakeResult{
		Role: RoleInitiator, Keys: h.keys, SendSeq: h.seq,
		RecvSeq:    binary.BigEndian.Uint32(plain[3:]),
		Transcript: h.t.hash(), PeerKey: h.peer, Started: h.Start,
	}, nil
}

// Responder runs role B.
type Responder struct {
	id   *crypto.Identity
	peer *crypto.PublicKey
	// eph and mlkemSS, our X25519 private key and the ML-KEM shared
	// secret encapsulated in our hello, live together: from NewResponder
	// until HandleKeyTransport succeeds (then both are dropped).
	eph     *crypto.Ephemeral
	mlkemSS []byte
	t       *transcript
	rand    io.Reader
	window  time.Duration
	helloA  *Hello
	done    bool
	t2      int // transcript length after B's hello
	Start   time.Time
}

// CheckHelloA verifies A's hello (signature, then timestamp, then its
// ML-KEM encapsulation key) without any private-key work, so a flood of
// hellos costs only verifications. An encapsulation key that
// crypto/mlkem refuses, in a hello A signed, is ErrMalformed.
func CheckHelloA(msg []byte, self *crypto.Identity, peer *crypto.PublicKey, now time.Time, window time.Duration) (*Hello, error) {
	t := newTranscript(peer.DER(), self.Public().DER())
	h, err := verifyHello(msg, RoleInitiator, peer, t, LabelHelloA, now, window)
	if err != nil {
		return nil, err
	}
	if h.ek, err = mlkem.NewEncapsulationKey768(h.KEM); err != nil {
		return nil, fmt.Errorf("protocol: hello: %w: ML-KEM encapsulation key: %v", ErrMalformed, err)
	}
	return h, nil
}

// NewResponder answers a hello already accepted by CheckHelloA with B's
// signed hello.
func NewResponder(id *crypto.Identity, peer *crypto.PublicKey, helloA *Hello, r io.Reader, now time.Time, window time.Duration) (*Responder, []byte, error) {
	eph, err := crypto.GenerateEphemeral(r)
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: ephemeral key: %w", err)
	}
	ek := helloA.ek
	if ek == nil {
		if ek, err = mlkem.NewEncapsulationKey768(helloA.KEM); err != nil {
			return nil, nil, fmt.Errorf("protocol: hello: %w: ML-KEM encapsulation key: %v", ErrMalformed, err)
		}
	}
	ss, ct, err := encapsulate(ek, r)
	if err != nil {
		return nil, nil, fmt.Errorf("protocol: ML-KEM encapsulate: %w", err)
	}
	h := &Responder{id: id, peer: peer, eph: eph, mlkemSS: ss, rand: r, window: window, helloA: helloA, Start: now,
		t: newTranscript(peer.DER(), id.Public().DER())}
	h.t.add(helloA.signedFields())
	hb, err := newHello(RoleResponder, id, h.t, LabelHelloB, eph, ct, r, now)
	if err != nil {
		return nil, nil, err
	}
	h.t2 = len(h.t.b)
	return h, AppendHello(nil, hb), nil
}

// HandleKeyTransport checks A's key transport (signature first, then the
// OAEP decryption, timestamp and MAC) and returns the ack and the result.
func (h *Responder) HandleKeyTransport(msg []byte, now time.Time) ([]byte, *HandshakeResult, error) {
	if h.done {
		return nil, nil, fmt.Errorf("%w: second key transport", ErrUnexpected)
	}
	kt, err := ParseKeyTransport(msg)
	if err != nil {
		return nil, nil, err
	}
	t2 := h.t.hash()
	n := len(h.t.b)
	fail := func(err error) ([]byte, *HandshakeResult, error) {
		h.t.b = h.t.b[:n]
		return nil, nil, fmt.Errorf("protocol: key transport: %w", err)
	}
	h.t.add(kt.Ciphertext[:])
	macInput := h.t.labelled(LabelKTMAC)
	h.t.add(kt.MAC[:])
	if err := h.peer.Verify(h.t.labelled(LabelKeyTransport), kt.Signature[:]); err != nil {
		return fail(err)
	}
	plain, err := h.id.DecryptOAEP(kt.Ciphertext[:], []byte(LabelKeyTransport))
	if err != nil {
		return fail(err)
	}
	if len(plain) != ktPlainSize {
		return fail(fmt.Errorf("%w: key transport plaintext of %d bytes", ErrTampered, len(plain)))
	}
	if err := checkTimestamp(int64(binary.BigEndian.Uint64(plain[SessionKeyLen+SeqSize:])), now, h.window); err != nil {
		return fail(err)
	}
	dh, err := h.eph.Shared(h.helloA.Ephemeral[:])
	if err != nil {
		return fail(fmt.Errorf("%w: ephemeral key: %v", ErrMalformed, err))
	}
	keys, err := deriveKeys(h.mlkemSS, dh, plain[:SessionKeyLen], t2)
	if err != nil {
		return fail(err)
	}
	if !crypto.VerifyMAC(keys.macAB, kt.MAC[:], macInput) {
		return fail(fmt.Errorf("mac: %w", ErrTampered))
	}
	h.t.add(kt.Signature[:])
	seq, err := randomSeq(h.rand)
	if err != nil {
		return fail(err)
	}
	var ap [ackPlainSize]byte
	copy(ap[:], AckMagic)
	binary.BigEndian.PutUint32(ap[3:], seq)
	binary.BigEndian.PutUint64(ap[3+SeqSize:], uint64(now.UnixNano()))
	ct, err := h.peer.EncryptOAEP(h.rand, ap[:], []byte(LabelAck))
	if err != nil {
		return fail(fmt.Errorf("encrypt ack: %w", err))
	}
	a := &Ack{}
	copy(a.Ciphertext[:], ct)
	h.t.add(a.Ciphertext[:])
	a.MAC = crypto.MAC(keys.macBA, h.t.labelled(LabelAckMAC))
	h.t.add(a.MAC[:])
	h.done = true
	clear(h.mlkemSS)
	h.eph, h.mlkemSS = nil, nil // used once: the session keys are derived
	return AppendAck(nil, a), &HandshakeResult{
		Role: RoleResponder, Keys: keys, SendSeq: seq,
		RecvSeq:    binary.BigEndian.Uint32(plain[SessionKeyLen:]),
		Transcript: h.t.hash(), PeerKey: h.peer, Started: h.Start,
	}, nil
}

// Recognising our own earlier attempts. A retry (ours or the peer's) can
// cross messages still in flight for the attempt it replaced: B's hello
// answering our previous hello, a key transport for B's previous hello, an
// ack for our previous key transport. They authenticate, but under an
// attempt that is no longer current. The Node checks a message that failed
// under the current attempt against the attempts it replaced (a few,
// recently): one that authenticates there is a stale retry and is ignored
// without a report; only one that authenticates under none is reported.
// Each check is a public-key verification or a MAC, no private-key work,
// and changes no state.

// AnswersHello reports whether msg is B's hello answering this initiator's
// hello (its signature verifies over this attempt's T2).
func (h *Initiator) AnswersHello(msg []byte, now time.Time) bool {
	if h == nil || h.t1 == 0 {
		return false
	}
	t := &transcript{b: append([]byte(nil), h.t.b[:h.t1]...)}
	_, err := verifyHello(msg, RoleResponder, h.peer, t, LabelHelloB, now, h.window)
	return err == nil
}

// AnswersKeyTransport reports whether msg is B's ack for this initiator's
// key transport (its MAC verifies under this attempt's keys).
func (h *Initiator) AnswersKeyTransport(msg []byte) bool {
	if h == nil || h.state < 1 || h.t3 == 0 {
		return false
	}
	a, err := ParseAck(msg)
	if err != nil {
		return false
	}
	t := &transcript{b: append(append([]byte(nil), h.t.b[:h.t3]...), a.Ciphertext[:]...)}
	return crypto.VerifyMAC(h.keys.macBA, a.MAC[:], t.labelled(LabelAckMAC))
}

// AnswersHello reports whether msg is A's key transport answering this
// responder's hello (A's signature verifies over this attempt's T2).
func (h *Responder) AnswersHello(msg []byte) bool {
	if h == nil || h.t2 == 0 {
		return false
	}
	kt, err := ParseKeyTransport(msg)
	if err != nil {
		return false
	}
	t := &transcript{b: append([]byte(nil), h.t.b[:h.t2]...)}
	t.add(kt.Ciphertext[:], kt.MAC[:])
	return h.peer.Verify(t.labelled(LabelKeyTransport), kt.Signature[:]) == nil
}
