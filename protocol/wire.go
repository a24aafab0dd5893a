package protocol

import (
	"crypto/mlkem"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// This file holds the byte layouts of every message (docs/PROTOCOL.md,
// "Messages"). Decoders check lengths before reading and never allocate more
// than the input they are given.

// checkPrefix validates the two bytes every message starts with.
func checkPrefix(b []byte, typ byte) error {
	if len(b) < 2 {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if err := checkVersion(b); err != nil {
		return err
	}
	if b[1] != typ {
		return fmt.Errorf("%w: type 0x%02x, want 0x%02x", ErrMalformed, b[1], typ)
	}
	return nil
}

// checkVersion checks byte 0 of a message of at least 2 bytes: Version,
// or ErrOldVersion for a version-1 PUBLIC_KEY (same layout as ours, so a
// full parse tells it from noise), or ErrVersion for anything else.
func checkVersion(b []byte) error {
	switch {
	case b[0] == Version:
		return nil
	case b[0] == VersionOld && b[1] == TypePublicKey:
		if _, err := parsePublicKeyBody(b); err == nil {
			return fmt.Errorf("%w: version-1 public key", ErrOldVersion)
		}
	}
	return fmt.Errorf("%w: %d", ErrVersion, b[0])
}

// MessageType returns the type byte of a message after checking its length
// bounds and version: the first two checks of the receive order.
func MessageType(b []byte) (byte, error) {
	if len(b) > MaxMessageSize {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	if len(b) < 2 {
		return 0, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if err := checkVersion(b); err != nil {
		return 0, err
	}
	switch t := b[1]; {
	case t >= TypePublicKey && t <= TypePlainPong, IsRecordType(t):
		return t, nil
	default:
		return 0, fmt.Errorf("%w: 0x%02x", ErrUnknownType, t)
	}
}

// IsRecordType reports whether t is in the session record range (CONFIRM
// 0x10 through TypeRecordLast 0x7f): a record this implementation may not
// know (IsKnownRecordType), but which is opened and checked as a record.
func IsRecordType(t byte) bool { return t >= TypeConfirm && t <= TypeRecordLast }

// IsKnownRecordType reports whether t is a session record type this
// implementation acts on (CONFIRM 0x10 through CHATS 0x1b).
//
// TypeRekey (0x15, version 1's REKEY) is not one: version 2 never sends it.
func IsKnownRecordType(t byte) bool {
	return t >= TypeConfirm && t <= TypeChats && t != TypeRekey
}

// IsChatRecord reports whether t is a record type that carries chat
// messages: CHAT (one) or CHATS (one or more).
func IsChatRecord(t byte) bool { return t == TypeChat || t == TypeChats }

// PublicKeyMsg is handshake flow 1: version, type, flags, challenge (8),
// echo (8), der_len (u16), der.
type PublicKeyMsg struct {
	ReplyRequested bool // flags bit 0: the receiver should answer with its own key
	// Challenge is the sender's random reachability challenge; Echo is the
	// last challenge the sender received from the receiver (zero if none).
	// An echo of our challenge proves the sender gets what we send to our
	// sub port: a host that only reaches our main port cannot produce it.
	Challenge [ChallengeSize]byte
	Echo      [ChallengeSize]byte
	DER       []byte
}

// ChallengeSize is the size of a public-key message's challenge and echo.
const ChallengeSize = 8

const (
	flagReplyRequested = 0x01
	publicKeyFixedSize = 2 + 1 + 2*ChallengeSize + 2 // before the DER
)

// AppendPublicKey encodes m.
func AppendPublicKey(dst []byte, m PublicKeyMsg) []byte {
	var flags byte
	if m.ReplyRequested {
		flags |= flagReplyRequested
	}
	dst = append(dst, Version, TypePublicKey, flags)
	dst = append(dst, m.Challenge[:]...)
	dst = append(dst, m.Echo[:]...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.DER)))
	return append(dst, m.DER...)
}

// ParsePublicKeyMsg decodes a public-key message. DER aliases b.
func ParsePublicKeyMsg(b []byte) (PublicKeyMsg, error) {
	if err := checkPrefix(b, TypePublicKey); err != nil {
		return PublicKeyMsg{}, err
	}
	return parsePublicKeyBody(b)
}

// parsePublicKeyBody decodes a public-key message after its version and
// type: the layout is the same in versions 1 and 2.
func parsePublicKeyBody(b []byte) (PublicKeyMsg, error) {
	if len(b) < publicKeyFixedSize {
		return PublicKeyMsg{}, fmt.Errorf("%w: public key message of %d bytes", ErrMalformed, len(b))
	}
	flags := b[2]
	if flags&^flagReplyRequested != 0 {
		return PublicKeyMsg{}, fmt.Errorf("%w: public key flags 0x%02x", ErrMalformed, flags)
	}
	m := PublicKeyMsg{ReplyRequested: flags&flagReplyRequested != 0}
	copy(m.Challenge[:], b[3:])
	copy(m.Echo[:], b[3+ChallengeSize:])
	n := int(binary.BigEndian.Uint16(b[publicKeyFixedSize-2:]))
	if n == 0 || n > MaxPublicKeyDER || len(b) != publicKeyFixedSize+n {
		return PublicKeyMsg{}, fmt.Errorf("%w: public key length %d in %d bytes", ErrMalformed, n, len(b))
	}
	m.DER = b[publicKeyFixedSize:]
	return m, nil
}

// Hello is handshake flow 2: version, type, role, cookie, nonce,
// timestamp, ephemeral X25519 key, ML-KEM share, RSA-PSS signature. The
// share is A's ML-KEM-768 encapsulation key (MLKEMEncapKeySize bytes) in
// A's hello, B's ML-KEM-768 ciphertext to it (MLKEMCiphertextSize) in B's:
// so each role's hello has one fixed size (HelloASize, HelloBSize).
type Hello struct {
	Role      byte
	Cookie    [CookieSize]byte // not signed; see SetCookie
	Nonce     [NonceSize]byte
	Timestamp int64
	Ephemeral [X25519Size]byte
	KEM       []byte // the ML-KEM share; its length is the role's (shareSize)
	Signature [RSASize]byte

	ek *mlkem.EncapsulationKey768 // A's KEM, parsed by CheckHelloA
}

// shareSize returns the size of the ML-KEM share in a hello of role, or 0
// for a role that does not exist.
func shareSize(role byte) int {
	switch role {
	case RoleInitiator:
		return MLKEMEncapKeySize
	case RoleResponder:
		return MLKEMCiphertextSize
	}
	return 0
}

// signedFields returns nonce || timestamp || ephemeral || share
// (HELLO_FIELDS): the hello's part of the transcript.
func (h *Hello) signedFields() []byte {
	b := make([]byte, 0, helloSignedBase+len(h.KEM))
	b = append(b, h.Nonce[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Timestamp))
	b = append(b, h.Ephemeral[:]...)
	return append(b, h.KEM...)
}

// AppendHello encodes h.
func AppendHello(dst []byte, h *Hello) []byte {
	dst = append(dst, Version, TypeHello, h.Role)
	dst = append(dst, h.Cookie[:]...)
	dst = append(dst, h.signedFields()...)
	return append(dst, h.Signature[:]...)
}

// ParseHello decodes a hello. Its size must be its role's; a hello of the
// version-1 size is ErrDowngrade (its share was stripped), any other size
// ErrMalformed. KEM is a copy; the share's content is checked by the
// handshake after the signature (an encapsulation key by CheckHelloA).
func ParseHello(b []byte) (*Hello, error) {
	if err := checkPrefix(b, TypeHello); err != nil {
		return nil, err
	}
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: hello of %d bytes", ErrMalformed, len(b))
	}
	if err := checkSignedSize(TypeHello, b); err != nil {
		return nil, err
	}
	h := &Hello{Role: b[2]}
	n := shareSize(h.Role)
	copy(h.Cookie[:], b[3:])
	p := b[3+CookieSize:]
	copy(h.Nonce[:], p)
	p = p[NonceSize:]
	h.Timestamp = int64(binary.BigEndian.Uint64(p))
	p = p[TimestampSize:]
	copy(h.Ephemeral[:], p)
	p = p[X25519Size:]
	h.KEM = append([]byte(nil), p[:n]...)
	p = p[n:]
	copy(h.Signature[:], p)
	return h, nil
}

// KeyTransport is handshake flow 4 (A -> B): cookie, OAEP ciphertext, MAC,
// signature.
type KeyTransport struct {
	Cookie     [CookieSize]byte // not signed; see SetCookie
	Ciphertext [RSASize]byte
	MAC        [MACSize]byte
	Signature  [RSASize]byte
}

// AppendKeyTransport encodes k.
func AppendKeyTransport(dst []byte, k *KeyTransport) []byte {
	dst = append(dst, Version, TypeKeyTransport)
	dst = append(dst, k.Cookie[:]...)
	dst = append(dst, k.Ciphertext[:]...)
	dst = append(dst, k.MAC[:]...)
	return append(dst, k.Signature[:]...)
}

// ParseKeyTransport decodes a key-transport message.
func ParseKeyTransport(b []byte) (*KeyTransport, error) {
	if err := checkPrefix(b, TypeKeyTransport); err != nil {
		return nil, err
	}
	if len(b) != KeyTransportSize {
		return nil, fmt.Errorf("%w: key transport of %d bytes, want %d", ErrMalformed, len(b), KeyTransportSize)
	}
	k := &KeyTransport{}
	copy(k.Cookie[:], b[2:])
	p := b[2+CookieSize:]
	copy(k.Ciphertext[:], p)
	copy(k.MAC[:], p[RSASize:])
	copy(k.Signature[:], p[RSASize+MACSize:])
	return k, nil
}

// checkSignedSize checks the size of a HELLO (by its role, as ParseHello
// does) or KEY_TRANSPORT of type typ: the step of the receive order after
// the cookie, before any signature work (docs/PROTOCOL.md, section 7).
func checkSignedSize(typ byte, msg []byte) error {
	if typ != TypeHello {
		if len(msg) != KeyTransportSize {
			return fmt.Errorf("%w: key transport of %d bytes, want %d", ErrMalformed, len(msg), KeyTransportSize)
		}
		return nil
	}
	if len(msg) == HelloV1Size {
		return fmt.Errorf("%w: hello of %d bytes, the version-1 layout", ErrDowngrade, len(msg))
	}
	if n := shareSize(msg[2]); n == 0 || len(msg) != helloFixedSize+n {
		return fmt.Errorf("%w: hello of role %d of %d bytes", ErrMalformed, msg[2], len(msg))
	}
	return nil
}

// cookieAt returns the offset of the cookie in a hello or key transport.
func cookieAt(typ byte) int {
	if typ == TypeHello {
		return 3
	}
	return 2
}

// SetCookie writes the reachability cookie into an encoded hello or key
// transport: the echo of the challenge the receiver sent in its public key.
// The cookie is not covered by the signature or the transcript; it only lets
// the receiver drop, before any RSA work, messages from a host that cannot
// see what it sends (docs/PROTOCOL.md, section 7).
func SetCookie(msg []byte, cookie [CookieSize]byte) {
	copy(msg[cookieAt(msg[1]):], cookie[:])
}

// Cookie returns the cookie of an encoded hello or key transport whose
// length was checked by MessageType's caller; ok is false if msg is too
// short to hold one.
func Cookie(msg []byte) (c [CookieSize]byte, ok bool) {
	if len(msg) < 2 {
		return c, false
	}
	at := cookieAt(msg[1])
	if len(msg) < at+CookieSize {
		return c, false
	}
	copy(c[:], msg[at:])
	return c, true
}

// Ack is handshake flow 5 (B -> A): OAEP ciphertext, MAC.
type Ack struct {
	Ciphertext [RSASize]byte
	MAC        [MACSize]byte
}

// AppendAck encodes a.
func AppendAck(dst []byte, a *Ack) []byte {
	dst = append(dst, Version, TypeAck)
	dst = append(dst, a.Ciphertext[:]...)
	return append(dst, a.MAC[:]...)
}

// ParseAck decodes an ack.
func ParseAck(b []byte) (*Ack, error) {
	if err := checkPrefix(b, TypeAck); err != nil {
		return nil, err
	}
	if len(b) != AckSize {
		return nil, fmt.Errorf("%w: ack of %d bytes, want %d", ErrMalformed, len(b), AckSize)
	}
	a := &Ack{}
	copy(a.Ciphertext[:], b[2:])
	copy(a.MAC[:], b[2+RSASize:])
	return a, nil
}

// AppendPlainPing encodes a plain (pre-session) ping or pong.
func AppendPlainPing(dst []byte, typ byte, id uint64) []byte {
	dst = append(dst, Version, typ)
	return binary.BigEndian.AppendUint64(dst, id)
}

// ParsePlainPing decodes a plain ping or pong of type typ.
func ParsePlainPing(b []byte, typ byte) (uint64, error) {
	if err := checkPrefix(b, typ); err != nil {
		return 0, err
	}
	if len(b) != PlainPingSize {
		return 0, fmt.Errorf("%w: plain ping of %d bytes", ErrMalformed, len(b))
	}
	return binary.BigEndian.Uint64(b[2:]), nil
}

// RecordHeader is the clear-text header of a session record, authenticated
// as AES-GCM associated data.
type RecordHeader struct {
	Type      byte
	Seq       uint32
	Timestamp int64
	Nonce     [NonceSize]byte
}

// AppendRecordHeader encodes h.
func AppendRecordHeader(dst []byte, h *RecordHeader) []byte {
	dst = append(dst, Version, h.Type)
	dst = binary.BigEndian.AppendUint32(dst, h.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.Timestamp))
	return append(dst, h.Nonce[:]...)
}

