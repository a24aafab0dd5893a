package main

import (
	"strconv"
	"testing"
	"time"
)

// mitmSetup is two duet peers talking through duet mitm.
type mitmSetup struct {
	dir         string
	aMain, aSub int // A binds aMain and sends to aSub (the MITM)
	bMain, bSub int
	mitm        *proc
}

func startMITM(t *testing.T, extra ...string) *mitmSetup {
	t.Helper()
	p := freePorts(t, 4)
	s := &mitmSetup{dir: t.TempDir(), aMain: p[0], aSub: p[1], bMain: p[2], bSub: p[3]}
	args := append([]string{"mitm", "--headless",
		"--a-main", strconv.Itoa(s.aMain), "--a-sub", strconv.Itoa(s.aSub),
		"--b-main", strconv.Itoa(s.bMain), "--b-sub", strconv.Itoa(s.bSub)}, extra...)
	s.mitm = startDuet(t, "MITM", args...)
	s.mitm.waitFor(t, readyTimeout, "the MITM ready", isEv("ready"))
	return s
}

// peerArgs are side's flags: its --main, the MITM's port as its --sub,
// then extra.
func (s *mitmSetup) peerArgs(side, identity string, extra ...string) []string {
	if side == "B" {
		return peerFlags(s.dir, side, identity, s.bMain, s.bSub, extra...)
	}
	return peerFlags(s.dir, side, identity, s.aMain, s.aSub, extra...)
}

// startPeers starts A and B (identity files, "" for --ephemeral) through
// the MITM and waits for a session on both; it returns their session
// events.
func (s *mitmSetup) startPeers(t *testing.T, idA, idB string) (a, b *proc, sa, sb event) {
	t.Helper()
	a = startDuet(t, "A", s.peerArgs("A", idA)...)
	b = startDuet(t, "B", s.peerArgs("B", idB)...)
	sa = a.waitFor(t, sessionTimeout, "A's session through the MITM", established)
	sb = b.waitFor(t, sessionTimeout, "B's session through the MITM", established)
	return a, b, sa, sb
}

func mitmDid(action, attack string) func(event) bool {
	return func(e event) bool {
		return e.Event == "mitm" && e.Flow == "a->b" && e.Action == action && e.Attack == attack && e.Type == "CHAT" && e.Seq != nil
	}
}

func shows(text string) func(event) bool {
	return func(e event) bool { return e.Event == "message" && e.Text == text }
}

// TestE2EMITMAttacks: two duet processes through duet mitm. Each attack
// the MITM is told to make on what A sends is refused by B with the
// protocol's reason (a gap for a dropped record), the session survives,
// and every message A wrote is shown by B exactly once.
func TestE2EMITMAttacks(t *testing.T) {
	s := startMITM(t)
	a, b, _, _ := s.startPeers(t, "", "")

	a.send("first, untouched")
	b.waitFor(t, sessionTimeout, "B shows the first message", shows("first, untouched"))
	s.mitm.waitFor(t, sessionTimeout, "the MITM relayed it", func(e event) bool {
		return e.Event == "mitm" && e.Action == "relayed" && e.Type == "CHAT" && e.Flow == "a->b"
	})

	for _, c := range []struct {
		attack, action, reason string // reason "": B reports a gap instead
		text                   string // what B must show exactly once
	}{
		{"replay", "replayed", "replay", "first, untouched"},
		{"tamper", "tampered", "tampered", "tampered with"},
		{"reorder", "released", "reorder", "reordered"},
		{"drop", "dropped", "", "dropped"},
		{"jump", "jumped", "too-far", "jumped ahead"}, // protocol 2: refused before any key is computed
	} {
		t.Run(c.attack, func(t *testing.T) {
			s.mitm.send(c.attack + " a")
			if c.attack != "replay" {
				s.mitm.waitFor(t, sessionTimeout, "armed", func(e event) bool { return e.Event == "mitm" && e.Action == "armed" && e.Attack == c.attack })
				a.send(c.text)
			}
			s.mitm.waitFor(t, sessionTimeout, "the MITM's "+c.action, mitmDid(c.action, c.attack))
			if c.reason != "" {
				b.waitFor(t, sessionTimeout, "B refuses it: "+c.reason, func(e event) bool { return e.Event == "rejected" && e.Reason == c.reason })
			} else {
				b.waitFor(t, sessionTimeout, "B reports a gap", isEv("gap"))
			}
			after := "after " + c.attack
			a.send(after)
			b.waitFor(t, sessionTimeout, "B shows "+c.text, shows(c.text))
			b.waitFor(t, sessionTimeout, "B shows "+after, shows(after))
			if n := b.count(shows(c.text)); n != 1 {
				t.Errorf("B showed %q %d times, want once", c.text, n)
			}
		})
	}
	for _, p := range []*proc{a, b} {
		if n := p.count(func(e event) bool { return e.Event == "session" && e.State != "established" }); n != 0 {
			t.Errorf("%s: the attacks changed the session (%d session events)", p.name, n)
		}
	}
}

