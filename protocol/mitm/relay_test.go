package mitm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol"
	"duet/protocol/internal/prototest"
)

// eventLog records a MITM's events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) emit(e protocol.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e.(Event))
	l.mu.Unlock()
}

// count counts the events for which ok holds.
func (l *eventLog) count(ok func(Event) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ev := range l.evs {
		if ok(ev) {
			n++
		}
	}
	return n
}

// waitFor waits up to d for an event for which ok holds: the relay reports
// some actions after the message they concern has moved on (Intercepted
// after the impostor passed the text on), so a test that saw the message
// arrive waits for the report rather than reading the log at once.
func (l *eventLog) waitFor(t *testing.T, d time.Duration, what string, ok func(Event) bool) {
	t.Helper()
	for deadline := time.Now().Add(d); l.count(ok) == 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: %v", what, d, l.events())
		}
	}
}

func (l *eventLog) events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.evs...)
}

// recorder collects a node's events.
type recorder = prototest.Recorder[protocol.Event]

func newRecorder() *recorder { return prototest.NewRecorder[protocol.Event]() }

// testConfig is the node config of protocol's tests for id: pings every
// 50 ms, handshake steps time out after 300 ms.
func testConfig(id *crypto.Identity) protocol.Config {
	return protocol.Config{Identity: id, PingInterval: 50 * time.Millisecond, StepTimeout: 300 * time.Millisecond}
}

// startNode runs a node over tr until stop is called or the test ends.
func startNode(t *testing.T, cfg protocol.Config, tr protocol.Transport, emit func(protocol.Event)) (n *protocol.Node, stop func()) {
	t.Helper()
	n, err := protocol.NewNode(cfg, tr, emit)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return n, stop
}

func isEstablished(e protocol.Event) bool {
	s, ok := e.(protocol.SessionEvent)
	return ok && s.State == protocol.SessionEstablished
}

// rejected matches RejectedEvents with the given reason.
func rejected(reason string) func(protocol.Event) bool {
	return func(e protocol.Event) bool {
		r, ok := e.(protocol.RejectedEvent)
		return ok && r.Reason == reason
	}
}

// showed matches MessageEvents carrying text.
func showed(text string) func(protocol.Event) bool {
	return func(e protocol.Event) bool { m, ok := e.(protocol.MessageEvent); return ok && m.Text == text }
}

// pair is two nodes talking through a MITM over in-memory pipes.
type pair struct {
	a, b   *protocol.Node
	ra, rb *recorder
	m      *Relay
	eventLog
}

func startPair(t *testing.T) *pair { t.Helper(); return startPairWith(t, nil) }

// startPairWith is startPair with the nodes' configs changed by tweak
// (and the relay told their timestamp window) before they start.
func startPairWith(t *testing.T, tweak func(a, b *protocol.Config)) *pair {
	t.Helper()
	id := prototest.Identities(t)
	p := &pair{ra: newRecorder(), rb: newRecorder()}
	p.m = New(p.emit, id[2].Public())
	ca, cb := testConfig(id[0]), testConfig(id[1])
	ca.ResendAfter, cb.ResendAfter = 300*time.Millisecond, 300*time.Millisecond
	if tweak != nil {
		tweak(&ca, &cb)
		if cb.Window > 0 {
			p.m.SetWindow(cb.Window)
		}
	}
	aEnd, bEnd := runRelay(t, p.m)
	p.a, _ = startNode(t, ca, aEnd, p.ra.Emit)
	p.b, _ = startNode(t, cb, bEnd, p.rb.Emit)
	p.ra.WaitFor(t, 10*time.Second, "A established through the MITM", isEstablished)
	p.rb.WaitFor(t, 10*time.Second, "B established through the MITM", isEstablished)
	return p
}

