package panel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"duet/crypto"
	"duet/protocol"
)

// TestGolden keeps a few whole screens, as a terminal without colour shows
// them, for review. Regenerate with: go test ./ui/panel/ -run TestGolden -update
func TestGolden(t *testing.T) {
	sb := NewStatusBar(5555, 5556)
	for i := 0; i < 60; i++ {
		sb.Live(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Duration(1+i%7) * time.Millisecond, Authenticated: true}, t0.Add(time.Duration(i)*time.Second))
	}
	sb.SetStatus(protocol.Status{HasSession: true, SendSeq: 12, RecvSeq: 9, NextRekey: t0.Add(time.Hour), Live: protocol.LiveLive})
	var bars []string
	for _, w := range []int{120, 80, 60, 40, 20} {
		bars = append(bars, sb.View(testStyles(), w, t0.Add(60*time.Second)))
	}
	hs := fullHandshake()
	pqHeader := HeaderInfo{SelfName: "alice", PeerName: "bob", SelfFP: testFP, PeerFP: otherFP, Trust: crypto.TrustNew, Encrypted: true, PostQuantum: true}
	var pqHeaders []string
	for _, w := range []int{120, 100, 80, 60, 40} {
		pqHeaders = append(pqHeaders, Header(testStyles(), w, pqHeader))
	}
	healing := pqEstablished()
	for i, e := range []protocol.SessionEvent{healed(protocol.DirectionSend, 1), healed(protocol.DirectionReceive, 1), healed(protocol.DirectionReceive, 2)} {
		healing.Session(e, t0.Add(time.Duration(i+1)*time.Minute))
	}
	tests := map[string]string{
		"statusbar":  strings.Join(bars, "\n"),
		"handshake":  hs.View(testStyles(), 60, 30, t0.Add(9*time.Second)),
		"inspector":  fullInspector().View(testStyles(), 100, 7),
		"seclog":     fullLog().View(testStyles(), 60, 8),
		"keychanged": KeyChanged(testStyles(), 80, 30, KeyChangedInfo{Peer: "bob", Known: testFP, Got: otherFP, Path: "/home/alice/.config/duet/known_peers"}, "acc"),
		"verify":     Verify(testStyles(), 80, 24, testSafe, testFP, crypto.TrustKnown),
		"header-pq":  strings.Join(pqHeaders, "\n"),
		"healings":   healing.View(testStyles(), 38, 16, t0.Add(time.Hour)),
		"header":     Header(testStyles(), 100, HeaderInfo{SelfName: "alice", PeerName: "bob", SelfFP: testFP, PeerFP: otherFP, Trust: crypto.TrustNew, Encrypted: true}),
	}
	for name, view := range tests {
		t.Run(name, func(t *testing.T) {
			golden.RequireEqual(t, fmt.Sprintln(plain(view)))
		})
	}
}