// TestE2EMITMKeySubstitution: with keysub on both ways, a restarted peer's
// handshake through the MITM is refused (bad-signature) and makes no
// session; once the MITM lets keys pass again the restarted peer gets its
// session, with the same peer fingerprint as before (no key was changed on
// either side: known_peers still holds the real ones).
func TestE2EMITMKeySubstitution(t *testing.T) {
	s := startMITM(t)
	a, b, _, first := s.startPeers(t, "a.pem", "b.pem")

	s.mitm.send("keysub a", "keysub b")
	s.mitm.waitN(t, 2, sessionTimeout, "keysub on both ways", func(e event) bool { return e.Event == "mitm" && e.Action == "armed" && e.Attack == "keysub" })
	b.kill()
	b2 := startDuet(t, "B restarted", s.peerArgs("B", "b.pem")...)
	s.mitm.waitFor(t, sessionTimeout, "a PUBLIC_KEY substituted", func(e event) bool {
		return e.Event == "mitm" && e.Action == "substituted" && e.Type == "PUBLIC_KEY"
	})
	badSig := func(e event) bool { return e.Event == "rejected" && e.Reason == "bad-signature" }
	waitAny(t, sessionTimeout, "a bad-signature rejection", func() bool { return a.count(badSig)+b2.count(badSig) > 0 })
	if n := b2.count(established); n != 0 {
		t.Fatalf("the restarted B made a session through a key-substituting MITM")
	}
	s.mitm.send("pass a", "pass b")
	again := b2.waitFor(t, sessionTimeout, "the restarted B's session once keys pass", established)
	if again.PeerFingerprint != first.PeerFingerprint {
		t.Errorf("B's peer fingerprint %s, before %s", again.PeerFingerprint, first.PeerFingerprint)
	}
}

