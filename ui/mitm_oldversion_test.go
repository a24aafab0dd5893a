package ui

import (
	"encoding/json"
	"strings"
	"testing"

	"duet/protocol"
	"duet/protocol/mitm"
)

// TestMITMOutputOldVersion: a version-1 duet's message relayed is named
// as one: its JSON line adds "version":1 to type and size, its text line
// says "of protocol 1"; a version-2 message's line has no version key.
func TestMITMOutputOldVersion(t *testing.T) {
	e := mitm.Event{Flow: mitm.FlowBA, Action: mitm.Relayed, Type: protocol.TypePublicKey, Version: protocol.VersionOld, Size: 315}
	var buf syncBuffer
	o := NewMITMOutput(&buf, true, false)
	o.Emit(e)
	e.Version = 0
	o.Emit(e)
	o.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines:\n%s", buf.String())
	}
	for i, want := range []any{1.0, nil} {
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("%v: %s", err, lines[i])
		}
		if m["type"] != "PUBLIC_KEY" || m["size"] != 315.0 || m["version"] != want {
			t.Errorf("line %s: want type PUBLIC_KEY, size 315, version %v", lines[i], want)
		}
	}
	var text syncBuffer
	o = NewMITMOutput(&text, false, false)
	o.Emit(mitm.Event{Flow: mitm.FlowBA, Action: mitm.Relayed, Type: protocol.TypePublicKey, Version: protocol.VersionOld, Size: 315})
	o.Close()
	if !strings.Contains(text.String(), "b->a PUBLIC_KEY of protocol 1 (315 bytes)") {
		t.Errorf("text line %q", text.String())
	}
}
