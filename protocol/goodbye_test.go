package protocol

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func isPeerLeft(e Event) bool {
	s, ok := e.(SessionEvent)
	return ok && s.State == SessionPeerLeft
}

// TestNodeGoodbyePeerLeft: A leaves; B reports peer-left at once, then
// waiting, sends nothing more in the session; a message B writes while A is
// away stays queued and is delivered, exactly once, when A comes back and a
// new handshake forms. The old GOODBYE replayed into the new session is
// rejected as tampered (new keys) and ends nothing.
func TestNodeGoodbyePeerLeft(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	var (
		mu         sync.Mutex
		goodbye    []byte
		afterLeave atomic.Bool
		sentAfter  atomic.Int32
	)
	// The GOODBYE is the last thing A hands its writer, which sends in
	// order: whatever passes after it was sent after Leave.
	pa.SetFilter(func(m []byte) [][]byte {
		if len(m) > 1 && m[1] == TypeGoodbye {
			mu.Lock()
			goodbye = append([]byte(nil), m...)
			mu.Unlock()
			afterLeave.Store(true)
		} else if afterLeave.Load() {
			sentAfter.Add(1)
		}
		return [][]byte{m}
	})
	ca, cb := testConfig(id[0]), testConfig(id[1])
	ca.Records, cb.Records = &RecordLog{}, &RecordLog{}
	ra, rb := newRecorder(), newRecorder()
	a := startNode(t, ca, pa, ra.emit)
	b := startNode(t, cb, pb, rb.emit)
	ra.waitFor(t, 10*time.Second, "A established", isEstablished)
	rb.waitFor(t, 10*time.Second, "B established", isEstablished)
	ra.waitDelivered(t, 5*time.Second, sendAll(t, a.n, "before leaving"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.n.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	e := rb.waitFor(t, 5*time.Second, "peer-left at B", isPeerLeft).(SessionEvent)
	if e.PeerFingerprint != a.n.Fingerprint().String() || e.SafetyNumber == "" {
		t.Errorf("peer-left event %+v", e)
	}
	// After peer-left, liveness starts over: a waiting LiveEvent follows.
	rb.waitFor(t, 10*time.Second, "waiting after peer-left", func(Event) bool {
		seen := false
		for _, e := range rb.snapshot() {
			if isPeerLeft(e) {
				seen = true
			}
			if l, ok := e.(LiveEvent); ok && seen && l.State == LiveWaiting {
				return true
			}
		}
		return false
	})
	mu.Lock()
	oldGoodbye := goodbye
	mu.Unlock()
	if oldGoodbye == nil {
		t.Fatal("no GOODBYE went over the pipe")
	}
	if got, _ := ca.Records.Last(nil, RecordLogSize); !hasRecord(got, DirOut, TypeGoodbye, VerdictSent) {
		t.Error("A's record log lacks the GOODBYE sent")
	}
	// B logs a record after handling it, so just after its peer-left event.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if got, _ := cb.Records.Last(nil, RecordLogSize); hasRecord(got, DirIn, TypeGoodbye, VerdictAccepted) {
			break
		}
		if time.Now().After(deadline) {
			t.Error("B's record log lacks the GOODBYE accepted")
			break
		}
	}
	// A has left: it sends nothing more, whatever it receives.
	time.Sleep(10 * ca.PingInterval)
	if n := sentAfter.Load(); n != 0 {
		t.Errorf("A sent %d messages after Leave", n)
	}
	if err := a.n.Rekey(); !errors.Is(err, ErrLeft) {
		t.Errorf("Rekey after Leave = %v, want ErrLeft", err)
	}
	if st := b.n.Status(); st.HasSession {
		t.Errorf("B's status still has a session after peer-left: %+v", st)
	}
	a.stop()
	afterLeave.Store(false)

	// B writes while A is away: it stays queued for the next session.
	ids := sendAll(t, b.n, "while you were away")
	ra2 := newRecorder()
	a2 := startNode(t, ca, pa, ra2.emit)
	ra2.waitFor(t, 10*time.Second, "returning A established", isEstablished)
	rb.waitFor(t, 10*time.Second, "B re-established", func(Event) bool { return rb.count(isEstablished) >= 2 })
	rb.waitDelivered(t, 10*time.Second, ids)
	ra2.waitFor(t, 5*time.Second, "message written while away", func(Event) bool { return ra2.messageCount("while you were away") == 1 })
	if n := rb.count(isPeerLeft); n != 1 {
		t.Errorf("B reported peer-left %d times, want 1", n)
	}

	// The old GOODBYE replayed into the new session: refused, nothing ends.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second) // Leave's may be spent by now
	defer cancel()
	if err := pb.Inject(ctx, oldGoodbye); err != nil {
		t.Fatal(err)
	}
	r := rb.waitFor(t, 5*time.Second, "old goodbye rejected", rejectedForeign).(RejectedEvent)
	if r.HasSeq {
		t.Errorf("the refusal of another session's record claims an authenticated seq: %+v", r)
	}
	ids = sendAll(t, a2.n, "still here")
	ra2.waitDelivered(t, 5*time.Second, ids)
	if n := rb.count(isPeerLeft); n != 1 {
		t.Errorf("a replayed GOODBYE ended the session: %d peer-left events", n)
	}
}

func hasRecord(rs []RecordInfo, dir Direction, typ byte, verdict string) bool {
	for _, r := range rs {
		if r.Dir == dir && r.Type == typ && r.Verdict == verdict {
			return true
		}
	}
	return false
}

