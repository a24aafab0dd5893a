// Package panel renders the full-screen UI's side panels and bars: header,
// status bar, handshake steps, security log, record inspector, the
// key-changed warning and the /verify overlay. Panels are plain structs that
// take events and render strings; they do no I/O and own no goroutines.
package panel

import "duet/protocol"

// PlainReason says in plain words why a record was rejected, for people
// rather than for scripts (which get the reason code itself). Every reason
// the protocol reports has its own sentence; an unknown code is returned
// as it is.
func PlainReason(reason string) string {
	switch reason {
	case protocol.ReasonReplay:
		return "a copy of a record already received (replay)"
	case protocol.ReasonReorder:
		return "an older record arriving after a newer one (reorder)"
	case protocol.ReasonStale:
		return "its timestamp is too old (stale)"
	case protocol.ReasonFuture:
		return "its timestamp is in the future (future)"
	case protocol.ReasonTampered:
		return "it failed authentication: altered, or not from the peer (tampered)"
	case protocol.ReasonNonceReuse:
		return "it reused a nonce already seen (nonce-reuse)"
	case protocol.ReasonMalformed:
		return "it was not a well-formed message (malformed)"
	case protocol.ReasonTooLarge:
		return "it was larger than the protocol allows (too-large)"
	case protocol.ReasonBadSignature:
		return "its signature did not verify (bad-signature)"
	case protocol.ReasonKeyChanged:
		return "the peer presented a key other than the recorded one (key-changed)"
	}
	return reason
}
