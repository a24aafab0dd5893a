package protocol

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol/keys"
)

// testNow is the fixed clock of the pure state-machine tests.
var testNow = time.Unix(1_700_000_000, 0)

// runHandshake drives a complete key exchange between idA (initiator) and
// idB (responder) with the pure state machines, all at now.
func runHandshake(tb testing.TB, idA, idB *crypto.Identity, now time.Time) (resA, resB *HandshakeResult) {
	tb.Helper()
	init, helloA, err := NewInitiator(idA, idB.Public(), rand.Reader, now, DefaultWindow)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := CheckHelloA(helloA, idB, idA.Public(), now, DefaultWindow)
	if err != nil {
		tb.Fatal(err)
	}
	resp, helloB, err := NewResponder(idB, idA.Public(), h, rand.Reader, now, DefaultWindow)
	if err != nil {
		tb.Fatal(err)
	}
	kt, err := init.HandleHello(helloB, now, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ack, resB, err := resp.HandleKeyTransport(kt, now)
	if err != nil {
		tb.Fatal(err)
	}
	resA, err = init.HandleAck(ack, now)
	if err != nil {
		tb.Fatal(err)
	}
	return resA, resB
}

// newSessionPair runs a handshake between ids[0] (A) and ids[1] (B) and
// builds both record layers with cfg at testNow.
func newSessionPair(tb testing.TB, cfg SessionConfig) (a, b *Session) {
	tb.Helper()
	id := testIdentities(tb)
	resA, resB := runHandshake(tb, id[0], id[1], testNow)
	var err error
	if a, err = NewSession(resA, cfg, rand.Reader, testNow); err != nil {
		tb.Fatal(err)
	}
	if b, err = NewSession(resB, cfg, rand.Reader, testNow); err != nil {
		tb.Fatal(err)
	}
	return a, b
}

// sessState is the receive-side state a rejected record must not change.
type sessState struct {
	recvSeq, recvEpoch uint32
	cacheLen           int
	floor              int64
	recv, recvNext     chainState
}

// chainState is what a chain gives: its next seq and that seq's key (a
// Peek may add checkpoints, which change neither).
type chainState struct {
	next uint32
	key  [keys.Size]byte
}

func snapChain(c *keys.Chain) chainState {
	if c == nil {
		return chainState{}
	}
	cp := *c
	st, err := cp.Peek(cp.Next())
	if err != nil {
		return chainState{next: cp.Next()}
	}
	var k [keys.Size]byte
	copy(k[:], st.Key())
	return chainState{cp.Next(), k}
}

func snapSession(s *Session) sessState {
	return sessState{s.RecvSeq(), s.RecvEpoch(), s.cache.Len(), s.cache.Floor(), snapChain(&s.recv), snapChain(s.heal.recvNext)}
}

// sealChat seals a chat record with the given id at now.
func sealChat(tb testing.TB, s *Session, id uint64, now time.Time) []byte {
	tb.Helper()
	rec, _, err := s.Seal(nil, TypeChat, AppendChat(nil, &Chat{ID: id, SentAt: now.UnixNano(), Text: "hello"}), now)
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// mustOpen opens rec and fails the test on error.
func mustOpen(tb testing.TB, s *Session, rec []byte, now time.Time) Opened {
	tb.Helper()
	o, err := s.Open(nil, rec, now)
	if err != nil {
		tb.Fatalf("good record rejected: %v", err)
	}
	return o
}

// handBuild seals a record with an explicit header under the sender's
// chain key for h.Seq, bypassing the sender's seq and nonce bookkeeping
// (the sender's chain does not move).
func handBuild(s *Session, h RecordHeader, payload []byte) []byte {
	c := s.send
	st, err := c.Peek(h.Seq)
	if err != nil {
		panic(fmt.Sprintf("handBuild: seq %d: %v", h.Seq, err))
	}
	aead, err := crypto.NewAEAD(st.Key())
	if err != nil {
		panic(err)
	}
	rec := AppendRecordHeader(nil, &h)
	return aead.Seal(rec, &h.Nonce, payload, rec[:RecordHeaderSize])
}

func flip(b []byte, i int, mask byte) []byte {
	c := bytes.Clone(b)
	c[i] ^= mask
	return c
}

func TestSessionRejections(t *testing.T) {
	w := DefaultWindow
	chat := func(id uint64) []byte { return AppendChat(nil, &Chat{ID: id, Text: "x"}) }
	tests := []struct {
		name string
		cfg  SessionConfig
		// bad prepares the receiver b (opening records as needed) and
		// returns the bad input and the receive time.
		bad  func(t *testing.T, a, b *Session) ([]byte, time.Time)
		want error
	}{
		{"replay", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			mustOpen(t, b, r, testNow)
			return r, testNow
		}, ErrReplay},
		{"reorder", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r1 := sealChat(t, a, 1, testNow)
			r2 := sealChat(t, a, 2, testNow)
			if o := mustOpen(t, b, r2, testNow); o.Gap != 1 {
				t.Fatalf("gap = %d, want 1", o.Gap)
			}
			return r1, testNow
		}, ErrReorder},
		{"reflected", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return sealChat(t, b, 1, testNow), testNow // b's own record, back to b
		}, ErrRecordReflected},
		{"stale", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return sealChat(t, a, 1, testNow.Add(-w-time.Second)), testNow
		}, ErrStale},
		{"stale by one ns", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return sealChat(t, a, 1, testNow.Add(-w-1)), testNow
		}, ErrStale},
		{"future", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return sealChat(t, a, 1, testNow.Add(w+time.Second)), testNow
		}, ErrFuture},
		{"future by one ns", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return sealChat(t, a, 1, testNow.Add(w+1)), testNow
		}, ErrFuture},
		{"tampered body", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return flip(sealChat(t, a, 1, testNow), RecordHeaderSize+3, 0x40), testNow
		}, ErrTampered},
		{"tampered tag", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			return flip(r, len(r)-1, 0x01), testNow
		}, ErrTampered},
		{"nonce reuse", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			o := mustOpen(t, b, r, testNow)
			h := RecordHeader{Type: TypeChat, Seq: a.SendSeq() + 1, Timestamp: testNow.UnixNano(), Nonce: o.Header.Nonce}
			return handBuild(a, h, chat(2)), testNow
		}, ErrNonceReuse},
		{"too short", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return sealChat(t, a, 1, testNow)[:MinRecordSize-1], testNow
		}, ErrMalformed},
		{"one byte", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return []byte{Version}, testNow
		}, ErrMalformed},
		{"empty", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			return nil, testNow
		}, ErrMalformed},
		{"bad version", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			r[0] = Version + 1
			return r, testNow
		}, ErrVersion},
		{"unknown type", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			r[1] = TypeRecordLast + 1 // outside the record range
			return r, testNow
		}, ErrUnknownType},
		{"unknown record type, forged", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			r[1] = TypeHealAck + 1 // in the record range: opened, and fails as any forgery
			return r, testNow
		}, ErrTampered},
		{"goodbye with a payload", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r, _, err := a.Seal(nil, TypeGoodbye, []byte{0}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			return r, testNow
		}, ErrMalformed},
		{"handshake type", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			r[1] = TypeHello
			return r, testNow
		}, ErrMalformed},
		{"too large", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r := sealChat(t, a, 1, testNow)
			return append(r, make([]byte, MaxMessageSize+1-len(r))...), testNow
		}, ErrTooLarge},
		{"chat text too large", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			// Payload shape (step 7): malformed, not the step-1 size limit.
			p := AppendChat(nil, &Chat{ID: 1, Text: string(bytes.Repeat([]byte{'x'}, MaxTextSize+1))})
			r, _, err := a.Seal(nil, TypeChat, p, testNow)
			if err != nil {
				t.Fatal(err)
			}
			return r, testNow
		}, ErrMalformed},
		{"chat id 0", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r, _, err := a.Seal(nil, TypeChat, AppendChat(nil, &Chat{ID: 0, Text: "zero"}), testNow)
			if err != nil {
				t.Fatal(err)
			}
			return r, testNow
		}, ErrMalformed},
		{"chats entry id 0", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			// One bad entry refuses the whole record: none of it is shown.
			r, _, err := a.Seal(nil, TypeChats, AppendChats(nil, []Chat{{ID: 1, Text: "fine"}, {ID: 0, Text: "zero"}}), testNow)
			if err != nil {
				t.Fatal(err)
			}
			return r, testNow
		}, ErrMalformed},
		{"chats length past the end", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			p := AppendChats(nil, []Chat{{ID: 1, Text: "fine"}, {ID: 2, Text: "cut"}})
			r, _, err := a.Seal(nil, TypeChats, p[:len(p)-1], testNow)
			if err != nil {
				t.Fatal(err)
			}
			return r, testNow
		}, ErrMalformed},
		{"authenticated bad payload", SessionConfig{}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			r, _, err := a.Seal(nil, TypePing, []byte{1, 2, 3}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			return r, testNow
		}, ErrMalformed},
		{"stale below cache floor", SessionConfig{NonceCacheSize: 4}, func(t *testing.T, a, b *Session) ([]byte, time.Time) {
			// Five records fill the 4-entry cache: the fifth Add drops the
			// generation holding the first four, raising the floor to the
			// fourth's timestamp.
			var recs [][]byte
			for i := range 5 {
				recs = append(recs, sealChat(t, a, uint64(i+1), testNow.Add(time.Duration(i+1)*time.Millisecond)))
			}
			old := sealChat(t, a, 9, testNow.Add(3*time.Millisecond)) // seq 6, inside the window
			for _, r := range recs {
				mustOpen(t, b, r, testNow.Add(10*time.Millisecond))
			}
			if f := b.cache.Floor(); f != testNow.Add(4*time.Millisecond).UnixNano() {
				t.Fatalf("floor = %d, want the 4th record's timestamp", f)
			}
			return old, testNow.Add(10 * time.Millisecond)
		}, ErrStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newSessionPair(t, tc.cfg)
			bad, now := tc.bad(t, a, b)
			before := snapSession(b)
			_, err := b.Open(nil, bad, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if after := snapSession(b); after != before {
				t.Fatalf("state changed by a rejected record: %+v -> %+v", before, after)
			}
			// The next good record is still accepted.
			good := sealChat(t, a, 1000, now)
			o := mustOpen(t, b, good, now)
			if o.Header.Seq != a.SendSeq() || b.RecvSeq() != a.SendSeq() {
				t.Fatalf("next good record: seq %d, recv %d, sent %d", o.Header.Seq, b.RecvSeq(), a.SendSeq())
			}
			c, err := ParseChat(o.Payload)
			if err != nil || c.ID != 1000 {
				t.Fatalf("next good record payload: %+v, %v", c, err)
			}
		})
	}
}

