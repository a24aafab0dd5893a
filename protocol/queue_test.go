package protocol

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestByteBudget(t *testing.T) {
	b := newByteBudget(100)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.acquire(ctx, 250); err != nil { // larger than the budget: fits when empty
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- b.acquire(ctx, 10) }()
	select {
	case err := <-got:
		t.Fatalf("acquire over the budget returned %v at once", err)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(250)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if !b.tryAcquire(90) || b.tryAcquire(1) {
		t.Fatal("tryAcquire: want 90 to fit and 1 more not")
	}
	if b.below(0.5) {
		t.Fatal("below(0.5) with 100 of 100 used")
	}
	short, c2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer c2()
	if err := b.acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire on a full budget: %v", err)
	}
}

// sourcedPipe is a PipeEnd that names a connection (like net.Transport's
// RecvFrom) and can report refused messages.
type sourcedPipe struct {
	*PipeEnd
	mu      sync.Mutex
	refuse  []uint64 // refusal counts to report before the next message
	marked  map[uint64]int
	kick    chan struct{}
	pending chan []byte
}

type testRefused struct{ n uint64 }

func (e testRefused) Error() string        { return "refused" }
func (e testRefused) RefusedCount() uint64 { return e.n }

func (p *sourcedPipe) RecvFrom(ctx context.Context) ([]byte, uint64, error) {
	for {
		p.mu.Lock()
		if len(p.refuse) > 0 {
			n := p.refuse[0]
			p.refuse = p.refuse[1:]
			p.mu.Unlock()
			return nil, 0, testRefused{n}
		}
		p.mu.Unlock()
		select {
		case m := <-p.pending:
			return m, 7, nil
		case <-p.kick:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
}

func (p *sourcedPipe) MarkProven(src uint64) {
	p.mu.Lock()
	p.marked[src]++
	p.mu.Unlock()
}

func (p *sourcedPipe) addRefusals(ns ...uint64) {
	p.mu.Lock()
	p.refuse = append(p.refuse, ns...)
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// TestNodeSourcedTransport: a node over a transport that names connections
// marks the connection authenticated once it carried an accepted session
// record, and reports refused transport messages as rejected too-large
// events, at most one a second, counting them all.
func TestNodeSourcedTransport(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	sp := &sourcedPipe{PipeEnd: pa, marked: map[uint64]int{}, kick: make(chan struct{}, 1), pending: make(chan []byte, 4096)}
	go func() {
		for {
			m, err := pa.Recv(context.Background())
			if err != nil {
				return
			}
			sp.pending <- m
		}
	}()
	ra, rb := newRecorder(), newRecorder()
	startNode(t, testConfig(id[0]), sp, ra.emit)
	startNode(t, testConfig(id[1]), pb, rb.emit)
	ra.waitFor(t, 10*time.Second, "A established", isEstablished)
	rb.waitFor(t, 10*time.Second, "B established", isEstablished)
	deadline := time.Now().Add(5 * time.Second)
	for {
		sp.mu.Lock()
		n := sp.marked[7]
		sp.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection was never marked authenticated")
		}
		time.Sleep(10 * time.Millisecond)
	}

	sp.addRefusals(2)
	ev := ra.waitFor(t, 5*time.Second, "a refusal report", rejected(ReasonTooLarge)).(RejectedEvent)
	if ev.Count != 2 || !strings.Contains(ev.Detail, "1048576") {
		t.Errorf("first report: %+v", ev)
	}
	start := time.Now()
	for range 5 {
		sp.addRefusals(3)
		time.Sleep(5 * time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Second)
	for ra.rejections(ReasonTooLarge) < 17 {
		if time.Now().After(deadline) {
			t.Fatalf("refusals reported: %d of 17", ra.rejections(ReasonTooLarge))
		}
		time.Sleep(10 * time.Millisecond)
	}
	events := ra.count(rejected(ReasonTooLarge))
	if limit := 2 + int(time.Since(start)/time.Second) + 1; events > limit {
		t.Errorf("%d refusal events in %v, want at most %d", events, time.Since(start), limit)
	}
}

func TestSendQueueFull(t *testing.T) {
	id := testIdentities(t)
	pa, _ := NewPipe(1)
	n, err := NewNode(Config{Identity: id[0], MaxUnacked: 3}, pa, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := n.Send("x"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.Send("x"); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("4th send: %v, want ErrQueueFull", err)
	}
	if _, err := n.Send(string(make([]byte, MaxTextSize+1))); !errors.Is(err, ErrTextTooLarge) {
		t.Fatalf("oversized text: %v", err)
	}
}

// TestNodeMarksEchoProven: before any session, a PUBLIC_KEY that echoes
// the node's challenge marks its connection proven (its sender gets what
// the node sends to its sub port); one that echoes anything else does not.
func TestNodeMarksEchoProven(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	sp := &sourcedPipe{PipeEnd: pa, marked: map[uint64]int{}, kick: make(chan struct{}, 1), pending: make(chan []byte, 16)}
	startNode(t, testConfig(id[0]), sp, func(Event) {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// nextPK returns the node's next PUBLIC_KEY that echoes echo.
	nextPK := func(echo [ChallengeSize]byte) PublicKeyMsg {
		for {
			m, err := pb.Recv(ctx)
			if err != nil {
				t.Fatalf("waiting for the node's public key: %v", err)
			}
			if pk, err := ParsePublicKeyMsg(m); err == nil && pk.Echo == echo {
				return pk
			}
		}
	}
	marked := func() int {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		return sp.marked[7]
	}
	ours := nextPK([ChallengeSize]byte{})
	peer := PublicKeyMsg{ReplyRequested: true, Challenge: [ChallengeSize]byte{1, 2, 3}, DER: id[1].Public().DER()}
	peer.Echo = ours.Challenge
	peer.Echo[0] ^= 1 // not the node's challenge
	sp.pending <- AppendPublicKey(nil, peer)
	nextPK(peer.Challenge) // answered: handled
	if n := marked(); n != 0 {
		t.Fatalf("a public key echoing another challenge marked its connection (%d)", n)
	}
	peer.Echo = ours.Challenge
	peer.Challenge = [ChallengeSize]byte{4, 5, 6}
	sp.pending <- AppendPublicKey(nil, peer)
	for marked() == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("a public key echoing the node's challenge never marked its connection")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestReconnectResendsPublicKey: when the transport's connection to the
// peer comes up again before a session exists (net redials after the
// peer's transport evicted it, and what was sent on it may be lost), the
// node sends its public key at once. The step timeout is an hour here, so
// only the reconnection can make it send another.
func TestReconnectResendsPublicKey(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	ua := newUnplugged(pa)
	ua.plug()
	cfg := testConfig(id[0])
	cfg.StepTimeout = time.Hour
	startNode(t, cfg, ua, func(Event) {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nextPK := func(what string) {
		for {
			m, err := pb.Recv(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if _, err := ParsePublicKeyMsg(m); err == nil {
				return
			}
		}
	}
	nextPK("the first public key")
	for i := range 3 {
		ua.plugWhenWatched(t, ctx) // the connection came up again
		nextPK("the public key after reconnection " + string(rune('1'+i)))
	}
}
