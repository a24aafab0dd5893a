package panel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/words"
)

func hsView(h *Handshake, now time.Time) string {
	return plain(h.View(testStyles(), 80, 40, now))
}

// lineIndex returns the index of the first row containing sub, or -1.
func lineIndex(view, sub string) int {
	for i, l := range strings.Split(view, "\n") {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}

func TestHandshakeWaiting(t *testing.T) {
	h := NewHandshake("127.0.0.1:5556", t0, time.Second)
	v := hsView(h, t0.Add(12*time.Second+500*time.Millisecond))
	for _, want := range []string{
		"waiting for the peer at 127.0.0.1:5556 — 12 s",
		"sending our public key and a ping every 1 s",
		"no answer from the peer yet",
		"… 1 public-keys",
		"· 6 confirm",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in\n%s", want, v)
		}
	}
	if !h.Active(t0) || h.Established() {
		t.Error("waiting: want Active and not Established")
	}
	h.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: 2 * time.Millisecond}, t0.Add(time.Second))
	if v := hsView(h, t0); !strings.Contains(v, "the peer answers pings (rtt 2.00 ms)") {
		t.Errorf("peer answers:\n%s", v)
	}
	h.SetStatus(protocol.Status{Live: protocol.LiveDown})
	if v := hsView(h, t0); !strings.Contains(v, "stopped answering") {
		t.Errorf("peer down:\n%s", v)
	}
	h2 := NewHandshake("h:1", t0, 500*time.Millisecond)
	if v := hsView(h2, t0); !strings.Contains(v, "every 500 ms") {
		t.Errorf("ping interval:\n%s", v)
	}
}

func TestHandshakeStepsInOrder(t *testing.T) {
	h := NewHandshake("127.0.0.1:5556", t0, time.Second)
	// The initiator's batches: 1-4 together, then 5, then 6.
	for s := 1; s <= 4; s++ {
		h.Step(protocol.HandshakeEvent{Step: s, Name: protocol.StepName(s), Done: true, Duration: 11 * time.Millisecond}, t0.Add(11*time.Millisecond))
	}
	v := hsView(h, t0)
	if !strings.Contains(v, "… 5 ack") || !strings.Contains(v, "· 6 confirm") {
		t.Errorf("after step 4, 5 is pending and 6 not started:\n%s", v)
	}
	h.Step(protocol.HandshakeEvent{Step: 5, Done: true, Duration: 23 * time.Millisecond}, t0.Add(23*time.Millisecond))
	h.Step(protocol.HandshakeEvent{Step: 6, Done: true, Duration: 31 * time.Millisecond}, t0.Add(31*time.Millisecond))
	v = hsView(h, t0.Add(time.Second))
	prev := -1
	for s := 1; s <= 6; s++ {
		i := lineIndex(v, fmt.Sprintf("✓ %d %s", s, protocol.StepName(s)))
		if i < 0 || i <= prev {
			t.Errorf("step %d missing or out of order (row %d after %d):\n%s", s, i, prev, v)
		}
		prev = i
	}
	for _, want := range []string{"11 ms", "23 ms", "31 ms"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing time %q:\n%s", want, v)
		}
	}
	if !strings.Contains(v, "✓ 6 confirm         31 ms") {
		t.Errorf("confirm row:\n%s", v)
	}
	// Established through the session event.
	h.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0.Add(31*time.Millisecond))
	v = hsView(h, t0.Add(time.Second))
	if !strings.Contains(v, "session established in 31 ms") {
		t.Errorf("established:\n%s", v)
	}
	if !h.Established() || !h.Active(t0.Add(2*time.Second)) || h.Active(t0.Add(4*time.Second)) {
		t.Errorf("Established %v, Active at +2s %v (want true), at +4s %v (want false)",
			h.Established(), h.Active(t0.Add(2*time.Second)), h.Active(t0.Add(4*time.Second)))
	}
	// Rekeys are shown.
	h.Session(protocol.SessionEvent{State: protocol.SessionRekeyed}, t0.Add(time.Minute))
	h.Session(protocol.SessionEvent{State: protocol.SessionRekeyed}, t0.Add(2*time.Minute))
	v = hsView(h, t0.Add(3*time.Minute))
	if !strings.Contains(v, "rekeyed (epoch 1)") || !strings.Contains(v, "rekeyed (epoch 2)") {
		t.Errorf("rekeys:\n%s", v)
	}
	if h.Active(t0.Add(3 * time.Minute)) {
		t.Error("a rekey is not a handshake attempt")
	}
}