// TestSessionReflection: a record sent back to its sender is refused
// ErrRecordReflected (docs/PROTOCOL.md section 8, step 3), before the
// receive key's tag check, and changes nothing: the sender's seq and the
// receive state stay, and the next genuine records either way are accepted.
func TestSessionReflection(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	for name, s := range map[string]*Session{"A": a, "B": b} {
		r := sealChat(t, s, 1, testNow)
		before, sent := snapSession(s), s.SendSeq()
		_, err := s.Open(nil, r, testNow)
		if !errors.Is(err, ErrRecordReflected) || Reason(err) != ReasonReflected {
			t.Fatalf("%s opened its own record: %v (reason %q), want ErrRecordReflected", name, err, Reason(err))
		}
		if after := snapSession(s); after != before || s.SendSeq() != sent {
			t.Fatalf("%s: state changed: %+v -> %+v, send seq %d -> %d", name, before, after, sent, s.SendSeq())
		}
		// Again: still reflected (nothing was consumed).
		if _, err := s.Open(nil, r, testNow); !errors.Is(err, ErrRecordReflected) {
			t.Fatalf("%s: second reflection: %v", name, err)
		}
	}
	// The records still open at their real receivers.
	mustOpen(t, b, sealChat(t, a, 2, testNow), testNow)
	mustOpen(t, a, sealChat(t, b, 2, testNow), testNow)
}

