package crypto

// Trust is how far a peer's key is trusted: what key pinning
// (known_peers, or a fingerprint pinned on the command line) found for the
// key the peer presented. Its values are the words front ends show and
// must not change.
type Trust string

const (
	TrustUnknown  Trust = ""         // no key seen yet
	TrustNew      Trust = "new"      // first contact: just recorded in known_peers
	TrustKnown    Trust = "known"    // matches the key recorded in known_peers
	TrustPinned   Trust = "pinned"   // matches --peer-fingerprint
	TrustVerified Trust = "verified" // the user compared the safety number
)
