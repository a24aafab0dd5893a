package words

import (
	"strings"
	"testing"

	"duet/crypto"
)

// TestSessionEstablishedSafetyOnce: the safety number is shown for a new
// one, not again for the same keys, and never for a verified peer; every
// form keeps "session established".
func TestSessionEstablishedSafetyOnce(t *testing.T) {
	const sn = "34723 68391 27345"
	for _, c := range []struct {
		prev     string
		verified bool
		shown    bool
	}{{"", false, true}, {"11111 22222", false, true}, {sn, false, false}, {sn, true, false}, {"", true, false}} {
		got := SessionEstablished(sn, c.prev, c.verified)
		if strings.Contains(got, sn) != c.shown || !strings.HasPrefix(got, "session established") {
			t.Errorf("prev %q verified %v: %q", c.prev, c.verified, got)
		}
	}
}

// TestPeerTrustSaysWhose: every trust word names the peer.
func TestPeerTrustSaysWhose(t *testing.T) {
	for _, l := range []crypto.Trust{crypto.TrustUnknown, crypto.TrustNew, crypto.TrustKnown, crypto.TrustPinned, crypto.TrustVerified} {
		if got := PeerTrust("bob", l, false); !strings.Contains(got, "bob") {
			t.Errorf("%q: %q", l, got)
		}
	}
	if got := PeerTrust("bob", crypto.TrustNew, true); got != "bob's key changed" {
		t.Errorf("changed: %q", got)
	}
}