// ParseRecordHeader checks a record's length bounds, version and type and
// decodes its header. The header is not yet authenticated.
func ParseRecordHeader(b []byte) (RecordHeader, error) {
	t, err := MessageType(b)
	if err != nil {
		return RecordHeader{}, err
	}
	if !IsRecordType(t) {
		return RecordHeader{}, fmt.Errorf("%w: type 0x%02x is not a record", ErrMalformed, t)
	}
	if len(b) < MinRecordSize {
		return RecordHeader{}, fmt.Errorf("%w: record of %d bytes, minimum %d", ErrMalformed, len(b), MinRecordSize)
	}
	h := RecordHeader{Type: t}
	h.Seq = binary.BigEndian.Uint32(b[2:])
	h.Timestamp = int64(binary.BigEndian.Uint64(b[6:]))
	copy(h.Nonce[:], b[14:RecordHeaderSize])
	return h, nil
}

// ChatHeaderSize is id(8) prev(8) sent_at(8), before the text.
const ChatHeaderSize = 24

// Chat is the payload of a chat record: id(8) prev(8) sent_at(8) text.
type Chat struct {
	ID uint64
	// Prev is the id of the message the sender wrote just before this one
	// if that one was not yet acknowledged when this record was sealed,
	// else 0. The receiver shows a message only after its Prev, so messages
	// appear in the order they were written even when resends cross.
	Prev   uint64
	SentAt int64 // Unix nanoseconds when the user wrote it (kept across resends)
	Text   string
}

