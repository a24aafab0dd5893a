package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"duet/protocol"
)

func TestLinesFormat(t *testing.T) {
	var buf syncBuffer
	l := NewLines(&buf, "alice")
	l.now = func() time.Time { return fixedNow }
	l.loc = time.UTC
	l.Ready(5555, 5556, "AAAA")
	l.Emit(protocol.LiveEvent{State: protocol.LiveLive, RTT: 1500 * time.Microsecond})
	l.Emit(protocol.LiveEvent{State: protocol.LiveLive, RTT: 900 * time.Microsecond})
	l.Emit(protocol.HandshakeEvent{Step: 1, Done: true})
	l.Emit(protocol.HandshakeEvent{Step: 3, Err: errors.New("bad signature")})
	l.Emit(protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: "BBBB", SafetyNumber: "123 456"})
	l.Emit(protocol.MessageEvent{ID: 1, Seq: 1, Text: "hello", SentAt: fixedNow})
	l.Emit(protocol.MessageEvent{ID: 2, Seq: 2, Text: "evil\x1b[2J\x07 \u202e text \xff"})
	l.Queued(9, "my message")
	l.Emit(protocol.SentEvent{ID: 9, Seq: 3})
	l.Emit(protocol.DeliveredEvent{ID: 9})
	l.Emit(protocol.DeliveredEvent{ID: 9}) // twice: shown once
	l.Emit(protocol.GapEvent{Missing: 2})
	l.Emit(protocol.RejectedEvent{Reason: "replay", Seq: 7, HasSeq: true})
	l.Emit(protocol.RejectedEvent{Reason: "malformed", Detail: "short record"})
	l.Emit(protocol.SessionEvent{State: protocol.SessionRekeyed})
	l.Emit(protocol.ErrorEvent{Err: errors.New("boom")})
	l.Emit(protocol.LiveEvent{State: protocol.LiveDown})
	l.Close()
	want := `* duet: listening on port 5555, peer on port 5556
* your fingerprint: AAAA
* type a message and press Enter; /quit, /rekey, /replay
* peer is live (rtt 1.5 ms)
! handshake step 3 (verify) failed: bad signature
* session established with BBBB, safety number 123 456
* compare the safety number with your peer over another channel
[12:01:02] peer: hello
[12:01:02] peer: evil\x1b[2J\a \u202e text \xff
[12:01:02] alice: my message
  ✓ delivered: my message
! 2 message(s) from the peer never arrived
! rejected replay seq 7
! rejected malformed: short record
* session rekeyed
! error: boom
* peer is down
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, émoji 🙂\ttab": "plain text, émoji 🙂\ttab",
		"\x1b]0;title\x07":         `\x1b]0;title\a`,
		"a\r\nb":                   `a\r\nb`,
		"\u0085":                   `\u0085`,
		"bad \xc3":                 `bad \xc3`,
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunLines(t *testing.T) {
	var buf syncBuffer
	l := NewLines(&buf, "bob")
	ctl := &fakeCtl{}
	ctl.onSend = func(id uint64) { go l.Emit(protocol.DeliveredEvent{ID: id}) }
	if err := RunLines(context.Background(), strings.NewReader("hi\n/nope\n"), l, ctl); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if !strings.Contains(buf.String(), `! error: unknown command "/nope"`) {
		t.Errorf("output %q", buf.String())
	}
}
