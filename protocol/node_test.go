package protocol

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"duet/crypto"
)

func TestNodeHandshakeAndChat(t *testing.T) {
	p := startPair(t, nil)
	p.establish(t)
	ea := p.ra.waitFor(t, time.Second, "A session", isEstablished).(SessionEvent)
	eb := p.rb.waitFor(t, time.Second, "B session", isEstablished).(SessionEvent)
	if ea.SafetyNumber != eb.SafetyNumber || ea.SafetyNumber == "" {
		t.Fatalf("safety numbers differ: %q vs %q", ea.SafetyNumber, eb.SafetyNumber)
	}
	if ea.PeerFingerprint != p.b.Fingerprint().String() || eb.PeerFingerprint != p.a.Fingerprint().String() {
		t.Fatalf("peer fingerprints wrong")
	}
	for step := StepPublicKeys; step <= StepConfirm; step++ {
		for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
			if r.count(func(e Event) bool { h, ok := e.(HandshakeEvent); return ok && h.Step == step && h.Done }) == 0 {
				t.Errorf("%s: no done event for step %d", name, step)
			}
		}
	}
	const n = 100
	for i := 0; i < n; i++ {
		if _, err := p.a.Send(fmt.Sprintf("a%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.b.Send(fmt.Sprintf("b%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		r      *recorder
		prefix string
		sender *recorder
	}{{p.rb, "a", p.ra}, {p.ra, "b", p.rb}} {
		c.sender.waitFor(t, 10*time.Second, "all delivered", func(Event) bool {
			return c.sender.count(func(e Event) bool { _, ok := e.(DeliveredEvent); return ok }) >= n
		})
		var got []string
		for _, e := range c.r.snapshot() {
			if m, ok := e.(MessageEvent); ok {
				got = append(got, m.Text)
			}
		}
		if len(got) != n {
			t.Fatalf("got %d messages, want %d", len(got), n)
		}
		for i, s := range got {
			if s != fmt.Sprintf("%s%d", c.prefix, i) {
				t.Fatalf("message %d = %q", i, s)
			}
		}
	}
	p.ra.waitFor(t, 5*time.Second, "authenticated live", func(e Event) bool {
		l, ok := e.(LiveEvent)
		return ok && l.State == LiveLive && l.Authenticated
	})
}

// TestNodeBurstSharesRecords: a burst of messages written faster than the
// node seals them goes out packed, several to a CHATS record (each record
// pays for one key); the receiver shows every one exactly once, in the
// order written, and each gets its receipt. A lost CHATS record is resent
// (packed again) and its messages are still shown once and in order.
func TestNodeBurstSharesRecords(t *testing.T) {
	var (
		mu              sync.Mutex
		chatRecs, chats int
		dropFirst       = true
	)
	p := startPair(t, func(a, b *Config) { a.ResendAfter = 100 * time.Millisecond })
	p.establish(t)
	p.pa.SetFilter(func(m []byte) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		if len(m) > 1 && IsChatRecord(m[1]) {
			chatRecs++
			if m[1] == TypeChats {
				chats++
				if dropFirst {
					dropFirst = false
					return nil
				}
			}
		}
		return [][]byte{m}
	})
	msgs := texts("burst", 500)
	p.ra.waitDelivered(t, 20*time.Second, sendAll(t, p.a, msgs...))
	var got []string
	for _, e := range p.rb.snapshot() {
		if m, ok := e.(MessageEvent); ok {
			got = append(got, m.Text)
		}
	}
	if !slices.Equal(got, msgs) {
		t.Fatalf("shown %d messages, want the %d written, once each and in order", len(got), len(msgs))
	}
	mu.Lock()
	defer mu.Unlock()
	if chats == 0 || chatRecs >= len(msgs) {
		t.Errorf("%d chat records (%d of them CHATS) for %d messages: the burst was not packed", chatRecs, chats, len(msgs))
	}
	if dropFirst {
		t.Error("no CHATS record was dropped: the resend of a packed record was not exercised")
	}
}

// TestNodeInOrderAfterLoss drops two chat records in flight: the later
// messages arrive first but are held until the resent ones arrive, so the
// receiver shows all of them exactly once and in the order written.
func TestNodeInOrderAfterLoss(t *testing.T) {
	p := startPair(t, func(a, b *Config) { a.ResendAfter = 100 * time.Millisecond })
	p.establish(t)
	var dropped atomic.Int32
	p.pa.SetFilter(func(m []byte) [][]byte {
		if len(m) > 1 && IsChatRecord(m[1]) && dropped.Load() < 2 {
			if c := dropped.Add(1); c <= 2 {
				return nil
			}
		}
		return [][]byte{m}
	})
	const n = 20
	var msgs []string
	for i := range n {
		msgs = append(msgs, fmt.Sprintf("m%02d", i))
	}
	sendEach(t, p.a, p.ra, msgs...) // a record each: the first two are lost
	p.ra.waitFor(t, 10*time.Second, "all delivered", func(Event) bool {
		return p.ra.count(func(e Event) bool { _, ok := e.(DeliveredEvent); return ok }) >= n
	})
	var got []string
	for _, e := range p.rb.snapshot() {
		if m, ok := e.(MessageEvent); ok {
			got = append(got, m.Text)
		}
	}
	if dropped.Load() < 2 {
		t.Fatalf("filter dropped %d records, want 2", dropped.Load())
	}
	if len(got) != n {
		t.Fatalf("shown %d messages, want %d: %v", len(got), n, got)
	}
	for i, s := range got {
		if s != fmt.Sprintf("m%02d", i) {
			t.Fatalf("message %d shown as %q; order: %v", i, s, got)
		}
	}
}

