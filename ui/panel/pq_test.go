package panel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol"
)

// Issue 19: the header says "post-quantum" while a session with ML-KEM
// keys is up; the handshake panel names the hybrid and lists each healing.

// pqEstablished is a panel whose session came from the hybrid handshake.
func pqEstablished() *Handshake {
	h := NewHandshake("203.0.113.7:5556", t0, time.Second)
	for s := 1; s <= 6; s++ {
		h.Step(protocol.HandshakeEvent{Step: s, Done: true, Duration: time.Duration(s) * time.Millisecond}, t0)
	}
	h.Session(protocol.SessionEvent{State: protocol.SessionEstablished, KeyExchange: protocol.KeyExchangeHandshake, PostQuantum: true}, t0)
	return h
}

// healed is a rekeyed event as protocol 2 reports it.
func healed(dir string, epoch uint32) protocol.SessionEvent {
	return protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: dir, KeyExchange: protocol.KeyExchangeHealing, PostQuantum: true, Epoch: epoch}
}

func TestHeaderPostQuantum(t *testing.T) {
	h := HeaderInfo{SelfName: "alice", PeerName: "bob", SelfFP: testFP, PeerFP: otherFP, Trust: crypto.TrustNew, Encrypted: true, PostQuantum: true}
	for _, w := range []int{120, 80} {
		if v := plain(Header(testStyles(), w, h)); !strings.Contains(v, "encrypted · post-quantum") {
			t.Errorf("width %d: no %q in %q", w, "encrypted · post-quantum", v)
		}
	}
	// Narrow: "post-quantum" goes before "encrypted" and the trust word.
	if v := plain(Header(testStyles(), 50, h)); strings.Contains(v, "post-quantum") || !strings.Contains(v, "encrypted") || !strings.Contains(v, "bob's key is new") {
		t.Errorf("width 50: %q", v)
	}
	// No session, no claim: before the first one and after one ended.
	h.Encrypted = false
	if v := plain(Header(testStyles(), 120, h)); strings.Contains(v, "post-quantum") {
		t.Errorf("no session yet, yet %q", v)
	}
	h.Ended = true
	if v := plain(Header(testStyles(), 120, h)); strings.Contains(v, "post-quantum") || !strings.Contains(v, "no session") {
		t.Errorf("session ended: %q", v)
	}
	// A session without ML-KEM keys makes no claim.
	h = HeaderInfo{SelfName: "alice", PeerName: "bob", Trust: crypto.TrustNew, Encrypted: true}
	if v := plain(Header(testStyles(), 120, h)); strings.Contains(v, "post-quantum") {
		t.Errorf("not post-quantum, yet %q", v)
	}
}

func TestHandshakeNamesTheHybrid(t *testing.T) {
	h := pqEstablished()
	v := joined(h.View(testStyles(), 60, 20, t0))
	if !strings.Contains(v, "keys: X25519 + ML-KEM-768 + RSA-OAEP-2048, post-quantum") {
		t.Errorf("no key exchange:\n%s", plain(h.View(testStyles(), 60, 20, t0)))
	}
	if !h.PostQuantum() {
		t.Error("PostQuantum false with a post-quantum session up")
	}
	// The session ends: no session, no key exchange, no healings.
	h.Session(healed(protocol.DirectionSend, 1), t0.Add(time.Minute))
	for _, end := range []protocol.SessionState{protocol.SessionClosed, protocol.SessionPeerLeft} {
		g := pqEstablished()
		g.Session(healed(protocol.DirectionSend, 1), t0.Add(time.Minute))
		g.Session(protocol.SessionEvent{State: end}, t0.Add(2*time.Minute))
		v := joined(g.View(testStyles(), 60, 20, t0.Add(2*time.Minute)))
		if g.PostQuantum() || g.Healings() != 0 || strings.Contains(v, "ML-KEM") || strings.Contains(v, "healing") {
			t.Errorf("%s: PostQuantum %v, Healings %d, view:\n%s", end, g.PostQuantum(), g.Healings(), v)
		}
	}
}

func TestHandshakeHealings(t *testing.T) {
	h := pqEstablished()
	h.Session(healed(protocol.DirectionSend, 1), t0.Add(61*time.Second))
	h.Session(healed(protocol.DirectionReceive, 1), t0.Add(62*time.Second))
	h.Session(healed(protocol.DirectionSend, 2), t0.Add(63*time.Second))
	v := plain(h.View(testStyles(), 60, 20, t0.Add(time.Hour)))
	want := "healings (fresh X25519 + ML-KEM-768):\n" +
		"  03:01:02 both directions, epoch 1\n" +
		"  03:01:03 our direction, epoch 2"
	if !strings.Contains(trimRows(v), want) {
		t.Errorf("healings: want\n%s\nin\n%s", want, v)
	}
	if h.Healings() != 2 {
		t.Errorf("Healings() = %d, want 2 (the two halves of epoch 1 count once)", h.Healings())
	}
	// Short of room: only the newest, with the count.
	v = joined(h.View(testStyles(), 60, 6, t0.Add(time.Hour)))
	if !strings.Contains(v, "healed twice (fresh X25519 + ML-KEM-768), last 03:01:03 our direction, epoch 2") || strings.Contains(v, "03:01:02") {
		t.Errorf("short panel:\n%s", v)
	}
}

