package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"duet/protocol/keys"
)

// chainAt returns a copy of c moved so that its next seq is next.
func chainAt(c keys.Chain, next uint32) keys.Chain {
	fastForward(&c, next)
	return c
}

// jumpTo puts a's send side and b's receive side at seq (as if seq records
// had gone from a to b) on a fresh chain both share, for tests of the ends
// of the seq space.
func jumpTo(a, b *Session, seq uint32) {
	var k [keys.Size]byte
	rand.Read(k[:])
	a.send, b.recv = keys.NewChain(k, seq+1), keys.NewChain(k, seq+1)
	a.sendSeq, b.recvSeq = seq, seq
}

// healStep opens rec at to and acts on it as the node does for the healing
// records: it returns the answer to send back (nil if none) and the Opened.
func healStep(t *testing.T, to *Session, rec []byte, now time.Time) ([]byte, Opened) {
	t.Helper()
	o := mustOpen(t, to, rec, now)
	switch o.Header.Type {
	case TypeHeal:
		ack, err := to.AnswerHeal(nil, o.Payload, o.Header.Seq, now)
		if err != nil {
			t.Fatalf("AnswerHeal: %v", err)
		}
		return ack, o
	case TypeHealAck:
		if _, err := to.FinishHeal(o.Payload, o.Header.Seq, now); err != nil {
			t.Fatalf("FinishHeal: %v", err)
		}
	}
	return nil, o
}

// healPair runs a whole healing started by h with its peer r, with no loss:
// HEAL, HEAL_ACK, then one record each way under the new chains.
func healPair(t *testing.T, h, r *Session, now time.Time) {
	t.Helper()
	sendH, recvH, sendR, recvR := h.SendEpoch(), h.RecvEpoch(), r.SendEpoch(), r.RecvEpoch()
	heal, err := h.Heal(nil, now)
	if err != nil {
		t.Fatalf("Heal: %v", err)
	}
	ack, _ := healStep(t, r, heal, now)
	if ack == nil {
		t.Fatal("no HEAL_ACK")
	}
	healStep(t, h, ack, now)
	if h.SendEpoch() != sendH+1 {
		t.Fatalf("healer's send epoch %d after the ack, want %d", h.SendEpoch(), sendH+1)
	}
	if _, o := healStep(t, r, sealChat(t, h, 100, now), now); !o.Rekeyed || !o.SendRekeyed {
		t.Fatalf("responder's first record under the new chain: rekeyed %v, send rekeyed %v", o.Rekeyed, o.SendRekeyed)
	}
	if _, o := healStep(t, h, sealChat(t, r, 101, now), now); !o.Rekeyed || o.SendRekeyed {
		t.Fatalf("healer's first record under the new chain: rekeyed %v, send rekeyed %v", o.Rekeyed, o.SendRekeyed)
	}
	if h.RecvEpoch() != recvH+1 || r.SendEpoch() != sendR+1 || r.RecvEpoch() != recvR+1 {
		t.Fatalf("epochs after healing: healer %d/%d, responder %d/%d", h.SendEpoch(), h.RecvEpoch(), r.SendEpoch(), r.RecvEpoch())
	}
	if h.heal.underWay() || r.heal.underWay() {
		t.Fatal("a healing is still under way after both sides switched")
	}
}

