package ui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/termsafe"
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
	l.Emit(protocol.HandshakeEvent{Step: 3, Err: fmt.Errorf("protocol: hello: %w", protocol.ErrBadSignature)})
	l.Emit(protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: "BBBB", SafetyNumber: "123 456"})
	l.Emit(protocol.MessageEvent{ID: 1, Seq: 1, Text: "hello", SentAt: fixedNow})
	l.Emit(protocol.MessageEvent{ID: 2, Seq: 2, Text: "evil\x1b[2J\x07 \u202e text \xff"})
	l.Queued(9, "my message", fixedNow.Add(-time.Minute))
	l.Emit(protocol.SentEvent{ID: 9, Seq: 3})
	l.Emit(protocol.DeliveredEvent{ID: 9})
	l.Emit(protocol.DeliveredEvent{ID: 9}) // twice: shown once
	l.Queued(10, "first of two", fixedNow)
	l.Queued(11, "second of two", fixedNow)
	l.Emit(protocol.DeliveredEvent{ID: 10}) // not right after its line: named
	l.Emit(protocol.DeliveredEvent{ID: 11})
	l.Emit(protocol.GapEvent{Missing: 2})
	l.Emit(protocol.RejectedEvent{Reason: "replay", Seq: 7, HasSeq: true})
	l.Emit(protocol.RejectedEvent{Reason: "malformed", Detail: "short record"})
	l.Emit(protocol.SessionEvent{State: protocol.SessionRekeyed})
	l.Emit(protocol.RejectedEvent{Reason: "malformed", Detail: "short record", Count: 15230})
	l.Emit(protocol.RejectedEvent{Reason: "replay", Seq: 9, HasSeq: true, Count: 3})
	l.Emit(protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: protocol.DirectionSend})
	l.Emit(protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: protocol.DirectionReceive})
	l.Emit(protocol.ErrorEvent{Err: errors.New("boom")})
	l.Emit(protocol.LiveEvent{State: protocol.LiveDown})
	l.Close()
	want := `* duet: listening on port 5555, peer on port 5556
* your fingerprint: AAAA
* type a message and press Enter; /quit, /rekey, /replay, /clear, /help
* peer is live (rtt 1.5 ms)
! handshake step 3 (verify) failed: the peer's hello was not signed by the key it came with, or was altered on the way (bad signature)
* session established with BBBB, safety number 123 456
* compare the safety number with your peer over another channel
[12:01:02] peer: hello
[12:01:02] peer: evil\x1b[2J\a \u202e text \xff
[12:00:02] alice: my message (queued)
  ✓ delivered
[12:01:02] alice: first of two (queued)
[12:01:02] alice: second of two (queued)
  ✓ delivered: first of two
  ✓ delivered: second of two
! 2 message(s) from the peer never arrived
! rejected replay seq 7: a copy of a record already received
! rejected malformed: it was not a well-formed message
* session rekeyed
! rejected malformed x15230 in the last second(s): it was not a well-formed message
! rejected replay x3 in the last second(s) (last seq 9): a copy of a record already received
* session rekeyed (our direction)
* session rekeyed (the peer's direction)
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
		if got := termsafe.Sanitize(in); got != want {
			t.Errorf("termsafe.Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRunLines(t *testing.T) {
	var buf syncBuffer
	l := NewLines(&buf, "bob")
	ctl := &fakeNode{}
	ctl.onSend = func(id uint64) { go l.Emit(protocol.DeliveredEvent{ID: id}) }
	if err := runInput(context.Background(), strings.NewReader("hi\n/nope\n"), l, ctl, InputConfig{}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if !strings.Contains(buf.String(), `! error: unknown command "/nope"`) {
		t.Errorf("output %q", buf.String())
	}
}

func newTestLines(buf *syncBuffer) *Lines {
	l := NewLines(buf, "alice")
	l.now = func() time.Time { return fixedNow }
	l.loc = time.UTC
	return l
}

// TestLinesQueuedEchoAtOnce: a message typed before any session is on the
// screen at once, with its written time and "(queued)"; its being sent
// later prints nothing more, and its delivery a short mark.
func TestLinesQueuedEchoAtOnce(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	ctl := &fakeNode{}
	if err := runInput(context.Background(), strings.NewReader("early bird\n"), l, ctl, noDrain); err != nil {
		t.Fatal(err)
	}
	l.q.close(time.Second)
	if got, want := buf.String(), "[12:01:02] alice: early bird (queued)\n"; got != want {
		t.Fatalf("before any session: %q, want %q", got, want)
	}
	l = newTestLines(&buf)
	buf.b.Reset()
	l.Queued(1, "early bird", fixedNow)
	l.Emit(protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: "B", SafetyNumber: "1"})
	l.Emit(protocol.SentEvent{ID: 1, Seq: 5})
	l.Emit(protocol.DeliveredEvent{ID: 1})
	l.Close()
	if n := strings.Count(buf.String(), "early bird"); n != 2 {
		t.Errorf("message text printed %d times (queued line + named delivery), want 2:\n%s", n, buf.String())
	}
	if !strings.HasSuffix(buf.String(), "  ✓ delivered: early bird\n") {
		t.Errorf("output:\n%s", buf.String())
	}
}

func TestLinesNewEvents(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	l.Emit(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond})
	l.Emit(protocol.ReplayedEvent{Type: protocol.TypeChat, Seq: 12, HasSeq: true})
	l.Emit(protocol.ReplayedEvent{Type: protocol.TypeChat, Seq: 7, HasSeq: true, EarlierSession: true})
	l.Emit(protocol.SessionEvent{State: protocol.SessionPeerLeft, PeerFingerprint: "B"})
	l.Emit(protocol.LiveEvent{State: protocol.LiveWaiting})
	l.Emit(protocol.StalledEvent{Attempts: 3, LastStep: 1, For: 6 * time.Second})
	l.Close()
	want := `* peer is live (rtt 1.0 ms)