// TestSessionReflectionNeedsOwnKey: a record is reported reflected only if
// it carries the seq, nonce and tag of one the receiver sent (its body may
// have been changed); copying one of its nonces into a forged record is
// refused otherwise, and so are its own record with the seq changed and
// its own record from a send epoch it has left (the set of sent records
// is reset at a healing).
func TestSessionReflectionNeedsOwnKey(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	own := sealChat(t, a, 1, testNow)
	forged := flip(append([]byte(nil), own...), len(own)-1, 0x01)
	if _, err := a.Open(nil, forged, testNow); err == nil || errors.Is(err, ErrRecordReflected) {
		t.Fatalf("forged record with our nonce: %v, want refused, not reflected", err)
	}
	moved := append([]byte(nil), own...)
	binary.BigEndian.PutUint32(moved[2:], binary.BigEndian.Uint32(own[2:])+1)
	if _, err := a.Open(nil, moved, testNow); err == nil || errors.Is(err, ErrRecordReflected) {
		t.Fatalf("our record with its seq changed: %v, want refused, not reflected", err)
	}
	body := flip(append([]byte(nil), own...), RecordHeaderSize, 0x01)
	if _, err := a.Open(nil, body, testNow); !errors.Is(err, ErrRecordReflected) {
		t.Fatalf("our record with its body changed (seq, nonce and tag ours): %v, want ErrRecordReflected", err)
	}
	h, err := ParseRecordHeader(own)
	if err != nil {
		t.Fatal(err)
	}
	h.Seq = b.SendSeq() + 1
	if _, err := a.Open(nil, handBuild(b, h, AppendChat(nil, &Chat{ID: 9, SentAt: testNow.UnixNano(), Text: "x"})), testNow); err != nil {
		t.Fatalf("the peer's record that happens to carry one of our nonces: %v, want accepted", err)
	}
	b.sendSeq++ // handBuild did not move b; keep b's seq past the record a accepted
	b.send = chainAt(b.send, b.sendSeq+1)
	healPair(t, a, b, testNow)
	if _, err := a.Open(nil, own, testNow); err == nil || errors.Is(err, ErrRecordReflected) {
		t.Fatalf("own record of the previous send epoch: %v, want refused, not reflected", err)
	}
	if _, err := a.Open(nil, sealChat(t, a, 2, testNow), testNow); !errors.Is(err, ErrRecordReflected) {
		t.Fatalf("own record of the new send epoch: %v, want ErrRecordReflected", err)
	}
}

