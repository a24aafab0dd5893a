package protocol

import (
	"time"

	"duet/crypto"
)

// Event is something the session driver reports to its user interface. The
// headless mode prints each as one JSON line (but PeerKeyEvent, which main
// acts on); the full-screen UI receives each as a tea.Msg. Events never
// carry secret material.
type Event interface{ EventName() string }

// LiveState is the liveness of the peer as seen through pings.
type LiveState string

const (
	LiveWaiting  LiveState = "waiting"  // never heard from the peer
	LiveLive     LiveState = "live"     // the last ping was answered
	LiveDegraded LiveState = "degraded" // DegradedAfter pings in a row missed
	LiveDown     LiveState = "down"     // DownAfter pings in a row missed
)

// LiveEvent reports a change of liveness state (and, when live, the RTT).
type LiveEvent struct {
	State LiveState
	RTT   time.Duration
	// Authenticated is true when the pong travelled as an authenticated
	// session record, false for plain pre-session pings.
	Authenticated bool
}

// Handshake steps, numbered as in docs/PROTOCOL.md.
const (
	StepPublicKeys   = 1 // "public-keys"
	StepHello        = 2 // "hello"
	StepVerify       = 3 // "verify" (timestamp, signature, key pinning)
	StepKeyTransport = 4 // "key-transport"
	StepAck          = 5 // "ack"
	StepConfirm      = 6 // "confirm"
)

// StepName returns the name of a handshake step.
func StepName(step int) string {
	switch step {
	case StepPublicKeys:
		return "public-keys"
	case StepHello:
		return "hello"
	case StepVerify:
		return "verify"
	case StepKeyTransport:
		return "key-transport"
	case StepAck:
		return "ack"
	case StepConfirm:
		return "confirm"
	}
	return "unknown"
}

// HandshakeEvent reports one handshake step finishing or failing.
type HandshakeEvent struct {
	Step     int
	Name     string
	Done     bool          // false: the step failed, see Err
	Duration time.Duration // since the handshake attempt began
	Err      error
}

// SessionState is the lifecycle of a session.
type SessionState string

const (
	SessionEstablished SessionState = "established"
	SessionClosed      SessionState = "closed"
	SessionRekeyed     SessionState = "rekeyed"
	// SessionPeerLeft: the peer sent an authenticated GOODBYE (it quit
	// cleanly). The session is closed; a new one forms if the peer returns.
	// A LiveEvent with LiveWaiting follows at once: liveness starts over.
	SessionPeerLeft SessionState = "peer-left"
)

// SessionEvent reports a session being established, rekeyed or closed.
type SessionEvent struct {
	State           SessionState
	PeerFingerprint string // grouped form, crypto.Fingerprint.String()
	SafetyNumber    string
	// Direction is set for SessionRekeyed only: DirectionSend when our
	// sending direction moved to a new key epoch (our rekey, by /rekey or
	// by the limits), DirectionReceive when the peer's did (its REKEY
	// record, or a record that opened only under the next key).
	Direction string
	// KeyExchange names the exchanges the session's keys come from, for
	// SessionEstablished and SessionRekeyed: KeyExchangeHandshake, or
	// KeyExchangeHealing for a rekey (protocol 2: every rekey is a
	// healing, a fresh exchange mixed into the session's root).
	KeyExchange string
	// PostQuantum: the keys depend on an ML-KEM-768 exchange, so a
	// recording of the session stays unreadable to a future quantum
	// computer as long as ML-KEM holds (every protocol 2 session).
	PostQuantum bool
	// Epoch is the direction's key epoch after a SessionRekeyed (the
	// number of healings it has been through); 0 otherwise.
	Epoch uint32
}

// Key exchanges, as in SessionEvent.KeyExchange.
const (
	KeyExchangeHandshake = "X25519 + ML-KEM-768 + RSA-OAEP-2048"
	KeyExchangeHealing   = "X25519 + ML-KEM-768"
)

// Rekey directions, as in SessionEvent.Direction.
const (
	DirectionSend    = "send"
	DirectionReceive = "receive"
)

