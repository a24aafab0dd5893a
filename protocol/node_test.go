package protocol

import (
	"fmt"
	"testing"
	"time"
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
