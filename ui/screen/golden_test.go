package screen

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"duet/crypto"
	"duet/protocol"
)

// goldenTB stores a golden file under testdata/ whatever the test's name.
type goldenTB struct {
	testing.TB
	name string
}

func (g goldenTB) Name() string { return g.name }

func established() []tea.Msg {
	var msgs []tea.Msg
	msgs = append(msgs, eventMsg{ev: protocol.LiveEvent{State: protocol.LiveLive, RTT: 620 * time.Microsecond}})
	for step := protocol.StepPublicKeys; step <= protocol.StepConfirm; step++ {
		msgs = append(msgs, eventMsg{ev: protocol.HandshakeEvent{Step: step, Name: protocol.StepName(step), Done: true, Duration: time.Duration(step) * time.Millisecond}})
	}
	msgs = append(msgs, eventMsg{ev: protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: testPeerFP, SafetyNumber: testSafety,
		KeyExchange: protocol.KeyExchangeHandshake, PostQuantum: true}})
	msgs = append(msgs, eventMsg{ev: protocol.PeerKeyEvent{Fingerprint: testFP(testPeerFP), Trust: crypto.TrustKnown}})
	return append(msgs, advance{4 * time.Second}) // the handshake panel has gone
}

func liveChat() []tea.Msg {
	msgs := established()
	msgs = append(msgs, eventMsg{ev: protocol.MessageEvent{ID: 7, Seq: 3, Text: "hi alice, are you there?", SentAt: screenT0.Add(-2 * time.Minute)}})
	msgs = append(msgs, typeText("yes! sending the notes now")...)
	msgs = append(msgs, keyPress(tea.KeyEnter))
	msgs = append(msgs, eventMsg{ev: protocol.SentEvent{ID: 1001, Seq: 4}}, eventMsg{ev: protocol.DeliveredEvent{ID: 1001}})
	msgs = append(msgs, eventMsg{ev: protocol.MessageEvent{ID: 8, Seq: 5, Text: "great, thanks\nsecond line", SentAt: screenT0}})
	return msgs
}

// securityEvents is a live chat, then a /replay of ours refused by the
// peer, and bob's replays refused here, each with a long detail.
func securityEvents() []tea.Msg {
	msgs := liveChat()
	msgs = append(msgs, eventMsg{ev: protocol.ReplayedEvent{Type: protocol.TypeChat, Seq: 4, HasSeq: true}})
	for _, seq := range []uint32{1800764890, 1800764897, 1800764902} {
		msgs = append(msgs, eventMsg{ev: protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: seq, HasSeq: true,
			Detail: fmt.Sprintf("protocol: record %d (last %d): protocol: replayed record", seq, seq)}})
	}
	return msgs
}

