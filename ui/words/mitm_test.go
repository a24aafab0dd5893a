package words

import (
	"testing"

	"duet/protocol"
)

func TestMITM(t *testing.T) {
	chat := protocol.MITMEvent{Flow: protocol.FlowAB, Type: protocol.TypeChat, Seq: 7, HasSeq: true, Size: 75}
	with := func(action string, a protocol.Attack) protocol.MITMEvent {
		e := chat
		e.Action, e.Attack = action, a
		return e
	}
	back := with(protocol.MITMReplayed, protocol.AttackReplay)
	back.Flow = protocol.FlowBA
	for _, c := range []struct {
		ev   protocol.MITMEvent
		want string
	}{
		{with(protocol.MITMRelayed, 0), "a->b CHAT seq 7 (75 bytes)"},
		{with(protocol.MITMReplayed, protocol.AttackReplay), "a->b REPLAYED CHAT seq 7 (75 bytes): B must refuse it (replay)"},
		{back, "b->a REPLAYED CHAT seq 7 (75 bytes): A must refuse it (replay)"},
		{with(protocol.MITMTampered, protocol.AttackTamper), "a->b TAMPERED CHAT seq 7 (75 bytes) (one bit flipped): B must refuse it (tampered); A resends the message"},
		{with(protocol.MITMHeld, protocol.AttackReorder), "a->b HELD BACK CHAT seq 7 (75 bytes): it goes after the next record"},
		{with(protocol.MITMReleased, protocol.AttackReorder), "a->b RELEASED CHAT seq 7 (75 bytes) out of order: B must refuse it (reorder); A resends the message"},
		{with(protocol.MITMDropped, protocol.AttackDrop), "a->b DROPPED CHAT seq 7 (75 bytes): B sees a gap; A resends the message"},
		{with(protocol.MITMLost, 0), "a->b CHAT seq 7 (75 bytes) not passed on: B is not connected"},
		{protocol.MITMEvent{Flow: protocol.FlowAB, Action: protocol.MITMKeySub, Attack: protocol.AttackKeySub, Type: protocol.TypePublicKey, Size: 315}, "a->b SUBSTITUTED the key in A's PUBLIC_KEY (315 bytes): B must refuse the handshake (bad-signature)"},
		{protocol.MITMEvent{Flow: protocol.FlowBA, Action: protocol.MITMArmed, Attack: protocol.AttackTamper}, "b->a tamper armed: B's next CHAT record gets one bit flipped"},
		{protocol.MITMEvent{Flow: protocol.FlowBA, Action: protocol.MITMDisarmed}, "b->a attacks off: B's messages pass unchanged"},
	} {
		if got := MITM(c.ev); got != c.want {
			t.Errorf("MITM(%+v)\n got %q\nwant %q", c.ev, got, c.want)
		}
	}
}
