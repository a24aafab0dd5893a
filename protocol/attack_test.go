package protocol

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"duet/crypto"
)

// Node-level attacks. The PipeEnd filter is the man in the middle: it sees
// (a private copy of) every message one node sends and returns what the
// other receives; Inject delivers forged bytes.

// fastResend shortens resends so that recovery tests finish quickly.
func fastResend(a, b *Config) {
	a.ResendAfter, b.ResendAfter = 150*time.Millisecond, 150*time.Millisecond
}

// sendAll sends texts from n and returns their ids.
func sendAll(t *testing.T, n *Node, texts ...string) []uint64 {
	t.Helper()
	var ids []uint64
	for _, s := range texts {
		id, err := n.Send(s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// sendEach sends texts one record each: before writing the next message
// it waits for the SentEvent of the last (its record sealed), so no two
// are packed into one CHATS record. r records n's events.
func sendEach(t *testing.T, n *Node, r *recorder, texts ...string) []uint64 {
	t.Helper()
	var ids []uint64
	for _, s := range texts {
		id, err := n.Send(s)
		if err != nil {
			t.Fatal(err)
		}
		r.waitFor(t, 10*time.Second, "message sealed", func(e Event) bool { se, ok := e.(SentEvent); return ok && se.ID == id })
		ids = append(ids, id)
	}
	return ids
}

// exactlyOnce checks that r displayed each text exactly once.
func exactlyOnce(t *testing.T, r *recorder, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if n := r.messageCount(s); n != 1 {
			t.Errorf("message %q displayed %d times, want 1", s, n)
		}
	}
}

func texts(prefix string, n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("%s-%d", prefix, i))
	}
	return s
}

func TestAttackReplayCommand(t *testing.T) {
	p := startPair(t, nil)
	p.establish(t)
	p.ra.waitDelivered(t, 5*time.Second, sendAll(t, p.a, "first"))
	if err := p.a.Replay(); err != nil {
		t.Fatal(err)
	}
	e := p.rb.waitFor(t, 5*time.Second, "replay rejection", rejected(ReasonReplay)).(RejectedEvent)
	if !e.HasSeq {
		t.Errorf("replay rejection without an authenticated seq: %+v", e)
	}
	// What was replayed is the CHAT "first", as its sender was told, even
	// though pings were sealed after it.
	r := p.ra.waitFor(t, 5*time.Second, "replayed event", func(e Event) bool { _, ok := e.(ReplayedEvent); return ok }).(ReplayedEvent)
	if r.Type != TypeChat || !r.HasSeq || r.Seq != e.Seq {
		t.Errorf("replayed %+v, receiver rejected seq %d: want the CHAT record", r, e.Seq)
	}
	p.ra.waitDelivered(t, 5*time.Second, sendAll(t, p.a, "second"))
	p.rb.waitFor(t, 5*time.Second, "second message", func(e Event) bool { m, ok := e.(MessageEvent); return ok && m.Text == "second" })
	exactlyOnce(t, p.rb, "first", "second")
}

func TestAttackTamperInFlight(t *testing.T) {
	var tamper atomic.Bool
	p := startPairWith(t, fastResend, func(pa, _ *PipeEnd) {
		pa.SetFilter(func(m []byte) [][]byte {
			if tamper.Load() && len(m) > 1 && m[1] >= TypeConfirm {
				m[len(m)-1] ^= 0x01 // the GCM tag
			}
			return [][]byte{m}
		})
	})
	p.establish(t)
	tamper.Store(true)
	msgs := texts("tampered", 5)
	ids := sendAll(t, p.a, msgs...)
	// Chats, pings and receipts all arrive broken.
	p.rb.waitFor(t, 5*time.Second, "tampered rejections", func(Event) bool {
		return p.rb.rejections(ReasonTampered) >= len(msgs)+3
	})
	tamper.Store(false)
	for _, e := range p.rb.snapshot() {
		if m, ok := e.(MessageEvent); ok {
			t.Fatalf("a tampered record was displayed: %+v", m)
		}
		if r, ok := e.(RejectedEvent); ok && r.Reason == ReasonTampered && r.HasSeq {
			t.Fatalf("tampered record reported with an authenticated seq: %+v", r)
		}
	}
	p.ra.waitDelivered(t, 10*time.Second, ids)
	exactlyOnce(t, p.rb, msgs...)
	if n := p.rb.count(isEstablished); n != 1 {
		t.Errorf("B established %d sessions, want 1 (tampering must not force a new handshake)", n)
	}
}

