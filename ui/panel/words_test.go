package panel

import (
	"strings"
	"testing"

	"duet/protocol"
)

func TestPlainReasonAndReasonWords(t *testing.T) {
	for _, r := range []string{
		protocol.ReasonReplay, protocol.ReasonReorder, protocol.ReasonStale, protocol.ReasonFuture,
		protocol.ReasonTampered, protocol.ReasonNonceReuse, protocol.ReasonMalformed,
		protocol.ReasonTooLarge, protocol.ReasonBadSignature, protocol.ReasonKeyChanged,
	} {
		p := PlainReason(r)
		if p == r || !strings.HasSuffix(p, " ("+r+")") {
			t.Errorf("PlainReason(%q) = %q: want a sentence ending in (%s)", r, p, r)
		}
		if w := ReasonWords(r); w == "" || strings.Contains(w, "("+r+")") || !strings.HasPrefix(p, w) {
			t.Errorf("ReasonWords(%q) = %q", r, w)
		}
	}
	if PlainReason("new-code") != "new-code" || ReasonWords("new-code") != "" {
		t.Error("unknown code")
	}
}
