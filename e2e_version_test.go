package main

// Process-level test of protocol 2's version rule (issue 19): a duet that
// speaks protocol 1 is named, not silently ignored.

import (
	"context"
	"strings"
	"testing"
)

// TestE2EOldVersionPeer: a version-1 duet's PUBLIC_KEY (the bytes of
// testdata/vectors/handshake.json, protocol 1's vectors), sent through
// duet's own transport to a running duet's main port, is refused with
// reason old-version, in words that name protocol 1; the duet keeps
// running and a version-2 peer then connects as usual.
func TestE2EOldVersionPeer(t *testing.T) {
	v1Key := v1VectorPublicKey(t)
	pr := newPair(t)
	a := startDuet(t, "A", pr.args("A", "")...)
	a.waitFor(t, readyTimeout, "ready", isEv("ready"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	atk := attacker(t, ctx, 0, pr.portA)
	if err := atk.Send(ctx, v1Key); err != nil {
		t.Fatal(err)
	}
	e := a.waitFor(t, msgTimeout, "rejected old-version", func(e event) bool { return e.Event == "rejected" && e.Reason == "old-version" })
	if e.Seq != nil || !strings.Contains(e.Detail, "protocol 1") {
		t.Errorf("old-version line %s: want no seq and a detail naming protocol 1", e)
	}
	if !a.running() {
		t.Fatal("A died")
	}
	atk.Close()
	b := startDuet(t, "B", pr.args("B", "")...)
	a.waitFor(t, sessionTimeout, "session established", established)
	b.waitFor(t, sessionTimeout, "session established", established)
}