// TestSessionHeal: a healing started by either side, or by both at once,
// or repeated, moves both directions to new chains and a new root; records
// flow either way before, during and after it.
func TestSessionHeal(t *testing.T) {
	t.Run("started by A", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		root := a.root
		healPair(t, a, b, testNow)
		if a.root == root || a.root != b.root {
			t.Fatal("root not renewed, or different on the two sides")
		}
	})
	t.Run("started by B", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		healPair(t, b, a, testNow)
	})
	t.Run("three times", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		for i := range 3 {
			if i%2 == 0 {
				healPair(t, a, b, testNow)
			} else {
				healPair(t, b, a, testNow)
			}
		}
		if a.SendEpoch() != 3 || b.RecvEpoch() != 3 {
			t.Fatalf("epochs %d, %d, want 3", a.SendEpoch(), b.RecvEpoch())
		}
	})
	t.Run("records in flight both ways", func(t *testing.T) {
		// Records sealed under the old chains while the healing records
		// cross are accepted; the waiting chains follow in step.
		a, b := newSessionPair(t, SessionConfig{})
		heal, _ := a.Heal(nil, testNow)
		aOld := sealChat(t, a, 1, testNow) // after HEAL, before the ack: old chain
		ack, _ := healStep(t, b, heal, testNow)
		bOld := sealChat(t, b, 2, testNow) // B is still on its old chain
		healStep(t, b, aOld, testNow)
		healStep(t, a, ack, testNow)
		healStep(t, a, bOld, testNow)
		if a.RecvEpoch() != 0 {
			t.Fatal("A's receive side switched before B's first record under its new chain")
		}
		if _, o := healStep(t, b, sealChat(t, a, 3, testNow), testNow); !o.Rekeyed || !o.SendRekeyed {
			t.Fatal("B did not switch on A's first new record")
		}
		if _, o := healStep(t, a, sealChat(t, b, 4, testNow), testNow); !o.Rekeyed {
			t.Fatal("A did not switch on B's first new record")
		}
	})
	t.Run("both at once: A's wins", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		ha, _ := a.Heal(nil, testNow)
		hb, _ := b.Heal(nil, testNow)
		if ack, _ := healStep(t, a, hb, testNow); ack != nil {
			t.Fatal("A answered B's HEAL while its own was out")
		}
		ack, _ := healStep(t, b, ha, testNow)
		if ack == nil {
			t.Fatal("B did not answer A's HEAL")
		}
		healStep(t, a, ack, testNow)
		healStep(t, b, sealChat(t, a, 1, testNow), testNow)
		healStep(t, a, sealChat(t, b, 2, testNow), testNow)
		if a.SendEpoch() != 1 || a.RecvEpoch() != 1 || b.SendEpoch() != 1 || b.RecvEpoch() != 1 {
			t.Fatalf("epochs a %d/%d b %d/%d, want all 1", a.SendEpoch(), a.RecvEpoch(), b.SendEpoch(), b.RecvEpoch())
		}
	})
	t.Run("HEAL lost, retried", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		if _, err := a.Heal(nil, testNow); err != nil { // lost
			t.Fatal(err)
		}
		if a.HealPending(testNow.Add(DefaultHealRetry-1), DefaultHealRetry) {
			t.Fatal("HealPending before the retry time")
		}
		if !a.HealPending(testNow.Add(DefaultHealRetry), DefaultHealRetry) {
			t.Fatal("HealPending false at the retry time")
		}
		healPair(t, a, b, testNow.Add(DefaultHealRetry))
	})
	t.Run("HEAL_ACK lost, HEAL retried", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		h1, _ := a.Heal(nil, testNow)
		if ack, _ := healStep(t, b, h1, testNow); ack == nil { // the ack is lost
			t.Fatal("no ack")
		}
		healPair(t, a, b, testNow) // B drops its waiting chains for the new HEAL
	})
	t.Run("an answer to a replaced HEAL is ignored", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		h1, _ := a.Heal(nil, testNow)
		ack1, _ := healStep(t, b, h1, testNow)
		h2, _ := a.Heal(nil, testNow) // A gave up on h1 too early
		healStep(t, a, ack1, testNow)
		if a.SendEpoch() != 0 || !a.heal.underWay() {
			t.Fatal("A took the answer to a HEAL it had replaced")
		}
		ack2, _ := healStep(t, b, h2, testNow)
		healStep(t, a, ack2, testNow)
		healStep(t, b, sealChat(t, a, 1, testNow), testNow)
		healStep(t, a, sealChat(t, b, 2, testNow), testNow)
		if a.SendEpoch() != 1 || b.RecvEpoch() != 1 {
			t.Fatal("healing by the second HEAL did not complete")
		}
	})
	t.Run("the healer's new records lost", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		heal, _ := a.Heal(nil, testNow)
		ack, _ := healStep(t, b, heal, testNow)
		healStep(t, a, ack, testNow)
		for i := range 5 {
			sealChat(t, a, uint64(i+1), testNow) // lost
		}
		_, o := healStep(t, b, sealChat(t, a, 9, testNow), testNow)
		if !o.Rekeyed || o.Gap != 5 {
			t.Fatalf("after 5 lost new records: rekeyed %v gap %d", o.Rekeyed, o.Gap)
		}
	})
	t.Run("/rekey while the new chains wait", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		heal, _ := a.Heal(nil, testNow)
		ack, _ := healStep(t, b, heal, testNow)
		healStep(t, a, ack, testNow)
		if _, err := a.Heal(nil, testNow); !errors.Is(err, ErrHealing) {
			t.Fatalf("Heal while waiting for the peer's switch: %v, want ErrHealing", err)
		}
	})
}

