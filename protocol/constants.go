package protocol

import "time"

// Spec constants: these are part of the wire protocol (docs/PROTOCOL.md) and
// changing any of them breaks interoperability.
const (
	// Version is the protocol version carried in byte 0 of every message.
	// Version 2 (issue 19) adds ML-KEM-768 to the hellos; a version-1
	// PUBLIC_KEY is recognised and refused as ErrOldVersion, any other
	// version as ErrVersion (docs/PROTOCOL.md, sections 2 and 7). There is
	// no fallback to version 1.
	Version = 2
	// VersionOld is the version this one replaces: recognised only to
	// name the refusal (ErrOldVersion), never spoken.
	VersionOld = 1

	// Sizes from the original design, kept.
	NonceSize     = 12  // 96-bit nonces
	TimestampSize = 8   // 64-bit Unix nanoseconds, big-endian, signed
	SeqSize       = 4   // 32-bit sequence numbers
	SessionKeyLen = 32  // AES-256 and HMAC-SHA256 keys
	RSASize       = 256 // RSA-2048 signatures and OAEP ciphertexts
	X25519Size    = 32
	MACSize       = 32 // HMAC-SHA256
	TagSize       = 16 // AES-GCM tag
	HashSize      = 32 // SHA-256

	// ML-KEM-768 (FIPS 203), from crypto/mlkem.
	MLKEMEncapKeySize   = 1184 // A's encapsulation key, in HELLO_A
	MLKEMCiphertextSize = 1088 // B's ciphertext, in HELLO_B
	MLKEMSeedSize       = 64   // d || z: A's decapsulation key is derived from it
	MLKEMSharedSize     = 32

	// RecordHeaderSize is version(1) type(1) seq(4) timestamp(8) nonce(12).
	RecordHeaderSize = 2 + SeqSize + TimestampSize + NonceSize
	// MinRecordSize is a header plus an empty payload's tag.
	MinRecordSize = RecordHeaderSize + TagSize

	// MaxTextSize bounds the UTF-8 text of one chat message.
	MaxTextSize = 64 << 10
	// MaxChatsPerRecord bounds the chat messages of one CHATS record.
	MaxChatsPerRecord = 64
	// ChatsEntryHeaderSize is a CHATS entry's id(8) prev(8) sent_at(8)
	// len(4), before its text.
	ChatsEntryHeaderSize = ChatHeaderSize + 4
	// MaxReceiptIDs bounds the ids acknowledged by one receipt record.
	MaxReceiptIDs = 1024
	// MaxReadIDs bounds the ids named by one READ record: a screen shows
	// far fewer messages at once.
	MaxReadIDs = 256
	// MaxPublicKeyDER bounds the SPKI DER in a public-key message.
	MaxPublicKeyDER = 1024

	// InitialSeqLimit: initial sequence numbers are drawn uniformly from
	// [0, InitialSeqLimit), leaving at least 2^31 records before a wrap.
	InitialSeqLimit = 1 << 31
	// SeqRehandshake: a sender that reaches this sequence number starts a
	// fresh handshake; seq never wraps within a session.
	SeqRehandshake = 1<<32 - 1<<20
)

// Message types (byte 1 of every message).
const (
	TypePublicKey    byte = 0x01
	TypeHello        byte = 0x02
	TypeKeyTransport byte = 0x03
	TypeAck          byte = 0x04
	TypePlainPing    byte = 0x05
	TypePlainPong    byte = 0x06

	TypeConfirm byte = 0x10
	TypeChat    byte = 0x11
	TypeReceipt byte = 0x12
	TypePing    byte = 0x13
	TypePong    byte = 0x14
	// TypeRekey was version 1's REKEY; version 2 never sends it and
	// treats it as a type it does not know (healing replaced it).
	TypeRekey   byte = 0x15
	TypeGoodbye byte = 0x16
	TypeTyping  byte = 0x17
	TypeRead    byte = 0x18
	// TypeHeal and TypeHealAck are a healing's two records (issue 19):
	// a fresh X25519 + ML-KEM-768 exchange inside the session.
	TypeHeal    byte = 0x19
	TypeHealAck byte = 0x1a
	// TypeChats carries several chat messages in one record (a burst):
	// per-record keys make each record's sealing cost a key derivation and
	// an AES-GCM key schedule, which a burst pays once.
	TypeChats byte = 0x1b

	// TypeRecordLast is the last type of the session record range
	// 0x10..0x7f. A record type in the range that this implementation does
	// not know is opened and checked like any record and then ignored and
	// counted (docs/PROTOCOL.md, section 8, "Record types a receiver does
	// not know"): so new record types never break a session.
	TypeRecordLast byte = 0x7f
)