// TestSessionAnySingleByteTamper: every single-byte change of a record is
// refused, whatever the byte (header or body), with a reason of the
// receive order, and changes nothing; the record itself then opens.
func TestSessionAnySingleByteTamper(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
	for _, typ := range []byte{TypeChat, TypeGoodbye, TypePing} {
		var payload []byte
		switch typ {
		case TypeChat:
			payload = AppendChat(nil, &Chat{ID: 7, Text: "tamper me"})
		case TypePing:
			payload = []byte{0, 0, 0, 0, 0, 0, 0, 9}
		}
		rec, _, err := a.Seal(nil, typ, payload, testNow)
		if err != nil {
			t.Fatal(err)
		}
		before := snapSession(b)
		for i := range rec {
			for _, mask := range []byte{0x01, 0x02, 0x10, 0x80, 0xff} {
				_, err := b.Open(nil, flip(rec, i, mask), testNow)
				switch {
				case errors.Is(err, ErrTampered), errors.Is(err, ErrMalformed),
					errors.Is(err, ErrVersion), errors.Is(err, ErrUnknownType),
					errors.Is(err, ErrReorder), errors.Is(err, ErrTooFar),
					errors.Is(err, ErrStale), errors.Is(err, ErrFuture):
				default:
					t.Fatalf("type 0x%02x, byte %d ^ 0x%02x: Open = %v", typ, i, mask, err)
				}
				if after := snapSession(b); after != before {
					t.Fatalf("type 0x%02x, byte %d ^ 0x%02x: state changed %+v -> %+v", typ, i, mask, before, after)
				}
			}
		}
		o := mustOpen(t, b, rec, testNow)
		if !bytes.Equal(o.Payload, payload) && len(payload)+len(o.Payload) > 0 {
			t.Fatalf("payload %x, want %x", o.Payload, payload)
		}
	}
	mustOpen(t, b, sealChat(t, a, 2, testNow), testNow)
}

