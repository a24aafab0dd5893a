package ui

import (
	"testing"

	"duet/protocol"
)

// TestLinesKeyExchange (issue 19): line mode says which exchanges a
// session's keys come from on "session established" (the words before it
// unchanged, so scripts that grep them still match), and that a rekey
// healed the session, with the direction's epoch.
func TestLinesKeyExchange(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	l.Emit(protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: "BBBB", SafetyNumber: "123 456",
		KeyExchange: protocol.KeyExchangeHandshake, PostQuantum: true})
	l.Emit(protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: protocol.DirectionSend,
		KeyExchange: protocol.KeyExchangeHealing, PostQuantum: true, Epoch: 1})
	l.Emit(protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: protocol.DirectionReceive,
		KeyExchange: protocol.KeyExchangeHealing, PostQuantum: true, Epoch: 2})
	l.Emit(protocol.SessionEvent{State: protocol.SessionRekeyed, KeyExchange: "X25519 + \x1b[31mML-KEM", Epoch: 3})
	l.Close()
	want := `* session established with BBBB, safety number 123 456 (X25519 + ML-KEM-768 + RSA-OAEP-2048, post-quantum)
* compare the safety number with your peer over another channel
* session rekeyed (our direction): healed by a fresh X25519 + ML-KEM-768 exchange, epoch 1
* session rekeyed (the peer's direction): healed by a fresh X25519 + ML-KEM-768 exchange, epoch 2
* session rekeyed: healed by a fresh X25519 + \x1b[31mML-KEM exchange, epoch 3
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
