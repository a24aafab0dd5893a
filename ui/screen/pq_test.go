package screen

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"duet/protocol"
)

// headerRow is the screen's first row: the header.
func headerRow(t *testing.T, s *Screen) string {
	t.Helper()
	return strings.SplitN(screenText(t, s), "\n", 2)[0]
}

// TestHeaderPostQuantumOnlyWithASession (issue 19): the header says
// "post-quantum" once a session with ML-KEM keys is established, keeps it
// across healings, and drops it when the session closes or the peer
// leaves: no session, no claim. A new session brings it back.
func TestHeaderPostQuantumOnlyWithASession(t *testing.T) {
	for _, end := range []protocol.SessionState{protocol.SessionClosed, protocol.SessionPeerLeft} {
		t.Run(string(end), func(t *testing.T) {
			s := newTestScreen(testConfig(newFakeNode()))
			drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
			if h := headerRow(t, s); strings.Contains(h, "post-quantum") {
				t.Fatalf("before any session: %q", h)
			}
			drive(t, s, established()...)
			if h := headerRow(t, s); !strings.Contains(h, "encrypted · post-quantum") {
				t.Fatalf("session established: %q", h)
			}
			drive(t, s, eventMsg{ev: protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: protocol.DirectionSend,
				KeyExchange: protocol.KeyExchangeHealing, PostQuantum: true, Epoch: 1}})
			if h := headerRow(t, s); !strings.Contains(h, "post-quantum") {
				t.Fatalf("after a healing: %q", h)
			}
			drive(t, s, eventMsg{ev: protocol.SessionEvent{State: end}})
			if h := headerRow(t, s); strings.Contains(h, "post-quantum") || !strings.Contains(h, "no session") {
				t.Fatalf("after %s: %q", end, h)
			}
			drive(t, s, established()...)
			if h := headerRow(t, s); !strings.Contains(h, "post-quantum") {
				t.Fatalf("a new session: %q", h)
			}
		})
	}
}

// TestHeaderNoClaimWithoutMLKEM: a session whose event does not say
// post-quantum makes no claim.
func TestHeaderNoClaimWithoutMLKEM(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
	drive(t, s, eventMsg{ev: protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: testPeerFP, SafetyNumber: testSafety}})
	if h := headerRow(t, s); strings.Contains(h, "post-quantum") || !strings.Contains(h, "encrypted") {
		t.Fatalf("header: %q", h)
	}
}