// MessageEvent is a chat message received from the peer, shown exactly once.
// The node records it as seen and acknowledges it once the emit callback has
// returned, so a user interface returns from emitting it only after the
// message is on the screen or stdout.
type MessageEvent struct {
	ID   uint64
	Seq  uint32
	Text string
	// SentAt is the CHAT's sent_at as the peer's clock gave it, whatever
	// it is (int64's extremes included): show ShownAt instead.
	SentAt time.Time
	// ShownAt is when the message is shown and stored in the history:
	// SentAt, or, when ClockImplausible, the local time it arrived.
	ShownAt time.Time
	// ClockImplausible is set when SentAt is later than the arrival plus
	// the timestamp window (Config.Window) or earlier than
	// Config.NotBefore: the message is shown at its arrival, and a user
	// interface says what the peer's clock claimed ("peer's clock says").
	ClockImplausible bool
	// PossibleDuplicate is set when a crash interrupted this message's
	// display in an earlier run: it may already have been shown once.
	// A message without it has never been shown before.
	PossibleDuplicate bool
}

// SentEvent reports a chat message sealed and handed to the transport.
type SentEvent struct {
	ID  uint64
	Seq uint32
}

// DeliveredEvent reports the peer's receipt for a chat message.
type DeliveredEvent struct{ ID uint64 }

// GapEvent reports a jump in the peer's sequence numbers: Missing records
// were never received. The session continues.
type GapEvent struct{ Missing uint64 }

// Rejection reasons, as reported in RejectedEvent.Reason.
const (
	ReasonReplay       = "replay"
	ReasonReorder      = "reorder"
	ReasonStale        = "stale"
	ReasonFuture       = "future"
	ReasonTampered     = "tampered"
	ReasonNonceReuse   = "nonce-reuse"
	ReasonMalformed    = "malformed"
	ReasonTooLarge     = "too-large"
	ReasonBadSignature = "bad-signature"
	ReasonKeyChanged   = "key-changed"
	ReasonReflected    = "reflected" // a session record of our own sent back to us
	// ReasonOldVersion: a version-1 PUBLIC_KEY, from a duet that speaks
	// protocol 1 (ErrOldVersion). Unauthenticated like "malformed".
	ReasonOldVersion = "old-version"
	// ReasonDowngrade: a version-2 HELLO in the version-1 layout, without
	// its ML-KEM share (ErrDowngrade): a relay stripped it.
	ReasonDowngrade = "downgrade"
	// ReasonTooFar: a record more than keys.MaxSkip (1024) seqs ahead of
	// the last accepted one, refused before any key is computed for it.
	ReasonTooFar = "too-far"
)

// RejectedEvent reports an incoming message that was refused. State did not
// change. HasSeq tells whether Seq was read from an authenticated header.
//
// Reports are bounded (see rejections.go): rejections of unauthenticated
// input are aggregated per reason to at most one event a second, and
// authenticated ones beyond 20 a second likewise. Count is the number of
// rejections the event stands for (1: this one; N > 1: N rejections with
// this reason since the last event for it, Seq and Detail being the last
// one's).
type RejectedEvent struct {
	Reason string
	Seq    uint32
	HasSeq bool
	Detail string
	Count  int
}

// ReplayedEvent reports that /replay re-sent our last CHAT record byte for
// byte: the peer should reject it (as a replay, or as tampered if its key
// moved on).
type ReplayedEvent struct {
	Type byte   // the replayed message's type (TypeChat)
	Seq  uint32 // its seq, if it is a session record
	// HasSeq is false when the last message was not a session record.
	HasSeq bool
	// EarlierSession is set when the record was sealed in an earlier
	// session than the current one (none was sealed in this one yet).
	EarlierSession bool
}

// StalledEvent reports a handshake that keeps failing although the peer
// answers: typically the peer refuses our key (it recorded another key for
// us, or pins another fingerprint). The peer sends no reason, so this is a
// diagnosis, not proof. Reported once per stall: when 3 counted attempts in
// a row failed while the peer answered in each (its public key or a plain
// pong arrived); an attempt without any answer starts the count over, and a
// session resets it. Attempts are counted at most once per step timeout
// (the protocol restarts its hello whenever the peer asks, which a live
// peer does every ping). A node that refused the peer's key itself (it
// reported key-changed) reports no stall.
//
// When the peer refuses our key, it ignores our public keys and hellos from
// then on but still answers pings and sends its own public key: whichever
// role we play, every later attempt ends at LastStep 1 (StepPublicKeys:
// keys exchanged, our hello never answered).
type StalledEvent struct {
	Attempts int           // handshake attempts since the last session (or start)
	LastStep int           // furthest step reached in the last attempt
	For      time.Duration // since the first of those attempts
}