func TestHandshakeFailureAndNewAttempt(t *testing.T) {
	tests := []struct {
		name string
		step int
		err  error
		want string
	}{
		{"bad signature", 3, fmt.Errorf("protocol: hello: %w", protocol.ErrBadSignature), "bad signature"},
		{"stale", 3, fmt.Errorf("protocol: hello: %w", protocol.ErrStale), "stale timestamp"},
		{"key changed", 3, fmt.Errorf("protocol: verify peer: %w", &crypto.KeyChangedError{Peer: "bob"}), "key changed"},
		{"tampered ack", 5, fmt.Errorf("protocol: ack: %w", protocol.ErrTampered), "acknowledgement failed authentication"},
		{"confirm", 6, fmt.Errorf("x: %w", protocol.ErrBadConfirm), "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandshake("127.0.0.1:5556", t0, time.Second)
			for s := 1; s < tc.step; s++ {
				h.Step(protocol.HandshakeEvent{Step: s, Done: true, Duration: time.Millisecond}, t0)
			}
			h.Step(protocol.HandshakeEvent{Step: tc.step, Err: tc.err, Duration: 9 * time.Millisecond}, t0.Add(9*time.Millisecond))
			v := hsView(h, t0.Add(time.Second))
			if !strings.Contains(v, fmt.Sprintf("✗ %d %s", tc.step, protocol.StepName(tc.step))) || !strings.Contains(v, "failed") {
				t.Errorf("failed step not marked:\n%s", v)
			}
			if !strings.Contains(strings.Join(strings.Fields(v), " "), tc.want) {
				t.Errorf("missing plain words %q:\n%s", tc.want, v)
			}
			if strings.Contains(v, "protocol:") || strings.Contains(v, "crypto:") {
				t.Errorf("Go error chain shown:\n%s", v)
			}
			for s := tc.step + 1; s <= 6; s++ {
				if !strings.Contains(v, fmt.Sprintf("· %d %s", s, protocol.StepName(s))) {
					t.Errorf("step %d after the failure should be not started:\n%s", s, v)
				}
			}
			// A new attempt: the steps restart.
			h.Step(protocol.HandshakeEvent{Step: 1, Done: true, Duration: 2 * time.Millisecond}, t0.Add(3*time.Second))
			v = hsView(h, t0.Add(3*time.Second))
			if strings.Contains(v, "✗") || strings.Contains(v, tc.want) {
				t.Errorf("new attempt still shows the failure:\n%s", v)
			}
			if !strings.Contains(v, "✓ 1 public-keys") || !strings.Contains(v, "… 2 hello") {
				t.Errorf("new attempt:\n%s", v)
			}
			if h.Attempts() != 2 || !strings.Contains(v, "attempt 2") {
				t.Errorf("Attempts() = %d, want 2:\n%s", h.Attempts(), v)
			}
		})
	}
}

