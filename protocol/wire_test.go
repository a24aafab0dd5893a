package protocol

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func randBytes(tb testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

func sampleHello(tb testing.TB) *Hello { return sampleHelloOf(tb, RoleResponder) }

// sampleHelloOf returns a hello of role with random fields and a random
// ML-KEM share of the role's size.
func sampleHelloOf(tb testing.TB, role byte) *Hello {
	h := &Hello{Role: role, Timestamp: -12345, KEM: randBytes(tb, shareSize(role))}
	copy(h.Nonce[:], randBytes(tb, NonceSize))
	copy(h.Ephemeral[:], randBytes(tb, X25519Size))
	copy(h.Signature[:], randBytes(tb, RSASize))
	return h
}

func sampleKT(tb testing.TB) *KeyTransport {
	k := &KeyTransport{}
	copy(k.Ciphertext[:], randBytes(tb, RSASize))
	copy(k.MAC[:], randBytes(tb, MACSize))
	copy(k.Signature[:], randBytes(tb, RSASize))
	return k
}

func sampleAck(tb testing.TB) *Ack {
	a := &Ack{}
	copy(a.Ciphertext[:], randBytes(tb, RSASize))
	copy(a.MAC[:], randBytes(tb, MACSize))
	return a
}

func TestWireSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"hello B", len(AppendHello(nil, sampleHello(t))), HelloBSize},
		{"hello B const", HelloBSize, 1407},
		{"hello A", len(AppendHello(nil, sampleHelloOf(t, RoleInitiator))), HelloASize},
		{"hello A const", HelloASize, 1503},
		{"hello version 1 const", HelloV1Size, 319},
		{"key transport", len(AppendKeyTransport(nil, sampleKT(t))), KeyTransportSize},
		{"key transport const", KeyTransportSize, 554},
		{"ack", len(AppendAck(nil, sampleAck(t))), AckSize},
		{"ack const", AckSize, 290},
		{"plain ping", len(AppendPlainPing(nil, TypePlainPing, 1)), PlainPingSize},
		{"record header", len(AppendRecordHeader(nil, &RecordHeader{})), RecordHeaderSize},
		{"record header const", RecordHeaderSize, 26},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}