// TestSessionErasure: the state a side holds after record n opens neither
// record n nor an earlier one, in either direction (a copy of the receive
// chain taken after n, or of the send chain taken after sealing n).
func TestSessionErasure(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	var recs [][]byte
	for i := range 5 {
		recs = append(recs, sealChat(t, a, uint64(i+1), testNow))
	}
	sendCopy := a.send
	for _, r := range recs[:3] {
		mustOpen(t, b, r, testNow)
	}
	recvCopy := b.recv
	for i, r := range recs {
		h, _ := ParseRecordHeader(r)
		for name, c := range map[string]keys.Chain{"send chain after record 5": sendCopy, "receive chain after record 3": recvCopy} {
			opened := false
			if _, _, err := openUnder(&c, nil, h, r[RecordHeaderSize:], r[:RecordHeaderSize]); err == nil {
				opened = true
			}
			want := name == "receive chain after record 3" && i >= 3
			if opened != want {
				t.Errorf("%s opens record %d: %v, want %v", name, i+1, opened, want)
			}
		}
	}
}

// TestSessionHealLocksOutStolenState: whoever copied a side's chains and
// root before a healing, and sees every record, opens none sealed after
// it: the new chains come from the healing's fresh secrets.
func TestSessionHealLocksOutStolenState(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	stolenSend, stolenRecv := a.send, a.recv
	before := sealChat(t, a, 1, testNow)
	mustOpen(t, b, before, testNow)
	healPair(t, a, b, testNow)
	afterAB := sealChat(t, a, 2, testNow)
	afterBA := sealChat(t, b, 3, testNow)
	for name, tc := range map[string]struct {
		c   keys.Chain
		rec []byte
	}{"A to B": {stolenSend, afterAB}, "B to A": {stolenRecv, afterBA}} {
		h, _ := ParseRecordHeader(tc.rec)
		c := tc.c
		if _, _, err := openUnder(&c, nil, h, tc.rec[RecordHeaderSize:], tc.rec[:RecordHeaderSize]); err == nil {
			t.Errorf("%s: the state copied before healing opens a record sealed after it", name)
		}
	}
	mustOpen(t, b, afterAB, testNow)
	mustOpen(t, a, afterBA, testNow)
}