func TestHandshakeRestartWithoutFailure(t *testing.T) {
	h := NewHandshake("p:1", t0, time.Second)
	for s := 1; s <= 3; s++ {
		h.Step(protocol.HandshakeEvent{Step: s, Done: true, Duration: 5 * time.Millisecond}, t0)
	}
	// The responder got a fresh hello: 1-3 again.
	for s := 1; s <= 3; s++ {
		h.Step(protocol.HandshakeEvent{Step: s, Done: true, Duration: 7 * time.Millisecond}, t0.Add(2*time.Second))
	}
	v := hsView(h, t0.Add(2*time.Second))
	if strings.Contains(v, "5 ms") || !strings.Contains(v, "7 ms") || h.Attempts() != 2 {
		t.Errorf("restart, attempts %d:\n%s", h.Attempts(), v)
	}
	// A failure first reported: earlier steps count as done.
	h2 := NewHandshake("p:1", t0, time.Second)
	h2.Step(protocol.HandshakeEvent{Step: 4, Err: protocol.ErrTampered}, t0)
	v = hsView(h2, t0)
	if !strings.Contains(v, "✓ 3 verify") || !strings.Contains(v, "✗ 4 key-transport") {
		t.Errorf("implicit steps:\n%s", v)
	}
}

func TestHandshakeBesideSession(t *testing.T) {
	h := NewHandshake("p:1", t0, time.Second)
	h.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0)
	if !h.Established() {
		t.Fatal("not established")
	}
	v := hsView(h, t0)
	for s := 1; s <= 6; s++ {
		if !strings.Contains(v, fmt.Sprintf("✓ %d", s)) {
			t.Errorf("established without step events: step %d not done:\n%s", s, v)
		}
	}
	later := t0.Add(time.Minute)
	if h.Active(later) {
		t.Error("idle session: not active")
	}
	// The peer restarted: a new handshake runs beside the session.
	h.Step(protocol.HandshakeEvent{Step: 1, Done: true}, later)
	if !h.Active(later.Add(time.Second)) || !h.Established() {
		t.Error("second handshake: want Active and still Established")
	}
	if v := hsView(h, later); !strings.Contains(v, "beside the session") || !strings.Contains(v, "… 2 hello") {
		t.Errorf("second handshake:\n%s", v)
	}
	if h.Active(later.Add(time.Minute)) {
		t.Error("an abandoned second handshake stays active")
	}
}

func TestHandshakeStalled(t *testing.T) {
	h := NewHandshake("p:1", t0, time.Second)
	h.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond}, t0)
	h.Stalled(protocol.StalledEvent{Attempts: 5, LastStep: 1, For: 12 * time.Second}, t0.Add(12*time.Second))
	v := strings.Join(strings.Fields(hsView(h, t0.Add(13*time.Second))), " ")
	for _, want := range []string{
		"the peer answers but has not accepted our key", "5 attempts in 12s",
		"recorded a different key for us", "--identity",
		"removes our old line from its known_peers", "accepts our new key on its key-changed screen",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q in %s", want, v)
		}
	}
	h.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0.Add(20*time.Second))
	if v := hsView(h, t0.Add(20*time.Second)); strings.Contains(v, "not accepted") {
		t.Errorf("stall shown after the session came up:\n%s", v)
	}
	// A stall reported while a session is up is not shown once it ends.
	h.Stalled(protocol.StalledEvent{Attempts: 3, For: 5 * time.Second}, t0.Add(30*time.Second))
	if v := hsView(h, t0.Add(30*time.Second)); strings.Contains(v, "not accepted") {
		t.Errorf("stall shown beside a session:\n%s", v)
	}
	h.Session(protocol.SessionEvent{State: protocol.SessionPeerLeft}, t0.Add(40*time.Second))
	if v := hsView(h, t0.Add(40*time.Second)); strings.Contains(v, "not accepted") {
		t.Errorf("stale stall shown after the peer left:\n%s", v)
	}
}

