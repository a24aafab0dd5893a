package words

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"duet/crypto"
	"duet/protocol"
)

func TestReasonAndReasonBare(t *testing.T) {
	for _, r := range []string{
		protocol.ReasonReplay, protocol.ReasonReorder, protocol.ReasonStale, protocol.ReasonFuture,
		protocol.ReasonTampered, protocol.ReasonNonceReuse, protocol.ReasonMalformed,
		protocol.ReasonTooLarge, protocol.ReasonBadSignature, protocol.ReasonKeyChanged,
		protocol.ReasonReflected, protocol.ReasonOldVersion, protocol.ReasonDowngrade,
	} {
		p := Reason(r)
		if p == r || !strings.HasSuffix(p, " ("+r+")") {
			t.Errorf("Reason(%q) = %q: want a sentence ending in (%s)", r, p, r)
		}
		if w := ReasonBare(r); w == "" || strings.Contains(w, "("+r+")") || !strings.HasPrefix(p, w) {
			t.Errorf("ReasonBare(%q) = %q", r, w)
		}
	}
	if Reason("new-code") != "new-code" || ReasonBare("new-code") != "" {
		t.Error("unknown code")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestHandshakeError(t *testing.T) {
	tests := []struct {
		name string
		step int
		err  error
		want string
	}{
		{"nil", 3, nil, "no reason given"},
		{"key changed", 3, &crypto.KeyChangedError{Peer: "bob"}, "(key changed)"},
		{"key changed sentinel", 3, fmt.Errorf("x: %w", protocol.ErrKeyChanged), "(key changed)"},
		{"bad signature", 3, fmt.Errorf("protocol: hello: %w", protocol.ErrBadSignature), "the peer's hello was not signed by the key it came with"},
		{"stale", 4, fmt.Errorf("a: %w", protocol.ErrStale), "the key transport carries a timestamp too old"},
		{"future", 3, protocol.ErrFuture, "(future timestamp)"},
		{"hello replay", 3, protocol.ErrHelloReplay, "(replay)"},
		{"tampered", 5, crypto.ErrAuth, "acknowledgement failed authentication"},
		{"decrypt", 4, crypto.ErrDecrypt, "(tampered)"},
		{"malformed", 2, protocol.ErrMalformed, "(malformed)"},
		{"old version", 1, fmt.Errorf("x: %w", protocol.ErrOldVersion), "the peer speaks duet protocol 1; upgrade it"},
		{"downgrade", 3, fmt.Errorf("x: %w", protocol.ErrDowngrade), "the peer's hello came without its post-quantum (ML-KEM) share"},
		{"unexpected", 2, protocol.ErrUnexpected, "out of turn"},
		{"deadline", 1, context.DeadlineExceeded, "(timeout)"},
		{"os deadline", 1, fmt.Errorf("read: %w", os.ErrDeadlineExceeded), "(timeout)"},
		{"net timeout", 1, timeoutErr{}, "(timeout)"},
		{"timeout text", 1, errors.New("handshake timed out"), "(timeout)"},
		{"unknown", 3, errors.New("protocol: something: odd \x1b[1mthing"), `unexpected error: odd \x1b[1mthing`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HandshakeError(tc.step, tc.err)
			if !strings.Contains(got, tc.want) {
				t.Errorf("HandshakeError(%d, %v) = %q, want it to contain %q", tc.step, tc.err, got, tc.want)
			}
			if strings.Contains(got, "protocol:") || strings.Contains(got, "crypto:") || strings.Contains(got, "\x1b") {
				t.Errorf("error chain or control characters in %q", got)
			}
		})
	}
}
