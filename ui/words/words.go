// Package words is what duet says to people, written once: why a record
// was rejected or a handshake step failed, how far a peer's key is
// trusted, what the man in the middle did, and the start-up notices. The
// screen, its panels, the line mode and the MITM output all take their
// sentences from here; scripts get the codes themselves (reason tokens,
// headless JSON), never these words. Text from outside in them (an error's
// last part, a trust level) is sanitized, except in the MITM's lines, which
// their printer sanitizes. It renders nothing and imports no UI package
// but termsafe.
package words

import (
	"context"
	"errors"
	"os"
	"strings"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/termsafe"
)

// Reason says in plain words why a record was rejected, for people rather
// than for scripts (which get the reason code itself), ending in the code:
// "a copy of a record already received (replay)". Every reason the
// protocol reports has its own sentence; an unknown code is returned as it
// is.
func Reason(reason string) string {
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
	case protocol.ReasonReflected:
		return "it was our own record, sent back to us (reflected)"
	case protocol.ReasonOldVersion:
		return "the peer speaks duet protocol 1; upgrade it (old-version)"
	case protocol.ReasonDowngrade:
		return "a hello stripped of its post-quantum (ML-KEM) share on the way (downgrade)"
	case protocol.ReasonTooFar:
		return "its sequence number was more than 1024 ahead of the last one received (too-far)"
	}
	return reason
}

// ReasonBare is Reason without its trailing "(reason)", for a line that
// already shows the reason code: "replay: a copy of a record already
// received". An unknown code gives "".
func ReasonBare(reason string) string {
	words := Reason(reason)
	if words == reason {
		return ""
	}
	return strings.TrimSuffix(words, " ("+reason+")")
}

// HandshakeError says in plain words why handshake step failed, for the
// handshake panel and the line mode ("handshake step 3 (verify) failed:
// …"). It names the cause (key changed, bad signature, stale or future
// timestamp, timeout, …), never the Go error chain; an error it does not
// know is summed up by its last part, sanitized.
func HandshakeError(step int, err error) string {
	if err == nil {
		return "the step failed (no reason given)"
	}
	what := "the peer's message"
	switch step {
	case protocol.StepPublicKeys:
		what = "the peer's public key"
	case protocol.StepHello, protocol.StepVerify:
		what = "the peer's hello"
	case protocol.StepKeyTransport:
		what = "the key transport"
	case protocol.StepAck:
		what = "the peer's acknowledgement"
	case protocol.StepConfirm:
		what = "the peer's confirmation"
	}
	var netErr interface{ Timeout() bool }
	switch {
	case errors.Is(err, crypto.ErrKeyChanged):
		return "the peer presented a key other than the one recorded for it (key changed); nothing was sent to it"
	case protocol.IsPinError(err):
		return "could not check or record the peer's key in known_peers: " + lastPart(err)
	case errors.Is(err, protocol.ErrBadSignature):
		return what + " was not signed by the key it came with, or was altered on the way (bad signature)"
	case errors.Is(err, protocol.ErrHelloReplay):
		return "a copy of an earlier hello arrived again (replay); duet retries"
	case errors.Is(err, protocol.ErrStale):
		return what + " carries a timestamp too old: the peer's clock may be behind by more than 30 s, or it is an old copy (stale timestamp)"
	case errors.Is(err, protocol.ErrFuture):
		return what + " carries a timestamp in the future: the peer's clock may be ahead by more than 30 s (future timestamp)"
	case errors.Is(err, protocol.ErrBadConfirm):
		return "the peer's confirmation does not match our view of the handshake: someone may have altered it (tampered)"
	case errors.Is(err, protocol.ErrTampered), errors.Is(err, crypto.ErrAuth), errors.Is(err, crypto.ErrDecrypt):
		return what + " failed authentication: altered on the way, or not from the peer (tampered)"
	case errors.Is(err, protocol.ErrReflected):
		return "our own message came back to us (reflected)"
	case errors.Is(err, crypto.ErrBadPublicKey):
		return "the peer's key is not an RSA-2048 key duet accepts"
	case errors.Is(err, crypto.ErrBadECDH):
		return "the peer's ephemeral key is unusable (malformed)"
	case errors.Is(err, protocol.ErrUnexpected):
		return what + " arrived out of turn; duet retries"
	case errors.Is(err, protocol.ErrTooLarge):
		return what + " was larger than the protocol allows (too-large)"
	case errors.Is(err, protocol.ErrOldVersion):
		return "the peer speaks duet protocol 1; upgrade it (old-version)"
	case errors.Is(err, protocol.ErrDowngrade):
		return what + " came without its post-quantum (ML-KEM) share: stripped on the way (downgrade)"
	case errors.Is(err, protocol.ErrMalformed), errors.Is(err, protocol.ErrVersion), errors.Is(err, protocol.ErrUnknownType):
		return what + " was not well-formed (malformed)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "no answer in time (timeout); duet retries every few seconds"
	case errors.Is(err, context.Canceled):
		return "stopped (duet is quitting)"
	}
	if s := strings.ToLower(err.Error()); strings.Contains(s, "timeout") || strings.Contains(s, "timed out") {
		return "no answer in time (timeout); duet retries every few seconds"
	}
	return "unexpected error: " + lastPart(err)
}

// lastPart returns the innermost message of an error chain ("a: b: c" gives
// "c"), sanitized.
func lastPart(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	return clean(s)
}

// clean makes s safe to draw in a cell of the screen: termsafe.Sanitize
// escapes control characters, and a tab, which Sanitize keeps, becomes a
// space so widths stay exact. It is panel's policy for its cells (the
// words go into panels).
func clean(s string) string {
	return strings.ReplaceAll(termsafe.Sanitize(s), "\t", " ")
}
