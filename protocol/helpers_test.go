package protocol

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol/internal/prototest"
)

// testIdentities and identityOrdered: the test identities (prototest),
// shared with the store's tests.
var (
	testIdentities  = prototest.Identities
	identityOrdered = prototest.IdentityOrdered
)

// recorder collects events from a node (a prototest.Recorder), with the
// questions protocol's tests ask of them.
type recorder struct{ *prototest.Recorder[Event] }

func newRecorder() *recorder { return &recorder{prototest.NewRecorder[Event]()} }

func (r *recorder) emit(e Event)      { r.Emit(e) }
func (r *recorder) snapshot() []Event { return r.Snapshot() }

// waitFor waits until pred holds for some event and returns it.
func (r *recorder) waitFor(t testing.TB, d time.Duration, what string, pred func(Event) bool) Event {
	t.Helper()
	return r.WaitFor(t, d, what, pred)
}

func (r *recorder) count(pred func(Event) bool) int { return r.Count(pred) }

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
// foreignReasons are the refusals of a record sealed in a session the
// receiver does not have (an earlier one, or another peer's): since
// protocol 2 checks seq before authentication (an old record's key is
// erased), the first check it fails decides: reorder (its seq is at or
// below the last accepted), too-far (more than keys.MaxSkip above), or
// tampered (in between, and its tag fails).
var foreignReasons = []string{ReasonReorder, ReasonTooFar, ReasonTampered}

// isForeign reports whether reason is one of foreignReasons.
func isForeign(reason string) bool { return slices.Contains(foreignReasons, reason) }

// rejectedForeign matches the refusal of another session's record.
func rejectedForeign(e Event) bool {
	r, ok := e.(RejectedEvent)
	return ok && isForeign(r.Reason)
}

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
