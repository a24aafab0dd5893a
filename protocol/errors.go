package protocol

import (
	"errors"

	"duet/crypto"
)

// Rejection reasons for peer input. Every rejected message leaves all state
// unchanged. Use errors.Is; Reason maps an error to its event reason.
var (
	ErrMalformed   = errors.New("protocol: malformed message")
	ErrTooLarge    = errors.New("protocol: message too large")
	ErrVersion     = errors.New("protocol: unsupported version")
	ErrUnknownType = errors.New("protocol: unknown message type")
	ErrTampered    = errors.New("protocol: authentication failed")
	ErrReplay      = errors.New("protocol: replayed record")
	ErrReorder     = errors.New("protocol: record out of order")
	ErrStale       = errors.New("protocol: timestamp too old")
	ErrFuture      = errors.New("protocol: timestamp in the future")
	ErrNonceReuse  = errors.New("protocol: nonce reused")
	ErrBadConfirm  = errors.New("protocol: confirmation does not match transcript")
	ErrReflected   = errors.New("protocol: own message reflected back")
	// ErrRecordReflected is a session record this side sealed itself, sent
	// back to it: its nonce is one of the current send epoch's and it
	// authenticates under the send key. Reported as ReasonReflected (a
	// reflected PUBLIC_KEY, ErrReflected, stays "malformed").
	ErrRecordReflected = errors.New("protocol: own record reflected back")
	ErrUnexpected      = errors.New("protocol: message not expected in this state")
	ErrHelloReplay     = errors.New("protocol: hello not newer than the last accepted")
	// ErrOldVersion is a message whose byte 0 is VersionOld and that
	// parses as a version-1 PUBLIC_KEY: the peer runs a duet that speaks
	// protocol 1 and must be upgraded. Any other message of another
	// version is ErrVersion ("malformed"). Reported as ReasonOldVersion.
	ErrOldVersion = errors.New("protocol: the peer speaks protocol 1")
	// ErrDowngrade is a version-2 HELLO of the version-1 size: the ML-KEM
	// share was stripped on the way (a relay), or the sender is broken.
	// Nothing is verified: it costs a length compare. Reported as
	// ReasonDowngrade.
	ErrDowngrade = errors.New("protocol: hello without its ML-KEM share")
	// ErrTooFar is a record whose seq is more than keys.MaxSkip ahead of
	// the last accepted one: its key would cost that many chain steps, so
	// it is refused unopened. Reported as ReasonTooFar.
	ErrTooFar = errors.New("protocol: record too far ahead of the last accepted")
	// ErrHealing is /rekey's answer while a healing is under way.
	ErrHealing = errors.New("protocol: a healing is already under way")

	// Errors re-exported from crypto so callers need one import.
	ErrBadSignature = crypto.ErrBadSignature
	ErrKeyChanged   = crypto.ErrKeyChanged

	// Local errors (not peer rejections).
	ErrTextTooLarge = errors.New("protocol: message text too large")
	ErrQueueFull    = errors.New("protocol: too many unacknowledged messages")
	ErrNoSession    = errors.New("protocol: no established session")
	ErrSeqExhausted = errors.New("protocol: sequence space exhausted")
	// ErrNothingToReplay is /replay's answer when this node has sealed no
	// CHAT record yet (since it started): /replay re-sends chat records
	// only, never a ping or another record type.
	ErrNothingToReplay = errors.New("protocol: replay: no chat message sent since duet started, nothing to replay")
)

// Reason returns the RejectedEvent reason for a rejection error.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrOldVersion):
		return ReasonOldVersion
	case errors.Is(err, ErrDowngrade):
		return ReasonDowngrade
	case errors.Is(err, ErrRecordReflected):
		return ReasonReflected
	case errors.Is(err, ErrReplay), errors.Is(err, ErrHelloReplay):
		return ReasonReplay
	case errors.Is(err, ErrReorder):
		return ReasonReorder
	case errors.Is(err, ErrTooFar):
		return ReasonTooFar
	case errors.Is(err, ErrStale):
		return ReasonStale
	case errors.Is(err, ErrFuture):
		return ReasonFuture
	case errors.Is(err, ErrTampered), errors.Is(err, ErrBadConfirm),
		errors.Is(err, crypto.ErrAuth), errors.Is(err, crypto.ErrDecrypt):
		return ReasonTampered
	case errors.Is(err, ErrNonceReuse):
		return ReasonNonceReuse
	case errors.Is(err, ErrTooLarge):
		return ReasonTooLarge
	case errors.Is(err, ErrBadSignature):
		return ReasonBadSignature
	case errors.Is(err, ErrKeyChanged):
		return ReasonKeyChanged
	}
	return ReasonMalformed
}
