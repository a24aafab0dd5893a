package words

import (
	"testing"

	"duet/protocol"
	"duet/protocol/mitm"
)

func TestMITM(t *testing.T) {
	chat := mitm.Event{Flow: mitm.FlowAB, Type: protocol.TypeChat, Seq: 7, HasSeq: true, Size: 75}
	with := func(action string, a mitm.Attack) mitm.Event {
		e := chat
		e.Action, e.Attack = action, a
		return e
	}
	back := with(mitm.Replayed, mitm.Replay)
	back.Flow = mitm.FlowBA
	for _, c := range []struct {
		ev   mitm.Event
		want string
	}{
		{with(mitm.Relayed, 0), "a->b CHAT seq 7 (75 bytes)"},
		{with(mitm.Replayed, mitm.Replay), "a->b REPLAYED CHAT seq 7 (75 bytes): B must refuse it (replay)"},
		{back, "b->a REPLAYED CHAT seq 7 (75 bytes): A must refuse it (replay)"},
		{with(mitm.Tampered, mitm.Tamper), "a->b TAMPERED CHAT seq 7 (75 bytes) (one bit flipped): B must refuse it (tampered); A resends the message"},
		{with(mitm.Held, mitm.Reorder), "a->b HELD BACK CHAT seq 7 (75 bytes): it goes after the next record"},
		{with(mitm.Released, mitm.Reorder), "a->b RELEASED CHAT seq 7 (75 bytes) out of order: B must refuse it (reorder); A resends the message"},
		{with(mitm.Dropped, mitm.Drop), "a->b DROPPED CHAT seq 7 (75 bytes): B sees a gap; A resends the message"},
		{with(mitm.Lost, 0), "a->b CHAT seq 7 (75 bytes) not passed on: B is not connected"},
		{mitm.Event{Flow: mitm.FlowAB, Action: mitm.Substituted, Attack: mitm.KeySub, Type: protocol.TypePublicKey, Size: 315}, "a->b SUBSTITUTED the key in A's PUBLIC_KEY (315 bytes): B must refuse the handshake (bad-signature)"},
		{mitm.Event{Flow: mitm.FlowBA, Action: mitm.Armed, Attack: mitm.Tamper}, "b->a tamper armed: B's next CHAT record gets one bit flipped"},
		{mitm.Event{Flow: mitm.FlowBA, Action: mitm.Disarmed}, "b->a attacks off: B's messages pass unchanged"},
		{with(mitm.Held, mitm.Stale), "a->b HELD BACK CHAT seq 7 (75 bytes) past the timestamp window, with all that follows it"},
		{with(mitm.Released, mitm.Stale), "a->b RELEASED CHAT seq 7 (75 bytes) late, in order: B must refuse it if it is older than the window (stale); A resends the message"},
		{mitm.Event{Flow: mitm.FlowBA, Action: mitm.Reflected, Attack: mitm.Reflect, Type: protocol.TypePing, Seq: 9, HasSeq: true, Size: 50}, "b->a REFLECTED A's own PING seq 9 (50 bytes) back to A: A must refuse it (reflected)"},
		{mitm.Event{Flow: mitm.FlowAB, Action: mitm.Armed, Attack: mitm.Stale}, "a->b stale armed: A's next CHAT record, and all A sends after it, is held past the timestamp window, then released in order"},
		{mitm.Event{Flow: mitm.FlowAB, Action: mitm.Armed, Attack: mitm.Reflect}, "a->b reflect armed: A's next record also goes back to A"},
		{mitm.Event{Flow: mitm.FlowAB, Action: mitm.Armed, Attack: mitm.Downgrade}, "a->b downgrade on: every HELLO from A loses its ML-KEM share (acts on the next handshake: restart a peer)"},
		{mitm.Event{Flow: mitm.FlowAB, Action: mitm.Stripped, Attack: mitm.Downgrade, Type: protocol.TypeHello, Size: 319, SizeBefore: 1503}, "a->b STRIPPED the ML-KEM key from A's HELLO (1503 -> 319 bytes): B must refuse it (downgrade)"},
		{mitm.Event{Flow: mitm.FlowBA, Action: mitm.Stripped, Attack: mitm.Downgrade, Type: protocol.TypeHello, Size: 319, SizeBefore: 1407}, "b->a STRIPPED the ML-KEM ciphertext from B's HELLO (1407 -> 319 bytes): A must refuse it (downgrade)"},
	} {
		if got := MITM(c.ev); got != c.want {
			t.Errorf("MITM(%+v)\n got %q\nwant %q", c.ev, got, c.want)
		}
	}
}