func TestAttackDropChats(t *testing.T) {
	var drop atomic.Int32
	p := startPairWith(t, fastResend, func(pa, _ *PipeEnd) {
		pa.SetFilter(func(m []byte) [][]byte {
			if len(m) > 1 && IsChatRecord(m[1]) && drop.Load() > 0 {
				drop.Add(-1) // only the writer goroutine runs the filter
				return nil
			}
			return [][]byte{m}
		})
	})
	p.establish(t)
	drop.Store(3)
	msgs := texts("drop", 6)
	ids := sendAll(t, p.a, msgs...)
	p.ra.waitDelivered(t, 10*time.Second, ids)
	exactlyOnce(t, p.rb, msgs...)
	var missing uint64
	for _, e := range p.rb.snapshot() {
		if g, ok := e.(GapEvent); ok {
			missing += g.Missing
		}
	}
	if missing != 3 {
		t.Errorf("gap events report %d missing records, want 3", missing)
	}
}

func TestAttackReorder(t *testing.T) {
	var (
		mu   sync.Mutex
		arm  bool
		held []byte
	)
	p := startPairWith(t, fastResend, func(pa, _ *PipeEnd) {
		pa.SetFilter(func(m []byte) [][]byte {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case arm && held == nil && IsChatRecord(m[1]):
				held, arm = m, false
				return nil
			case held != nil && m[1] >= TypeConfirm:
				out := [][]byte{m, held}
				held = nil
				return out
			}
			return [][]byte{m}
		})
	})
	p.establish(t)
	mu.Lock()
	arm = true
	mu.Unlock()
	msgs := texts("reorder", 3)
	ids := sendAll(t, p.a, msgs...)
	e := p.rb.waitFor(t, 5*time.Second, "reorder rejection", rejected(ReasonReorder)).(RejectedEvent)
	if e.HasSeq {
		// Protocol 2: the late record's key is erased, so reorder is
		// decided before authentication and names no seq.
		t.Errorf("reorder rejection claims an authenticated seq: %+v", e)
	}
	p.ra.waitDelivered(t, 10*time.Second, ids)
	exactlyOnce(t, p.rb, msgs...)
}

