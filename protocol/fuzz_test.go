package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

// Fuzz targets for every decoder of network bytes. Run one with
//
//	go test -run=^$ -fuzz=FuzzParseHello -fuzztime=30s ./protocol/
//
// Each checks that decoding never panics, that errors are one of the
// sentinels, and that whatever decodes re-encodes to the same bytes.

// isRejection reports whether err is one of the peer-input sentinels.
func isRejection(err error) bool {
	for _, s := range []error{ErrMalformed, ErrTooLarge, ErrVersion, ErrUnknownType, ErrTampered,
		ErrReplay, ErrReorder, ErrStale, ErrFuture, ErrNonceReuse, ErrOldVersion, ErrDowngrade, ErrTooFar} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// wireSeeds are valid encodings of every message plus some junk.
func wireSeeds(tb testing.TB) [][]byte {
	id := testIdentities(tb)
	f := newFlow(tb, 4)
	a, _ := newSessionPair(tb, SessionConfig{})
	rec := func(typ byte, p []byte) []byte {
		r, _, err := a.Seal(nil, typ, p, testNow)
		if err != nil {
			tb.Fatal(err)
		}
		return r
	}
	th := a.Transcript()
	return [][]byte{
		AppendPublicKey(nil, PublicKeyMsg{ReplyRequested: true, DER: id[0].Public().DER()}),
		AppendPublicKey(nil, PublicKeyMsg{DER: id[2].Public().DER()}),
		f.helloA, f.helloB, f.kt, f.ack,
		AppendPlainPing(nil, TypePlainPing, 7), AppendPlainPing(nil, TypePlainPong, 7),
		rec(TypeConfirm, th[:]),
		rec(TypeChat, AppendChat(nil, &Chat{ID: 3, SentAt: 4, Text: "hi"})),
		rec(TypeChats, AppendChats(nil, []Chat{{ID: 4, SentAt: 4, Text: "one"}, {ID: 5, Prev: 4, SentAt: 5, Text: "two"}})),
		rec(TypeReceipt, AppendReceipt(nil, []uint64{3, 5})),
		rec(TypePing, AppendPlainPing(nil, 0, 1)[2:]),
		rec(TypePong, AppendPlainPing(nil, 0, 1)[2:]),
		rec(TypeRekey, nil),
		rec(TypeGoodbye, nil),
		rec(TypeGoodbye, []byte{0}), // malformed: a goodbye's payload is empty
		nil, {}, {Version}, {Version, 0}, {Version, 0xff}, {0, TypeChat}, bytes.Repeat([]byte{0xff}, 64),
		append([]byte{Version, TypeHello, RoleInitiator}, make([]byte, HelloSize-3)...),
		// Protocol 2: stripped and mis-sized hellos, and what a version-1
		// duet sends (its PUBLIC_KEY is old-version, the rest malformed).
		stripHelloShare(f.helloA), stripHelloShare(f.helloB),
		append([]byte{Version, TypeHello, RoleResponder}, make([]byte, HelloASize-3)...),
		append([]byte{Version, TypeHello, RoleInitiator}, make([]byte, HelloBSize-3)...),
		append([]byte{VersionOld}, AppendPublicKey(nil, PublicKeyMsg{ReplyRequested: true, DER: id[0].Public().DER()})[1:]...),
		append([]byte{VersionOld}, stripHelloShare(f.helloA)[1:]...),
	}
}

// stripHelloShare is an encoded hello without its ML-KEM share: the
// version-1 layout.
func stripHelloShare(m []byte) []byte {
	return append(bytes.Clone(m[:helloFixedSize-RSASize]), m[len(m)-RSASize:]...)
}

func addSeeds(f *testing.F) {
	for _, s := range wireSeeds(f) {
		f.Add(s)
	}
}

func FuzzMessageType(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, err := MessageType(b)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if len(b) < 2 || len(b) > MaxMessageSize || b[0] != Version || typ != b[1] {
			t.Fatalf("accepted %x as type %x", b[:min(len(b), 8)], typ)
		}
	})
}

func FuzzParsePublicKeyMsg(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePublicKeyMsg(b)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if len(m.DER) == 0 || len(m.DER) > MaxPublicKeyDER {
			t.Fatalf("DER of %d bytes accepted", len(m.DER))
		}
		if got := AppendPublicKey(nil, m); !bytes.Equal(got, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", got, b)
		}
	})
}