// send has A send text and waits until B showed it once.
func (p *pair) send(t *testing.T, text string) {
	t.Helper()
	if _, err := p.a.Send(text); err != nil {
		t.Fatal(err)
	}
	p.rb.WaitFor(t, 10*time.Second, "B shows "+text, func(e protocol.Event) bool { m, ok := e.(protocol.MessageEvent); return ok && m.Text == text })
}

// TestRelaysUnchanged: with nothing armed, the MITM passes everything
// on (a session, messages both ways) and reports each message relayed.
// Resends wait a minute here: a resend under load would be a second CHAT.
func TestRelaysUnchanged(t *testing.T) {
	p := startPairWith(t, func(a, b *protocol.Config) { a.ResendAfter, b.ResendAfter = time.Minute, time.Minute })
	p.send(t, "through the middle")
	if _, err := p.b.Send("and back"); err != nil {
		t.Fatal(err)
	}
	p.ra.WaitFor(t, 10*time.Second, "A shows B's reply", func(e protocol.Event) bool { m, ok := e.(protocol.MessageEvent); return ok && m.Text == "and back" })
	// The relay reports a record after passing it on: wait for both reports.
	for _, f := range []Flow{FlowAB, FlowBA} {
		p.waitFor(t, 10*time.Second, "the relay's report of a CHAT", func(ev Event) bool { return ev.Flow == f && ev.Type == protocol.TypeChat })
	}
	var chats [2]int
	for _, ev := range p.events() {
		if ev.Action != Relayed {
			t.Errorf("unexpected MITM event %+v", ev)
		}
		if ev.Type == protocol.TypeChat {
			chats[ev.Flow]++
			if !ev.HasSeq || ev.Size < protocol.MinRecordSize {
				t.Errorf("CHAT event without its seq or size: %+v", ev)
			}
		}
	}
	if chats[FlowAB] != 1 || chats[FlowBA] != 1 {
		t.Errorf("CHAT records relayed a->b %d, b->a %d, want 1 and 1", chats[FlowAB], chats[FlowBA])
	}
	for _, r := range []*recorder{p.ra, p.rb} {
		if n := r.Count(func(e protocol.Event) bool { _, ok := e.(protocol.RejectedEvent); return ok }); n != 0 {
			t.Errorf("rejections through a passive MITM: %d", n)
		}
	}
}

// TestAttacksRejected: each attack is refused by the receiver with
// the reason the protocol gives for it, and the message attacked is shown
// exactly once (late, resent, where the attack kept it from B).
func TestAttacksRejected(t *testing.T) {
	for _, c := range []struct {
		attack Attack
		reason string // the rejection B reports; "" for none
		hasSeq bool   // ...with the record's authenticated seq
		gap    bool   // B reports a gap
	}{
		{Replay, protocol.ReasonReplay, true, false},
		{Tamper, protocol.ReasonTampered, false, false}, // the header did not authenticate
		{Reorder, protocol.ReasonReorder, false, true},  // decided before authentication: the late record's key is erased
		{Drop, "", false, true},
		{Jump, protocol.ReasonTooFar, false, false}, // more than keys.MaxSkip ahead: refused before any key
	} {
		t.Run(c.attack.String(), func(t *testing.T) {
			p := startPair(t)
			p.send(t, "before the attack")
			ctx := context.Background()
			text := "attacked: " + c.attack.String()
			if c.attack == Replay {
				if err := p.m.Arm(ctx, FlowAB, Replay); err != nil {
					t.Fatal(err)
				}
				text = "before the attack"
			} else {
				if err := p.m.Arm(ctx, FlowAB, c.attack); err != nil {
					t.Fatal(err)
				}
				p.send(t, text)
			}
			if c.reason != "" {
				ev := p.rb.WaitFor(t, 10*time.Second, "B rejects "+c.reason, rejected(c.reason)).(protocol.RejectedEvent)
				if ev.HasSeq != c.hasSeq {
					t.Errorf("rejection %+v: HasSeq %v, want %v", ev, ev.HasSeq, c.hasSeq)
				}
			}
			if c.gap {
				p.rb.WaitFor(t, 10*time.Second, "B reports a gap", func(e protocol.Event) bool { _, ok := e.(protocol.GapEvent); return ok })
			}
			// The session goes on: one more message, then the attacked one
			// was shown exactly once.
			p.send(t, "after the attack")
			if n := p.rb.Count(showed(text)); n != 1 {
				t.Errorf("B showed %q %d times, want once", text, n)
			}
			for _, r := range []*recorder{p.ra, p.rb} {
				if n := r.Count(func(e protocol.Event) bool {
					s, ok := e.(protocol.SessionEvent)
					return ok && s.State != protocol.SessionEstablished
				}); n != 0 {
					t.Errorf("the attack changed a session (%d session events)", n)
				}
			}
			want := map[Attack]string{Replay: Replayed, Tamper: Tampered, Reorder: Released, Drop: Dropped, Jump: Jumped}[c.attack]
			found := false
			for _, ev := range p.events() {
				if ev.Action == want && ev.Attack == c.attack && ev.Flow == FlowAB && ev.Type == protocol.TypeChat {
					found = true
				}
			}
			if !found {
				t.Errorf("no %q event for the attacked CHAT: %+v", want, p.events())
			}
		})
	}
}