// AppendChat encodes c.
func AppendChat(dst []byte, c *Chat) []byte {
	dst = binary.BigEndian.AppendUint64(dst, c.ID)
	dst = binary.BigEndian.AppendUint64(dst, c.Prev)
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.SentAt))
	return append(dst, c.Text...)
}

// checkChat validates a chat payload without copying it.
func checkChat(p []byte) error {
	if len(p) < ChatHeaderSize {
		return fmt.Errorf("%w: chat payload of %d bytes", ErrMalformed, len(p))
	}
	return checkChatFields(binary.BigEndian.Uint64(p), p[ChatHeaderSize:])
}

// checkChatFields checks a chat's id and text, in a CHAT or a CHATS entry.
func checkChatFields(id uint64, text []byte) error {
	if id == 0 {
		return fmt.Errorf("%w: chat id 0", ErrMalformed) // ids are never 0 (section 8)
	}
	if len(text) > MaxTextSize {
		// A payload-shape failure (section 8, step 8), not the step-1 size
		// limit: the record itself is well within 1 MiB.
		return fmt.Errorf("%w: chat text of %d bytes, at most %d", ErrMalformed, len(text), MaxTextSize)
	}
	if !utf8.Valid(text) {
		return fmt.Errorf("%w: chat text is not UTF-8", ErrMalformed)
	}
	return nil
}