func TestSessionGap(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	var recs [][]byte
	for i := range 8 {
		recs = append(recs, sealChat(t, a, uint64(i+1), testNow))
	}
	if o := mustOpen(t, b, recs[0], testNow); o.Gap != 0 {
		t.Fatalf("first record gap = %d", o.Gap)
	}
	o := mustOpen(t, b, recs[6], testNow)
	if o.Gap != 5 {
		t.Fatalf("gap = %d, want 5", o.Gap)
	}
	if o = mustOpen(t, b, recs[7], testNow); o.Gap != 0 {
		t.Fatalf("gap after gap = %d", o.Gap)
	}
	// The skipped records are now out of order.
	if _, err := b.Open(nil, recs[3], testNow); !errors.Is(err, ErrReorder) {
		t.Fatalf("skipped record: %v, want ErrReorder", err)
	}
}

func TestSessionFirstRecordSeq(t *testing.T) {
	id := testIdentities(t)
	resA, resB := runHandshake(t, id[0], id[1], testNow)
	a, _ := NewSession(resA, SessionConfig{}, rand.Reader, testNow)
	b, _ := NewSession(resB, SessionConfig{}, rand.Reader, testNow)
	o := mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
	if o.Header.Seq != resA.SendSeq+1 || o.Gap != 0 {
		t.Fatalf("first record seq %d gap %d, want %d gap 0", o.Header.Seq, o.Gap, resA.SendSeq+1)
	}
	o = mustOpen(t, a, sealChat(t, b, 1, testNow), testNow)
	if o.Header.Seq != resB.SendSeq+1 || o.Gap != 0 {
		t.Fatalf("first record seq %d gap %d, want %d gap 0", o.Header.Seq, o.Gap, resB.SendSeq+1)
	}
}

func TestSessionSeqExhausted(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	jumpTo(a, b, SeqRehandshake-2)
	a.sendSeq = SeqRehandshake - 1
	a.send = chainAt(a.send, SeqRehandshake)
	if a.SeqExhausted() {
		t.Fatal("SeqExhausted below SeqRehandshake")
	}
	mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
	if !a.SeqExhausted() {
		t.Fatal("SeqExhausted false at SeqRehandshake")
	}
	jumpTo(a, b, 1<<32-2)
	mustOpen(t, b, sealChat(t, a, 2, testNow), testNow) // seq 2^32-1
	if _, _, err := a.Seal(nil, TypeChat, AppendChat(nil, &Chat{ID: 3}), testNow); !errors.Is(err, ErrSeqExhausted) {
		t.Fatalf("Seal at 2^32-1: %v, want ErrSeqExhausted", err)
	}
	if a.SendSeq() != 1<<32-1 {
		t.Fatalf("send seq wrapped to %d", a.SendSeq())
	}
}

func TestSessionCheckConfirm(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	if a.Transcript() != b.Transcript() {
		t.Fatal("transcripts differ")
	}
	th := a.Transcript()
	tests := []struct {
		name    string
		payload []byte
		want    error
	}{
		{"match", th[:], nil},
		{"flipped", flip(th[:], 5, 1), ErrBadConfirm},
		{"short", th[:HashSize-1], ErrBadConfirm},
		{"long", append(bytes.Clone(th[:]), 0), ErrBadConfirm},
		{"empty", nil, ErrBadConfirm},
	}
	for _, tc := range tests {
		if err := b.CheckConfirm(tc.payload); !errors.Is(err, tc.want) {
			t.Errorf("%s: CheckConfirm = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Through the record layer, as the node does it.
	rec, _, err := a.Seal(nil, TypeConfirm, th[:], testNow)
	if err != nil {
		t.Fatal(err)
	}
	o := mustOpen(t, b, rec, testNow)
	if err := b.CheckConfirm(o.Payload); err != nil {
		t.Fatalf("confirm record: %v", err)
	}
}
