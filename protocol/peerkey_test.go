package protocol

import (
	"context"
	"testing"
	"time"

	"duet/crypto"
)

// peerKeyEvents returns r's PeerKeyEvents.
func (r *recorder) peerKeyEvents() []PeerKeyEvent {
	var out []PeerKeyEvent
	for _, e := range r.snapshot() {
		if pk, ok := e.(PeerKeyEvent); ok {
			out = append(out, pk)
		}
	}
	return out
}

func isPeerKeyChanged(e Event) bool {
	pk, ok := e.(PeerKeyEvent)
	return ok && pk.Changed != nil
}

// pinOnly is a VerifyPeer that passes want with trust and refuses any
// other key as changed.
func pinOnly(want crypto.Fingerprint, trust crypto.Trust) func(*crypto.PublicKey) (crypto.Trust, error) {
	return func(pk *crypto.PublicKey) (crypto.Trust, error) {
		if fp := pk.Fingerprint(); fp != want {
			return crypto.TrustUnknown, &crypto.KeyChangedError{Peer: "peer", Known: want, Got: fp, Path: "known_peers"}
		}
		return trust, nil
	}
}

// TestPeerKeyEventTrust: the node reports the trust VerifyPeer gave a key
// that passes; a node without VerifyPeer reports nothing.
func TestPeerKeyEventTrust(t *testing.T) {
	id := testIdentities(t)
	for _, trust := range []crypto.Trust{crypto.TrustNew, crypto.TrustKnown, crypto.TrustVerified, crypto.TrustPinned} {
		t.Run(string(trust), func(t *testing.T) {
			p := startPair(t, func(a, b *Config) { b.VerifyPeer = pinOnly(id[0].Public().Fingerprint(), trust) })
			p.establish(t)
			evs := p.rb.peerKeyEvents()
			if len(evs) == 0 {
				t.Fatal("no PeerKeyEvent before the session")
			}
			for _, e := range evs {
				if e.Fingerprint != id[0].Public().Fingerprint() || e.Trust != trust || e.Changed != nil || e.OwnKey {
					t.Errorf("PeerKeyEvent %+v, want %s's key with trust %q", e, "A", trust)
				}
			}
			if evs := p.ra.peerKeyEvents(); len(evs) != 0 {
				t.Errorf("A, without VerifyPeer, reported %+v", evs)
			}
		})
	}
}

// TestPeerKeyEventOwnKey: a peer presenting our own key is reported as
// such.
func TestPeerKeyEventOwnKey(t *testing.T) {
	id := testIdentities(t)
	n, err := NewNode(Config{Identity: id[0], VerifyPeer: pinOnly(id[0].Public().Fingerprint(), crypto.TrustKnown)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	n.emit = r.emit
	if err := n.pin(id[0].Public()); err != nil {
		t.Fatal(err)
	}
	if evs := r.peerKeyEvents(); len(evs) != 1 || !evs[0].OwnKey || evs[0].Trust != crypto.TrustKnown {
		t.Fatalf("events %+v, want one with OwnKey", evs)
	}
}

// TestPeerKeyEventChangedOncePerKey: a changed key is reported the first
// time it is refused only, each distinct key once; a key that passes is
// reported every time.
func TestPeerKeyEventChangedOncePerKey(t *testing.T) {
	id := testIdentities(t)
	n, err := NewNode(Config{Identity: id[0], VerifyPeer: pinOnly(id[1].Public().Fingerprint(), crypto.TrustKnown)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	n.emit = r.emit
	for _, k := range []*crypto.PublicKey{id[2].Public(), id[0].Public(), id[2].Public(), id[1].Public(), id[0].Public(), id[1].Public()} {
		_ = n.pin(k)
	}
	var changed []crypto.Fingerprint
	passed := 0
	for _, e := range r.peerKeyEvents() {
		if e.Changed != nil {
			if e.Changed.Got != e.Fingerprint || e.Established || e.SessionUp {
				t.Errorf("changed-key event %+v", e)
			}
			changed = append(changed, e.Fingerprint)
		} else {
			passed++
		}
	}
	want := []crypto.Fingerprint{id[2].Public().Fingerprint(), id[0].Public().Fingerprint()}
	if len(changed) != 2 || changed[0] != want[0] || changed[1] != want[1] {
		t.Errorf("changed keys reported %v, want %v once each", changed, want)
	}
	if passed != 2 {
		t.Errorf("%d passing keys reported, want 2", passed)
	}
}

// TestPeerKeyEventChangedBeforeSession: over a pipe, a key refused before
// any session is reported once, with no session established or up.
func TestPeerKeyEventChangedBeforeSession(t *testing.T) {
	id := testIdentities(t)
	p := startPair(t, func(a, b *Config) { b.VerifyPeer = pinOnly(id[2].Public().Fingerprint(), crypto.TrustKnown) })
	e := p.rb.waitFor(t, 5*time.Second, "changed key", isPeerKeyChanged).(PeerKeyEvent)
	if e.Established || e.SessionUp || e.Fingerprint != id[0].Public().Fingerprint() || e.Changed.Known != id[2].Public().Fingerprint() {
		t.Fatalf("changed-key event %+v", e)
	}
	time.Sleep(3 * 300 * time.Millisecond) // retries
	if n := p.rb.count(isPeerKeyChanged); n != 1 {
		t.Fatalf("changed key reported %d times, want 1", n)
	}
}

// TestPeerKeyEventChangedAfterSession: after a session with A, another key
// on A's side is reported with Established, and SessionUp while B's
// session is still up (A stopped without a goodbye), not once A left.
func TestPeerKeyEventChangedAfterSession(t *testing.T) {
	for _, left := range []bool{false, true} {
		name := "session up"
		if left {
			name = "peer left"
		}
		t.Run(name, func(t *testing.T) {
			id := testIdentities(t)
			pa, pb := NewPipe(4096)
			t.Cleanup(func() { pa.Close(); pb.Close() })
			cb := testConfig(id[1])
			cb.VerifyPeer = pinOnly(id[0].Public().Fingerprint(), crypto.TrustKnown)
			ra, rb := newRecorder(), newRecorder()
			a := startNode(t, testConfig(id[0]), pa, ra.emit)
			startNode(t, cb, pb, rb.emit)
			ra.waitFor(t, 10*time.Second, "A established", isEstablished)
			rb.waitFor(t, 10*time.Second, "B established", isEstablished)
			if left {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := a.n.Leave(ctx); err != nil {
					t.Fatalf("Leave: %v", err)
				}
				rb.waitFor(t, 5*time.Second, "peer-left at B", isPeerLeft)
			}
			a.stop()
			startNode(t, testConfig(id[2]), pa, newRecorder().emit) // another key on A's side
			e := rb.waitFor(t, 10*time.Second, "changed key", isPeerKeyChanged).(PeerKeyEvent)
			if !e.Established || e.SessionUp == left || e.Fingerprint != id[2].Public().Fingerprint() {
				t.Fatalf("changed-key event %+v, want Established, SessionUp %v", e, !left)
			}
		})
	}
}