// TestAttackKeySubstitution: the man in the middle swaps A's public key for
// another key. B then checks A's hellos against the wrong key, or (if the
// swapped key makes B the initiator) both sides refuse the other's hello
// role; no session is ever established.
func TestAttackKeySubstitution(t *testing.T) {
	id := testIdentities(t)
	fpB := id[1].Public().Fingerprint()
	for _, c := range []struct {
		name       string
		bInitiator bool // B sorts before the substituted key
	}{{"B stays responder", false}, {"B becomes initiator", true}} {
		t.Run(c.name, func(t *testing.T) {
			sub := identityOrdered(t, fpB, !c.bInitiator)
			var swapped atomic.Int32
			p := startPairWith(t, nil, func(pa, _ *PipeEnd) {
				pa.SetFilter(func(m []byte) [][]byte {
					if len(m) > 1 && m[1] == TypePublicKey {
						pk, err := ParsePublicKeyMsg(m)
						if err != nil {
							t.Errorf("A sent a bad public key message: %v", err)
							return nil
						}
						swapped.Add(1)
						// An on-path attacker sees and keeps the challenge and echo.
						return [][]byte{AppendPublicKey(nil, PublicKeyMsg{ReplyRequested: pk.ReplyRequested, Challenge: pk.Challenge, Echo: pk.Echo, DER: sub.Public().DER()})}
					}
					return [][]byte{m}
				})
			})
			// Several handshake attempts (StepTimeout 300 ms).
			if c.bInitiator {
				// Each side gets a hello with role "initiator" while it
				// expects the responder's: ErrUnexpected, reason malformed.
				roleRefused := func(e Event) bool {
					r, ok := e.(RejectedEvent)
					return ok && r.Reason == ReasonMalformed && strings.Contains(r.Detail, "hello role 1, want 2")
				}
				p.ra.waitFor(t, 5*time.Second, "A refuses B's hello", roleRefused)
				p.rb.waitFor(t, 5*time.Second, "B refuses A's hello", roleRefused)
			} else {
				p.rb.waitFor(t, 5*time.Second, "bad signature at B", rejected(ReasonBadSignature))
				p.rb.waitFor(t, 5*time.Second, "failed verify step", func(e Event) bool {
					h, ok := e.(HandshakeEvent)
					return ok && h.Step == StepVerify && !h.Done && errors.Is(h.Err, ErrBadSignature)
				})
			}
			time.Sleep(time.Second)
			if swapped.Load() == 0 {
				t.Fatal("no public key was substituted")
			}
			for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
				if n := r.count(isEstablished); n != 0 {
					t.Errorf("%s established %d sessions through a substituted key", name, n)
				}
				if n := r.count(func(e Event) bool { _, ok := e.(MessageEvent); return ok }); n != 0 {
					t.Errorf("%s displayed messages", name)
				}
				if n := r.count(func(e Event) bool {
					h, ok := e.(HandshakeEvent)
					return ok && h.Done && h.Step >= StepKeyTransport
				}); n != 0 {
					t.Errorf("%s completed a key transport", name)
				}
			}
			if _, _, ok := p.b.Peer(); ok {
				t.Error("B reports a peer")
			}
		})
	}
}

// TestAttackPinning: a VerifyPeer refusing the key (known_peers mismatch)
// stops the handshake at step 3 with reason key-changed, on either side.
func TestAttackPinning(t *testing.T) {
	id := testIdentities(t)
	for _, side := range []string{"A", "B"} {
		t.Run(side, func(t *testing.T) {
			var calls atomic.Int32
			var badKey atomic.Bool
			verify := func(wantFP crypto.Fingerprint) func(*crypto.PublicKey) (crypto.Trust, error) {
				return func(pk *crypto.PublicKey) (crypto.Trust, error) {
					calls.Add(1)
					if pk.Fingerprint() != wantFP {
						badKey.Store(true)
					}
					return crypto.TrustUnknown, &crypto.KeyChangedError{Peer: "peer", Known: id[2].Public().Fingerprint(), Got: pk.Fingerprint(), Path: "known_peers"}
				}
			}
			p := startPair(t, func(a, b *Config) {
				if side == "A" {
					a.VerifyPeer = verify(id[1].Public().Fingerprint())
				} else {
					b.VerifyPeer = verify(id[0].Public().Fingerprint())
				}
			})
			r := p.ra
			if side == "B" {
				r = p.rb
			}
			e := r.waitFor(t, 5*time.Second, "key-changed rejection", rejected(ReasonKeyChanged)).(RejectedEvent)
			if e.HasSeq {
				t.Errorf("rejection claims a seq: %+v", e)
			}
			h := r.waitFor(t, time.Second, "failed verify step", func(e Event) bool {
				h, ok := e.(HandshakeEvent)
				return ok && !h.Done
			}).(HandshakeEvent)
			var kc *crypto.KeyChangedError
			if h.Step != StepVerify || !errors.Is(h.Err, ErrKeyChanged) || !errors.As(h.Err, &kc) {
				t.Errorf("failed step %d (%s), err %v; want step %d with ErrKeyChanged", h.Step, h.Name, h.Err, StepVerify)
			}
			time.Sleep(time.Second) // several retry periods
			for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
				if n := r.count(isEstablished); n != 0 {
					t.Errorf("%s established a session with a refused key", name)
				}
			}
			if badKey.Load() {
				t.Error("VerifyPeer was called with a key other than the peer's")
			}
			// The refused key is blocked: no further verification work.
			if n := calls.Load(); n != 1 {
				t.Errorf("VerifyPeer called %d times, want 1 (key blocked after refusal)", n)
			}
		})
	}
}

