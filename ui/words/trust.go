package words

import "duet/crypto"

// OwnKey is said once when the peer presents our own key.
const OwnKey = "the peer uses your own identity key (both sides run with the same key file): its fingerprint and the safety number cannot tell the two sides apart; give each side its own --identity"

// Trust is a trust level as the screen shows it; never empty. A level it
// does not know is shown as it is, sanitized.
func Trust(level crypto.Trust) string {
	switch level {
	case crypto.TrustUnknown:
		return "no key yet"
	case crypto.TrustNew:
		return "new key"
	case crypto.TrustKnown:
		return "known key"
	case crypto.TrustPinned:
		return "pinned key"
	case crypto.TrustVerified:
		return "✓ verified"
	}
	return clean(string(level))
}
