package mitm

import (
	"bytes"
	"testing"

	"duet/protocol"
	"duet/protocol/internal/prototest"
)

// TestProcessOldVersion: a version-1 duet's PUBLIC_KEY passes through
// unchanged (keysub armed too: the relay substitutes keys in version-2
// messages only), and its event names it: type PUBLIC_KEY, version 1.
// A version-2 message's event carries no version.
func TestProcessOldVersion(t *testing.T) {
	ids := prototest.Identities(t)
	v2 := protocol.AppendPublicKey(nil, protocol.PublicKeyMsg{ReplyRequested: true, DER: ids[0].Public().DER()})
	v1 := append([]byte(nil), v2...)
	v1[0] = protocol.VersionOld
	m := New(func(protocol.Event) {}, ids[2].Public())
	if err := m.Arm(t.Context(), FlowBA, KeySub); err != nil {
		t.Fatal(err)
	}
	out, evs, back := m.process(FlowBA, v1)
	if len(out) != 1 || !bytes.Equal(out[0], v1) || back != nil {
		t.Fatalf("process(version-1 PUBLIC_KEY) passed on %x, back %x; want it unchanged", out, back)
	}
	if len(evs) != 1 || evs[0].Action != Relayed || evs[0].Type != protocol.TypePublicKey || evs[0].Version != protocol.VersionOld || evs[0].Size != len(v1) {
		t.Errorf("event %+v: want relayed, PUBLIC_KEY, version 1, size %d", evs, len(v1))
	}
	_, evs, _ = m.process(FlowAB, v2)
	if len(evs) != 1 || evs[0].Type != protocol.TypePublicKey || evs[0].Version != 0 {
		t.Errorf("version-2 PUBLIC_KEY's event %+v: want PUBLIC_KEY and no version", evs)
	}
}