// TestReceiveChatHoldsUntilPrev feeds a node's receive path directly.
func TestReceiveChatHoldsUntilPrev(t *testing.T) {
	id := testIdentities(t)
	pa, _ := NewPipe(1)
	r := newRecorder()
	n, err := NewNode(Config{Identity: id[0]}, pa, r.emit)
	if err != nil {
		t.Fatal(err)
	}
	shown := func() (ids []uint64) {
		for _, e := range r.snapshot() {
			if m, ok := e.(MessageEvent); ok {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	n.receiveChat(Chat{ID: 3, Prev: 2, Text: "c"}, 13)
	n.receiveChat(Chat{ID: 2, Prev: 1, Text: "b"}, 12)
	if got := shown(); len(got) != 0 || len(n.inbox.receipts) != 0 {
		t.Fatalf("held messages shown %v or acknowledged %v", got, n.inbox.receipts)
	}
	n.receiveChat(Chat{ID: 1, Text: "a"}, 11)
	n.showPending() // the end of the loop turn
	if got := fmt.Sprint(shown()); got != "[1 2 3]" {
		t.Fatalf("shown %s, want [1 2 3]", got)
	}
	n.receiveChat(Chat{ID: 2, Prev: 1, Text: "b"}, 14) // a resend
	n.showPending()
	if got := fmt.Sprint(shown()); got != "[1 2 3]" {
		t.Fatalf("resend shown again: %s", got)
	}
	if fmt.Sprint(n.inbox.receipts) != "[1 2 3 2]" {
		t.Fatalf("receipts %v, want every shown id and the duplicate", n.inbox.receipts)
	}
	if len(n.inbox.held) != 0 {
		t.Fatalf("%d messages still held", len(n.inbox.held))
	}
}

// TestNodeJunkKeyFloodDoesNotLockOutPeer floods A with an attacker's public
// key and forged hellos under it while the real peer starts: the attacker's
// candidacy never proved anything, so the peer's key replaces it and the
// session is established.
func TestNodeJunkKeyFloodDoesNotLockOutPeer(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	ra, rb := newRecorder(), newRecorder()
	a, _ := NewNode(Config{Identity: id[0], PingInterval: 50 * time.Millisecond, StepTimeout: 300 * time.Millisecond}, pa, ra.emit)
	b, _ := NewNode(Config{Identity: id[1], PingInterval: 50 * time.Millisecond, StepTimeout: 300 * time.Millisecond}, pb, rb.emit)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); a.Run(ctx) }()
	attackerKey := AppendPublicKey(nil, PublicKeyMsg{ReplyRequested: true, DER: id[2].Public().DER()})
	wg.Add(1)
	go func() {
		defer wg.Done()
		junk := make([]byte, HelloSize)
		junk[0], junk[1] = Version, TypeHello
		for i := 0; ctx.Err() == nil; i++ {
			if pa.Inject(ctx, attackerKey) != nil {
				return
			}
			junk[2] = byte(1 + i%2)
			junk[100] = byte(i)
			if pa.Inject(ctx, append([]byte(nil), junk...)) != nil {
				return
			}
			// 1,000 pairs a second: a flood, paced so that the one pipe
			// (which has none of the transport's fairness) does not hold
			// the peer's messages behind a backlog longer than the step
			// timeout on a busy machine, as TestHandshakeUnderPeerKeyFlood.
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	wg.Add(1)
	go func() { defer wg.Done(); b.Run(ctx) }()
	ra.waitFor(t, 30*time.Second, "A established with B under the flood", isEstablished)
	rb.waitFor(t, 30*time.Second, "B established under the flood", isEstablished)
	if fp, _, _ := a.Peer(); fp != b.Fingerprint() {
		t.Fatalf("A's session is with %s, want B", fp)
	}
}

// TestNodeRestartsLeakNoGoroutines restarts B twenty times against one A
// over in-memory pipes; when everything stops, the goroutine count is back
// at its baseline.
func TestNodeRestartsLeakNoGoroutines(t *testing.T) {
	id := testIdentities(t)
	base := runtime.NumGoroutine()
	pa, pb := NewPipe(4096)
	cfg := func(i *crypto.Identity) Config {
		return Config{Identity: i, PingInterval: 20 * time.Millisecond, StepTimeout: 200 * time.Millisecond}
	}
	ra := newRecorder()
	a, _ := NewNode(cfg(id[0]), pa, ra.emit)
	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan struct{})
	go func() { a.Run(ctxA); close(doneA) }()
	for i := 1; i <= 20; i++ {
		rb := newRecorder()
		b, _ := NewNode(cfg(id[1]), pb, rb.emit)
		ctxB, cancelB := context.WithCancel(context.Background())
		doneB := make(chan struct{})
		go func() { b.Run(ctxB); close(doneB) }()
		rb.waitFor(t, 5*time.Second, fmt.Sprintf("session %d at B", i), isEstablished)
		ra.waitFor(t, 5*time.Second, fmt.Sprintf("session %d at A", i), func(Event) bool { return ra.count(isEstablished) >= i })
		cancelB()
		<-doneB
	}
	cancelA()
	<-doneA
	pa.Close()
	pb.Close()
	var now int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= base {
			return
		}
	}
	t.Fatalf("%d goroutines after 20 restarts, %d before", now, base)
}

// TestNodeAutomaticRekey: A heals after every 8 records it seals (the
// count limit), and B heals on /rekey, while 60 messages flow: every
// message arrives once, in order, and both sides report the new epochs of
// both directions.
func TestNodeAutomaticRekey(t *testing.T) {
	p := startPair(t, func(a, b *Config) { a.RekeyAfter = 8 })
	p.establish(t)
	const n = 60
	for i := 0; i < n; i++ {
		if _, err := p.a.Send(fmt.Sprintf("r%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	p.ra.waitFor(t, 10*time.Second, "all delivered", func(Event) bool {
		return p.ra.count(func(e Event) bool { _, ok := e.(DeliveredEvent); return ok }) >= n
	})
	rekeyed := func(dir string) func(Event) bool {
		return func(e Event) bool {
			s, ok := e.(SessionEvent)
			return ok && s.State == SessionRekeyed && s.Direction == dir
		}
	}
	for side, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
		for _, dir := range []string{DirectionSend, DirectionReceive} {
			r.waitFor(t, 10*time.Second, side+" healed "+dir+" by A's count limit", rekeyed(dir))
		}
	}
	// B's /rekey: refused only while a healing of A's is under way.
	before := p.rb.count(rekeyed(DirectionSend))
	deadline := time.Now().Add(10 * time.Second)
	for err := p.b.Rekey(); err != nil; err = p.b.Rekey() {
		if !errors.Is(err, ErrHealing) || time.Now().After(deadline) {
			t.Fatalf("B's /rekey: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := p.b.Send("after B's rekey"); err != nil {
		t.Fatal(err)
	}
	p.ra.waitFor(t, 5*time.Second, "B's message after its rekey", func(e Event) bool {
		m, ok := e.(MessageEvent)
		return ok && m.Text == "after B's rekey"
	})
	p.rb.waitFor(t, 10*time.Second, "B's own healing", func(Event) bool { return p.rb.count(rekeyed(DirectionSend)) > before })
	var got []string
	for _, e := range p.rb.snapshot() {
		if m, ok := e.(MessageEvent); ok {
			got = append(got, m.Text)
		}
	}
	for i := 0; i < n; i++ {
		if i >= len(got) || got[i] != fmt.Sprintf("r%02d", i) || len(got) != n {
			t.Fatalf("messages at B: %v", got)
		}
	}
	t.Logf("A reported %d send and %d receive rekeys", p.ra.count(rekeyed(DirectionSend)), p.ra.count(rekeyed(DirectionReceive)))
}

// TestNodeSharedIdentity: both peers run with the same identity (one
// account, the default identity file): they order their roles by their
// challenges, establish a session and chat; a public key reflected with our
// own challenge is still refused.
func TestNodeSharedIdentity(t *testing.T) {
	id := testIdentities(t)
	p := startPair(t, func(a, b *Config) { b.Identity = id[0] })
	p.establish(t)
	roundTrip(t, p, "same key on both ends")
	if c := p.rb.count(func(e Event) bool { r, ok := e.(RejectedEvent); return ok && r.Reason == ReasonMalformed }); c != 0 {
		t.Fatalf("B rejected %d messages as malformed", c)
	}
	// A reflection of A's own public key message (same challenge) is refused.
	own := AppendPublicKey(nil, PublicKeyMsg{Challenge: p.a.challenge, DER: id[0].Public().DER()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.pa.Inject(ctx, own); err != nil {
		t.Fatal(err)
	}
	p.ra.waitFor(t, 2*time.Second, "reflection refused", func(e Event) bool {
		r, ok := e.(RejectedEvent)
		return ok && strings.Contains(r.Detail, "our own public key")
	})
}
