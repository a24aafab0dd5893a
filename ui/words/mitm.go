package words

import (
	"fmt"

	"duet/protocol"
	"duet/protocol/mitm"
)

// MITM is the text line for e (`duet mitm`'s output): what was done, and
// what the receiver must do about it. An intercepted message is quoted as
// a Go string; the line is not sanitized (its printer does that).
func MITM(e mitm.Event) string { return MITMNamed(e, "A", "B", "") }

// MITMNamed is MITM with the peers' names; the line starts with the flow
// ("a->b"), or with arrow and the names if arrow is set ("bob → alice").
func MITMNamed(e mitm.Event, nameA, nameB, arrow string) string {
	from, to := nameA, nameB
	if e.Flow == mitm.FlowBA {
		from, to = nameB, nameA
	}
	flow := e.Flow.String()
	if arrow != "" {
		flow = from + arrow + to + ":"
	}
	what := protocol.TypeName(e.Type)
	if e.Version != 0 {
		what += fmt.Sprintf(" of protocol %d", e.Version)
	}
	if e.HasSeq {
		what += fmt.Sprintf(" seq %d", e.Seq)
	}
	what += fmt.Sprintf(" (%d bytes)", e.Size)
	switch e.Action {
	case mitm.Relayed:
		return fmt.Sprintf("%s %s", flow, what)
	case mitm.Lost:
		return fmt.Sprintf("%s %s not passed on: %s is not connected", flow, what, to)
	case mitm.Armed:
		switch e.Attack {
		case mitm.Impersonate:
			return fmt.Sprintf("%s impersonating: the MITM answers %s as %s, with its own key; %s refuses it if it knows %s's key (key-changed)", flow, from, to, from, to)
		case mitm.KeySub:
			return fmt.Sprintf("%s keysub on: every PUBLIC_KEY from %s now carries the MITM's key (acts on the next handshake: restart a peer)", flow, from)
		case mitm.Tamper:
			return fmt.Sprintf("%s tamper armed: %s's next CHAT record gets one bit flipped", flow, from)
		case mitm.Reorder:
			return fmt.Sprintf("%s reorder armed: %s's next CHAT record is held back", flow, from)
		case mitm.Drop:
			return fmt.Sprintf("%s drop armed: %s's next CHAT record is dropped", flow, from)
		case mitm.Stale:
			return fmt.Sprintf("%s stale armed: %s's next CHAT record, and all %s sends after it, is held past the timestamp window, then released in order", flow, from, from)
		case mitm.Reflect:
			return fmt.Sprintf("%s reflect armed: %s's next record also goes back to %s", flow, from, from)
		case mitm.Downgrade:
			return fmt.Sprintf("%s downgrade on: every HELLO from %s loses its ML-KEM share (acts on the next handshake: restart a peer)", flow, from)
		case mitm.Steal:
			return fmt.Sprintf("%s STOLE a copy of %s's sending keys (epoch %d), as malware on %s's machine would: the MITM tries to read every record of %s's, from record %d on and the last ones it saw",
				flow, from, e.Epoch, from, from, e.Seq)
		}
	case mitm.Disarmed:
		return fmt.Sprintf("%s attacks off: %s's messages pass unchanged", flow, from)
	case mitm.Replayed:
		return fmt.Sprintf("%s REPLAYED %s: %s must refuse it (replay)", flow, what, to)
	case mitm.Tampered:
		return fmt.Sprintf("%s TAMPERED %s (one bit flipped): %s must refuse it (tampered); %s resends the message", flow, what, to, from)
	case mitm.Held:
		if e.Attack == mitm.Stale {
			return fmt.Sprintf("%s HELD BACK %s past the timestamp window, with all that follows it", flow, what)
		}
		return fmt.Sprintf("%s HELD BACK %s: it goes after the next record", flow, what)
	case mitm.Released:
		if e.Attack == mitm.Stale {
			return fmt.Sprintf("%s RELEASED %s late, in order: %s must refuse it if it is older than the window (stale); %s resends the message", flow, what, to, from)
		}
		return fmt.Sprintf("%s RELEASED %s out of order: %s must refuse it (reorder); %s resends the message", flow, what, to, from)
	case mitm.Reflected:
		return fmt.Sprintf("%s REFLECTED %s's own %s back to %s: %s must refuse it (reflected)", flow, to, what, to, to)
	case mitm.Dropped:
		return fmt.Sprintf("%s DROPPED %s: %s sees a gap; %s resends the message", flow, what, to, from)
	case mitm.Substituted:
		return fmt.Sprintf("%s SUBSTITUTED the key in %s's %s: %s must refuse the handshake (bad-signature)", flow, from, what, to)
	case mitm.Stripped:
		share := "key"
		if e.SizeBefore == protocol.HelloBSize {
			share = "ciphertext"
		}
		return fmt.Sprintf("%s STRIPPED the ML-KEM %s from %s's %s (%d -> %d bytes): %s must refuse it (downgrade)", flow, share, from, protocol.TypeName(e.Type), e.SizeBefore, e.Size, to)
	case mitm.ImpostorSession:
		return fmt.Sprintf("%s IMPOSTOR SESSION with %s (%s): it took the MITM's key for %s's; only comparing safety numbers shows it", flow, from, e.Peer, to)
	case mitm.Read, mitm.Unreadable:
		return stealLine(e, flow, from)
	case mitm.Intercepted:
		return fmt.Sprintf("%s READ %s's message: %q; it reaches %s only if %s took the MITM's key too", flow, from, e.Text, to, to)
	}
	return fmt.Sprintf("%s %s %s", flow, e.Action, what)
}

// stealLine is the thief's line for a record it tried (/attack steal):
// read, with a CHAT's text, or why not.
func stealLine(e mitm.Event, flow, from string) string {
	rec := protocol.TypeName(e.Type)
	if e.Action == mitm.Read {
		if protocol.IsChatRecord(e.Type) {
			rec += " “" + e.Text + "”"
		}
		if e.Type == protocol.TypeHeal || e.Type == protocol.TypeHealAck {
			return fmt.Sprintf("%s the thief READ %s's record %d (%s): a healing, from a fresh exchange the stolen keys cannot follow", flow, from, e.Seq, rec)
		}
		return fmt.Sprintf("%s the thief READ %s's record %d (%s)", flow, from, e.Seq, rec)
	}
	why := "it did not open under the stolen keys"
	switch e.Why {
	case mitm.WhyBeforeTheft:
		why = "sent before the theft, its key already erased"
	case mitm.WhyHealed:
		why = fmt.Sprintf("%s's keys healed (%s) at epoch %d", from, protocol.KeyExchangeHealing, e.Epoch)
	}
	return fmt.Sprintf("%s the thief cannot read %s's record %d (%s): %s", flow, from, e.Seq, rec, why)
}