func FuzzParseHello(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHello(b)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if h.Role != RoleInitiator && h.Role != RoleResponder {
			t.Fatalf("role %d accepted", h.Role)
		}
		if len(h.KEM) != shareSize(h.Role) || len(b) != helloFixedSize+shareSize(h.Role) {
			t.Fatalf("hello of role %d with a share of %d bytes in %d accepted", h.Role, len(h.KEM), len(b))
		}
		if got := AppendHello(nil, h); !bytes.Equal(got, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParseKeyTransport(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeyTransport(b)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if got := AppendKeyTransport(nil, k); !bytes.Equal(got, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParseAck(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAck(b)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if got := AppendAck(nil, a); !bytes.Equal(got, b) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParsePlainPing(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, typ := range []byte{TypePlainPing, TypePlainPong} {
			id, err := ParsePlainPing(b, typ)
			if err != nil {
				if !isRejection(err) {
					t.Fatalf("non-sentinel error %v", err)
				}
				continue
			}
			if got := AppendPlainPing(nil, typ, id); !bytes.Equal(got, b) {
				t.Fatal("re-encoding differs")
			}
		}
	})
}

func FuzzParseRecordHeader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseRecordHeader(b)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if !IsRecordType(h.Type) || len(b) < MinRecordSize {
			t.Fatalf("accepted type %x of %d bytes", h.Type, len(b))
		}
		if got := AppendRecordHeader(nil, &h); !bytes.Equal(got, b[:RecordHeaderSize]) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParseChat(f *testing.F) {
	f.Add(AppendChat(nil, &Chat{ID: 1, SentAt: 2, Text: "héllo"}))
	f.Add(AppendChat(nil, &Chat{}))
	f.Add(append(make([]byte, ChatHeaderSize), 0xff))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := ParseChat(p)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if got := AppendChat(nil, &c); !bytes.Equal(got, p) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParseChats(f *testing.F) {
	f.Add(AppendChats(nil, []Chat{{ID: 1, SentAt: 2, Text: "héllo"}, {ID: 2, Prev: 1, Text: ""}}))
	f.Add(AppendChats(nil, []Chat{{ID: 1}}))
	f.Add(AppendChats(nil, make([]Chat, MaxChatsPerRecord+1)))
	f.Add(chatsWithLength(MaxTextSize + 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		cs, err := ParseChats(nil, p)
		if err != nil {
			if !isRejection(err) || cs != nil {
				t.Fatalf("error %v with chats %v", err, cs)
			}
			return
		}
		if len(cs) == 0 || len(cs) > MaxChatsPerRecord {
			t.Fatalf("%d chats accepted", len(cs))
		}
		for _, c := range cs {
			if c.ID == 0 || len(c.Text) > MaxTextSize || !utf8.ValidString(c.Text) {
				t.Fatalf("invalid chat accepted: id %d, %d bytes of text", c.ID, len(c.Text))
			}
		}
		if got := AppendChats(nil, cs); !bytes.Equal(got, p) {
			t.Fatal("re-encoding differs")
		}
	})
}

func FuzzParseReceipt(f *testing.F) {
	f.Add(AppendReceipt(nil, []uint64{1, 2, 3}))
	f.Add([]byte{})
	f.Add(make([]byte, 7))
	f.Add(make([]byte, 8*(MaxReceiptIDs+1)))
	f.Fuzz(func(t *testing.T, p []byte) {
		ids, err := ParseReceipt(nil, p)
		if err != nil {
			if !isRejection(err) || ids != nil {
				t.Fatalf("error %v with ids %v", err, ids)
			}
			return
		}
		if len(ids) == 0 || len(ids) > MaxReceiptIDs {
			t.Fatalf("%d ids accepted", len(ids))
		}
		if got := AppendReceipt(nil, ids); !bytes.Equal(got, p) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzSessionOpen opens arbitrary bytes in a live session: no panic, and a
// rejected record changes nothing.
func FuzzSessionOpen(f *testing.F) {
	a, b := newSessionPair(f, SessionConfig{NonceCacheSize: 64})
	for _, s := range wireSeeds(f) { // records of another session
		f.Add(s)
	}
	for i := range 4 { // records of this one
		f.Add(sealChat(f, a, uint64(i), testNow))
	}
	heal, err := a.Heal(nil, testNow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(heal)
	f.Add(sealChat(f, a, 9, testNow))
	buf := make([]byte, 0, 256)
	f.Fuzz(func(t *testing.T, rec []byte) {
		before := snapSession(b)
		o, err := b.Open(buf, rec, testNow)
		if err != nil {
			if !isRejection(err) {
				t.Fatalf("non-sentinel error %v", err)
			}
			if after := snapSession(b); after != before {
				t.Fatalf("rejected record changed state: %+v -> %+v", before, after)
			}
			return
		}
		if o.Header.Seq <= before.recvSeq || b.RecvSeq() != o.Header.Seq {
			t.Fatalf("accepted seq %d with last %d", o.Header.Seq, before.recvSeq)
		}
		if err := checkRecordPayload(o.Header.Type, o.Payload); err != nil {
			t.Fatalf("accepted bad payload: %v", err)
		}
	})
}

// FuzzNodeHandle feeds arbitrary bytes to a node's message handler. The
// node (B) knows its peer and has an established session, so the fuzzer
// reaches the hello, key-transport and record paths.
func FuzzNodeHandle(f *testing.F) {
	id := testIdentities(f)
	a, sb := newSessionPair(f, SessionConfig{})
	pa, pb := NewPipe(16)
	defer pa.Close()
	n, err := NewNode(Config{Identity: id[1], Now: func() time.Time { return testNow }}, pb, nil)
	if err != nil {
		f.Fatal(err)
	}
	n.now, n.hs.peer, n.sess = testNow, id[0].Public(), sb
	addSeeds(f)
	for i := range 3 {
		f.Add(sealChat(f, a, uint64(i), testNow))
	}
	_, helloA, err := NewInitiator(id[0], id[1].Public(), rand.Reader, testNow, DefaultWindow)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(helloA)
	f.Fuzz(func(t *testing.T, m []byte) {
		n.now = n.now.Add(time.Millisecond) // refills the token buckets slowly
		n.handle(m)
		n.link.batch = n.link.batch[:0]
		for len(n.link.out) > 0 {
			<-n.link.out
		}
	})
}
