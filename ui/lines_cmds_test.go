package ui

import (
	"bytes"
	"strings"
	"testing"

	"duet/protocol"
)

// TestLinesVerifyFingerprintHelp: the line mode answers /verify,
// /fingerprint and /help (through handleLine, as typed), laying the
// groups out whole: rows of 3 groups of 5 digits, of 8 groups of 4.
func TestLinesVerifyFingerprintHelp(t *testing.T) {
	var buf bytes.Buffer
	l := NewLines(&buf, "alice")
	l.SetPeerName("bob")
	const self = "bc25 117c 79d0 05ca 525e bb8a 2d37 a9c8 c08f 0f58 8326 4e8e 0e6e ee5b 5149 785d"
	const peer = "68ff 3d42 f629 0e0e ad8f e34f c5f7 17fa 085e f8ab b404 3cca 3ee3 2f1f 1eee 6512"
	const safety = "34723 68391 27345 72567 04545 97913 62708 74978 16373 71059 61628 96915"
	l.Ready(5555, 5556, self)
	handleLine("/verify", l, nil, InputConfig{}, nil)
	l.Emit(protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: peer, SafetyNumber: safety})
	for _, cmd := range []string{"/verify", "/fingerprint", "/help"} {
		if quit := handleLine(cmd, l, nil, InputConfig{}, nil); quit {
			t.Fatalf("%s quits", cmd)
		}
	}
	l.Close()
	out := buf.String()
	for _, want := range []string{
		"* nothing to verify yet",
		"* safety number with bob:\n*   34723 68391 27345\n*   72567 04545 97913\n*   62708 74978 16373\n*   71059 61628 96915\n",
		"* your fingerprint:\n*   bc25 117c 79d0 05ca 525e bb8a 2d37 a9c8\n*   c08f 0f58 8326 4e8e 0e6e ee5b 5149 785d\n",
		"* bob's fingerprint:\n*   68ff 3d42 f629 0e0e ad8f e34f c5f7 17fa\n*   085e f8ab b404 3cca 3ee3 2f1f 1eee 6512\n",
		"* /verify ", "* /fingerprint ", "* /help ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unknown command") {
		t.Errorf("a line mode command reported unknown:\n%s", out)
	}
}