// Roles in the handshake, as carried in the hello's role byte.
const (
	RoleInitiator byte = 1 // "A": the peer whose fingerprint sorts first
	RoleResponder byte = 2 // "B"
)

// Context strings and KDF labels. Each is used exactly as written, ASCII,
// without a terminator unless the spec adds the 0x00 separator.
const (
	TranscriptContext = "duet/2 transcript"
	LabelHelloA       = "duet/2 hello A"
	LabelHelloB       = "duet/2 hello B"
	LabelKeyTransport = "duet/2 key transport"
	LabelKTMAC        = "duet/2 key transport mac"
	LabelAck          = "duet/2 ack"
	LabelAckMAC       = "duet/2 ack mac"
	LabelRekey        = "duet/2 rekey"
	AckMagic          = "ACK"
)

// Fixed message sizes.
const (
	CookieSize     = 8                                                                     // echo of the receiver's challenge, in hellos and key transports
	helloFixedSize = 2 + 1 + CookieSize + NonceSize + TimestampSize + X25519Size + RSASize // 319: all but the ML-KEM share
	HelloASize     = helloFixedSize + MLKEMEncapKeySize                                    // 1503: A's hello (role 1)
	HelloBSize     = helloFixedSize + MLKEMCiphertextSize                                  // 1407: B's hello (role 2)
	// HelloSize is A's hello, the larger of the two: a buffer that holds
	// any hello.
	HelloSize = HelloASize
	// HelloV1Size is the size of a version-1 hello (no ML-KEM share): a
	// version-2 hello of this size is a stripped one (ErrDowngrade).
	HelloV1Size      = helloFixedSize
	helloSignedBase  = NonceSize + TimestampSize + X25519Size       // 52, then the share
	KeyTransportSize = 2 + CookieSize + RSASize + MACSize + RSASize // 554
	AckSize          = 2 + RSASize + MACSize                        // 290
	PlainPingSize    = 2 + 8
	ktPlainSize      = SessionKeyLen + SeqSize + TimestampSize // 44
	ackPlainSize     = len(AckMagic) + SeqSize + TimestampSize // 15
)

// Implementation defaults: not part of the wire format; peers may differ.
const (
	DefaultWindow       = 30 * time.Second
	DefaultPingInterval = time.Second
	DefaultStepTimeout  = 2 * time.Second
	// DefaultRekeyInterval and DefaultRekeyAfter: a session heals (a fresh
	// exchange mixed into its keys) when its sending direction is this
	// old, or has sealed this many records, since the last healing.
	DefaultRekeyInterval = 2 * time.Minute
	DefaultRekeyAfter    = 1 << 16
	// DefaultHealRetry: a HEAL unanswered for this long is replaced by a
	// fresh one (the first, or its HEAL_ACK, was lost).
	DefaultHealRetry  = 10 * time.Second
	DefaultMaxUnacked = 100_000
	// DefaultSendNonceCap bounds the sender's per-epoch set of records sent
	// (for reflection); when it is full it starts again, empty. It equals
	// DefaultRekeyAfter: an epoch normally ends (a healing) as it fills.
	DefaultSendNonceCap = 1 << 16
	// DegradedAfter and DownAfter count consecutive unanswered pings.
	DegradedAfter = 2
	DownAfter     = 5
	// TypingEvery: a node seals at most one TYPING record per TypingEvery.
	// TypingFor: a received TYPING shows "typing" for TypingFor, unless
	// another one or a chat message from the peer comes first. TypingFor
	// is twice TypingEvery, so one lost TYPING of a peer still typing does
	// not make the indicator flicker, and it is gone at most 6 s after the
	// peer stopped (or quit, or lost its connection).
	TypingEvery = 3 * time.Second
	TypingFor   = 6 * time.Second
)