// TestArmErrors: a replay with nothing to replay, before Run, or an
// unknown attack is refused and changes nothing.
func TestArmErrors(t *testing.T) {
	m := New(func(protocol.Event) {}, nil)
	ctx := context.Background()
	if err := m.Arm(ctx, FlowAB, Replay); !errors.Is(err, ErrNotRunning) {
		t.Errorf("replay before Run: %v, want ErrNotRunning", err)
	}
	if err := m.Arm(ctx, FlowAB, Attack(99)); !errors.Is(err, ErrUnknownAttack) {
		t.Errorf("attack 99: %v", err)
	}
	if err := m.Arm(ctx, FlowAB, KeySub); !errors.Is(err, ErrUnknownAttack) {
		t.Errorf("keysub without a key of its own: %v", err)
	}
	if m.keysub[FlowAB] {
		t.Error("a refused keysub is on")
	}
	if err := m.Arm(ctx, FlowAB, Impersonate); !errors.Is(err, ErrUnknownAttack) {
		t.Errorf("impersonate without an identity of its own: %v", err)
	}
	m.ImpersonateAs(prototest.Identities(t)[2])
	if err := m.Arm(ctx, FlowAB, Impersonate); !errors.Is(err, ErrNotRunning) {
		t.Errorf("impersonate before Run: %v, want ErrNotRunning", err)
	}
	if m.imp != nil {
		t.Error("a refused impersonation is on")
	}
	if _, err := ParseAttack("nuke"); !errors.Is(err, ErrUnknownAttack) {
		t.Errorf("ParseAttack(nuke): %v", err)
	}
	for a := Replay; a <= lastAttack; a++ {
		if got, err := ParseAttack(a.String()); err != nil || got != a {
			t.Errorf("ParseAttack(%q) = %v, %v", a.String(), got, err)
		}
	}
	p := startPair(t)
	if err := p.m.Arm(ctx, FlowBA, Replay); !errors.Is(err, ErrNothingToReplay) {
		t.Errorf("replay before any CHAT: %v, want ErrNothingToReplay", err)
	}
}

// TestProcessGarbage: bytes that are no duet message at all, short
// records, and records of every type pass through process unchanged (the
// receiver refuses them), with nothing armed.
func TestProcessGarbage(t *testing.T) {
	m := New(func(protocol.Event) {}, nil)
	for _, msg := range [][]byte{nil, {}, {0x01}, {0x02, protocol.TypeChat}, {protocol.Version, protocol.TypeChat, 1, 2, 3}, make([]byte, protocol.MinRecordSize)} {
		out, evs, back := m.process(FlowAB, msg)
		if len(out) != 1 || string(out[0]) != string(msg) || len(evs) != 1 || evs[0].Action != Relayed || back != nil {
			t.Errorf("process(%x) = %x, %+v", msg, out, evs)
		}
	}
}