// ParseChat decodes a chat payload. Text must be valid UTF-8.
func ParseChat(p []byte) (Chat, error) {
	if err := checkChat(p); err != nil {
		return Chat{}, err
	}
	return Chat{
		ID:     binary.BigEndian.Uint64(p),
		Prev:   binary.BigEndian.Uint64(p[8:]),
		SentAt: int64(binary.BigEndian.Uint64(p[16:])),
		Text:   string(p[ChatHeaderSize:]),
	}, nil
}

// AppendChats encodes a CHATS payload: each chat as id(8) prev(8)
// sent_at(8) len(4) text. The caller keeps to 1..MaxChatsPerRecord chats
// of at most MaxTextSize bytes of text each.
func AppendChats(dst []byte, cs []Chat) []byte {
	for i := range cs {
		c := &cs[i]
		dst = binary.BigEndian.AppendUint64(dst, c.ID)
		dst = binary.BigEndian.AppendUint64(dst, c.Prev)
		dst = binary.BigEndian.AppendUint64(dst, uint64(c.SentAt))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Text)))
		dst = append(dst, c.Text...)
	}
	return dst
}

// ChatsSize is the size of cs encoded by AppendChats.
func ChatsSize(cs []Chat) int {
	n := len(cs) * ChatsEntryHeaderSize
	for i := range cs {
		n += len(cs[i].Text)
	}
	return n
}