// goodbyeNode is a node (B) with an established session whose peer side
// (A) the test holds, fed directly through handle.
func goodbyeNode(t *testing.T) (*Node, *Session, *recorder, *RecordLog) {
	t.Helper()
	id := testIdentities(t)
	a, sb := newSessionPair(t, SessionConfig{})
	pa, pb := NewPipe(16)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	r := newRecorder()
	log := &RecordLog{}
	n, err := NewNode(Config{Identity: id[1], Now: func() time.Time { return testNow }, Records: log}, pb, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	n.now, n.hs.peer, n.hs.reachable, n.sess = testNow, id[0].Public(), true, sb
	return n, a, r, log
}

// TestNodeGoodbyeRejections: a GOODBYE is checked like every record. A
// forged (tampered), replayed or malformed one is rejected with its exact
// reason and changes nothing; only the genuine one ends the session, and a
// copy of it arriving afterwards is ignored.
func TestNodeGoodbyeRejections(t *testing.T) {
	n, a, r, log := goodbyeNode(t)
	sb := n.sess
	chat := sealChat(t, a, 1, testNow)
	n.handle(chat)
	h, err := ParseRecordHeader(chat)
	if err != nil {
		t.Fatal(err)
	}
	// A goodbye with the accepted chat's seq and nonce: a replay, refused
	// before any key is looked for (the key of that seq is erased).
	replayed := AppendRecordHeader(nil, &RecordHeader{Type: TypeGoodbye, Seq: h.Seq, Timestamp: h.Timestamp, Nonce: h.Nonce})
	replayed = append(replayed, make([]byte, TagSize)...)
	good, goodSeq, err := a.Seal(nil, TypeGoodbye, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	withPayload, _, err := a.Seal(nil, TypeGoodbye, []byte("bye"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), good...)
	tampered[len(tampered)-1] ^= 1
	forgedHeader := append([]byte(nil), good...)
	forgedHeader[10] ^= 1 // the timestamp: authenticated as associated data

	for _, tc := range []struct {
		name   string
		rec    []byte
		reason string
		hasSeq bool
	}{
		{"tampered tag", tampered, ReasonTampered, false},
		{"forged header", forgedHeader, ReasonTampered, false},
		{"replayed seq and nonce", replayed, ReasonReplay, true},
		{"non-empty payload", withPayload, ReasonMalformed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapSession(sb)
			events := len(r.snapshot())
			n.rejects = newRejectLog() // each case reported on its own, not aggregated
			n.handle(tc.rec)
			evs := r.snapshot()[events:]
			if len(evs) != 1 {
				t.Fatalf("events %v, want one rejection", evs)
			}
			rej, ok := evs[0].(RejectedEvent)
			if !ok || rej.Reason != tc.reason || rej.HasSeq != tc.hasSeq {
				t.Fatalf("event %+v, want rejection %q (hasSeq %v)", evs[0], tc.reason, tc.hasSeq)
			}
			if n.sess != sb {
				t.Fatal("a rejected GOODBYE ended the session")
			}
			if after := snapSession(sb); after != before {
				t.Fatalf("state changed: %+v -> %+v", before, after)
			}
			last, _ := log.Last(nil, 1)
			if len(last) != 1 || last[0].Verdict != tc.reason || last[0].Type != TypeGoodbye {
				t.Fatalf("record log %+v, want verdict %q", last, tc.reason)
			}
		})
	}

	events := len(r.snapshot())
	n.handle(good)
	evs := r.snapshot()[events:]
	if len(evs) != 2 || !isPeerLeft(evs[0]) {
		t.Fatalf("events after the genuine GOODBYE: %v", evs)
	}
	if l, ok := evs[1].(LiveEvent); !ok || l.State != LiveWaiting {
		t.Fatalf("second event %v, want LiveEvent waiting", evs[1])
	}
	if n.sess != nil || n.hs.peer != nil || n.hs.reachable {
		t.Fatal("session or candidate kept after GOODBYE")
	}
	if last, _ := log.Last(nil, 1); last[0].Verdict != VerdictAccepted || last[0].Seq != goodSeq {
		t.Fatalf("record log %+v", last)
	}
	// The same GOODBYE again: there is no session to end.
	events = len(r.snapshot())
	n.handle(good)
	if evs := r.snapshot()[events:]; len(evs) != 0 {
		t.Fatalf("a copy of the GOODBYE produced %v", evs)
	}
	if last, _ := log.Last(nil, 1); last[0].Verdict != VerdictIgnored {
		t.Fatalf("copy logged as %q, want ignored", last[0].Verdict)
	}
}

// TestNodeLeaveWithoutSession: Leave before any session sends nothing,
// returns nil, and the node stays silent afterwards.
func TestNodeLeaveWithoutSession(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	var after atomic.Bool
	var sent, goodbyes atomic.Int32
	pa.SetFilter(func(m []byte) [][]byte {
		if len(m) > 1 && m[1] == TypeGoodbye {
			goodbyes.Add(1)
		}
		if after.Load() {
			sent.Add(1)
		}
		return nil // nobody listens
	})
	cfg := testConfig(id[0])
	r := newRecorder()
	a := startNode(t, cfg, pa, r.emit)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.n.Leave(ctx); err != nil {
		t.Fatalf("Leave without a session: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // batches handed over before Leave (no GOODBYE marks the end here)
	after.Store(true)
	time.Sleep(10 * cfg.PingInterval)
	if n := goodbyes.Load(); n != 0 {
		t.Errorf("%d GOODBYEs sent without a session", n)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d messages sent after Leave", n)
	}
	if err := a.n.Leave(ctx); err != nil {
		t.Errorf("second Leave: %v", err)
	}
}

// TestNodeLeaveNotRunning: Leave on a node whose Run is not running gives
// up when its context ends.
func TestNodeLeaveNotRunning(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(1)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	n, err := NewNode(Config{Identity: id[0]}, pa, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := n.Leave(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Leave = %v, want context.DeadlineExceeded", err)
	}
}
