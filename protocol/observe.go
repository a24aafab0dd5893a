package protocol

// What a user interface can observe of a running Node besides its events:
// a snapshot of the session's counters (Status) and the last records in and
// out (RecordLog). Both are read without going through the Run goroutine, so
// a screen that polls them never slows the session, and the session never
// waits for the screen.

import (
	"sync"
	"time"

	"duet/crypto"
)

// Direction is which way a record travelled.
type Direction byte

const (
	DirIn  Direction = 1 // received from the peer
	DirOut Direction = 2 // sent to the peer
)

func (d Direction) String() string {
	if d == DirIn {
		return "in"
	}
	return "out"
}

// Verdicts of a RecordInfo besides the rejection reasons (Reason* constants).
const (
	VerdictAccepted = "accepted" // in: opened and acted on
	VerdictSent     = "sent"     // out: handed to the transport writer
	VerdictReplayed = "replayed" // out: re-sent byte for byte by /replay
	VerdictIgnored  = "ignored"  // in: well-formed but not for us now (no session, stale attempt)
)

// RecordInfo describes one message in or out, for the record inspector. It
// never holds secret material: only header fields, which travel in clear.
type RecordInfo struct {
	At        time.Time // when this node handled it
	Dir       Direction
	Type      byte   // message type byte (Type* constants); 0 if unreadable
	Seq       uint32 // header seq (records only)
	HasSeq    bool
	Timestamp time.Time // header timestamp (records only), zero otherwise
	Nonce     [4]byte   // first 4 bytes of the header nonce (records only)
	HasNonce  bool
	Size      int    // bytes on the wire
	Verdict   string // a Verdict* constant or a Reason* constant
}

// TypeName names a message type byte as docs/PROTOCOL.md does.
func TypeName(t byte) string {
	switch t {
	case TypePublicKey:
		return "PUBLIC_KEY"
	case TypeHello:
		return "HELLO"
	case TypeKeyTransport:
		return "KEY_TRANSPORT"
	case TypeAck:
		return "ACK"
	case TypePlainPing:
		return "PLAIN_PING"
	case TypePlainPong:
		return "PLAIN_PONG"
	case TypeConfirm:
		return "CONFIRM"
	case TypeChat:
		return "CHAT"
	case TypeChats:
		return "CHATS"
	case TypeReceipt:
		return "RECEIPT"
	case TypePing:
		return "PING"
	case TypePong:
		return "PONG"
	case TypeRekey:
		return "REKEY"
	case TypeGoodbye:
		return "GOODBYE"
	case TypeTyping:
		return "TYPING"
	case TypeRead:
		return "READ"
	case TypeHeal:
		return "HEAL"
	case TypeHealAck:
		return "HEAL_ACK"
	}
	return "UNKNOWN"
}

// RecordLogSize is how many RecordInfos a RecordLog keeps.
const RecordLogSize = 1024

// RecordLog is a fixed-size ring of the last RecordLogSize messages in and
// out. Add is O(1) under a mutex held for a copy of one small struct, so a
// flood of records costs the session nothing beyond that; the oldest entries
// are overwritten. Safe for concurrent use. The zero value is ready to use.
type RecordLog struct {
	mu    sync.Mutex
	ring  [RecordLogSize]RecordInfo
	total uint64 // entries ever added
}

// Add records one message.
func (l *RecordLog) Add(r RecordInfo) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.ring[l.total%RecordLogSize] = r
	l.total++
	l.mu.Unlock()
}

// Total is the number of entries ever added: a reader that saw the same
// total has nothing new to fetch.
func (l *RecordLog) Total() uint64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Last returns up to max of the newest entries, oldest first, appended to
// dst, and the total at the time of the copy.
func (l *RecordLog) Last(dst []RecordInfo, max int) ([]RecordInfo, uint64) {
	if l == nil {
		return dst, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := uint64(max)
	if n > RecordLogSize {
		n = RecordLogSize
	}
	if n > l.total {
		n = l.total
	}
	for i := l.total - n; i < l.total; i++ {
		dst = append(dst, l.ring[i%RecordLogSize])
	}
	return dst, l.total
}

// Status is a snapshot of a Node's state for a status bar. It is published
// by the Run goroutine at the end of every loop turn; reading it takes a
// short mutex and never waits for the session.
type Status struct {
	HasSession bool
	SendSeq    uint32 // last seq we sealed (0 if none yet)
	RecvSeq    uint32 // last seq accepted from the peer
	SendEpoch  uint32
	RecvEpoch  uint32
	// NextRekey is when our sending direction rekeys by time (zero without
	// a session). It may come earlier by record count.
	NextRekey time.Time
	// Live is the liveness state, RTT the last round trip, LastPong when the
	// last pong arrived (zero if never) and Authenticated whether it came
	// as a session record.
	Live          LiveState
	RTT           time.Duration
	LastPong      time.Time
	Authenticated bool
	// HandshakeStep is the last handshake step done in the current attempt
	// (0 if none or no attempt; 1 as soon as the reachable peer's public
	// key is known), AttemptStarted when that attempt began (zero if none
	// is in progress), Attempts the attempts since the last session (or
	// since start). Attempts are counted as for StalledEvent: at most one
	// per step timeout, none beside an established session.
	HandshakeStep  int
	AttemptStarted time.Time
	Attempts       int
	// Unacked counts our messages written but not yet receipted.
	Unacked int
}

// Driven by node.go (publishStatus, Peer, Status) and node_handshake.go
// (establish).
//
// published is what goroutines other than Run read of a Node, under mu:
// the peer of the last established session (Peer; hasPeer is false until
// one was) and the Status snapshot, which the Run goroutine copies at the
// end of each loop turn. Readers never wait for the session.
type published struct {
	mu      sync.Mutex
	peerFP  crypto.Fingerprint
	safety  string
	hasPeer bool
	status  Status
}

// Outgoing is a chat message accepted by Node.SendMessage.
type Outgoing struct {
	ID uint64
	// SentAt is the time the message was written, as carried in the CHAT
	// payload's sent_at: both sides show this time.
	SentAt time.Time
	// Unsaved: the Store's disk is full, so the message is kept in memory
	// only (lost if duet stops before it is saved); the Node saves it and
	// then sends it once there is room, and reports that (SavedEvent).
	Unsaved bool
}
