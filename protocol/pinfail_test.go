package protocol

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"duet/crypto"
)

// TestPinFailureIsErrorNotRejection: when VerifyPeer fails for a local
// reason (known_peers cannot be written: a full disk), the node reports an
// error saying what failed, not "rejected malformed", on both roles.
func TestPinFailureIsErrorNotRejection(t *testing.T) {
	const msg = "crypto: could not record the peer's key in /x/known_peers: write /x/known_peers: no space left on device"
	fail := func(*crypto.PublicKey) (crypto.Trust, error) {
		return crypto.TrustUnknown, fmt.Errorf("crypto: could not record the peer's key in /x/known_peers: %w",
			&pathErr{op: "write", path: "/x/known_peers", err: syscall.ENOSPC})
	}
	p := startPair(t, func(a, b *Config) { a.VerifyPeer, b.VerifyPeer = fail, fail })
	// The responder pins first (on the initiator's hello): its failure
	// stops the handshake there, so at least one side reports it.
	isPinErr := func(e Event) bool {
		ee, ok := e.(ErrorEvent)
		return ok && ee.Err != nil && strings.Contains(ee.Err.Error(), "could not record the peer's key in /x/known_peers")
	}
	deadline := time.Now().Add(20 * time.Second)
	for p.ra.count(isPinErr)+p.rb.count(isPinErr) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no error event naming known_peers; A: %v\nB: %v", p.ra.snapshot(), p.rb.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, r := range []*recorder{p.ra, p.rb} {
		for _, e := range r.snapshot() {
			if isPinErr(e) && (!errors.Is(e.(ErrorEvent).Err, syscall.ENOSPC) || e.(ErrorEvent).Err.Error() != msg) {
				t.Errorf("error event: %v, want %q", e.(ErrorEvent).Err, msg)
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // a few step retries
	for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
		if n := r.count(func(e Event) bool { _, ok := e.(RejectedEvent); return ok }); n != 0 {
			t.Errorf("%s reported %d rejections for its own disk failure: %v", name, n, r.snapshot())
		}
	}
}

type pathErr struct {
	op, path string
	err      error
}

func (e *pathErr) Error() string { return e.op + " " + e.path + ": " + e.err.Error() }
func (e *pathErr) Unwrap() error { return e.err }