func TestWireRoundTrips(t *testing.T) {
	t.Run("public key", func(t *testing.T) {
		der := testIdentities(t)[0].Public().DER()
		for _, m := range []PublicKeyMsg{{ReplyRequested: true, DER: der, Challenge: [8]byte{1, 2}, Echo: [8]byte{7: 9}}, {DER: der}, {DER: []byte{1}}, {DER: make([]byte, MaxPublicKeyDER)}} {
			b := AppendPublicKey([]byte("junk"), m)[4:]
			got, err := ParsePublicKeyMsg(b)
			if err != nil || got.ReplyRequested != m.ReplyRequested || !bytes.Equal(got.DER, m.DER) || got.Challenge != m.Challenge || got.Echo != m.Echo {
				t.Fatalf("%+v -> %+v, %v", m, got, err)
			}
		}
	})
	t.Run("hello", func(t *testing.T) {
		for _, role := range []byte{RoleInitiator, RoleResponder} {
			h := sampleHelloOf(t, role)
			got, err := ParseHello(AppendHello(nil, h))
			if err != nil || !reflect.DeepEqual(got, h) {
				t.Fatalf("%+v -> %+v, %v", h, got, err)
			}
		}
	})
	t.Run("key transport", func(t *testing.T) {
		k := sampleKT(t)
		got, err := ParseKeyTransport(AppendKeyTransport(nil, k))
		if err != nil || !reflect.DeepEqual(got, k) {
			t.Fatalf("round trip: %v", err)
		}
	})
	t.Run("ack", func(t *testing.T) {
		a := sampleAck(t)
		got, err := ParseAck(AppendAck(nil, a))
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("round trip: %v", err)
		}
	})
	t.Run("plain ping", func(t *testing.T) {
		for _, typ := range []byte{TypePlainPing, TypePlainPong} {
			for _, id := range []uint64{0, 1, math.MaxUint64} {
				got, err := ParsePlainPing(AppendPlainPing(nil, typ, id), typ)
				if err != nil || got != id {
					t.Fatalf("type %x id %d -> %d, %v", typ, id, got, err)
				}
			}
		}
		if _, err := ParsePlainPing(AppendPlainPing(nil, TypePlainPing, 1), TypePlainPong); !errors.Is(err, ErrMalformed) {
			t.Fatalf("ping parsed as pong: %v", err)
		}
	})
	t.Run("record header", func(t *testing.T) {
		for typ := TypeConfirm; typ <= TypeRekey; typ++ {
			h := RecordHeader{Type: typ, Seq: math.MaxUint32, Timestamp: math.MinInt64}
			copy(h.Nonce[:], randBytes(t, NonceSize))
			b := append(AppendRecordHeader(nil, &h), make([]byte, TagSize)...)
			got, err := ParseRecordHeader(b)
			if err != nil || got != h {
				t.Fatalf("%+v -> %+v, %v", h, got, err)
			}
		}
	})
	t.Run("chat", func(t *testing.T) {
		for _, c := range []Chat{{ID: 7}, {ID: 1, SentAt: -1, Text: "héllo, 世界"}, {ID: math.MaxUint64, SentAt: math.MaxInt64, Text: string(bytes.Repeat([]byte("a"), MaxTextSize))}} {
			got, err := ParseChat(AppendChat(nil, &c))
			if err != nil || got != c {
				t.Fatalf("%d bytes: %v", len(c.Text), err)
			}
		}
	})
	t.Run("chats", func(t *testing.T) {
		max := make([]Chat, MaxChatsPerRecord)
		for i := range max {
			max[i] = Chat{ID: uint64(i + 1), Prev: uint64(i), SentAt: int64(i), Text: strings.Repeat("é", i)}
		}
		for _, cs := range [][]Chat{
			{{ID: 7}},
			{{ID: 1, SentAt: -1, Text: "héllo, 世界"}, {ID: 2, Prev: 1, Text: ""}, {ID: math.MaxUint64, SentAt: math.MaxInt64, Text: string(bytes.Repeat([]byte("a"), MaxTextSize))}},
			max,
		} {
			p := AppendChats(nil, cs)
			if len(p) != ChatsSize(cs) {
				t.Fatalf("%d chats: encoded %d bytes, ChatsSize says %d", len(cs), len(p), ChatsSize(cs))
			}
			got, err := ParseChats(nil, p)
			if err != nil || !slices.Equal(got, cs) {
				t.Fatalf("%d chats: %v", len(cs), err)
			}
		}
	})
	t.Run("receipt", func(t *testing.T) {
		for _, n := range []int{1, 2, MaxReceiptIDs} {
			ids := make([]uint64, n)
			for i := range ids {
				ids[i] = uint64(i)*0x0101010101010101 + 7
			}
			got, err := ParseReceipt([]uint64{42}, AppendReceipt(nil, ids))
			if err != nil || !reflect.DeepEqual(got, append([]uint64{42}, ids...)) {
				t.Fatalf("%d ids: %v", n, err)
			}
		}
	})
	t.Run("ping payload", func(t *testing.T) {
		got, err := ParsePingPayload(binary.BigEndian.AppendUint64(nil, 0xdeadbeef))
		if err != nil || got != 0xdeadbeef {
			t.Fatalf("%x, %v", got, err)
		}
	})
}

// TestWireWrongLengths feeds every decoder every wrong length from 0 to a
// few bytes past the right one (with a valid prefix where there is room).
func TestWireWrongLengths(t *testing.T) {
	der := testIdentities(t)[0].Public().DER()
	decoders := []struct {
		name  string
		valid []byte
		parse func([]byte) error
		ok    func(n int) bool
	}{
		{"hello", AppendHello(nil, sampleHello(t)), func(b []byte) error { _, err := ParseHello(b); return err },
			func(n int) bool { return n == HelloBSize }},
		{"hello A", AppendHello(nil, sampleHelloOf(t, RoleInitiator)), func(b []byte) error { _, err := ParseHello(b); return err },
			func(n int) bool { return n == HelloASize }},
		{"key transport", AppendKeyTransport(nil, sampleKT(t)), func(b []byte) error { _, err := ParseKeyTransport(b); return err },
			func(n int) bool { return n == KeyTransportSize }},
		{"ack", AppendAck(nil, sampleAck(t)), func(b []byte) error { _, err := ParseAck(b); return err },
			func(n int) bool { return n == AckSize }},
		{"plain ping", AppendPlainPing(nil, TypePlainPing, 5), func(b []byte) error { _, err := ParsePlainPing(b, TypePlainPing); return err },
			func(n int) bool { return n == PlainPingSize }},
		{"public key", AppendPublicKey(nil, PublicKeyMsg{DER: der}), func(b []byte) error { _, err := ParsePublicKeyMsg(b); return err },
			func(n int) bool { return n == publicKeyFixedSize+len(der) }},
		{"record header", append(AppendRecordHeader(nil, &RecordHeader{Type: TypeChat}), make([]byte, TagSize)...),
			func(b []byte) error { _, err := ParseRecordHeader(b); return err },
			func(n int) bool { return n >= MinRecordSize }},
		{"chat", AppendChat(nil, &Chat{ID: 1}), func(b []byte) error { _, err := ParseChat(b); return err },
			func(n int) bool { return n >= ChatHeaderSize }},
		{"receipt", AppendReceipt(nil, []uint64{1, 2, 3}), func(b []byte) error { _, err := ParseReceipt(nil, b); return err },
			func(n int) bool { return n > 0 && n%8 == 0 }},
		{"ping payload", make([]byte, 8), func(b []byte) error { _, err := ParsePingPayload(b); return err },
			func(n int) bool { return n == 8 }},
	}
	for _, d := range decoders {
		t.Run(d.name, func(t *testing.T) {
			if err := d.parse(d.valid); err != nil {
				t.Fatalf("valid encoding rejected: %v", err)
			}
			for n := 0; n <= len(d.valid)+9; n++ {
				b := make([]byte, n)
				copy(b, d.valid)
				err := d.parse(b)
				if d.ok(n) {
					continue
				}
				if strings.HasPrefix(d.name, "hello") && n == HelloV1Size {
					if !errors.Is(err, ErrDowngrade) {
						t.Fatalf("length %d (version 1's): %v, want ErrDowngrade", n, err)
					}
					continue
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("length %d: %v, want ErrMalformed", n, err)
				}
			}
		})
	}
}