// TestSessionHealRejections: healing records that are malformed or come
// at the wrong moment are refused or ignored, and change nothing.
func TestSessionHealRejections(t *testing.T) {
	t.Run("HEAL of the wrong size", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		r, _, _ := a.Seal(nil, TypeHeal, make([]byte, HealSize-1), testNow)
		before := snapSession(b)
		if _, err := b.Open(nil, r, testNow); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Open = %v, want ErrMalformed", err)
		}
		if snapSession(b) != before {
			t.Fatal("state changed")
		}
	})
	t.Run("HEAL with an invalid ML-KEM key", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		p := bytes.Repeat([]byte{0xff}, HealSize) // coefficients >= q
		r, _, _ := a.Seal(nil, TypeHeal, p, testNow)
		before := snapSession(b)
		if _, err := b.Open(nil, r, testNow); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Open = %v, want ErrMalformed", err)
		}
		if snapSession(b) != before {
			t.Fatal("state changed")
		}
	})
	t.Run("HEAL_ACK of the wrong size", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		r, _, _ := a.Seal(nil, TypeHealAck, make([]byte, HealAckSize+1), testNow)
		if _, err := b.Open(nil, r, testNow); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Open = %v, want ErrMalformed", err)
		}
	})
	t.Run("HEAL_ACK with no HEAL out", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		r, _, _ := a.Seal(nil, TypeHealAck, make([]byte, HealAckSize), testNow)
		o := mustOpen(t, b, r, testNow)
		switched, err := b.FinishHeal(o.Payload, o.Header.Seq, testNow)
		if switched || err != nil || b.SendEpoch() != 0 || b.heal.underWay() {
			t.Fatalf("FinishHeal = %v, %v; epoch %d", switched, err, b.SendEpoch())
		}
	})
	t.Run("HEAL with a low-order X25519 key", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		heal, _ := a.Heal(nil, testNow)
		o := mustOpen(t, b, heal, testNow)
		p := bytes.Clone(o.Payload)
		clear(p[:X25519Size]) // the zero point
		ack, err := b.AnswerHeal(nil, p, o.Header.Seq, testNow)
		if err == nil || len(ack) != 0 || b.heal.underWay() || b.SendSeq() != b.send.Next()-1 {
			t.Fatalf("AnswerHeal = %d bytes, %v; want an error and nothing sealed", len(ack), err)
		}
	})
	t.Run("version 1's REKEY is a type version 2 does not know", func(t *testing.T) {
		a, b := newSessionPair(t, SessionConfig{})
		r, _, _ := a.Seal(nil, TypeRekey, nil, testNow)
		o := mustOpen(t, b, r, testNow)
		if IsKnownRecordType(o.Header.Type) || o.Rekeyed || b.RecvEpoch() != 0 {
			t.Fatalf("REKEY: known %v, rekeyed %v, epoch %d", IsKnownRecordType(o.Header.Type), o.Rekeyed, b.RecvEpoch())
		}
	})
}

// TestSessionTooFar: a record more than keys.MaxSkip seqs ahead of the
// last accepted is refused before any key is computed, and changes
// nothing; one exactly MaxSkip ahead opens.
func TestSessionTooFar(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{})
	for range keys.MaxSkip {
		sealChat(t, a, 1, testNow) // lost
	}
	edge := sealChat(t, a, 2, testNow) // MaxSkip records skipped: the last one allowed
	sealChat(t, a, 3, testNow)
	far := sealChat(t, a, 4, testNow) // MaxSkip+2 skipped
	before := snapSession(b)
	if _, err := b.Open(nil, far, testNow); !errors.Is(err, ErrTooFar) || Reason(err) != ReasonTooFar {
		t.Fatalf("Open = %v (%s), want ErrTooFar", err, Reason(err))
	}
	if snapSession(b) != before {
		t.Fatal("state changed by a too-far record")
	}
	if o := mustOpen(t, b, edge, testNow); o.Gap != keys.MaxSkip {
		t.Fatalf("gap %d, want %d", o.Gap, keys.MaxSkip)
	}
	mustOpen(t, b, far, testNow)
}