// PeerKeyEvent reports key pinning's verdict on a peer key that proved
// possession of its private key (handshake step 3, Config.VerifyPeer):
// either the key passed, with how far it is trusted, or it is a changed key
// (Changed set: not the recorded or pinned one). A key that passes is
// reported every time it passes; a changed key once per key for the life
// of the node (it is refused, and ignored afterwards, until
// Node.AcceptPeerKey). Nothing is reported without a Config.VerifyPeer.
//
// A changed key before any session was established in this run is the
// ssh case (the line modes end the run); once a session is up it is only a
// rejected attempt: anyone can hold a key, and must not be able to end a
// verified conversation with it.
type PeerKeyEvent struct {
	Fingerprint crypto.Fingerprint
	Trust       crypto.Trust // the key passed with this trust (Changed nil)
	// Changed is set when the key was refused as a changed key.
	Changed *crypto.KeyChangedError
	// OwnKey: the key is our own identity's (both sides run with one key
	// file): its fingerprint and the safety number cannot tell the two
	// sides apart.
	OwnKey bool
	// Established: a session was established earlier in this run; SessionUp:
	// one is up now. Set with Changed only.
	Established, SessionUp bool
}

// ErrorEvent reports an error that is not a rejection of peer input.
type ErrorEvent struct{ Err error }

// DiskEvent reports that the Store's disk is full (Full, once when the
// Node starts keeping what it cannot save in memory; Err says which file
// system and what to free) or has room again (not Full, once when all of
// it is saved). While full, received messages wait unshown and
// unacknowledged (the peer resends them) and lines written are kept
// unsaved (Outgoing.Unsaved).
type DiskEvent struct {
	Full bool
	Err  error
}

// SavedEvent reports that a message written while the disk was full
// (Outgoing.Unsaved) is saved now; it is sent from here on.
type SavedEvent struct{ ID uint64 }

// ShownEvent follows the MessageEvents of one loop turn of the node. A
// front end returns from emitting it only once every MessageEvent emitted
// before it is on the screen or stdout (or its output failed or closed):
// the node then records those messages as seen and acknowledges them. So a
// front end may queue MessageEvents without waiting, and pay for one wait
// per group of messages. It shows nothing.
type ShownEvent struct{}

// TypingEvent reports the peer's typing indicator turning on (Active, a
// TYPING record arrived; it stays on until Until unless renewed) or off
// (it expired TypingFor after the last TYPING, the peer's chat message
// arrived, or the peer left). Only changes are reported: a peer typing on
// renews Until silently, and the off event comes when it ends. Never
// emitted with Config.NoTyping.
type TypingEvent struct {
	Active bool
	Until  time.Time // set when Active: when it ends unless renewed
}

// ReadEvent reports that the peer read our messages IDs (a READ record):
// each id is one we sent, reported read once. Never emitted with
// Config.NoReadReceipts.
type ReadEvent struct{ IDs []uint64 }

func (LiveEvent) EventName() string      { return "live" }
func (HandshakeEvent) EventName() string { return "handshake" }
func (SessionEvent) EventName() string   { return "session" }
func (MessageEvent) EventName() string   { return "message" }
func (SentEvent) EventName() string      { return "sent" }
func (DeliveredEvent) EventName() string { return "delivered" }
func (GapEvent) EventName() string       { return "gap" }
func (RejectedEvent) EventName() string  { return "rejected" }
func (ErrorEvent) EventName() string     { return "error" }
func (DiskEvent) EventName() string      { return "disk" }
func (SavedEvent) EventName() string     { return "saved" }
func (PeerKeyEvent) EventName() string   { return "peer-key" }
func (ReplayedEvent) EventName() string  { return "replayed" }
func (StalledEvent) EventName() string   { return "stalled" }
func (ShownEvent) EventName() string     { return "shown" }
func (TypingEvent) EventName() string    { return "typing" }
func (ReadEvent) EventName() string      { return "read" }