var fuzzSubKey *crypto.Identity

func rec0() []byte {
	r := make([]byte, protocol.MinRecordSize)
	r[0], r[1] = protocol.Version, protocol.TypeChat
	return r
}

// FuzzProcess: whatever two messages arrive on a flow, with any attack
// armed, process never panics, and every message it passes on (or, for
// reflect, sends back) is one of them unchanged, or (tamper) one of them
// with exactly one bit flipped, or (keysub) a PUBLIC_KEY carrying the
// MITM's key, or (downgrade) a hello with its ML-KEM share cut out.
func FuzzProcess(f *testing.F) {
	fuzzSubKey = prototest.Identities(f)[2]
	f.Add(uint8(0x80), protocol.AppendPublicKey(nil, protocol.PublicKeyMsg{DER: prototest.Identities(f)[0].Public().DER()}), rec0())
	rec := make([]byte, protocol.MinRecordSize+8)
	rec[0], rec[1] = protocol.Version, protocol.TypeChat
	ping := append([]byte(nil), rec...)
	ping[1] = protocol.TypePing
	f.Add(uint8(0), rec, ping)
	f.Add(uint8(Tamper), rec, ping)
	f.Add(uint8(Reorder), rec, ping)
	f.Add(uint8(Drop), rec, []byte{})
	f.Add(uint8(Reorder), []byte{protocol.Version, protocol.TypeChat}, rec)
	f.Fuzz(func(t *testing.T, attack uint8, m1, m2 []byte) {
		m := New(func(protocol.Event) {}, fuzzSubKey.Public())
		m.SetWindow(time.Hour) // stale: the release (not running: dropped) never comes during the test
		switch a := Attack(attack % 10); a {
		case KeySub, Impersonate:
		case Downgrade:
			m.strip[FlowAB] = true
		default:
			m.armed[FlowAB] = a
		}
		m.keysub[FlowAB] = attack&0x80 != 0
		in := [][]byte{append([]byte(nil), m1...), append([]byte(nil), m2...)}
		var out [][]byte
		for _, msg := range in {
			o, evs, back := m.process(FlowAB, msg)
			if len(evs) < len(o) {
				t.Fatalf("%d messages out, %d events", len(o), len(evs))
			}
			out = append(out, o...)
			if back != nil {
				if Attack(attack%10) != Reflect || !bytes.Equal(back, msg) {
					t.Fatalf("sent back %x (attack %d, message %x)", back, attack%10, msg)
				}
				out = append(out, back)
			}
		}
		if len(out) > 3 {
			t.Fatalf("%d messages out of 2 in", len(out))
		}
		for _, o := range out {
			if pk, err := protocol.ParsePublicKeyMsg(o); err == nil && m.keysub[FlowAB] {
				if !slices.ContainsFunc(m.subKeys, func(k *crypto.PublicKey) bool { return bytes.Equal(k.DER(), pk.DER) }) {
					t.Fatalf("keysub passed on a PUBLIC_KEY with another key: %x", o)
				}
				continue
			}
			ok := false
			for _, i := range [][]byte{m1, m2} {
				if v1, cut := StripShare(i); cut && Attack(attack%10) == Downgrade && bytes.Equal(o, v1) {
					ok = true
				}
				if len(o) != len(i) {
					continue
				}
				diff := 0
				for k := range o {
					for x := o[k] ^ i[k]; x != 0; x &= x - 1 {
						diff++
					}
				}
				if diff == 0 || (diff == 1 && Attack(attack%10) == Tamper) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("passed on %x, which is neither input (%x, %x)", o, m1, m2)
			}
		}
	})
}