// TestHandshakeHealingHalves: the two directions' halves of one healing
// (same epoch, opposite directions, one right after the other) make one
// "both directions" row and count once; anything else stays apart.
func TestHandshakeHealingHalves(t *testing.T) {
	send, recv := protocol.DirectionSend, protocol.DirectionReceive
	cases := []struct {
		name     string
		events   []protocol.SessionEvent
		rows     []string
		healings int
	}{
		{"halves of one healing", []protocol.SessionEvent{healed(send, 1), healed(recv, 1)},
			[]string{"both directions, epoch 1"}, 1},
		{"the peer's half first", []protocol.SessionEvent{healed(recv, 3), healed(send, 3)},
			[]string{"both directions, epoch 3"}, 1},
		{"same direction twice", []protocol.SessionEvent{healed(send, 1), healed(send, 2)},
			[]string{"our direction, epoch 1", "our direction, epoch 2"}, 2},
		{"other direction, other epoch", []protocol.SessionEvent{healed(send, 1), healed(recv, 2)},
			[]string{"our direction, epoch 1", "peer's direction, epoch 2"}, 2},
		{"a third half starts a row", []protocol.SessionEvent{healed(send, 1), healed(recv, 1), healed(send, 1)},
			[]string{"both directions, epoch 1", "our direction, epoch 1"}, 2},
		{"protocol 1 rekeys never merge", []protocol.SessionEvent{
			{State: protocol.SessionRekeyed, Direction: send}, {State: protocol.SessionRekeyed, Direction: recv}},
			[]string{"rekeyed (epoch 1)", "rekeyed (epoch 2)"}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := pqEstablished()
			for i, e := range c.events {
				h.Session(e, t0.Add(time.Duration(i+1)*time.Second))
			}
			v := plain(h.View(testStyles(), 60, 20, t0.Add(time.Hour)))
			for _, row := range c.rows {
				if strings.Count(v, row) != 1 {
					t.Errorf("want one row %q in\n%s", row, v)
				}
			}
			if got := strings.Count(v, "direction"); got != strings.Count(strings.Join(c.rows, "\n"), "direction") {
				t.Errorf("%d rows name a direction, want %d:\n%s", got, len(c.rows), v)
			}
			if h.Healings() != c.healings {
				t.Errorf("Healings() = %d, want %d", h.Healings(), c.healings)
			}
		})
	}
}

func TestHandshakeHealingsBounded(t *testing.T) {
	h := pqEstablished()
	n := maxRekeyLines + 8
	for i := 1; i <= n; i++ {
		h.Session(healed(protocol.DirectionSend, uint32(i)), t0.Add(time.Duration(i)*time.Second))
	}
	if len(h.rekeys) != maxRekeyLines {
		t.Fatalf("%d healing rows kept, want the bound %d", len(h.rekeys), maxRekeyLines)
	}
	v := plain(h.View(testStyles(), 60, 60, t0.Add(time.Hour)))
	if !strings.Contains(joined(v), fmt.Sprintf("healings, newest %d of %d", maxRekeyLines, n)) {
		t.Errorf("heading does not say what was dropped:\n%s", v)
	}
	first := fmt.Sprintf("epoch %d\n", n-maxRekeyLines+1)
	if strings.Contains(trimRows(v), fmt.Sprintf("epoch %d\n", n-maxRekeyLines)) || !strings.Contains(trimRows(v), first) {
		t.Errorf("want the newest %d, from %q on:\n%s", maxRekeyLines, first, v)
	}
}

// trimRows drops the padding at the end of each row.
func trimRows(s string) string {
	r := strings.Split(s, "\n")
	for i := range r {
		r[i] = strings.TrimRight(r[i], " ")
	}
	return strings.Join(r, "\n")
}

// TestHandshakeSidebarKeepsTheSteps: in the sidebar's 38×9 the key
// exchange row shortens to the exchange's name (one row) before the six
// step rows fold to marks.
func TestHandshakeSidebarKeepsTheSteps(t *testing.T) {
	v := trimRows(plain(pqEstablished().View(testStyles(), 38, 9, t0)))
	for _, want := range []string{"\n  X25519 + ML-KEM-768 + RSA-OAEP-2048\n", "✓ 1 public-keys", "✓ 6 confirm"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in\n%s", want, v)
		}
	}
	// With room, the row says post-quantum too.
	if v := joined(pqEstablished().View(testStyles(), 38, 12, t0)); !strings.Contains(v, "keys: X25519 + ML-KEM-768 + RSA-OAEP-2048, post-quantum") {
		t.Errorf("full row missing:\n%s", v)
	}
}