// waitAny polls cond until it holds or timeout passes.
func waitAny(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestE2EMITMImpersonationRefused: peers that recorded each other's key
// (known_peers, at their first session) refuse a MITM that starts
// answering each as the other with its own key: each reports key-changed
// and makes no session with it.
func TestE2EMITMImpersonationRefused(t *testing.T) {
	s := startMITM(t)
	a, b, _, _ := s.startPeers(t, "a.pem", "b.pem")
	s.mitm.send("impersonate a")
	for _, p := range []*proc{a, b} {
		p.waitFor(t, sessionTimeout, p.name+" refuses the impostor", func(e event) bool { return e.Event == "rejected" && e.Reason == "key-changed" })
		if n := p.count(established); n != 1 {
			t.Errorf("%s: %d sessions, want the first only", p.name, n)
		}
	}
}

// TestE2EMITMImpersonationFirstContact: peers that know no key yet, behind
// a MITM impersonating from the start, each get a session, with the MITM:
// messages pass and the MITM reads them. Only the safety numbers, which
// differ, show it: this is what /verify is for.
func TestE2EMITMImpersonationFirstContact(t *testing.T) {
	s := startMITM(t)
	s.mitm.send("impersonate a")
	s.mitm.waitN(t, 2, sessionTimeout, "impersonating both ways", func(e event) bool {
		return e.Event == "mitm" && e.Action == "armed" && e.Attack == "impersonate"
	})
	a, b, sa, sb := s.startPeers(t, "a.pem", "b.pem")
	if sa.SafetyNumber == "" || sa.SafetyNumber == sb.SafetyNumber {
		t.Fatalf("safety numbers %q and %q: they must differ through an impostor", sa.SafetyNumber, sb.SafetyNumber)
	}
	if sa.PeerFingerprint != sb.PeerFingerprint {
		t.Fatalf("A sees %s, B sees %s: both should see the MITM's key", sa.PeerFingerprint, sb.PeerFingerprint)
	}
	s.mitm.waitN(t, 2, sessionTimeout, "the MITM's two sessions", func(e event) bool {
		return e.Event == "mitm" && e.Action == "impostor-session" && e.PeerFingerprint != ""
	})
	a.send("meet me at noon")
	b.waitFor(t, sessionTimeout, "B gets A's message", shows("meet me at noon"))
	s.mitm.waitFor(t, sessionTimeout, "the MITM read it", func(e event) bool {
		return e.Event == "mitm" && e.Action == "intercepted" && e.Flow == "a->b" && e.Text == "meet me at noon"
	})
}

// TestE2EMITMStale: `stale a` holds A's next CHAT record and everything A
// sends after it for the peers' window (5 s here, --window on all three)
// plus a second, then releases the run in order: B refuses the CHAT
// record `stale` with its seq (in order, so not reorder), and the message,
// resent by A's delivery layer, is shown by B exactly once.
func TestE2EMITMStale(t *testing.T) {
	s := startMITM(t, "--window", "5s")
	a := startDuet(t, "A", s.peerArgs("A", "", "--window", "5s")...)
	b := startDuet(t, "B", s.peerArgs("B", "", "--window", "5s")...)
	a.waitFor(t, sessionTimeout, "A's session through the MITM", established)
	b.waitFor(t, sessionTimeout, "B's session through the MITM", established)

	s.mitm.send("stale a")
	s.mitm.waitFor(t, sessionTimeout, "armed", func(e event) bool { return e.Event == "mitm" && e.Action == "armed" && e.Attack == "stale" })
	a.send("held past the window")
	s.mitm.waitFor(t, sessionTimeout, "the MITM holds the CHAT record", mitmDid("held", "stale"))
	s.mitm.waitFor(t, sessionTimeout, "the MITM releases it", mitmDid("released", "stale"))
	stale := b.waitFor(t, sessionTimeout, "B refuses it: stale", func(e event) bool { return e.Event == "rejected" && e.Reason == "stale" })
	if stale.Seq == nil {
		t.Errorf("stale rejection without the record's seq: %+v", stale)
	}
	a.send("after stale")
	b.waitFor(t, sessionTimeout, "B shows the held message", shows("held past the window"))
	b.waitFor(t, sessionTimeout, "B shows the next one", shows("after stale"))
	if n := b.count(shows("held past the window")); n != 1 {
		t.Errorf("B showed the held message %d times, want once", n)
	}
	if n := b.count(func(e event) bool { return e.Event == "rejected" && e.Reason == "reorder" }); n != 0 {
		t.Errorf("B reported %d records out of order: the run is released in order", n)
	}
}

// TestE2EMITMReflect: `reflect a` passes A's next record on to B and sends
// a copy back to A: A refuses its own record `reflected` (not tampered),
// with its seq, and the session goes on: A's message is shown by B once.
func TestE2EMITMReflect(t *testing.T) {
	s := startMITM(t)
	a, b, _, _ := s.startPeers(t, "", "")
	s.mitm.send("reflect a")
	s.mitm.waitFor(t, sessionTimeout, "armed", func(e event) bool { return e.Event == "mitm" && e.Action == "armed" && e.Attack == "reflect" })
	a.send("sent while reflecting")
	s.mitm.waitFor(t, sessionTimeout, "the MITM reflects a record", func(e event) bool {
		return e.Event == "mitm" && e.Flow == "b->a" && e.Action == "reflected" && e.Attack == "reflect" && e.Seq != nil
	})
	r := a.waitFor(t, sessionTimeout, "A refuses its own record: reflected", func(e event) bool { return e.Event == "rejected" && e.Reason == "reflected" })
	if r.Seq == nil {
		t.Errorf("reflected rejection without a seq: %+v", r)
	}
	b.waitFor(t, sessionTimeout, "B shows A's message", shows("sent while reflecting"))
	a.send("after reflect")
	b.waitFor(t, sessionTimeout, "B shows the next one", shows("after reflect"))
	if n := b.count(shows("sent while reflecting")); n != 1 {
		t.Errorf("B showed the message %d times, want once", n)
	}
	if n := a.count(func(e event) bool { return e.Event == "rejected" && e.Reason == "tampered" }); n != 0 {
		t.Errorf("A reported %d tampered records", n)
	}
	if n := b.count(isEv("rejected")); n != 0 {
		t.Errorf("B rejected %d records", n)
	}
}