// TestSessionNeedsRekey: a healing is due after RekeyAfter records or
// RekeyInterval, and not while one is under way.
func TestSessionNeedsRekey(t *testing.T) {
	tests := []struct {
		name  string
		cfg   SessionConfig
		seal  int // records sealed before the check
		after time.Duration
	}{
		{"after RekeyAfter records", SessionConfig{RekeyAfter: 10}, 10, 0},
		{"after RekeyInterval", SessionConfig{RekeyInterval: time.Minute}, 0, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newSessionPair(t, tc.cfg)
			for range tc.seal - 1 {
				mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
			}
			if a.NeedsRekey(testNow.Add(tc.after - 1)) {
				t.Fatal("NeedsRekey before the limit")
			}
			if tc.seal > 0 {
				mustOpen(t, b, sealChat(t, a, 1, testNow), testNow)
			}
			now := testNow.Add(tc.after)
			if !a.NeedsRekey(now) {
				t.Fatalf("NeedsRekey false after %d records at +%v", tc.seal, tc.after)
			}
			heal, err := a.Heal(nil, now)
			if err != nil {
				t.Fatal(err)
			}
			if a.NeedsRekey(now) {
				t.Fatal("NeedsRekey true while a healing is under way")
			}
			ack, _ := healStep(t, b, heal, now)
			healStep(t, a, ack, now)
			healStep(t, b, sealChat(t, a, 2, now), now)
			healStep(t, a, sealChat(t, b, 3, now), now)
			if a.NeedsRekey(now) {
				t.Fatal("NeedsRekey true right after healing")
			}
		})
	}
}

// TestSessionSendNonceCapForgets: past SendNonceCap records in one epoch
// the sender keeps sealing; it forgets the records sent before, which are
// then no longer recognised as reflected.
func TestSessionSendNonceCapForgets(t *testing.T) {
	a, b := newSessionPair(t, SessionConfig{SendNonceCap: 4})
	first := sealChat(t, a, 1, testNow)
	for range 3 {
		sealChat(t, a, 1, testNow)
	}
	last := sealChat(t, a, 2, testNow) // the fifth: the set was reset first
	if _, err := a.Open(nil, first, testNow); errors.Is(err, ErrRecordReflected) {
		t.Fatal("a record sent before the reset is still recognised as reflected")
	}
	if _, err := a.Open(nil, last, testNow); !errors.Is(err, ErrRecordReflected) {
		t.Fatalf("the record sent after the reset: %v, want ErrRecordReflected", err)
	}
	mustOpen(t, b, last, testNow)
}

// TestNodeRecoversFromDrift: after an outage in which more than
// keys.MaxSkip of A's records were lost (A kept sealing pings and
// messages), B refuses A's records as too-far; once B's pings have gone
// unanswered (liveness down) the next too-far record makes B start a new
// handshake, and every message A wrote arrives once in the new session.
func TestNodeRecoversFromDrift(t *testing.T) {
	var (
		mu   sync.Mutex
		lose bool
	)
	p := startPairWith(t, fastResend, func(pa, _ *PipeEnd) {
		pa.SetFilter(func(m []byte) [][]byte {
			mu.Lock()
			defer mu.Unlock()
			if lose && IsRecordType(m[1]) {
				return nil
			}
			return [][]byte{m}
		})
	})
	p.establish(t)
	mu.Lock()
	lose = true
	mu.Unlock()
	msgs := texts("during the outage", keys.MaxSkip+20)
	ids := sendEach(t, p.a, p.ra, msgs...) // a record each: more than MaxSkip records lost
	p.rb.waitFor(t, 10*time.Second, "B's liveness down", func(e Event) bool { l, ok := e.(LiveEvent); return ok && l.State == LiveDown })
	mu.Lock()
	lose = false
	mu.Unlock()
	p.rb.waitFor(t, 10*time.Second, "a too-far refusal", rejected(ReasonTooFar))
	p.ra.waitFor(t, 20*time.Second, "A's second session", func(Event) bool { return p.ra.count(isEstablished) >= 2 })
	p.rb.waitFor(t, 20*time.Second, "B's second session", func(Event) bool { return p.rb.count(isEstablished) >= 2 })
	p.ra.waitDelivered(t, 30*time.Second, ids)
	exactlyOnce(t, p.rb, msgs...)
}