func TestHandshakePeerLeft(t *testing.T) {
	h := NewHandshake("p:1", t0, time.Second)
	h.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0)
	h.Session(protocol.SessionEvent{State: protocol.SessionPeerLeft}, t0.Add(time.Minute))
	v := hsView(h, t0.Add(time.Minute+5*time.Second))
	for _, want := range []string{"peer left", "waiting for the peer at p:1 — 5 s", "… 1 public-keys"} {
		if !strings.Contains(v, want) {
			t.Errorf("missing %q:\n%s", want, v)
		}
	}
	if h.Established() || !h.Active(t0.Add(2*time.Minute)) {
		t.Error("after peer left: want not Established, Active")
	}
	h.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0.Add(2*time.Minute))
	if v := hsView(h, t0.Add(2*time.Minute)); strings.Contains(v, "peer left") {
		t.Errorf("peer back:\n%s", v)
	}
	h.Session(protocol.SessionEvent{State: protocol.SessionClosed}, t0.Add(3*time.Minute))
	if v := hsView(h, t0.Add(3*time.Minute)); !strings.Contains(v, "session closed") || !strings.Contains(v, "waiting for the peer") {
		t.Errorf("closed:\n%s", v)
	}
}

// TestHandshakeSmallPanel: the root's side panel is about 38×9; the panel
// condenses so the waiting line, the failure reason and the stall
// diagnosis stay whole.
func TestHandshakeSmallPanel(t *testing.T) {
	const w, hgt = 38, 9
	now := t0.Add(12 * time.Second)
	small := func(h *Handshake) string { return plain(h.View(testStyles(), w, hgt, now)) }
	flat := func(s string) string { return strings.Join(strings.Fields(s), " ") }

	h := NewHandshake("127.0.0.1:5556", t0, time.Second)
	v := small(h)
	for _, want := range []string{"Handshake with 127.0.0.1:5556", "waiting for the peer", "12 s", "sending our public key", "no answer", "…1 ·2 ·3 ·4 ·5 ·6", "next: public-keys"} {
		if !strings.Contains(flat(v), want) {
			t.Errorf("waiting: missing %q\n%s", want, v)
		}
	}
	// The Status says the peer's key is known: step 1 done, 2 next.
	h.SetStatus(protocol.Status{HandshakeStep: 1, AttemptStarted: t0, Attempts: 1, Live: protocol.LiveLive})
	if v := small(h); !strings.Contains(v, "✓1 …2") || !strings.Contains(v, "the peer answers pings") {
		t.Errorf("status step 1:\n%s", v)
	}

	h = NewHandshake("127.0.0.1:5556", t0, time.Second)
	h.Step(protocol.HandshakeEvent{Step: 3, Err: fmt.Errorf("x: %w", protocol.ErrStale), Duration: 4 * time.Millisecond}, t0)
	v = small(h)
	for _, want := range []string{"✓1 ✓2 ✗3 ·4 ·5 ·6", "✗ 3 verify failed (4 ms)", words.HandshakeError(3, protocol.ErrStale)} {
		if !strings.Contains(flat(v), want) {
			t.Errorf("failure: missing %q\n%s", want, v)
		}
	}

	v = flat(small(fullHandshake()))
	for _, want := range []string{"has not accepted our key", "known_peers", "--identity", "✗3"} {
		if !strings.Contains(v, want) {
			t.Errorf("stalled: missing %q\n%s", want, v)
		}
	}

	// Established and rekeyed: the rekeys are the news, the steps fold to
	// their marks first (issue 19: each healing is listed).
	h = NewHandshake("p:1", t0, time.Second)
	for s := 1; s <= 6; s++ {
		h.Step(protocol.HandshakeEvent{Step: s, Done: true, Duration: time.Duration(s) * time.Millisecond}, t0)
	}
	h.Session(protocol.SessionEvent{State: protocol.SessionEstablished}, t0)
	for i := 0; i < 3; i++ {
		h.Session(protocol.SessionEvent{State: protocol.SessionRekeyed}, t0)
	}
	v = small(h)
	if !strings.Contains(v, "✓1 ✓2 ✓3 ✓4 ✓5 ✓6") || !strings.Contains(v, "rekeyed (epoch 1)") || !strings.Contains(v, "rekeyed (epoch 3)") {
		t.Errorf("established:\n%s", v)
	}
}
