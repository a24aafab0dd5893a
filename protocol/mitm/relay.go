package mitm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"duet/crypto"
	"duet/protocol"
)

// This file is the man in the middle of `duet mitm` and `duet demo`: a relay
// between two peers that passes their messages on unchanged until told to
// attack one. It holds no key and decrypts nothing: every attack works on
// the bytes as they travel, and every one must be refused by the receiving
// peer with the reason docs/PROTOCOL.md gives for it (section 8):
//
//	replay   a copy of the last CHAT record sent again   -> "replay"
//	tamper   one bit of the next CHAT record flipped     -> "tampered"
//	reorder  the next CHAT record held back, sent after
//	         the record that follows it                  -> "reorder" (and a gap)
//	drop     the next CHAT record never delivered        -> a gap
//	keysub   the key in every PUBLIC_KEY replaced by the
//	         MITM's own, until disarmed                  -> "bad-signature"
//	stale    the next CHAT record and every message of
//	         the flow after it held for the timestamp
//	         window plus 1 s, then released in order     -> "stale" for each record
//	                                                       older than the window
//	jump     the next CHAT record's seq raised by 2048
//	         (more than keys.MaxSkip ahead)              -> "too-far" (no key is computed)
//	reflect  the next session record (any type) passed
//	         on, and a copy sent back to its sender      -> "reflected" (from the sender)
//	downgrade  the ML-KEM share cut out of every HELLO,
//	         until disarmed: the version-1 layout,
//	         319 bytes                                   -> "downgrade"
//
//	impersonate  the MITM ends each peer's handshake itself,
//	         as the other peer, with its own key, and
//	         passes chat on, reading it (both ways)     -> "key-changed" from a
//	                                                       peer that knows the other's key
//
// "CHAT record" above means a record carrying chat messages: a CHAT, or a
// CHATS record holding a burst of them (protocol.IsChatRecord); the relay
// tells them apart by the type byte, which travels in the clear.
//
// The sender's CHAT message is not acknowledged in tamper, reorder, drop
// and stale, so the sender resends it and it is shown once, late (in
// stale, a resend held with the rest is accepted if it is released inside
// the window; else the next resend after the release is). Key
// substitution acts on handshakes (a peer's start or restart): the
// receiver takes the MITM's key for its peer's, and the peer's hello,
// signed over the real keys, fails to verify under it; no session is made
// while it lasts (the peers retry every step timeout, and succeed once it
// is disarmed). Impersonation is the attack key pinning and the safety
// number exist for: a peer that knows its peer's key refuses the MITM's
// (key-changed); one that does not (a first contact) gets a session with
// the MITM, and only comparing safety numbers shows it.
//
// Downgrade acts on handshakes too, and on the hellos of both roles: the
// initiator's (role 1) loses its ML-KEM encapsulation key (1503 -> 319
// bytes), the responder's (role 2) its ML-KEM ciphertext (1407 -> 319).
// Which role a peer plays follows the fingerprint order, not its side of
// the relay, so cutting both is what makes "downgrade a" refuse A's hello
// whichever role A has. What is left is exactly a version-1 hello
// (prefix, role, cookie, nonce, timestamp, X25519 key, signature), which
// a version-2 receiver refuses by its size, before any signature work
// (downgrade). No session is made while it lasts; the peers' retries
// succeed once it is disarmed.

// Flow is one direction through the man in the middle.
type Flow int

// The two flows.
const (
	FlowAB Flow = iota // messages from A to B
	FlowBA             // messages from B to A
)

func (f Flow) String() string {
	if f == FlowAB {
		return "a->b"
	}
	return "b->a"
}

// Attack is one thing the man in the middle can do to a flow.
type Attack int

// Attacks; see the file comment for what each does and what the receiver
// reports.
const (
	Replay Attack = iota + 1
	Tamper
	Reorder
	Drop
	KeySub
	Impersonate
	Stale
	Reflect
	Downgrade
	Steal // the demo only (Relay.Steal); Arm refuses it: see steal.go
	Jump  // the next CHAT record's seq raised by JumpBy: "too-far"

	lastAttack = Jump
)