// garbageHello is a hello of the right length and role with random fields.
func garbageHello(tb testing.TB) []byte {
	b := randBytes(tb, HelloSize)
	b[0], b[1], b[2] = Version, TypeHello, RoleInitiator
	return b
}

// TestAttackHelloFlood: 5,000 forged hellos carrying B's challenge (an
// attacker on the path, who sees it) cost at most the verify token bucket's
// RSA verifications, and the session keeps working. Without the challenge,
// they cost none: TestNodeDropsWrongCookie.
func TestAttackHelloFlood(t *testing.T) {
	p := startPair(t, nil)
	p.establish(t)
	const n = 5000
	flood := make([][]byte, n)
	for i := range flood {
		flood[i] = garbageHello(t)
		SetCookie(flood[i], p.b.challenge)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	for _, m := range flood {
		if err := p.pb.Inject(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// A chat queued behind the flood (same inbound queue) is delivered.
	sendAll(t, p.a, "after flood")
	p.rb.waitFor(t, 20*time.Second, "chat after flood", func(e Event) bool { m, ok := e.(MessageEvent); return ok && m.Text == "after flood" })
	elapsed := time.Since(start)
	verified := p.rb.rejections(ReasonBadSignature)
	bound := 100 + int(500*elapsed.Seconds()) + 10
	t.Logf("%d forged hellos in %v: %d RSA verifications (bound %d)", n, elapsed, verified, bound)
	if verified == 0 || verified > bound {
		t.Errorf("%d bad-signature rejections, want 1..%d", verified, bound)
	}
	if c := p.rb.count(isEstablished); c != 1 {
		t.Errorf("B established %d sessions", c)
	}
}

// helloCapture records the hellos each node sends.
type helloCapture struct {
	mu     sync.Mutex
	fromA  [][]byte
	fromB  int
	pkOfA  []byte
	pkOfAR []byte // A's public key message with the reply flag
}

func (c *helloCapture) install(pa, pb *PipeEnd) {
	pa.SetFilter(func(m []byte) [][]byte {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch m[1] {
		case TypeHello:
			c.fromA = append(c.fromA, bytes.Clone(m))
		case TypePublicKey:
			if pk, _ := ParsePublicKeyMsg(m); pk.ReplyRequested {
				c.pkOfAR = bytes.Clone(m)
			} else {
				c.pkOfA = bytes.Clone(m)
			}
		}
		return [][]byte{m}
	})
	pb.SetFilter(func(m []byte) [][]byte {
		if m[1] == TypeHello {
			c.mu.Lock()
			c.fromB++
			c.mu.Unlock()
		}
		return [][]byte{m}
	})
}

func (c *helloCapture) lastA(t *testing.T) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.fromA) == 0 {
		t.Fatal("no hello captured from A")
	}
	return c.fromA[len(c.fromA)-1]
}

func (c *helloCapture) helloesFromB() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fromB
}

// roundTrip makes sure B handled everything injected into pb before now
// (A's chat queues behind it) and that everything B queued meanwhile went
// through B's filter (B's chat is sent after it).
func roundTrip(t *testing.T, p *nodePair, text string) {
	t.Helper()
	sendAll(t, p.a, text+" A")
	p.rb.waitFor(t, 5*time.Second, text+" A", func(e Event) bool { m, ok := e.(MessageEvent); return ok && m.Text == text+" A" })
	sendAll(t, p.b, text+" B")
	p.ra.waitFor(t, 5*time.Second, text+" B", func(e Event) bool { m, ok := e.(MessageEvent); return ok && m.Text == text+" B" })
}

