package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"duet/crypto"
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
	recv               *epochKey
}

func snapSession(s *Session) sessState {
	return sessState{s.RecvSeq(), s.RecvEpoch(), s.cache.Len(), s.cache.Floor(), s.recv}
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
// current key, bypassing the sender's seq and nonce bookkeeping.
func handBuild(s *Session, h RecordHeader, payload []byte) []byte {
	rec := AppendRecordHeader(nil, &h)
	return s.send.aead.Seal(rec, &h.Nonce, payload, rec[:RecordHeaderSize])
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
			r[1] = TypeRead + 1 // in the record range: opened, and fails as any forgery
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
// it authenticates under the receiver's own send key; copying one of its
// nonces into a forged record gives tampered, and so does its own record
// from a send epoch it has left (the nonces are forgotten at the rekey).
func TestSessionReflectionNeedsOwnKey(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	own := sealChat(t, a, 1, testNow)
	forged := flip(append([]byte(nil), own...), len(own)-1, 0x01)
	if _, err := a.Open(nil, forged, testNow); !errors.Is(err, ErrTampered) {
		t.Fatalf("forged record with our nonce: %v, want ErrTampered", err)
	}
	h, err := ParseRecordHeader(own)
	if err != nil {
		t.Fatal(err)
	}
	h.Seq = b.SendSeq() + 1
	if _, err := a.Open(nil, handBuild(b, h, AppendChat(nil, &Chat{ID: 9, SentAt: testNow.UnixNano(), Text: "x"})), testNow); err != nil {
		t.Fatalf("the peer's record that happens to carry one of our nonces: %v, want accepted", err)
	}
	if _, err := a.Rekey(nil, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(nil, own, testNow); !errors.Is(err, ErrTampered) {
		t.Fatalf("own record of the previous send epoch: %v, want ErrTampered", err)
	}
	if _, err := a.Open(nil, sealChat(t, a, 2, testNow), testNow); !errors.Is(err, ErrRecordReflected) {
		t.Fatalf("own record of the new send epoch: %v, want ErrRecordReflected", err)
	}
}

func TestSessionAnySingleByteTamper(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
	for _, typ := range []byte{TypeChat, TypeRekey, TypePing} {
		var payload []byte
		switch typ {
		case TypeChat:
			payload = AppendChat(nil, &Chat{ID: 7, Text: "tamper me"})
		case TypePing:
			payload = []byte{0, 0, 0, 0, 0, 0, 0, 9}
		}
		// Hand-build so that the sender's epoch does not move for rekey.
		nonce, err := a.nonces.Next()
		if err != nil {
			t.Fatal(err)
		}
		rec := handBuild(a, RecordHeader{Type: typ, Seq: a.SendSeq() + 1, Timestamp: testNow.UnixNano(), Nonce: nonce}, payload)
		a.sendSeq++
		before := snapSession(b)
		for i := range rec {
			for _, mask := range []byte{0x01, 0x02, 0x10, 0x80, 0xff} {
				_, err := b.Open(nil, flip(rec, i, mask), testNow)
				switch {
				case errors.Is(err, ErrTampered), errors.Is(err, ErrMalformed),
					errors.Is(err, ErrVersion), errors.Is(err, ErrUnknownType):
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
		if typ == TypeRekey { // keep the sender in step
			if a.send, err = a.send.next(); err != nil {
				t.Fatal(err)
			}
			a.nonces.Reset()
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

func TestSessionRekey(t *testing.T) {
	t.Run("delivered", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		old := sealChat(t, a, 1, testNow) // sealed in epoch 0, held back
		mustOpen(t, b, sealChat(t, a, 2, testNow), testNow)
		rk, err := a.Rekey(nil, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if a.SendEpoch() != 1 {
			t.Fatalf("send epoch %d, want 1", a.SendEpoch())
		}
		o := mustOpen(t, b, rk, testNow)
		if !o.Rekeyed || o.Header.Type != TypeRekey || b.RecvEpoch() != 1 {
			t.Fatalf("rekey record: rekeyed=%v type=%x epoch=%d", o.Rekeyed, o.Header.Type, b.RecvEpoch())
		}
		for i := range 3 {
			o := mustOpen(t, b, sealChat(t, a, uint64(10+i), testNow), testNow)
			if o.Rekeyed || b.RecvEpoch() != 1 {
				t.Fatalf("record after rekey: rekeyed=%v epoch=%d", o.Rekeyed, b.RecvEpoch())
			}
		}
		// An old-epoch record after the rekey no longer authenticates.
		before := snapSession(b)
		if _, err := b.Open(nil, old, testNow); !errors.Is(err, ErrTampered) {
			t.Fatalf("old-epoch record: %v, want ErrTampered", err)
		}
		if _, err := b.Open(nil, rk, testNow); !errors.Is(err, ErrTampered) {
			t.Fatalf("replayed rekey record: %v, want ErrTampered", err)
		}
		if after := snapSession(b); after != before {
			t.Fatalf("state changed: %+v -> %+v", before, after)
		}
		mustOpen(t, b, sealChat(t, a, 20, testNow), testNow)
	})
	t.Run("lost rekey record", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
		if _, err := a.Rekey(nil, testNow); err != nil { // never delivered
			t.Fatal(err)
		}
		o := mustOpen(t, b, sealChat(t, a, 2, testNow), testNow)
		if !o.Rekeyed || b.RecvEpoch() != 1 || o.Gap != 1 {
			t.Fatalf("after lost rekey: rekeyed=%v epoch=%d gap=%d", o.Rekeyed, b.RecvEpoch(), o.Gap)
		}
		o = mustOpen(t, b, sealChat(t, a, 3, testNow), testNow)
		if o.Rekeyed || b.RecvEpoch() != 1 {
			t.Fatalf("next record: rekeyed=%v epoch=%d", o.Rekeyed, b.RecvEpoch())
		}
	})
	t.Run("lost rekey then rekey", func(t *testing.T) {
		// The first rekey record is lost and the next record is itself a
		// rekey: it opens in epoch 1 and moves the receiver to epoch 2.
		a, b := newSessionPair(t, SessionConfig{})
		if _, err := a.Rekey(nil, testNow); err != nil {
			t.Fatal(err)
		}
		rk2, err := a.Rekey(nil, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if o := mustOpen(t, b, rk2, testNow); !o.Rekeyed || b.RecvEpoch() != 2 {
			t.Fatalf("rekeyed=%v epoch=%d, want epoch 2", o.Rekeyed, b.RecvEpoch())
		}
		mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
	})
	t.Run("rekey in both directions", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		for range 3 {
			ra, _ := a.Rekey(nil, testNow)
			rb, _ := b.Rekey(nil, testNow)
			mustOpen(t, b, ra, testNow)
			mustOpen(t, a, rb, testNow)
			mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
			mustOpen(t, a, sealChat(t, b, 1, testNow), testNow)
		}
		if a.SendEpoch() != 3 || a.RecvEpoch() != 3 || b.SendEpoch() != 3 || b.RecvEpoch() != 3 {
			t.Fatalf("epochs a %d/%d b %d/%d", a.SendEpoch(), a.RecvEpoch(), b.SendEpoch(), b.RecvEpoch())
		}
	})
}

func TestSessionNeedsRekey(t *testing.T) {
	tests := []struct {
		name string
		cfg  SessionConfig
		// seal is the number of records sealed before the check at
		// testNow+after; want is NeedsRekey before and at that count.
		seal  int
		after time.Duration
	}{
		{"after RekeyAfter records", SessionConfig{RekeyAfter: 10}, 9, 0},
		{"after RekeyInterval", SessionConfig{RekeyInterval: time.Minute}, 0, time.Minute},
		{"near SendNonceCap", SessionConfig{SendNonceCap: 16}, 15, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newSessionPair(t, tc.cfg)
			for range tc.seal - 1 {
				mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
			}
			if tc.seal > 0 {
				if a.NeedsRekey(testNow) {
					t.Fatalf("NeedsRekey after %d records", tc.seal-1)
				}
				mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
			} else if a.NeedsRekey(testNow.Add(tc.after - 1)) {
				t.Fatal("NeedsRekey before the interval")
			}
			if !a.NeedsRekey(testNow.Add(tc.after)) {
				t.Fatalf("NeedsRekey false after %d records at +%v", tc.seal, tc.after)
			}
			// One more record, the rekey itself, must still be sealable.
			rk, err := a.Rekey(nil, testNow.Add(tc.after))
			if err != nil {
				t.Fatalf("rekey at the limit: %v", err)
			}
			if a.NeedsRekey(testNow.Add(tc.after)) {
				t.Fatal("NeedsRekey still true after Rekey")
			}
			mustOpen(t, b, rk, testNow.Add(tc.after))
			mustOpen(t, b, sealChat(t, a, 2, testNow.Add(tc.after)), testNow.Add(tc.after))
		})
	}
}

func TestSessionSendNonceCapEnforced(t *testing.T) {
	a, _ := newSessionPair(t, SessionConfig{SendNonceCap: 4})
	for range 4 {
		sealChat(t, a, 1, testNow)
	}
	seq := a.SendSeq()
	if _, _, err := a.Seal(nil, TypeChat, AppendChat(nil, &Chat{ID: 1}), testNow); !errors.Is(err, crypto.ErrEpochFull) {
		t.Fatalf("Seal past the nonce cap: %v, want ErrEpochFull", err)
	}
	if a.SendSeq() != seq {
		t.Fatalf("failed Seal moved the send seq %d -> %d", seq, a.SendSeq())
	}
}

func TestSessionSeqExhausted(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	a.sendSeq = SeqRehandshake - 1
	if a.SeqExhausted() {
		t.Fatal("SeqExhausted below SeqRehandshake")
	}
	b.recvSeq = SeqRehandshake - 2
	mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
	if !a.SeqExhausted() {
		t.Fatal("SeqExhausted false at SeqRehandshake")
	}
	a.sendSeq = 1<<32 - 2
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