func TestScreenGolden(t *testing.T) {
	cases := []struct {
		name string
		msgs func() []tea.Msg
	}{
		{"connecting", func() []tea.Msg {
			return []tea.Msg{
				eventMsg{ev: protocol.LiveEvent{State: protocol.LiveWaiting}},
				eventMsg{ev: protocol.HandshakeEvent{Step: 1, Name: "public-keys", Done: true}},
			}
		}},
		{"live", liveChat},
		{"rejection", func() []tea.Msg {
			return append(liveChat(), eventMsg{ev: protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: 4, HasSeq: true, Detail: "protocol: replayed record"}})
		}},
		{"help", func() []tea.Msg { return append(liveChat(), keyPress(tea.KeyF1)) }},
		{"helpdemo", func() []tea.Msg { return append(liveChat(), keyPress(tea.KeyF1)) }},
		{"peerleft", func() []tea.Msg {
			return append(liveChat(), eventMsg{ev: protocol.SessionEvent{State: protocol.SessionPeerLeft}},
				eventMsg{ev: protocol.LiveEvent{State: protocol.LiveWaiting}})
		}},
		{"fingerprint", func() []tea.Msg {
			return append(append(liveChat(), typeText("/fingerprint")...), keyPress(tea.KeyEnter))
		}},
		{"reconnect", func() []tea.Msg {
			// The peer quits and comes back with the same keys: the safety
			// number is not repeated, the bar says "no session" meanwhile.
			msgs := append(liveChat(), eventMsg{ev: protocol.SessionEvent{State: protocol.SessionPeerLeft}})
			return append(msgs, established()...)
		}},
		{"pinrefused", func() []tea.Msg {
			return []tea.Msg{
				eventMsg{ev: protocol.LiveEvent{State: protocol.LiveLive, RTT: 620 * time.Microsecond}},
				eventMsg{ev: protocol.RejectedEvent{Reason: protocol.ReasonKeyChanged, Detail: "crypto: peer key does not match the pinned fingerprint"}},
			}
		}},
		{"stalled", func() []tea.Msg {
			return []tea.Msg{
				eventMsg{ev: protocol.LiveEvent{State: protocol.LiveLive, RTT: 620 * time.Microsecond}},
				eventMsg{ev: protocol.HandshakeEvent{Step: 2, Name: "hello", Done: true}},
				eventMsg{ev: protocol.StalledEvent{Attempts: 3, For: 20 * time.Second, LastStep: 2}},
			}
		}},
		{"verify", func() []tea.Msg {
			return append(append(liveChat(), typeText("/verify")...), keyPress(tea.KeyEnter))
		}},
		{"healed", func() []tea.Msg {
			// One healing, its two directions reported apart (one row),
			// and F2: the handshake panel lists them under the hybrid.
			return append(liveChat(),
				eventMsg{ev: protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: protocol.DirectionSend, KeyExchange: protocol.KeyExchangeHealing, PostQuantum: true, Epoch: 1}},
				advance{time.Second},
				eventMsg{ev: protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: protocol.DirectionReceive, KeyExchange: protocol.KeyExchangeHealing, PostQuantum: true, Epoch: 1}},
				keyPress(tea.KeyF2))
		}},
		{"keychanged", func() []tea.Msg {
			return []tea.Msg{keyChanged("/home/alice/.config/duet/known_peers")}
		}},
	}
	sizes := [][2]int{{80, 24}, {120, 40}}
	for _, c := range cases {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s_%dx%d", c.name, sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				cfg := testConfig(newFakeNode())
				cfg.AcceptKey = func(crypto.Fingerprint) error { return nil }
				if strings.HasPrefix(c.name, "helpdemo") { // the demo's /attack
					cfg.Extra = []ExtraCommand{{Name: "/attack", Help: "demo: replay|tamper|reorder|drop|stale|reflect|keysub|impersonate|off"}}
				}
				s := newTestScreen(cfg)
				drive(t, s, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				drive(t, s, c.msgs()...)
				golden.RequireEqual(goldenTB{t, name}, screenText(t, s))
			})
		}
	}
	t.Run("seclog", func(t *testing.T) {
		// The security log: newest at the top, details whole, the user's
		// /replay marked as theirs (F4 floats it on a narrow terminal; the
		// sidebar shows it on a wide one).
		for _, sz := range sizes {
			s := newTestScreen(testConfig(newFakeNode()))
			drive(t, s, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			drive(t, s, securityEvents()...)
			if sz[0] < 100 {
				drive(t, s, keyPress(tea.KeyF4))
			}
			golden.RequireEqual(goldenTB{t, fmt.Sprintf("seclog_%dx%d", sz[0], sz[1])}, screenText(t, s))
		}
	})
	t.Run("narrow", func(t *testing.T) {
		// At 60x15 the footer leaves hints out whole ("ctrl+c quit" is
		// never cut to "ctrl+c q").
		s := newTestScreen(testConfig(newFakeNode()))
		drive(t, s, tea.WindowSizeMsg{Width: 60, Height: 15})
		drive(t, s, liveChat()...)
		golden.RequireEqual(goldenTB{t, "live_60x15"}, screenText(t, s))
	})
	t.Run("helpscrolled", func(t *testing.T) {
		// A help taller than the terminal keeps its border and scrolls.
		cfg := testConfig(newFakeNode())
		cfg.Extra = []ExtraCommand{{Name: "/attack", Help: "demo: replay|tamper|reorder|drop|stale|reflect|keysub|impersonate|off"}}
		s := newTestScreen(cfg)
		drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 16})
		drive(t, s, append(liveChat(), keyPress(tea.KeyF1))...)
		golden.RequireEqual(goldenTB{t, "helptop_80x16"}, screenText(t, s))
		drive(t, s, keyPress(tea.KeyPgDown))
		golden.RequireEqual(goldenTB{t, "helpscrolled_80x16"}, screenText(t, s))
	})
	t.Run("toosmall", func(t *testing.T) {
		// The notice fits whole: wrapped, never cut.
		for _, sz := range [][2]int{{36, 10}, {40, 10}, {20, 6}} {
			s := newTestScreen(testConfig(newFakeNode()))
			drive(t, s, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			golden.RequireEqual(goldenTB{t, fmt.Sprintf("toosmall_%dx%d", sz[0], sz[1])}, screenText(t, s))
		}
	})
}