* /replay: re-sent our last record (CHAT seq 12); the peer should reject it as a replay
* /replay: no chat message sent in this session yet: re-sent our last record of an earlier session (CHAT seq 7); its key has moved on: the peer should reject it as tampered
* peer left (it quit)
* waiting for the peer
! the peer answers but has not accepted our key after 3 attempts: it may have recorded a different key for us (e.g. we changed --identity); the peer must remove our old line from its known_peers (or accept the new key in its full-screen warning)
`
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestLinesKeyChangedOncePerKey: retries with the same changed key print
// nothing more; another key is reported again. Rejections are one line in
// plain words, without the error chain.
func TestLinesKeyChangedOncePerKey(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	fp := func(b byte) crypto.Fingerprint { var f crypto.Fingerprint; f[0] = b; return f }
	changed := func(got byte) {
		kc := &crypto.KeyChangedError{Peer: "p", Known: fp(1), Got: fp(got), Path: "/k/known_peers"}
		err := fmt.Errorf("protocol: hello: %w", kc)
		l.Emit(protocol.RejectedEvent{Reason: protocol.ReasonKeyChanged, Detail: err.Error()})
		l.Emit(protocol.HandshakeEvent{Step: protocol.StepVerify, Err: err})
	}
	changed(2)
	changed(2)
	changed(2)
	changed(3)
	l.Close()
	out := buf.String()
	if n := strings.Count(out, "! rejected key-changed: the peer presented a key other than the recorded one\n"); n != 2 {
		t.Errorf("%d key-changed rejections printed, want 2 (one per key):\n%s", n, out)
	}
	if n := strings.Count(out, "! handshake step 3 (verify) failed: the peer presented a key other than the one recorded for it"); n != 2 {
		t.Errorf("%d handshake failures printed, want 2:\n%s", n, out)
	}
	if n := strings.Count(out, "remove its line from /k/known_peers"); n != 2 {
		t.Errorf("known_peers hint printed %d times:\n%s", n, out)
	}
	if strings.Contains(out, "protocol:") || strings.Contains(out, "crypto:") {
		t.Errorf("error chain printed:\n%s", out)
	}
}

// TestRunLinesReplayAndQuit drives the line mode through the input loop:
// /replay's report and a queued message with its written time.
func TestRunLinesReplayAndQuit(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	ctl := &fakeNode{}
	ctl.onSend = func(id uint64) { l.Emit(protocol.DeliveredEvent{ID: id}) }
	if err := runInput(context.Background(), strings.NewReader("hi\n/replay\n/quit\n"), l, ctl, noDrain); err != nil {
		t.Fatal(err)
	}
	l.Emit(protocol.ReplayedEvent{Type: protocol.TypeChat, Seq: 3, HasSeq: true}) // what the node reports
	l.Close()
	if ctl.replays != 1 {
		t.Errorf("%d replays", ctl.replays)
	}
	// The receipt came before SendMessage returned: the mark still follows.
	for _, want := range []string{"[12:01:02] alice: hi (queued)\n  ✓ delivered\n", "* /replay: re-sent our last record (CHAT seq 3)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestLinesWaitingAndPeerName(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	now := fixedNow
	var mu sync.Mutex
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l.SetPeerName("bob")
	l.Waiting("127.0.0.1:5556", time.Second)
	advance(12 * time.Second)
	l.remindWaiting()
	l.Emit(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond})
	advance(10 * time.Second)
	l.remindWaiting()
	l.Emit(protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: "B", SafetyNumber: "1"})
	advance(10 * time.Second)
	l.remindWaiting() // a session is up: nothing
	l.Emit(protocol.MessageEvent{ID: 1, Text: "hi", SentAt: fixedNow})
	l.Emit(protocol.SessionEvent{State: protocol.SessionPeerLeft})
	advance(10 * time.Second)
	l.remindWaiting()
	l.Close()
	out := buf.String()
	for _, want := range []string{
		"* waiting for the peer at 127.0.0.1:5556: sending our public key and a ping every 1s\n",
		"* still waiting for the peer at 127.0.0.1:5556 (12s): no answer yet\n",
		"* still waiting for the peer at 127.0.0.1:5556 (22s): the peer answers pings but no session yet\n",
		"] bob: hi\n",
		"* bob left (it quit)\n",
		"* still waiting for the peer at 127.0.0.1:5556 (10s):",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "still waiting"); n != 3 {
		t.Errorf("%d reminders, want 3 (none while the session is up):\n%s", n, out)
	}
}

func TestLinesShowHistory(t *testing.T) {
	var buf syncBuffer
	l := newTestLines(&buf)
	l.SetPeerName("bob")
	l.ShowHistory(nil) // nothing stored: nothing printed
	l.ShowHistory([]chat.Entry{
		{ID: 1, Own: true, Text: "hi bob", At: fixedNow.Add(-time.Hour), Delivery: chat.Delivered},
		{ID: 2, Text: "hi \x1b[31malice", At: fixedNow.Add(-time.Hour + time.Minute), PossibleDuplicate: true},
		{ID: 3, Own: true, Text: "are you there?", At: fixedNow.Add(-time.Hour + 2*time.Minute), Delivery: chat.Queued},
		{ID: 4, Text: "from the future", At: fixedNow.Add(-time.Hour + 3*time.Minute), ClaimedAt: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: 5, Own: true, Text: "seen it?", At: fixedNow.Add(-time.Hour + 4*time.Minute), Delivery: chat.Read},
	})
	l.Close()
	want := "* earlier conversation (the last 5 messages):\n" +
		"[" + fixedNow.Add(-time.Hour).UTC().Format("2006-01-02 15:04:05") + "] alice: hi bob\n" +
		"[" + fixedNow.Add(-time.Hour+time.Minute).UTC().Format("2006-01-02 15:04:05") + "] bob: hi \\x1b[31malice (may repeat: shown before a crash)\n" +
		"[" + fixedNow.Add(-time.Hour+2*time.Minute).UTC().Format("2006-01-02 15:04:05") + "] alice: are you there? (no receipt yet)\n" +
		"[" + fixedNow.Add(-time.Hour+3*time.Minute).UTC().Format("2006-01-02 15:04:05") + "] bob: from the future (peer's clock says 2200-01-01 00:00)\n" +
		"[" + fixedNow.Add(-time.Hour+4*time.Minute).UTC().Format("2006-01-02 15:04:05") + "] alice: seen it? (read)\n" +
		"* end of the earlier conversation\n"
	if got := buf.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestLinesMessageWrittenBeforeShownReturns(t *testing.T) {
	var buf syncBuffer
	l := NewLines(&buf, "alice")
	l.now = func() time.Time { return fixedNow }
	l.loc = time.UTC
	for i := range 50 {
		l.Emit(protocol.MessageEvent{ID: uint64(i + 1), Text: fmt.Sprintf("message %d", i), SentAt: fixedNow})
		l.Emit(protocol.ShownEvent{})
		if out := buf.String(); !strings.HasSuffix(out, fmt.Sprintf("] peer: message %d\n", i)) {
			t.Fatalf("Emit of message %d returned before its line was on stdout:\n%s", i, out)
		}
	}
	l.Close()
	emitReturns(t, func() {
		l.Emit(protocol.MessageEvent{ID: 99, Text: "after close"})
		l.Emit(protocol.ShownEvent{})
	}, "after Close")

	// A stuck stdout holds the message (and the node) until it is written.
	w := &stuckWriter{release: make(chan struct{})}
	l2 := NewLines(w, "alice")
	emitted := stillBlocked(t, 200*time.Millisecond, "a message was emitted to a stuck stdout without waiting", func() {
		l2.Emit(protocol.MessageEvent{ID: 1, Text: "held", SentAt: fixedNow})
		l2.Emit(protocol.ShownEvent{})
	})
	close(w.release)
	emitReturns(t, func() { <-emitted }, "after stdout was released")
	if out := w.buf.String(); !strings.Contains(out, "] peer: held\n") {
		t.Fatalf("Emit returned, line not on stdout:\n%s", out)
	}
	l2.Close()

	// A stdout that fails (the reader went away) releases the waiting Emit.
	f := &failingWriter{release: make(chan struct{})}
	l3 := NewLines(f, "alice")
	defer l3.Close()
	emitted = stillBlocked(t, 100*time.Millisecond, "a message was emitted to a stuck stdout without waiting", func() {
		l3.Emit(protocol.MessageEvent{ID: 1, Text: "x", SentAt: fixedNow})
		l3.Emit(protocol.ShownEvent{})
	})
	close(f.release)
	emitReturns(t, func() { <-emitted }, "after stdout failed")
}

// clearCounter is a fake InputConfig.Clear: it counts its calls and
// returns err.
type clearCounter struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (c *clearCounter) clear() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.err
}

func (c *clearCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// TestLinesClear: /clear in the line mode only says that what it printed
// stays; /clear history asks y/N and, answered y, deletes the stored
// history through InputConfig.Clear (once) and says so; any other answer
// keeps it (and is not sent); without a history (nil Clear) and on
// failure it says why not.
func TestLinesClear(t *testing.T) {
	const ask = "* delete the stored history of this conversation? (the peer keeps theirs) y/N\n"
	for _, tc := range []struct {
		name, input string
		clear       *clearCounter
		want        string
		calls       int
	}{
		{"cleared", "/clear history\ny\n", &clearCounter{}, ask + "* history cleared here (the peer keeps theirs)\n", 1},
		{"kept", "/clear history\nn\n", &clearCounter{}, ask + "* stored history kept\n", 0},
		{"screen only", "/clear\n", &clearCounter{}, "* /clear: the line mode cannot take back what it printed; /clear history deletes the stored history (it asks first)\n", 0},
		{"no history", "/clear history\n", nil, "! error: /clear: no stored history to clear (--ephemeral keeps nothing on disk)\n", 0},
		{"failed", "/clear history\nyes\n", &clearCounter{err: errors.New("disk full\x1b[2J")}, ask + "! error: /clear: history not cleared: disk full\\x1b[2J\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			l := newTestLines(&buf)
			cfg := noDrain
			if tc.clear != nil {
				cfg.Clear = tc.clear.clear
			}
			ctl := &fakeNode{}
			if err := runInput(context.Background(), strings.NewReader(tc.input), l, ctl, cfg); err != nil {
				t.Fatal(err)
			}
			l.Close()
			if got := buf.String(); got != tc.want {
				t.Errorf("output %q, want %q", got, tc.want)
			}
			if tc.clear != nil && tc.clear.count() != tc.calls {
				t.Errorf("Clear called %d times, want %d", tc.clear.count(), tc.calls)
			}
			if len(ctl.sent) != 0 {
				t.Errorf("/clear sent %q", ctl.sent)
			}
		})
	}
}

// TestLinesPeerClock: a message with an implausible sent_at is printed at
// its arrival time with the claim after its text, in the usual layout.
func TestLinesPeerClock(t *testing.T) {
	var buf syncBuffer
	l := NewLines(&buf, "alice")
	l.now = func() time.Time { return fixedNow }
	l.loc = time.UTC
	l.Emit(protocol.MessageEvent{ID: 1, Seq: 1, Text: "hi", SentAt: time.Unix(0, math.MaxInt64), ShownAt: fixedNow, ClockImplausible: true})
	l.Emit(protocol.MessageEvent{ID: 2, Seq: 2, Text: "old", SentAt: time.Unix(0, -1), ShownAt: fixedNow, ClockImplausible: true, PossibleDuplicate: true})
	l.Close()
	want := "[12:01:02] peer: hi (peer's clock says 2262-04-11 23:47)\n" +
		"[12:01:02] peer: old (peer's clock says 1969-12-31 23:59) (may repeat: shown before a crash)\n"
	if got := buf.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
