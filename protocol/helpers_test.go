package protocol

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"duet/crypto"
)

var (
	idOnce sync.Once
	ids    [3]*crypto.Identity
)

// testIdentities returns three RSA-2048 identities generated once per test
// binary, ordered by fingerprint so that ids[0] plays A towards ids[1] and
// ids[2] sorts between them; a fourth, sorting after ids[1], waits in
// extraIDs. So identityOrdered always finds a key on either side of B
// without generating more.
func testIdentities(t testing.TB) [3]*crypto.Identity {
	t.Helper()
	idOnce.Do(func() {
		var keys [4]*crypto.Identity
		for i := range keys {
			id, err := crypto.GenerateIdentity(rand.Reader)
			if err != nil {
				panic(err)
			}
			keys[i] = id
		}
		slices.SortFunc(keys[:], func(a, b *crypto.Identity) int {
			fa, fb := a.Public().Fingerprint(), b.Public().Fingerprint()
			return bytes.Compare(fa[:], fb[:])
		})
		ids = [3]*crypto.Identity{keys[0], keys[2], keys[1]}
		extraMu.Lock()
		extraIDs = []*crypto.Identity{keys[1], keys[3]}
		extraMu.Unlock()
	})
	return ids
}

// recorder collects events from a node.
type recorder struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) emit(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitFor waits until pred holds for some event and returns it.
func (r *recorder) waitFor(t testing.TB, d time.Duration, what string, pred func(Event) bool) Event {
	t.Helper()
	deadline := time.After(d)
	for {
		for _, e := range r.snapshot() {
			if pred(e) {
				return e
			}
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; events: %v", what, r.snapshot())
			return nil
		}
	}
}

func (r *recorder) count(pred func(Event) bool) int {
	n := 0
	for _, e := range r.snapshot() {
		if pred(e) {
			n++
		}
	}
	return n
}

func isEstablished(e Event) bool {
	s, ok := e.(SessionEvent)
	return ok && s.State == SessionEstablished
}

type nodePair struct {
	a, b   *Node
	ra, rb *recorder
	pa, pb *PipeEnd
	cancel context.CancelFunc
	done   chan struct{}
}

// startPair runs two nodes over an in-memory pipe until the test ends.
func startPair(t testing.TB, tweak func(a, b *Config)) *nodePair {
	t.Helper()
	id := testIdentities(t)
	ca := Config{Identity: id[0], PingInterval: 50 * time.Millisecond, StepTimeout: 300 * time.Millisecond}
	cb := Config{Identity: id[1], PingInterval: 50 * time.Millisecond, StepTimeout: 300 * time.Millisecond}
	if tweak != nil {
		tweak(&ca, &cb)
	}
	p := &nodePair{ra: newRecorder(), rb: newRecorder(), done: make(chan struct{})}
	p.pa, p.pb = NewPipe(4096)
	var err error
	if p.a, err = NewNode(ca, p.pa, p.ra.emit); err != nil {
		t.Fatal(err)
	}
	if p.b, err = NewNode(cb, p.pb, p.rb.emit); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.a.Run(ctx) }()
	go func() { defer wg.Done(); p.b.Run(ctx) }()
	go func() { wg.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cancel()
		p.pa.Close()
		p.pb.Close()
		<-p.done
	})
	return p
}

func (p *nodePair) establish(t testing.TB) {
	t.Helper()
	p.ra.waitFor(t, 10*time.Second, "A established", isEstablished)
	p.rb.waitFor(t, 10*time.Second, "B established", isEstablished)
}