// checkChats validates a CHATS payload without copying it: 1 to
// MaxChatsPerRecord entries that fill it exactly, each a valid chat (id
// not 0, text UTF-8 of at most MaxTextSize bytes). It returns the number
// of entries.
func checkChats(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if n == MaxChatsPerRecord {
			return 0, fmt.Errorf("%w: chats payload of more than %d messages", ErrMalformed, MaxChatsPerRecord)
		}
		if len(p) < ChatsEntryHeaderSize {
			return 0, fmt.Errorf("%w: chats entry %d: %d bytes left, want at least %d", ErrMalformed, n, len(p), ChatsEntryHeaderSize)
		}
		size := binary.BigEndian.Uint32(p[ChatHeaderSize:])
		if size > MaxTextSize {
			return 0, fmt.Errorf("%w: chats entry %d: text of %d bytes, at most %d", ErrMalformed, n, size, MaxTextSize)
		}
		end := ChatsEntryHeaderSize + int(size)
		if end > len(p) {
			return 0, fmt.Errorf("%w: chats entry %d: text of %d bytes, %d left", ErrMalformed, n, size, len(p)-ChatsEntryHeaderSize)
		}
		if err := checkChatFields(binary.BigEndian.Uint64(p), p[ChatsEntryHeaderSize:end]); err != nil {
			return 0, fmt.Errorf("chats entry %d: %w", n, err)
		}
		p = p[end:]
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: empty chats payload", ErrMalformed)
	}
	return n, nil
}

// ParseChats decodes a CHATS payload, appending its chats to dst in the
// order they were sealed (the order their sender wrote them).
func ParseChats(dst []Chat, p []byte) ([]Chat, error) {
	if _, err := checkChats(p); err != nil {
		return dst, err
	}
	for len(p) > 0 {
		end := ChatsEntryHeaderSize + int(binary.BigEndian.Uint32(p[ChatHeaderSize:]))
		dst = append(dst, Chat{
			ID:     binary.BigEndian.Uint64(p),
			Prev:   binary.BigEndian.Uint64(p[8:]),
			SentAt: int64(binary.BigEndian.Uint64(p[16:])),
			Text:   string(p[ChatsEntryHeaderSize:end]),
		})
		p = p[end:]
	}
	return dst, nil
}

// AppendReceipt encodes a receipt payload: the acknowledged ids, 8 bytes each.
func AppendReceipt(dst []byte, ids []uint64) []byte {
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint64(dst, id)
	}
	return dst
}

// ParseReceipt decodes a receipt payload into dst.
func ParseReceipt(dst []uint64, p []byte) ([]uint64, error) {
	if len(p) == 0 || len(p)%8 != 0 || len(p)/8 > MaxReceiptIDs {
		return dst, fmt.Errorf("%w: receipt payload of %d bytes", ErrMalformed, len(p))
	}
	for ; len(p) > 0; p = p[8:] {
		dst = append(dst, binary.BigEndian.Uint64(p))
	}
	return dst, nil
}

// ParsePingPayload decodes the 8-byte id of an authenticated ping or pong.
func ParsePingPayload(p []byte) (uint64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("%w: ping payload of %d bytes", ErrMalformed, len(p))
	}
	return binary.BigEndian.Uint64(p), nil
}

// AppendRead encodes a READ payload: the ids of the peer's messages that
// were read, 8 bytes each (1 to MaxReadIDs, none 0: the caller's to keep).
func AppendRead(dst []byte, ids []uint64) []byte { return AppendReceipt(dst, ids) }

// checkRead validates a READ payload without copying it: 1 to MaxReadIDs
// ids of 8 bytes, none of them 0.
func checkRead(p []byte) error {
	if len(p) == 0 || len(p)%8 != 0 || len(p)/8 > MaxReadIDs {
		return fmt.Errorf("%w: read payload of %d bytes", ErrMalformed, len(p))
	}
	for i := 0; i < len(p); i += 8 {
		if binary.BigEndian.Uint64(p[i:]) == 0 {
			return fmt.Errorf("%w: read id 0", ErrMalformed)
		}
	}
	return nil
}

// ParseRead decodes a READ payload into dst (at most MaxReadIDs ids).
func ParseRead(dst []uint64, p []byte) ([]uint64, error) {
	if err := checkRead(p); err != nil {
		return dst, err
	}
	for ; len(p) > 0; p = p[8:] {
		dst = append(dst, binary.BigEndian.Uint64(p))
	}
	return dst, nil
}

// checkTyping validates a TYPING payload: it is empty.
func checkTyping(p []byte) error {
	if len(p) != 0 {
		return fmt.Errorf("%w: typing payload of %d bytes", ErrMalformed, len(p))
	}
	return nil
}
