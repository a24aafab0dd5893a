package main

import (
	"strings"
	"testing"
)

// TestE2EMITMDowngrade: `downgrade a` has duet mitm cut the ML-KEM share
// out of every HELLO A sends. B, restarted behind it, refuses A's hello as
// a downgrade (the version-1 layout, 319 bytes) whichever handshake role A
// has, and makes no session while it lasts; after `pass a` the next
// attempt makes a session with the same peer key as before, and messages
// pass.
func TestE2EMITMDowngrade(t *testing.T) {
	s := startMITM(t)
	a, b, _, first := s.startPeers(t, "a.pem", "b.pem")

	s.mitm.send("downgrade a")
	s.mitm.waitFor(t, sessionTimeout, "downgrade armed", func(e event) bool {
		return e.Event == "mitm" && e.Action == "armed" && e.Attack == "downgrade" && e.Flow == "a->b"
	})
	b.kill()
	b2 := startDuet(t, "B restarted", s.peerArgs("B", "b.pem")...)
	s.mitm.waitFor(t, sessionTimeout, "a HELLO stripped", func(e event) bool {
		return e.Event == "mitm" && e.Action == "stripped" && e.Attack == "downgrade" && e.Type == "HELLO" && e.Flow == "a->b"
	})
	downgrade := func(e event) bool { return e.Event == "rejected" && e.Reason == "downgrade" }
	r := b2.waitFor(t, sessionTimeout, "the restarted B refuses the stripped hello: downgrade", downgrade)
	if !strings.Contains(r.Detail, "319 bytes") {
		t.Errorf("downgrade rejection detail %q: want the hello's size, 319 bytes", r.Detail)
	}
	b2.waitN(t, 2, sessionTimeout, "a second refusal: the attack stays on for A's retries", downgrade)
	if n := b2.count(established); n != 0 {
		t.Fatalf("the restarted B made a session through a stripping MITM")
	}
	if n := a.count(established); n != 1 {
		t.Fatalf("A made %d sessions while its hellos were stripped, want the first only", n)
	}

	s.mitm.send("pass a")
	again := b2.waitFor(t, sessionTimeout, "the restarted B's session once hellos pass whole", established)
	if again.PeerFingerprint != first.PeerFingerprint {
		t.Errorf("B's peer fingerprint %s, before %s", again.PeerFingerprint, first.PeerFingerprint)
	}
	a.send("after the downgrade")
	b2.waitFor(t, sessionTimeout, "B shows A's message in the new session", shows("after the downgrade"))
}