// TestKeySubstitution: with keysub on, the PUBLIC_KEY a peer sends
// reaches the other carrying the MITM's key; the handshake of a restarted
// peer then fails its signature check (bad-signature) and no session is
// made, while the old one goes on untouched. Once disarmed, the restarted
// peer's next attempt makes the session.
func TestKeySubstitution(t *testing.T) {
	id := prototest.Identities(t)
	ra, rb := newRecorder(), newRecorder()
	var log eventLog
	m := New(log.emit, id[2].Public())
	aEnd, bEnd := runRelay(t, m)
	ca, cb := testConfig(id[0]), testConfig(id[1])
	startNode(t, ca, aEnd, ra.Emit)
	_, stopB1 := startNode(t, cb, bEnd, rb.Emit)
	ctx := context.Background()
	ra.WaitFor(t, 10*time.Second, "A established", isEstablished)
	rb.WaitFor(t, 10*time.Second, "B established", isEstablished)

	for _, f := range []Flow{FlowAB, FlowBA} {
		if err := m.Arm(ctx, f, KeySub); err != nil {
			t.Fatal(err)
		}
	}
	stopB1() // B restarts: a new handshake, through the substituting MITM
	rb2 := newRecorder()
	startNode(t, cb, bEnd, rb2.Emit)
	badSig := func() int {
		return ra.Count(rejected(protocol.ReasonBadSignature)) + rb2.Count(rejected(protocol.ReasonBadSignature))
	}
	deadline := time.Now().Add(10 * time.Second)
	for badSig() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no bad-signature rejection; A: %v\nB: %v", ra.Snapshot(), rb2.Snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := rb2.Count(isEstablished); n != 0 {
		t.Fatalf("restarted B made a session through a key-substituting MITM")
	}
	if log.count(func(ev Event) bool { return ev.Action == Substituted && ev.Type == protocol.TypePublicKey }) == 0 {
		t.Fatal("no PUBLIC_KEY reported substituted")
	}

	m.Disarm(FlowAB)
	m.Disarm(FlowBA)
	rb2.WaitFor(t, 10*time.Second, "restarted B established once keysub is off", isEstablished)
}