// runningNode is one Node running with its own context, so a test can stop
// it (a peer restart) without touching the other node.
type runningNode struct {
	n      *Node
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// testConfig is the config startPair uses, for the given identity.
func testConfig(id *crypto.Identity) Config {
	return Config{Identity: id, PingInterval: 50 * time.Millisecond, StepTimeout: 300 * time.Millisecond}
}

// startNode runs a node over tr until stop is called or the test ends.
func startNode(t testing.TB, cfg Config, tr Transport, emit func(Event)) *runningNode {
	t.Helper()
	n, err := NewNode(cfg, tr, emit)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &runningNode{n: n, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(rn.done); rn.err = n.Run(ctx) }()
	t.Cleanup(rn.stop)
	return rn
}

// stop cancels the node's context and waits for Run to return.
func (rn *runningNode) stop() {
	rn.cancel()
	<-rn.done
}

// rejected matches RejectedEvents with the given reason.
func rejected(reason string) func(Event) bool {
	return func(e Event) bool {
		r, ok := e.(RejectedEvent)
		return ok && r.Reason == reason
	}
}

// messageCount counts MessageEvents carrying text.
func (r *recorder) messageCount(text string) int {
	return r.count(func(e Event) bool { m, ok := e.(MessageEvent); return ok && m.Text == text })
}

// delivered reports whether a DeliveredEvent for id was recorded.
func (r *recorder) delivered(id uint64) bool {
	return r.count(func(e Event) bool { d, ok := e.(DeliveredEvent); return ok && d.ID == id }) > 0
}

// waitDelivered waits until every id has a DeliveredEvent.
func (r *recorder) waitDelivered(t testing.TB, d time.Duration, ids []uint64) {
	t.Helper()
	r.waitFor(t, d, "all delivered", func(Event) bool {
		for _, id := range ids {
			if !r.delivered(id) {
				return false
			}
		}
		return true
	})
}

var (
	extraMu  sync.Mutex
	extraIDs []*crypto.Identity
)

// identityOrdered returns an identity other than ids[0] and ids[1] whose
// fingerprint sorts before (less) or after (!less) fp.
func identityOrdered(t testing.TB, fp crypto.Fingerprint, less bool) *crypto.Identity {
	t.Helper()
	testIdentities(t) // before the lock: it fills extraIDs
	extraMu.Lock()
	defer extraMu.Unlock()
	for i := 0; ; i++ {
		if i == len(extraIDs) {
			id, err := crypto.GenerateIdentity(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			extraIDs = append(extraIDs, id)
		}
		if extraIDs[i].Public().Fingerprint().Less(fp) == less {
			return extraIDs[i]
		}
	}
}

// startPairWith is startPair with a hook that runs on the pipe ends before
// either node starts, so filters see the whole handshake.
func startPairWith(t testing.TB, tweak func(a, b *Config), setup func(pa, pb *PipeEnd)) *nodePair {
	t.Helper()
	id := testIdentities(t)
	ca, cb := testConfig(id[0]), testConfig(id[1])
	if tweak != nil {
		tweak(&ca, &cb)
	}
	p := &nodePair{ra: newRecorder(), rb: newRecorder(), done: make(chan struct{})}
	p.pa, p.pb = NewPipe(4096)
	if setup != nil {
		setup(p.pa, p.pb)
	}
	t.Cleanup(func() { p.pa.Close(); p.pb.Close() })
	ra := startNode(t, ca, p.pa, p.ra.emit)
	rb := startNode(t, cb, p.pb, p.rb.emit)
	p.a, p.b = ra.n, rb.n
	p.cancel = func() { ra.cancel(); rb.cancel() }
	go func() { <-ra.done; <-rb.done; close(p.done) }()
	return p
}

// rejections counts the rejections with reason that r's events stand for:
// an aggregated RejectedEvent counts Count times.
func (r *recorder) rejections(reason string) int {
	total := 0
	for _, e := range r.snapshot() {
		if rj, ok := e.(RejectedEvent); ok && rj.Reason == reason {
			total += max(rj.Count, 1)
		}
	}
	return total
}

// showAll ends a loop turn for a node driven by hand (no Run): it shows
// what was received, waiting for the showing commits.
func showAll(n *Node) {
	n.showPending()
	for len(n.inbox.showing) > 0 {
		<-n.inbox.showing[0].done
		n.drainShowing()
	}
}

// onLoop runs f on n's Run goroutine and waits for it: the way a test reads
// a node's unexported state without racing the loop that owns it.
func onLoop(t testing.TB, n *Node, f func()) {
	t.Helper()
	if err := n.command(func() error { f(); return nil }); err != nil {
		t.Fatalf("running on the node's loop: %v", err)
	}
}

// stoppableClock is a Config.Now that follows time.Now until stop is called
// and then stays at the time it stopped, until resume: while stopped, no
// token bucket refills and no timer of the node's fires, so a test can
// compare state before and after some input without depending on timing.
type stoppableClock struct {
	mu      sync.Mutex
	stopped bool
	at      time.Time
	offset  time.Duration // subtracted from time.Now after a resume
}

func (c *stoppableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.at
	}
	return time.Now().Add(-c.offset)
}

func (c *stoppableClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.stopped, c.at = true, time.Now().Add(-c.offset)
	}
}

// resume lets the clock run again from where it stopped (it never jumps).
func (c *stoppableClock) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		c.stopped = false
		c.offset = time.Since(c.at)
	}
}
