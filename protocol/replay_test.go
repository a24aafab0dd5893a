package protocol

import (
	"errors"
	"testing"
	"time"
)

// TestReplayNothingBeforeAChat: /replay before any CHAT was sealed sends
// nothing (never a ping) and says why (issue 17, item 2).
func TestReplayNothingBeforeAChat(t *testing.T) {
	la := &RecordLog{}
	p := startPair(t, func(a, b *Config) { a.Records = la })
	p.establish(t)
	// Pings have been sealed in the session by now; wait for one.
	p.ra.waitFor(t, 10*time.Second, "authenticated liveness", func(e Event) bool { l, ok := e.(LiveEvent); return ok && l.Authenticated })
	err := p.a.Replay()
	if !errors.Is(err, ErrNothingToReplay) {
		t.Fatalf("Replay with no chat sent: %v, want ErrNothingToReplay", err)
	}
	if n := p.ra.count(func(e Event) bool { _, ok := e.(ReplayedEvent); return ok }); n != 0 {
		t.Fatalf("%d ReplayedEvents for a refused replay", n)
	}
	rs, _ := la.Last(nil, RecordLogSize)
	for _, r := range rs {
		if r.Verdict == VerdictReplayed {
			t.Fatalf("a record was re-sent: %+v", r)
		}
	}
}

// TestReplayEarlierSessionChat: after the peer restarts (a new session,
// no CHAT sealed in it), /replay re-sends the last CHAT of the earlier
// session, says so, and the peer refuses it.
func TestReplayEarlierSessionChat(t *testing.T) {
	id := testIdentities(t)
	pa, pb := NewPipe(4096)
	t.Cleanup(func() { pa.Close(); pb.Close() })
	ca, cb := testConfig(id[0]), testConfig(id[1])
	ra, rb1 := newRecorder(), newRecorder()
	a := startNode(t, ca, pa, ra.emit)
	b1 := startNode(t, cb, pb, rb1.emit)
	ra.waitFor(t, 10*time.Second, "A established", isEstablished)
	rb1.waitFor(t, 10*time.Second, "B established", isEstablished)
	ra.waitDelivered(t, 5*time.Second, sendAll(t, a.n, "old session chat"))
	b1.stop()

	rb2 := newRecorder()
	startNode(t, cb, pb, rb2.emit)
	rb2.waitFor(t, 10*time.Second, "new B established", isEstablished)
	ra.waitFor(t, 10*time.Second, "A re-established", func(Event) bool { return ra.count(isEstablished) >= 2 })
	if err := a.n.Replay(); err != nil {
		t.Fatal(err)
	}
	r := ra.waitFor(t, 5*time.Second, "replayed event", func(e Event) bool { _, ok := e.(ReplayedEvent); return ok }).(ReplayedEvent)
	if r.Type != TypeChat || !r.EarlierSession {
		t.Fatalf("replayed %+v: want the CHAT of the earlier session", r)
	}
	rej := rb2.waitFor(t, 5*time.Second, "the refusal", func(e Event) bool { _, ok := e.(RejectedEvent); return ok }).(RejectedEvent)
	if !isForeign(rej.Reason) && rej.Reason != ReasonReplay {
		t.Fatalf("refused as %q, want one of %v or replay", rej.Reason, foreignReasons)
	}
	if n := rb2.messageCount("old session chat"); n != 0 {
		t.Fatalf("the replayed message was shown %d times by the new B", n)
	}
}