func TestWirePublicKeyRejections(t *testing.T) {
	der := testIdentities(t)[0].Public().DER()
	valid := AppendPublicKey(nil, PublicKeyMsg{DER: der})
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"unknown flag", mod(func(b []byte) []byte { b[2] = 0x02; return b }), ErrMalformed},
		{"all flags", mod(func(b []byte) []byte { b[2] = 0xff; return b }), ErrMalformed},
		{"length too small", mod(func(b []byte) []byte { b[publicKeyFixedSize-1]--; return b }), ErrMalformed},
		{"length too large", mod(func(b []byte) []byte { b[publicKeyFixedSize-1]++; return b }), ErrMalformed},
		{"zero length", append([]byte{Version, TypePublicKey, 0}, make([]byte, 2*ChallengeSize+2)...), ErrMalformed},
		{"shorter than the fixed part", []byte{Version, TypePublicKey, 0, 0, 0}, ErrMalformed},
		{"over MaxPublicKeyDER", AppendPublicKey(nil, PublicKeyMsg{DER: make([]byte, MaxPublicKeyDER+1)}), ErrMalformed},
		{"length field overflow", AppendPublicKey(nil, PublicKeyMsg{DER: make([]byte, 1<<16+1)}), ErrMalformed},
		{"wrong type", mod(func(b []byte) []byte { b[1] = TypeHello; return b }), ErrMalformed},
		{"wrong version", mod(func(b []byte) []byte { b[0] = 0; return b }), ErrVersion},
	}
	for _, tc := range tests {
		if _, err := ParsePublicKeyMsg(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestWirePayloadRejections(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"chat text too large", func() error {
			_, err := ParseChat(AppendChat(nil, &Chat{ID: 1, Text: string(make([]byte, MaxTextSize+1))}))
			return err
		}(), ErrMalformed},
		{"chat id 0", func() error { _, err := ParseChat(AppendChat(nil, &Chat{ID: 0, Text: "x"})); return err }(), ErrMalformed},
		{"chat invalid UTF-8", func() error { _, err := ParseChat(append(make([]byte, ChatHeaderSize), 0xff, 0xfe)); return err }(), ErrMalformed},
		{"chat truncated UTF-8", func() error { _, err := ParseChat(append(make([]byte, ChatHeaderSize), "世"[:2]...)); return err }(), ErrMalformed},
		{"chats empty", checkRecordPayload(TypeChats, nil), ErrMalformed},
		{"chats too many", checkRecordPayload(TypeChats, AppendChats(nil, make([]Chat, MaxChatsPerRecord+1))), ErrMalformed},
		{"chats entry header cut", checkRecordPayload(TypeChats, AppendChats(nil, []Chat{{ID: 1}})[:ChatsEntryHeaderSize-1]), ErrMalformed},
		{"chats text longer than the payload", checkRecordPayload(TypeChats, AppendChats(nil, []Chat{{ID: 1, Text: "abc"}})[:ChatsEntryHeaderSize+2]), ErrMalformed},
		{"chats text length over the limit", checkRecordPayload(TypeChats, chatsWithLength(MaxTextSize+1)), ErrMalformed},
		{"chats second entry cut", checkRecordPayload(TypeChats, AppendChats(nil, []Chat{{ID: 1}, {ID: 2, Text: "x"}})[:2*ChatsEntryHeaderSize]), ErrMalformed},
		{"chats trailing byte", checkRecordPayload(TypeChats, append(AppendChats(nil, []Chat{{ID: 1}}), 0)), ErrMalformed},
		{"chats id 0", checkRecordPayload(TypeChats, AppendChats(nil, []Chat{{ID: 1}, {ID: 0, Text: "x"}})), ErrMalformed},
		{"chats invalid UTF-8", checkRecordPayload(TypeChats, AppendChats(nil, []Chat{{ID: 1, Text: "\xff\xfe"}})), ErrMalformed},
		{"receipt too many ids", func() error { _, err := ParseReceipt(nil, make([]byte, 8*(MaxReceiptIDs+1))); return err }(), ErrMalformed},
		{"confirm short", checkRecordPayload(TypeConfirm, make([]byte, HashSize-1)), ErrMalformed},
		{"heal short", checkRecordPayload(TypeHeal, make([]byte, HealSize-1)), ErrMalformed},
		{"heal ack long", checkRecordPayload(TypeHealAck, make([]byte, HealAckSize+1)), ErrMalformed},
		{"pong short", checkRecordPayload(TypePong, make([]byte, 7)), ErrMalformed},
		{"receipt empty", checkRecordPayload(TypeReceipt, nil), ErrMalformed},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	for _, c := range []struct {
		typ byte
		p   []byte
	}{{TypeChats, AppendChats(nil, []Chat{{ID: 1}, {ID: 2, Text: "two"}})}, {TypeConfirm, make([]byte, HashSize)}, {TypeRekey, nil}, {TypePing, make([]byte, 8)}, {TypeReceipt, make([]byte, 8)}, {TypeChat, append([]byte{0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, ChatHeaderSize-8)...)}} {
		if err := checkRecordPayload(c.typ, c.p); err != nil {
			t.Errorf("type %x valid payload: %v", c.typ, err)
		}
	}
}

// chatsWithLength is a one-entry CHATS payload whose length field says
// n, followed by n bytes of text.
func chatsWithLength(n uint32) []byte {
	p := AppendChats(nil, []Chat{{ID: 1}})
	binary.BigEndian.PutUint32(p[ChatHeaderSize:], n)
	return append(p, make([]byte, n)...)
}

func TestWireMessageType(t *testing.T) {
	known := map[byte]bool{}
	for _, typ := range []byte{TypePublicKey, TypeHello, TypeKeyTransport, TypeAck, TypePlainPing, TypePlainPong,
		TypeConfirm, TypeChat, TypeReceipt, TypePing, TypePong, TypeRekey, TypeGoodbye, TypeTyping, TypeRead} {
		known[typ] = true
	}
	for typ := TypeRead + 1; typ <= TypeRecordLast; typ++ {
		known[typ] = true // the record range: types not known yet are opened as records (section 8)
	}
	for v := range 256 {
		got, err := MessageType([]byte{Version, byte(v)})
		if known[byte(v)] {
			if err != nil || got != byte(v) {
				t.Errorf("type %#x: %v", v, err)
			}
		} else if !errors.Is(err, ErrUnknownType) {
			t.Errorf("type %#x: %v, want ErrUnknownType", v, err)
		}
		if v != Version {
			if _, err := MessageType([]byte{byte(v), TypeChat}); !errors.Is(err, ErrVersion) {
				t.Errorf("version %d: %v, want ErrVersion", v, err)
			}
		}
	}
	for _, c := range []struct {
		b    []byte
		want error
	}{
		{nil, ErrMalformed},
		{[]byte{Version}, ErrMalformed},
		{make([]byte, MaxMessageSize+1), ErrTooLarge},
	} {
		if _, err := MessageType(c.b); !errors.Is(err, c.want) {
			t.Errorf("%d bytes: %v, want %v", len(c.b), err, c.want)
		}
	}
	b := make([]byte, MaxMessageSize)
	b[0], b[1] = Version, TypeChat
	if _, err := MessageType(b); err != nil {
		t.Errorf("MaxMessageSize: %v", err)
	}
	if _, err := ParseRecordHeader(make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("record of MaxMessageSize+1: %v", err)
	}
	for typ := range byte(TypeConfirm) {
		if !known[typ] {
			continue
		}
		rec := append(AppendRecordHeader(nil, &RecordHeader{Type: typ}), make([]byte, TagSize)...)
		if _, err := ParseRecordHeader(rec); !errors.Is(err, ErrMalformed) {
			t.Errorf("handshake type %#x as record: %v, want ErrMalformed", typ, err)
		}
	}
}