var attackNames = [...]string{Replay: "replay", Tamper: "tamper", Reorder: "reorder", Drop: "drop", KeySub: "keysub", Impersonate: "impersonate", Stale: "stale", Reflect: "reflect", Downgrade: "downgrade", Steal: "steal", Jump: "jump"}

func (a Attack) String() string {
	if a >= Replay && a <= lastAttack {
		return attackNames[a]
	}
	return "unknown"
}

// ParseAttack returns the attack named s ("replay", "tamper", "reorder",
// "drop", "keysub", "impersonate", "stale", "reflect", "downgrade",
// "steal", "jump").
func ParseAttack(s string) (Attack, error) {
	for a := Replay; a <= lastAttack; a++ {
		if attackNames[a] == s {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (replay, tamper, reorder, drop, keysub, impersonate, stale, reflect, downgrade, steal, jump)", ErrUnknownAttack, s)
}

// JumpBy is what jump adds to a CHAT record's seq: more than keys.MaxSkip
// (1024), so the receiver refuses it as too-far before computing a key.
const JumpBy = 2048

// Errors of the man in the middle.
var (
	ErrUnknownAttack   = errors.New("mitm: unknown attack")
	ErrNothingToReplay = errors.New("mitm: no CHAT record has gone that way yet")
	ErrNotRunning      = errors.New("mitm: not relaying")
)

// What an Event reports (its Action).
const (
	Relayed     = "relayed"     // passed on unchanged
	Armed       = "armed"       // an attack waits for the next CHAT record (keysub, downgrade: on until disarmed)
	Disarmed    = "disarmed"    // the flow's attacks are off
	Replayed    = "replayed"    // a copy of an earlier record sent again
	Tampered    = "tampered"    // passed on with one bit flipped
	Jumped      = "jumped"      // passed on with its seq raised by JumpBy (jump)
	Held        = "held"        // kept back (reorder; stale: this and what follows it)
	Released    = "released"    // sent after the record that followed it (reorder), or late, in order (stale)
	Reflected   = "reflected"   // a copy of a record sent back to its own sender (Flow: the way back)
	Dropped     = "dropped"     // not passed on
	Lost        = "lost"        // could not be passed on (the receiver is not connected)
	Substituted = "substituted" // a PUBLIC_KEY passed on with the MITM's key in it
	Stripped    = "stripped"    // a HELLO passed on without its ML-KEM share (downgrade; SizeBefore: its size before)
	// Impersonation: the MITM's own session with a peer (Peer is the
	// peer's fingerprint), and a chat message it read and passed on (Text).
	ImpostorSession = "impostor-session"
	Intercepted     = "intercepted"
	// Steal (steal.go): a record the thief opened with the stolen chain
	// (Text: a CHAT's text), or could not (Why says why).
	Read       = "read"
	Unreadable = "unreadable"
)

// Event is one thing the man in the middle did with a message.
type Event struct {
	Flow   Flow
	Action string // one of the actions above (Relayed, Armed, ...)
	Attack Attack // the attack this is part of, 0 for plain relaying
	Type   byte   // message type byte (0 if the message had none)
	Seq    uint32 // session records: the header's seq (unauthenticated)
	HasSeq bool
	Size   int
	// SizeBefore is, for Stripped, the HELLO's size before its share was
	// cut (protocol.HelloASize or protocol.HelloBSize); 0 otherwise.
	SizeBefore int
	Peer       string // ImpostorSession: the peer's fingerprint
	Text       string // Intercepted: the message read (the MITM's own output only)
	// Version is protocol.VersionOld for a version-1 duet's message
	// (relayed untouched; Type is its type byte, the same in both
	// versions), 0 for a message of this version or none.
	Version byte
	// Why is, for Unreadable, why the thief could not read the record
	// (WhyBeforeTheft, WhyHealed, WhyNotOpened).
	Why string
	// Epoch is, for the thief's events, the sender's send epoch at the
	// theft, or (WhyHealed) the one its healing began.
	Epoch uint32
}

// EventName implements protocol.Event.
func (Event) EventName() string { return "mitm" }

// retryFor bounds how long a message waits for the receiver's
// connection before it is reported lost (a peer that is down).
const retryFor = time.Second

// Relay is the man in the middle between the transport facing A and the
// one facing B; see the file comment. Arm and Disarm are safe to call
// while Run runs.
type Relay struct {
	emit func(protocol.Event)

	subKeys []*crypto.PublicKey // keysub: the MITM's own keys; mu
	newKey  func() (*crypto.PublicKey, error)
	self    *crypto.Identity // impersonate: the MITM's identity (ImpersonateAs)

	mu      sync.Mutex
	armed   [2]Attack             // the attack waiting for the next CHAT record (reflect: session record) of each flow
	keysub  [2]bool               // replace the key of each PUBLIC_KEY of the flow
	strip   [2]bool               // downgrade: cut the ML-KEM share out of each HELLO of the flow
	real    [2]crypto.Fingerprint // the key of each flow's sender, from its PUBLIC_KEYs
	realOK  [2]bool
	held    [2][]byte     // reorder: the record held back
	stale   [2][][]byte   // stale: the messages held back, in order; nil when not holding
	hold    time.Duration // stale: how long (SetWindow)
	lastCh  [2][]byte     // a copy of the last CHAT record of each flow
	to      [2]protocol.Transport
	runCtx  context.Context
	imp     *impostor // impersonating: the MITM's own nodes
	running bool
	sendMu  [2]sync.Mutex // one sender per flow: a replay and the relay
	thief   [2]*thief     // steal: the stolen chain of each flow (steal.go)
	seen    [2][][]byte   // steal: the last records of each flow, while no thief
}

// New returns a man in the middle that reports what it does to emit
// (called from Run's goroutines and from Arm, never concurrently for one
// flow's relaying). subs are the keys it puts in PUBLIC_KEY messages when
// keysub is armed (none: keysub is refused). Roles in the handshake follow
// fingerprint order, so for each message it picks a key that stands to
// the receiver's as the sender's does: the two sides then take the roles
// they would take with each other, and the receiver's refusal is the
// signature check. With no such key among subs (see GenerateKeysWith) the
// roles may come out wrong (both start, or neither does): no session is
// made either way.
func New(emit func(protocol.Event), subs ...*crypto.PublicKey) *Relay {
	m := &Relay{emit: emit, hold: protocol.DefaultWindow + time.Second}
	for _, k := range subs {
		if k != nil {
			m.subKeys = append(m.subKeys, k)
		}
	}
	return m
}

// SetWindow tells the relay the peers' timestamp window (--window; the
// default is protocol.DefaultWindow): stale holds messages for w plus one
// second. Call it before Run.
func (m *Relay) SetWindow(w time.Duration) {
	m.mu.Lock()
	m.hold = w + time.Second
	m.mu.Unlock()
}

// Arm sets attack a on flow f. A replay happens at once: the last CHAT
// record that went that way is sent again (ErrNothingToReplay if there is
// none yet). Reflect waits for the flow's next session record, of any
// type; the others wait for its next CHAT record. Arming another attack on
// the flow replaces the waiting one.
func (m *Relay) Arm(ctx context.Context, f Flow, a Attack) error {
	if f != FlowAB && f != FlowBA {
		return fmt.Errorf("mitm: flow %d", f)
	}
	switch a {
	case Replay:
		m.mu.Lock()
		rec, to, running := m.lastCh[f], m.to[f], m.running
		m.mu.Unlock()
		if !running {
			return ErrNotRunning
		}
		if rec == nil {
			return fmt.Errorf("%w (%s)", ErrNothingToReplay, f)
		}
		m.sendMu[f].Lock()
		defer m.sendMu[f].Unlock()
		if err := send(ctx, to, rec); err != nil {
			return fmt.Errorf("mitm: replay %s: %w", f, err)
		}
		m.emit(m.event(f, Replayed, Replay, rec))
		return nil
	case Tamper, Reorder, Drop, Stale, Reflect, Jump:
		m.mu.Lock()
		m.armed[f] = a
		m.mu.Unlock()
		m.emit(Event{Flow: f, Action: Armed, Attack: a})
		return nil
	case Downgrade:
		m.mu.Lock()
		m.strip[f] = true
		m.mu.Unlock()
		m.emit(Event{Flow: f, Action: Armed, Attack: a})
		return nil
	case Impersonate:
		return m.impersonate()
	case Steal:
		return ErrCannotSteal
	case KeySub:
		m.mu.Lock()
		none := len(m.subKeys) == 0 && m.newKey == nil
		m.mu.Unlock()
		if none {
			return fmt.Errorf("%w: keysub without a key of its own", ErrUnknownAttack)
		}
		if err := m.prepareKeys(f); err != nil {
			return fmt.Errorf("mitm: keysub: %w", err)
		}
		m.mu.Lock()
		m.keysub[f] = true
		m.mu.Unlock()
		m.emit(Event{Flow: f, Action: Armed, Attack: a})
		return nil
	}
	return fmt.Errorf("%w: %d", ErrUnknownAttack, a)
}

// maxKeyTries bounds the keys GenerateKeysWith's function makes for one
// keysub: each try fits with probability about one half, so 64 tries
// fail about once in 10^4 (and a failure only changes which refusal the
// peers report).
const maxKeyTries = 64

// GenerateKeysWith lets keysub make more keys of its own with newKey when
// none it has keeps the peers' roles (see New). Call it before Run.
func (m *Relay) GenerateKeysWith(newKey func() (*crypto.PublicKey, error)) {
	m.mu.Lock()
	m.newKey = newKey
	m.mu.Unlock()
}

// prepareKeys makes keys (GenerateKeysWith) until there is one, and one
// fits flow f if both peers' keys are known.
func (m *Relay) prepareKeys(f Flow) error {
	m.mu.Lock()
	gen := m.newKey
	ok := len(m.subKeys) > 0 && (m.fits(f) != nil || !m.realOK[f] || !m.realOK[1-f])
	m.mu.Unlock()
	for tries := 0; !ok && gen != nil && tries < maxKeyTries; tries++ {
		k, err := gen()
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.subKeys = append(m.subKeys, k)
		ok = m.fits(f) != nil
		m.mu.Unlock()
	}
	return nil
}

// Disarm turns off flow f's attacks: a waiting one, key substitution and
// downgrade; and impersonation (both ways). A record held back for reorder still
// goes after the next one, and records held back for stale are released
// when their time is up.
func (m *Relay) Disarm(f Flow) {
	m.mu.Lock()
	m.armed[f], m.keysub[f], m.strip[f] = 0, false, false
	m.thief[f] = nil
	imp := m.imp
	m.imp = nil
	m.mu.Unlock()
	if imp != nil {
		imp.stop()
	}
	m.emit(Event{Flow: f, Action: Disarmed})
}

// Run relays between toA (the transport A sends to and receives from) and
// toB until ctx is done or a transport fails; it returns the first error
// other than ctx's.
func (m *Relay) Run(ctx context.Context, toA, toB protocol.Transport) error {
	m.mu.Lock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.to[FlowAB], m.to[FlowBA], m.running, m.runCtx = toB, toA, true, ctx
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = false
		imp := m.imp
		m.imp = nil
		m.mu.Unlock()
		if imp != nil {
			imp.stop()
		}
	}()
	errc := make(chan error, 2)
	go func() { errc <- m.pump(ctx, FlowAB, toA, toB) }()
	go func() { errc <- m.pump(ctx, FlowBA, toB, toA) }()
	err := <-errc
	cancel()
	if err2 := <-errc; err == nil || errors.Is(err, context.Canceled) {
		err = err2
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// pump relays one flow.
func (m *Relay) pump(ctx context.Context, f Flow, from, to protocol.Transport) error {
	for {
		msg, err := from.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("mitm: receive %s: %w", f, err)
		}
		out, evs, back := m.process(f, msg)
		m.sendMu[f].Lock()
		for i, o := range out {
			if err := send(ctx, to, o); err != nil {
				if ctx.Err() != nil {
					m.sendMu[f].Unlock()
					return ctx.Err()
				}
				evs[i].Action = Lost
			}
		}
		m.sendMu[f].Unlock()
		for _, ev := range evs {
			m.emit(ev)
		}
		if back != nil {
			if err := m.sendBack(ctx, f, back); err != nil {
				return err
			}
		}
	}
}

// sendBack sends rec, a record of flow f, back to its sender (reflect).
func (m *Relay) sendBack(ctx context.Context, f Flow, rec []byte) error {
	y := 1 - f
	m.mu.Lock()
	to := m.to[y]
	m.mu.Unlock()
	ev := m.event(y, Reflected, Reflect, rec)
	m.sendMu[y].Lock()
	err := send(ctx, to, rec)
	m.sendMu[y].Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ev.Action = Lost
	}
	m.emit(ev)
	return nil
}

// releaseStale sends flow f's messages held back for stale, in order, and
// stops holding. It holds the flow's send lock throughout, so a message
// the pump lets through after the hold ended goes after them.
func (m *Relay) releaseStale(f Flow) {
	m.sendMu[f].Lock()
	defer m.sendMu[f].Unlock()
	m.mu.Lock()
	q, to, ctx, running := m.stale[f], m.to[f], m.runCtx, m.running
	m.stale[f] = nil
	for _, msg := range q {
		if t, _ := protocol.MessageType(msg); protocol.IsChatRecord(t) {
			m.lastCh[f] = msg
		}
	}
	m.mu.Unlock()
	if !running {
		return
	}
	for _, msg := range q {
		ev := m.event(f, Released, Stale, msg)
		if err := send(ctx, to, msg); err != nil {
			if ctx.Err() != nil {
				return
			}
			ev.Action = Lost
		}
		m.emit(ev)
	}
}

// process applies the flow's armed attack to msg. It returns the messages
// to send, in order, and one event for each of them, then one for each
// message it kept back or dropped; and (reflect) a record to send back to
// its sender. While impersonating, the impostor node facing f's sender
// takes msg and nothing is sent.
func (m *Relay) process(f Flow, msg []byte) (out [][]byte, evs []Event, back []byte) {
	out, evs, back = m.attack(f, msg)
	m.mu.Lock()
	if ev, ok := m.watch(f, msg); ok {
		evs = append(evs, ev)
	}
	m.mu.Unlock()
	return out, evs, back
}

// attack is process but for the thief (steal.go).
func (m *Relay) attack(f Flow, msg []byte) (out [][]byte, evs []Event, back []byte) {
	t, _ := protocol.MessageType(msg)
	chat := protocol.IsChatRecord(t) && len(msg) >= protocol.MinRecordSize // a CHAT or CHATS record, not just its type byte
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.imp != nil {
		m.imp.feed(f, msg)
		return nil, nil, nil
	}
	if m.stale[f] != nil {
		// Stale: everything on the flow waits with the held CHAT record.
		m.stale[f] = append(m.stale[f], msg)
		return nil, []Event{m.event(f, Held, Stale, msg)}, nil
	}
	if m.armed[f] == Reflect && protocol.IsRecordType(t) && len(msg) >= protocol.MinRecordSize {
		m.armed[f] = 0
		return [][]byte{msg}, []Event{m.event(f, Relayed, 0, msg)}, append([]byte(nil), msg...)
	}
	if held := m.held[f]; held != nil && protocol.IsRecordType(t) {
		// Reorder: the record that followed the held one goes first.
		m.held[f] = nil
		out = append(out, msg, held)
		evs = append(evs, m.event(f, Relayed, 0, msg), m.event(f, Released, Reorder, held))
		m.lastCh[f] = held // a CHAT record, and the last one sent
		return out, evs, nil
	}
	if t == protocol.TypePublicKey {
		if pk, err := protocol.ParsePublicKeyMsg(msg); err == nil {
			if key, err := crypto.ParsePublicKey(pk.DER); err == nil {
				m.real[f], m.realOK[f] = key.Fingerprint(), true
			}
			if m.keysub[f] {
				pk.DER = m.pickSub(f).DER()
				sub := protocol.AppendPublicKey(nil, pk)
				return [][]byte{sub}, []Event{m.event(f, Substituted, KeySub, sub)}, nil
			}
		}
	}
	if t == protocol.TypeHello && m.strip[f] {
		if v1, ok := StripShare(msg); ok {
			ev := m.event(f, Stripped, Downgrade, v1)
			ev.SizeBefore = len(msg)
			return [][]byte{v1}, []Event{ev}, nil
		}
	}
	if !chat {
		return [][]byte{msg}, []Event{m.event(f, Relayed, 0, msg)}, nil
	}
	a := m.armed[f]
	m.armed[f] = 0
	switch a {
	case Tamper:
		bad := append([]byte(nil), msg...)
		bad[len(bad)-1] ^= 0x01 // the last byte of the GCM tag
		m.lastCh[f] = msg
		return [][]byte{bad}, []Event{m.event(f, Tampered, Tamper, bad)}, nil
	case Reorder:
		m.held[f] = msg
		return nil, []Event{m.event(f, Held, Reorder, msg)}, nil
	case Drop:
		return nil, []Event{m.event(f, Dropped, Drop, msg)}, nil
	case Jump:
		far := append([]byte(nil), msg...)
		binary.BigEndian.PutUint32(far[2:], binary.BigEndian.Uint32(far[2:])+JumpBy)
		return [][]byte{far}, []Event{m.event(f, Jumped, Jump, far)}, nil
	case Stale:
		m.stale[f] = [][]byte{msg}
		time.AfterFunc(m.hold, func() { m.releaseStale(f) })
		return nil, []Event{m.event(f, Held, Stale, msg)}, nil
	}
	m.lastCh[f] = msg
	return [][]byte{msg}, []Event{m.event(f, Relayed, 0, msg)}, nil
}

// StripShare returns hello without its ML-KEM share: version 1's layout
// (protocol.HelloV1Size bytes: prefix, role, cookie, nonce, timestamp,
// X25519 key, signature), in a new slice. ok is false, and hello is left
// alone, unless hello is a version-2 HELLO of its role's size (a share to
// cut).
func StripShare(hello []byte) (v1 []byte, ok bool) {
	if len(hello) < 3 || hello[0] != protocol.Version || hello[1] != protocol.TypeHello {
		return nil, false
	}
	switch {
	case hello[2] == protocol.RoleInitiator && len(hello) == protocol.HelloASize:
	case hello[2] == protocol.RoleResponder && len(hello) == protocol.HelloBSize:
	default:
		return nil, false
	}
	shareAt := protocol.HelloV1Size - protocol.RSASize // the share sits just before the signature
	v1 = make([]byte, 0, protocol.HelloV1Size)
	v1 = append(v1, hello[:shareAt]...)
	return append(v1, hello[len(hello)-protocol.RSASize:]...), true
}

// pickSub returns the key to put in a PUBLIC_KEY of flow f: one whose
// fingerprint orders against the receiver's as the sender's does (see
// New), else the first. m.mu is held.
func (m *Relay) pickSub(f Flow) *crypto.PublicKey {
	if k := m.fits(f); k != nil {
		return k
	}
	return m.subKeys[0]
}

// fits returns a key of ours that orders against flow f's receiver's key
// as f's sender's does, or nil (also when either is not known). m.mu is
// held.
func (m *Relay) fits(f Flow) *crypto.PublicKey {
	y := 1 - f
	if !m.realOK[f] || !m.realOK[y] {
		return nil
	}
	want := m.real[f].Less(m.real[y])
	for _, k := range m.subKeys {
		if fp := k.Fingerprint(); fp != m.real[y] && fp.Less(m.real[y]) == want {
			return k
		}
	}
	return nil
}

// event describes msg (its type, and seq for a session record; the
// version too when it is a version-1 duet's).
func (m *Relay) event(f Flow, action string, a Attack, msg []byte) Event {
	ev := Event{Flow: f, Action: action, Attack: a, Size: len(msg)}
	if len(msg) >= 2 && (msg[0] == protocol.Version || msg[0] == protocol.VersionOld) {
		ev.Type = msg[1]
		if msg[0] == protocol.VersionOld {
			ev.Version = protocol.VersionOld
		}
	}
	if h, err := protocol.ParseRecordHeader(msg); err == nil {
		ev.Seq, ev.HasSeq = h.Seq, true
	}
	return ev
}

// send sends msg, retrying for up to retryFor while the transport has
// no connection yet (waking at once when it says one came up).
func send(ctx context.Context, to protocol.Transport, msg []byte) error {
	return protocol.SendWhenUp(ctx, to, retryFor, nil, msg)
}