// TestPicksRolePreservingKey: keysub puts in each PUBLIC_KEY a key of
// its own that orders against the receiver's key as the real sender's
// does, so both sides keep their roles and the receiver's refusal is the
// signature check; before both real keys are known it uses its first.
func TestPicksRolePreservingKey(t *testing.T) {
	var pubs []*crypto.PublicKey
	for _, k := range prototest.Identities(t) {
		pubs = append(pubs, k.Public())
	}
	for range 2 {
		k, err := crypto.GenerateIdentity(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, k.Public())
	}
	slices.SortFunc(pubs, func(a, b *crypto.PublicKey) int {
		fa, fb := a.Fingerprint(), b.Fingerprint()
		return bytes.Compare(fa[:], fb[:])
	})
	// Fingerprint order: p0 < p1 < p2 < p3 < p4. The peers are p1 and p3;
	// the MITM has p0, p2 and p4, the first of them p4.
	a, b := pubs[1], pubs[3]
	m := New(func(protocol.Event) {}, pubs[4], pubs[0], pubs[2])
	m.keysub = [2]bool{true, true}
	pkMsg := func(k *crypto.PublicKey) []byte {
		return protocol.AppendPublicKey(nil, protocol.PublicKeyMsg{DER: k.DER()})
	}
	subOf := func(out [][]byte) *crypto.PublicKey {
		t.Helper()
		pk, err := protocol.ParsePublicKeyMsg(out[0])
		if err != nil {
			t.Fatal(err)
		}
		k, err := crypto.ParsePublicKey(pk.DER)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// A's key goes to B before B's key is known: the first key.
	out, _, _ := m.process(FlowAB, pkMsg(a))
	if got := subOf(out); got.Fingerprint() != pubs[4].Fingerprint() {
		t.Errorf("before B's key is known: %s, want the first key", got.Fingerprint().Short())
	}
	// B's key goes to A (A < B): a key above A's, so A stays the initiator.
	out, _, _ = m.process(FlowBA, pkMsg(b))
	if got := subOf(out).Fingerprint(); !a.Fingerprint().Less(got) {
		t.Errorf("B's key replaced by %s, not above A's %s", got.Short(), a.Fingerprint().Short())
	}
	// A's key goes to B again: now a key below B's.
	out, _, _ = m.process(FlowAB, pkMsg(a))
	if got := subOf(out).Fingerprint(); !got.Less(b.Fingerprint()) {
		t.Errorf("A's key replaced by %s, not below B's %s", got.Short(), b.Fingerprint().Short())
	}
}

// TestGeneratesFittingKeys: with no key of its own that keeps the
// peers' roles, arming keysub makes keys until one does (and stops there).
func TestGeneratesFittingKeys(t *testing.T) {
	ids := prototest.Identities(t) // fingerprint order: ids[0] < ids[2] < ids[1]
	a, b := ids[0].Public(), ids[2].Public()
	// A's PUBLIC_KEY to B needs a key below B's (A's is). Offered in this
	// order: two keys above B's, then one below.
	above := prototest.IdentityOrdered(t, ids[1].Public().Fingerprint(), false)
	offers := []*crypto.PublicKey{ids[1].Public(), above.Public(), ids[0].Public()}
	calls := 0
	m := New(func(protocol.Event) {})
	m.GenerateKeysWith(func() (*crypto.PublicKey, error) {
		if calls == len(offers) {
			return nil, errors.New("out of keys")
		}
		calls++
		return offers[calls-1], nil
	})
	pkMsg := func(k *crypto.PublicKey) []byte {
		return protocol.AppendPublicKey(nil, protocol.PublicKeyMsg{DER: k.DER()})
	}
	m.process(FlowAB, pkMsg(a))
	m.process(FlowBA, pkMsg(b))
	if err := m.Arm(context.Background(), FlowAB, KeySub); err != nil {
		t.Fatal(err)
	}
	k := m.fits(FlowAB)
	if k == nil || !k.Fingerprint().Less(b.Fingerprint()) {
		t.Fatalf("no key below B's after arming (%d made)", calls)
	}
	if calls != len(offers) {
		t.Fatalf("%d keys made, want %d (until the first that fits)", calls, len(offers))
	}
	made := calls
	if err := m.Arm(context.Background(), FlowAB, KeySub); err != nil || calls != made {
		t.Errorf("arming again made %d more keys (err %v)", calls-made, err)
	}
}

// pinTo is a VerifyPeer that accepts only fp (a known_peers entry).
func pinTo(fp crypto.Fingerprint) func(*crypto.PublicKey) (crypto.Trust, error) {
	return func(k *crypto.PublicKey) (crypto.Trust, error) {
		if k.Fingerprint() != fp {
			return crypto.TrustUnknown, fmt.Errorf("test pin: %w", crypto.ErrKeyChanged)
		}
		return crypto.TrustKnown, nil
	}
}

// runRelay runs m between two fresh pipes and returns the peers' ends.
func runRelay(t *testing.T, m *Relay) (aEnd, bEnd *protocol.PipeEnd) {
	t.Helper()
	aEnd, mA := protocol.NewPipe(4096)
	bEnd, mB := protocol.NewPipe(4096)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, mA, mB) }()
	t.Cleanup(func() {
		cancel()
		for _, e := range []*protocol.PipeEnd{aEnd, bEnd, mA, mB} {
			e.Close()
		}
		if err := <-done; err != nil && !errors.Is(err, protocol.ErrPipeClosed) {
			t.Errorf("Relay.Run: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		running := m.running
		m.mu.Unlock()
		if running {
			return aEnd, bEnd
		}
		if time.Now().After(deadline) {
			t.Fatal("MITM not running")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestImpersonationRefusedByPinning: peers that know each other's key
// refuse the MITM's (key-changed) when it starts impersonating both, and
// make no session with it.
func TestImpersonationRefusedByPinning(t *testing.T) {
	id := prototest.Identities(t)
	m := New(func(protocol.Event) {})
	m.ImpersonateAs(id[2])
	aEnd, bEnd := runRelay(t, m)
	ca, cb := testConfig(id[0]), testConfig(id[1])
	ca.VerifyPeer, cb.VerifyPeer = pinTo(id[1].Public().Fingerprint()), pinTo(id[0].Public().Fingerprint())
	ra, rb := newRecorder(), newRecorder()
	startNode(t, ca, aEnd, ra.Emit)
	startNode(t, cb, bEnd, rb.Emit)
	ra.WaitFor(t, 10*time.Second, "A established", isEstablished)
	rb.WaitFor(t, 10*time.Second, "B established", isEstablished)

	if err := m.Arm(context.Background(), FlowAB, Impersonate); err != nil {
		t.Fatal(err)
	}
	ra.WaitFor(t, 10*time.Second, "A refuses the impostor", rejected(protocol.ReasonKeyChanged))
	rb.WaitFor(t, 10*time.Second, "B refuses the impostor", rejected(protocol.ReasonKeyChanged))
	if na, nb := ra.Count(isEstablished), rb.Count(isEstablished); na != 1 || nb != 1 {
		t.Errorf("sessions: A %d, B %d; want only the first each", na, nb)
	}
}

// TestImpersonationFirstContact: peers that know no key (a first
// contact) each get a session with the MITM impersonating the other: the
// messages pass, read by the MITM, and only the safety numbers differ.
// This is what comparing safety numbers (/verify) is for.
func TestImpersonationFirstContact(t *testing.T) {
	id := prototest.Identities(t)
	var log eventLog
	m := New(log.emit)
	m.ImpersonateAs(id[2])
	aEnd, bEnd := runRelay(t, m)
	if err := m.Arm(context.Background(), FlowAB, Impersonate); err != nil {
		t.Fatal(err)
	}
	ra, rb := newRecorder(), newRecorder()
	a, _ := startNode(t, testConfig(id[0]), aEnd, ra.Emit)
	startNode(t, testConfig(id[1]), bEnd, rb.Emit)
	sa := ra.WaitFor(t, 10*time.Second, "A's session", isEstablished).(protocol.SessionEvent)
	sb := rb.WaitFor(t, 10*time.Second, "B's session", isEstablished).(protocol.SessionEvent)
	mitmFP := id[2].Public().Fingerprint().String()
	if sa.PeerFingerprint != mitmFP || sb.PeerFingerprint != mitmFP {
		t.Fatalf("peers see %s and %s, want the MITM's key %s", sa.PeerFingerprint, sb.PeerFingerprint, mitmFP)
	}
	if sa.SafetyNumber == sb.SafetyNumber {
		t.Fatal("the two sides show the same safety number through an impostor")
	}
	if _, err := a.Send("for B's eyes only"); err != nil {
		t.Fatal(err)
	}
	rb.WaitFor(t, 10*time.Second, "B gets A's message through the impostor", func(e protocol.Event) bool {
		m, ok := e.(protocol.MessageEvent)
		return ok && m.Text == "for B's eyes only"
	})
	log.waitFor(t, 10*time.Second, "intercepted report", func(ev Event) bool { return ev.Action == Intercepted })
	var read []string
	for _, ev := range log.events() {
		if ev.Action == Intercepted {
			read = append(read, ev.Text)
		}
	}
	if len(read) != 1 || read[0] != "for B's eyes only" {
		t.Errorf("the MITM read %q", read)
	}
}

// TestStaleAttack: stale holds A's next CHAT record and everything A sends
// after it for B's timestamp window plus a second, then releases them in
// order: B refuses the CHAT record `stale` (with its authenticated seq;
// the seq check passes, the run being in order), and A's message, resent
// by its delivery layer, is shown exactly once. The session goes on.
func TestStaleAttack(t *testing.T) {
	const window = time.Second
	p := startPairWith(t, func(a, b *protocol.Config) { a.Window, b.Window = window, window })
	p.send(t, "before the attack")
	if err := p.m.Arm(context.Background(), FlowAB, Stale); err != nil {
		t.Fatal(err)
	}
	id, err := p.a.Send("held past the window")
	if err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, 10*time.Second, "the CHAT record held", func(e Event) bool {
		return e.Action == Held && e.Attack == Stale && e.Type == protocol.TypeChat && e.Flow == FlowAB
	})
	ev := p.rb.WaitFor(t, 20*time.Second, "B refuses the held record", rejected(protocol.ReasonStale)).(protocol.RejectedEvent)
	if !ev.HasSeq {
		t.Errorf("stale rejection without the record's seq: %+v", ev)
	}
	p.ra.WaitFor(t, 20*time.Second, "A's message delivered", func(e protocol.Event) bool { d, ok := e.(protocol.DeliveredEvent); return ok && d.ID == id })
	p.send(t, "after the attack")
	if n := p.rb.Count(showed("held past the window")); n != 1 {
		t.Errorf("B showed the held message %d times, want once", n)
	}
	if n := p.rb.Count(rejected(protocol.ReasonReorder)); n != 0 {
		t.Errorf("B reported %d records out of order: the run is released in order", n)
	}
	var released []uint32
	for _, e := range p.events() {
		if e.Action == Released && e.Attack == Stale && e.HasSeq {
			released = append(released, e.Seq)
		}
	}
	if len(released) == 0 || !slices.IsSorted(released) {
		t.Errorf("released seqs %v: want the held records, in order", released)
	}
	for _, r := range []*recorder{p.ra, p.rb} {
		if n := r.Count(func(e protocol.Event) bool {
			s, ok := e.(protocol.SessionEvent)
			return ok && s.State != protocol.SessionEstablished && s.State != protocol.SessionRekeyed
		}); n != 0 {
			t.Errorf("the attack changed a session (%d session events)", n)
		}
	}
}

// TestReflectAttack: reflect passes A's next session record on to B and
// sends a copy back to A: A refuses it `reflected` (with its own seq),
// never `tampered`, and the session goes on both ways, B none the wiser.
func TestReflectAttack(t *testing.T) {
	p := startPair(t)
	p.send(t, "before the attack")
	if err := p.m.Arm(context.Background(), FlowAB, Reflect); err != nil {
		t.Fatal(err)
	}
	ev := p.ra.WaitFor(t, 10*time.Second, "A refuses its own record", rejected(protocol.ReasonReflected)).(protocol.RejectedEvent)
	p.waitFor(t, 10*time.Second, "the reflected event", func(e Event) bool {
		return e.Action == Reflected && e.Attack == Reflect && e.Flow == FlowBA && e.HasSeq && e.Seq == ev.Seq
	})
	if !ev.HasSeq {
		t.Errorf("reflected rejection without a seq: %+v", ev)
	}
	p.send(t, "after the attack")
	if _, err := p.b.Send("and back"); err != nil {
		t.Fatal(err)
	}
	p.ra.WaitFor(t, 10*time.Second, "A shows B's message", showed("and back"))
	if n := p.ra.Count(rejected(protocol.ReasonTampered)); n != 0 {
		t.Errorf("A reported %d tampered records", n)
	}
	if n := p.rb.Count(func(e protocol.Event) bool { _, ok := e.(protocol.RejectedEvent); return ok }); n != 0 {
		t.Errorf("B rejected %d records", n)
	}
	if n := p.count(func(e Event) bool { return e.Action == Reflected }); n != 1 {
		t.Errorf("%d records reflected, want 1 (one-shot)", n)
	}
}