func TestAttackReplayedHelloA(t *testing.T) {
	var c helloCapture
	p := startPairWith(t, nil, c.install)
	p.establish(t)
	hello := c.lastA(t)
	roundTrip(t, p, "sync")
	before := c.helloesFromB()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.pb.Inject(ctx, hello); err != nil {
		t.Fatal(err)
	}
	e := p.rb.waitFor(t, 5*time.Second, "hello replay rejection", rejected(ReasonReplay)).(RejectedEvent)
	if e.HasSeq {
		t.Errorf("hello replay reported with a seq: %+v", e)
	}
	roundTrip(t, p, "after replay")
	if after := c.helloesFromB(); after != before {
		t.Errorf("B sent %d new hello(s) in answer to a replayed hello A", after-before)
	}
	if n := p.rb.count(isEstablished); n != 1 {
		t.Errorf("B established %d sessions", n)
	}
}

// TestAttackHelloReplayAfterKeySwap: the hello-replay guard must survive
// unauthenticated public-key messages. Injecting a public key of another
// identity and then A's genuine public key message must not make B accept
// (and answer, spending an RSA signature) A's old hello again.
func TestAttackHelloReplayAfterKeySwap(t *testing.T) {
	id := testIdentities(t)
	var c helloCapture
	p := startPairWith(t, nil, c.install)
	p.establish(t)
	hello := c.lastA(t)
	roundTrip(t, p, "sync")
	before := c.helloesFromB()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, m := range [][]byte{
		AppendPublicKey(nil, PublicKeyMsg{DER: id[2].Public().DER()}),
		AppendPublicKey(nil, PublicKeyMsg{DER: id[0].Public().DER()}),
		hello,
	} {
		if err := p.pb.Inject(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip(t, p, "after replay")
	if p.rb.rejections(ReasonReplay) == 0 {
		t.Error("replayed hello A was not rejected as a replay after a public-key swap")
	}
	if after := c.helloesFromB(); after != before {
		t.Errorf("B answered a replayed hello A with %d new hello(s) after a public-key swap", after-before)
	}
}

// TestPeerRestart: B stops and a new process with the same identity starts
// on the same transport. A and the new B establish a new session and the
// messages A wrote while B was down are delivered exactly once.
func TestPeerRestart(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	ca, cb := testConfig(id[0]), testConfig(id[1])
	ca.ResendAfter = 150 * time.Millisecond
	ra, rb1 := newRecorder(), newRecorder()
	a := startNode(t, ca, pa, ra.emit)
	b1 := startNode(t, cb, pb, rb1.emit)
	ra.waitFor(t, 10*time.Second, "A established", isEstablished)
	rb1.waitFor(t, 10*time.Second, "B established", isEstablished)
	ra.waitDelivered(t, 5*time.Second, sendAll(t, a.n, "before restart"))

	b1.stop()
	if b1.err != nil {
		t.Fatalf("B's Run: %v", b1.err)
	}
	if n := rb1.count(func(e Event) bool { s, ok := e.(SessionEvent); return ok && s.State == SessionClosed }); n != 1 {
		t.Errorf("stopped B emitted %d SessionClosed events", n)
	}
	down := texts("while down", 5)
	ids := sendAll(t, a.n, down...)
	ra.waitFor(t, 5*time.Second, "sent while down", func(Event) bool {
		return ra.count(func(e Event) bool { _, ok := e.(SentEvent); return ok }) >= 1+len(down)
	})

	rb2 := newRecorder()
	b2 := startNode(t, cb, pb, rb2.emit)
	rb2.waitFor(t, 10*time.Second, "new B established", isEstablished)
	ra.waitFor(t, 10*time.Second, "A re-established", func(Event) bool { return ra.count(isEstablished) >= 2 })
	ra.waitDelivered(t, 10*time.Second, ids)
	exactlyOnce(t, rb2, down...)
	if n := rb2.messageCount("before restart"); n != 0 {
		t.Errorf("acknowledged message shown again after restart (%d times)", n)
	}
	// And the new session works both ways.
	sendAll(t, b2.n, "from new B")
	ra.waitFor(t, 5*time.Second, "message from new B", func(Event) bool { return ra.messageCount("from new B") == 1 })
}

func TestSimultaneousStartOneSession(t *testing.T) {
	start := time.Now()
	p := startPair(t, nil)
	p.establish(t)
	if d := time.Since(start); d < time.Second {
		time.Sleep(time.Second - d)
	}
	for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
		if n := r.count(isEstablished); n != 1 {
			t.Errorf("%s: %d sessions established in the first second, want 1", name, n)
		}
	}
	if fa, _, _ := p.a.Peer(); fa != p.b.Fingerprint() {
		t.Error("A's peer is not B")
	}
	if fb, _, _ := p.b.Peer(); fb != p.a.Fingerprint() {
		t.Error("B's peer is not A")
	}
}

// TestAttackKeyTransportFlood: while B waits for A's key transport (here a
// man in the middle drops it, so A keeps retrying), forged key transports
// cost B an RSA verification each. That work must be bounded like the
// hello flood's: by the verify token bucket.
func TestAttackKeyTransportFlood(t *testing.T) {
	p := startPairWith(t, nil, func(pa, _ *PipeEnd) {
		pa.SetFilter(func(m []byte) [][]byte {
			if m[1] == TypeKeyTransport {
				return nil
			}
			return [][]byte{m}
		})
	})
	// B answered a hello: its responder waits for the key transport.
	p.rb.waitFor(t, 5*time.Second, "B's hello sent", func(e Event) bool {
		h, ok := e.(HandshakeEvent)
		return ok && h.Step == StepVerify && h.Done
	})
	const pingID = 0xf100d
	pong := make(chan struct{})
	var once sync.Once
	p.pb.SetFilter(func(m []byte) [][]byte {
		if id, err := ParsePlainPing(m, TypePlainPong); err == nil && id == pingID {
			once.Do(func() { close(pong) })
		}
		return [][]byte{m}
	})
	const n = 5000
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	for range n {
		kt := randBytes(t, KeyTransportSize)
		kt[0], kt[1] = Version, TypeKeyTransport
		if err := p.pb.Inject(ctx, kt); err != nil {
			t.Fatal(err)
		}
	}
	// A plain ping queued behind the flood: its pong proves B handled it.
	if err := p.pb.Inject(ctx, AppendPlainPing(nil, TypePlainPing, pingID)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pong:
	case <-ctx.Done():
		t.Fatal("B did not get through the flood")
	}
	elapsed := time.Since(start)
	verified := p.rb.rejections(ReasonBadSignature)
	bound := 100 + int(500*elapsed.Seconds()) + 10
	t.Logf("%d forged key transports in %v: %d RSA verifications (bound %d)", n, elapsed, verified, bound)
	if verified > bound {
		t.Errorf("%d bad-signature rejections, want at most %d: key-transport verification is not rate limited", verified, bound)
	}
}

// TestNodeBadConfirmLeavesStateUnchanged: a confirmation that opens but
// does not match the transcript is rejected, and like every rejection it
// must leave the confirming session unchanged.
func TestNodeBadConfirmLeavesStateUnchanged(t *testing.T) {
	id := testIdentities(t)
	sa, sb := newSessionPair(t, SessionConfig{})
	pa, pb := NewPipe(16)
	defer pa.Close()
	r := newRecorder()
	n, err := NewNode(Config{Identity: id[1]}, pb, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	n.now, n.hs.peer, n.hs.pendingSess = testNow, id[0].Public(), sb
	wrong := make([]byte, HashSize)
	bad, _, err := sa.Seal(nil, TypeConfirm, wrong, testNow)
	if err != nil {
		t.Fatal(err)
	}
	before := snapSession(sb)
	n.handle(bad)
	if r.rejections(ReasonTampered) != 1 || n.sess != nil {
		t.Fatalf("bad confirm not rejected: %v", r.snapshot())
	}
	if after := snapSession(sb); after != before {
		t.Errorf("rejected confirm changed the session: %+v -> %+v", before, after)
	}
	th := sa.Transcript()
	good, _, err := sa.Seal(nil, TypeConfirm, th[:], testNow)
	if err != nil {
		t.Fatal(err)
	}
	n.handle(good)
	if n.sess != sb {
		t.Fatalf("good confirm after a bad one did not establish: %v", r.snapshot())
	}
}

// TestNodeDropsWrongCookie: hellos and key transports whose cookie is not
// the receiver's challenge are dropped before any RSA work or rejection
// event, so a host that cannot see the receiver's outgoing traffic cannot
// make it verify anything; the session keeps working.
func TestNodeDropsWrongCookie(t *testing.T) {
	var clock stoppableClock
	p := startPair(t, func(a, b *Config) { b.Now = clock.Now })
	p.establish(t)
	// With B's clock stopped its verify budget cannot refill, so any token a
	// wrong-cookie message took would show as a difference.
	clock.stop()
	var before, after float64
	onLoop(t, p.b, func() { before = p.b.budget.verify.tokens })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 5000; i++ {
		m := garbageHello(t)
		if i%2 == 1 {
			m = randBytes(t, KeyTransportSize)
			m[0], m[1] = Version, TypeKeyTransport
		}
		if err := p.pb.Inject(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The pipe is in order: once A's message reached B's screen, B had
	// handled every injected message before it.
	roundTrip(t, p, "after wrong cookies")
	onLoop(t, p.b, func() { after = p.b.budget.verify.tokens })
	clock.resume()
	if c := p.rb.count(func(e Event) bool { _, ok := e.(RejectedEvent); return ok }); c != 0 {
		t.Errorf("%d rejections: wrong-cookie messages reached verification", c)
	}
	if after != before {
		t.Errorf("verify budget spent on wrong cookies: %.2f tokens before the flood, %.2f after", before, after)
	}
}

// TestAttackReflectRecord: the man in the middle sends A's own CHAT record
// back to A. A refuses it `reflected` with the record's (A's own,
// authenticated) seq, shows nothing, and the session carries on both ways.
func TestAttackReflectRecord(t *testing.T) {
	var (
		mu   sync.Mutex
		chat []byte
	)
	p := startPairWith(t, nil, func(pa, _ *PipeEnd) {
		pa.SetFilter(func(m []byte) [][]byte {
			if len(m) > 1 && m[1] == TypeChat {
				mu.Lock()
				chat = append([]byte(nil), m...)
				mu.Unlock()
			}
			return [][]byte{m}
		})
	})
	p.establish(t)
	p.ra.waitDelivered(t, 5*time.Second, sendAll(t, p.a, "mine"))
	mu.Lock()
	rec := chat
	mu.Unlock()
	h, err := ParseRecordHeader(rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.pa.Inject(ctx, rec); err != nil {
		t.Fatal(err)
	}
	e := p.ra.waitFor(t, 5*time.Second, "reflected rejection", rejected(ReasonReflected)).(RejectedEvent)
	if !e.HasSeq || e.Seq != h.Seq {
		t.Errorf("reflected rejection %+v, want seq %d (A's own record)", e, h.Seq)
	}
	if n := p.ra.rejections(ReasonTampered); n != 0 {
		t.Errorf("A reported %d tampered records, want 0", n)
	}
	// Nothing moved: B's next message reaches A, A's next reaches B, once each.
	p.rb.waitDelivered(t, 5*time.Second, sendAll(t, p.b, "yours"))
	p.ra.waitDelivered(t, 5*time.Second, sendAll(t, p.a, "mine again"))
	exactlyOnce(t, p.ra, "yours")
	exactlyOnce(t, p.rb, "mine", "mine again")
	if n := p.ra.messageCount("mine"); n != 0 {
		t.Errorf("A displayed its own reflected message %d times", n)
	}
	if n := p.ra.count(isEstablished); n != 1 {
		t.Errorf("A established %d sessions, want 1", n)
	}
}
