package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"duet/protocol"
)

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var fixedNow = time.Date(2026, 5, 9, 12, 1, 2, 3_000_000, time.UTC)

func newTestHeadless(w io.Writer) *Headless {
	h := NewHeadless(w)
	h.now = func() time.Time { return fixedNow }
	return h
}

const T = `"time":"2026-05-09T12:01:02.003000000Z"`

func TestHeadlessEventsJSON(t *testing.T) {
	sentAt := time.Date(2026, 5, 9, 14, 0, 0, 5, time.FixedZone("X", 2*3600))
	tests := []struct {
		name string
		ev   protocol.Event
		want string
	}{
		{"live", protocol.LiveEvent{State: protocol.LiveLive, RTT: 1234567 * time.Nanosecond, Authenticated: true},
			`{"event":"live",` + T + `,"state":"live","rtt_ms":1.234,"authenticated":true}`},
		{"live-down", protocol.LiveEvent{State: protocol.LiveDown},
			`{"event":"live",` + T + `,"state":"down","rtt_ms":0,"authenticated":false}`},
		{"handshake-done", protocol.HandshakeEvent{Step: 3, Name: "verify", Done: true, Duration: 2500 * time.Microsecond},
			`{"event":"handshake",` + T + `,"step":3,"name":"verify","state":"done","ms":2.5}`},
		{"handshake-failed", protocol.HandshakeEvent{Step: 3, Name: "verify", Duration: time.Millisecond, Err: errors.New("bad <sig> & co")},
			`{"event":"handshake",` + T + `,"step":3,"name":"verify","state":"failed","ms":1,"error":"bad <sig> & co"}`},
		{"handshake-noname", protocol.HandshakeEvent{Step: 6, Done: true},
			`{"event":"handshake",` + T + `,"step":6,"name":"confirm","state":"done","ms":0}`},
		{"session", protocol.SessionEvent{State: protocol.SessionEstablished, PeerFingerprint: "AB12 CD34", SafetyNumber: "12345 67890"},
			`{"event":"session",` + T + `,"state":"established","peer_fingerprint":"AB12 CD34","safety_number":"12345 67890"}`},
		{"session-closed", protocol.SessionEvent{State: protocol.SessionClosed},
			`{"event":"session",` + T + `,"state":"closed","peer_fingerprint":"","safety_number":""}`},
		{"message", protocol.MessageEvent{ID: 18446744073709551615, Seq: 7, Text: "héllo \"x\"\n<b>", SentAt: sentAt},
			`{"event":"message",` + T + `,"id":"18446744073709551615","seq":7,"text":"héllo \"x\"\n<b>","sent_at":"2026-05-09T12:00:00.000000005Z"}`},
		{"message-possible-duplicate", protocol.MessageEvent{ID: 5, Seq: 8, Text: "x", SentAt: sentAt, PossibleDuplicate: true},
			`{"event":"message",` + T + `,"id":"5","seq":8,"text":"x","sent_at":"2026-05-09T12:00:00.000000005Z","possible_duplicate":true}`},
		{"message-clock-implausible", protocol.MessageEvent{ID: 6, Seq: 9, Text: "x", SentAt: time.Unix(0, math.MaxInt64), ShownAt: sentAt, ClockImplausible: true},
			`{"event":"message",` + T + `,"id":"6","seq":9,"text":"x","sent_at":"2262-04-11T23:47:16.854775807Z","shown_at":"2026-05-09T12:00:00.000000005Z","clock_implausible":true}`},
		{"message-clock-implausible-escaped", protocol.MessageEvent{ID: 6, Seq: 9, Text: "é", SentAt: time.Unix(0, -1), ShownAt: sentAt, ClockImplausible: true},
			`{"event":"message",` + T + `,"id":"6","seq":9,"text":"é","sent_at":"1969-12-31T23:59:59.999999999Z","shown_at":"2026-05-09T12:00:00.000000005Z","clock_implausible":true}`},
		{"sent", protocol.SentEvent{ID: 9007199254740993, Seq: 1},
			`{"event":"sent",` + T + `,"id":"9007199254740993","seq":1}`},
		{"delivered", protocol.DeliveredEvent{ID: 42},
			`{"event":"delivered",` + T + `,"id":"42"}`},
		{"gap", protocol.GapEvent{Missing: 3},
			`{"event":"gap",` + T + `,"missing":3}`},
		{"rejected-seq", protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: 0, HasSeq: true, Detail: "seq 0 already seen"},
			`{"event":"rejected",` + T + `,"reason":"replay","seq":0,"detail":"seq 0 already seen"}`},
		{"rejected-noseq", protocol.RejectedEvent{Reason: protocol.ReasonMalformed, Seq: 99, Detail: "short"},
			`{"event":"rejected",` + T + `,"reason":"malformed","detail":"short"}`},
		{"rejected-aggregated", protocol.RejectedEvent{Reason: protocol.ReasonMalformed, Detail: "short", Count: 15230},
			`{"event":"rejected",` + T + `,"reason":"malformed","detail":"short","count":15230}`},
		{"rejected-count-1", protocol.RejectedEvent{Reason: protocol.ReasonMalformed, Detail: "short", Count: 1},
			`{"event":"rejected",` + T + `,"reason":"malformed","detail":"short"}`},
		{"rejected-aggregated-seq", protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: 7, HasSeq: true, Detail: "d", Count: 3},
			`{"event":"rejected",` + T + `,"reason":"replay","seq":7,"detail":"d","count":3}`},
		{"session-rekeyed-send", protocol.SessionEvent{State: protocol.SessionRekeyed, PeerFingerprint: "AB12", SafetyNumber: "1", Direction: protocol.DirectionSend},
			`{"event":"session",` + T + `,"state":"rekeyed","peer_fingerprint":"AB12","safety_number":"1","direction":"send"}`},
		{"session-rekeyed-receive", protocol.SessionEvent{State: protocol.SessionRekeyed, PeerFingerprint: "AB12", SafetyNumber: "1", Direction: protocol.DirectionReceive},
			`{"event":"session",` + T + `,"state":"rekeyed","peer_fingerprint":"AB12","safety_number":"1","direction":"receive"}`},
		{"error", protocol.ErrorEvent{Err: errors.New("boom")},
			`{"event":"error",` + T + `,"error":"boom"}`},
		{"error-nil", protocol.ErrorEvent{},
			`{"event":"error",` + T + `,"error":"unknown error"}`},
		{"session-peer-left", protocol.SessionEvent{State: protocol.SessionPeerLeft, PeerFingerprint: "AB12", SafetyNumber: "1"},
			`{"event":"session",` + T + `,"state":"peer-left","peer_fingerprint":"AB12","safety_number":"1"}`},
		{"replayed", protocol.ReplayedEvent{Type: protocol.TypeChat, Seq: 12, HasSeq: true},
			`{"event":"replayed",` + T + `,"type":"CHAT","seq":12}`},
		{"replayed-seq-0", protocol.ReplayedEvent{Type: protocol.TypeRekey, HasSeq: true},
			`{"event":"replayed",` + T + `,"type":"REKEY","seq":0}`},
		{"replayed-noseq", protocol.ReplayedEvent{Type: protocol.TypePublicKey, Seq: 5},
			`{"event":"replayed",` + T + `,"type":"PUBLIC_KEY"}`},
		{"stalled", protocol.StalledEvent{Attempts: 4, LastStep: 1, For: 6500 * time.Millisecond},
			`{"event":"stalled",` + T + `,"attempts":4,"last_step":1,"for_ms":6500}`},
		{"unknown", otherEvent{},
			`{"event":"other",` + T + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			h := newTestHeadless(&buf)
			h.Emit(tc.ev)
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
				t.Errorf("not JSON: %v", err)
			}
		})
	}
}

var noDrain = InputConfig{Drain: -1}

type otherEvent struct{}

func (otherEvent) EventName() string { return "other" }

func TestHeadlessReadyAndQueued(t *testing.T) {
	var buf syncBuffer
	h := newTestHeadless(&buf)
	h.Ready(5555, 5556, "AAAA BBBB")
	h.Queued(1<<63, "x", time.Date(2026, 5, 9, 14, 1, 2, 7, time.FixedZone("X", 2*3600)))
	h.Close()
	want := `{"event":"ready",` + T + `,"main":5555,"sub":5556,"fingerprint":"AAAA BBBB"}` + "\n" +
		`{"event":"queued",` + T + `,"id":"9223372036854775808","sent_at":"2026-05-09T12:01:02.000000007Z"}` + "\n"
	if buf.String() != want {
		t.Errorf("got\n%swant\n%s", buf.String(), want)
	}
}

func TestTimeIsUTCNanos(t *testing.T) {
	var buf syncBuffer
	h := NewHeadless(&buf)
	h.Emit(protocol.GapEvent{Missing: 1})
	h.Close()
	var m struct{ Time string }
	if err := json.Unmarshal([]byte(buf.String()), &m); err != nil {
		t.Fatal(err)
	}
	tm, err := time.Parse(time.RFC3339Nano, m.Time)
	if err != nil || !strings.HasSuffix(m.Time, "Z") || len(m.Time) != len("2006-01-02T15:04:05.000000000Z") {
		t.Fatalf("time %q: %v", m.Time, err)
	}
	if d := time.Since(tm); d < 0 || d > time.Minute {
		t.Errorf("time %v is not now", tm)
	}
}

// fakeNode is a Node that records what the input loop asked for; it runs
// no session (Run waits for its context, Leave does nothing).
type fakeNode struct {
	mu      sync.Mutex
	sent    []string
	rekeys  int
	replays int
	nextID  uint64
	sendErr error
	onSend  func(id uint64)
}

func (f *fakeNode) SendMessage(text string) (protocol.Outgoing, error) {
	f.mu.Lock()
	if f.sendErr != nil {
		f.mu.Unlock()
		return protocol.Outgoing{}, f.sendErr
	}
	if len(text) > protocol.MaxTextSize {
		f.mu.Unlock()
		return protocol.Outgoing{}, protocol.ErrTextTooLarge
	}
	f.nextID++
	id := f.nextID
	f.sent = append(f.sent, text)
	cb := f.onSend
	f.mu.Unlock()
	if cb != nil {
		cb(id)
	}
	return protocol.Outgoing{ID: id, SentAt: fixedNow}, nil
}

// SendMessages queues texts together, all or none, as *protocol.Node does.
func (f *fakeNode) SendMessages(texts []string) ([]protocol.Outgoing, error) {
	f.mu.Lock()
	if f.sendErr != nil {
		f.mu.Unlock()
		return nil, f.sendErr
	}
	for _, text := range texts {
		if len(text) > protocol.MaxTextSize {
			f.mu.Unlock()
			return nil, protocol.ErrTextTooLarge
		}
	}
	outs := make([]protocol.Outgoing, 0, len(texts))
	for _, text := range texts {
		f.nextID++
		outs = append(outs, protocol.Outgoing{ID: f.nextID, SentAt: fixedNow})
		f.sent = append(f.sent, text)
	}
	cb := f.onSend
	f.mu.Unlock()
	if cb != nil {
		for _, o := range outs {
			cb(o.ID)
		}
	}
	return outs, nil
}

func (f *fakeNode) Run(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func (f *fakeNode) Leave(context.Context) error { return nil }

func (f *fakeNode) Rekey() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rekeys++
	return nil
}

func (f *fakeNode) Replay() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replays++
	if f.replays > 1 {
		return errors.New("nothing to replay")
	}
	return nil
}

func events(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		evs = append(evs, m)
	}
	return evs
}

func TestCommandsDispatch(t *testing.T) {
	in := strings.NewReader("hello\n/rekey\n/replay\n/replay\n//slash\r\n\n/bogus arg\n  spaced  \n/quit\nafter quit\n")
	var buf syncBuffer
	h := newTestHeadless(&buf)
	ctl := &fakeNode{}
	if err := runInput(context.Background(), in, h, ctl, noDrain); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if want := []string{"hello", "/slash", "  spaced  "}; fmt.Sprint(ctl.sent) != fmt.Sprint(want) {
		t.Errorf("sent %q, want %q", ctl.sent, want)
	}
	if ctl.rekeys != 1 || ctl.replays != 2 {
		t.Errorf("rekeys %d replays %d", ctl.rekeys, ctl.replays)
	}
	var kinds []string
	for _, e := range events(t, buf.String()) {
		k := e["event"].(string)
		if k == "error" {
			k += ":" + e["error"].(string)
		}
		if k == "queued" {
			k += ":" + e["id"].(string)
		}
		kinds = append(kinds, k)
	}
	want := []string{
		"queued:1",
		"error:nothing to replay",
		"queued:2",
		`error:unknown command "/bogus": commands are /quit, /rekey, /replay, /clear, /read (start a message with // to send a leading /)`,
		"queued:3",
	}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("events\n%q\nwant\n%q", kinds, want)
	}
}

func TestSendErrorIsEvent(t *testing.T) {
	var buf syncBuffer
	h := newTestHeadless(&buf)
	ctl := &fakeNode{sendErr: protocol.ErrQueueFull}
	if err := runInput(context.Background(), strings.NewReader("x\n"), h, ctl, InputConfig{}); err != nil {
		t.Fatal(err)
	}
	h.Close()
	evs := events(t, buf.String())
	if len(evs) != 1 || evs[0]["event"] != "error" || evs[0]["error"] != protocol.ErrQueueFull.Error() {
		t.Errorf("got %v", evs)
	}
}

// endless yields n bytes of 'a' without a newline, then "\nok\n", without
// ever holding more than a small buffer.
type endless struct{ n, tail int }

var aaaa = bytes.Repeat([]byte{'a'}, 64<<10)

func (e *endless) Read(p []byte) (int, error) {
	if e.n > 0 {
		k := copy(p[:min(len(p), e.n)], aaaa)
		e.n -= k
		return k, nil
	}
	tail := "\nok\n"
	if e.tail >= len(tail) {
		return 0, io.EOF
	}
	k := copy(p, tail[e.tail:])
	e.tail += k
	return k, nil
}

func TestLongLine(t *testing.T) {
	for _, n := range []int{protocol.MaxTextSize + 1, protocol.MaxTextSize + 2, 10 << 20} {
		var buf syncBuffer
		h := newTestHeadless(&buf)
		ctl := &fakeNode{}
		if err := runInput(context.Background(), &endless{n: n}, h, ctl, noDrain); err != nil {
			t.Fatal(err)
		}
		h.Close()
		evs := events(t, buf.String())
		if len(evs) != 2 || evs[0]["event"] != "error" || !strings.Contains(evs[0]["error"].(string), fmt.Sprintf("line of %d bytes", n)) {
			t.Errorf("n=%d: events %v", n, evs)
		}
		if fmt.Sprint(ctl.sent) != "[ok]" {
			t.Errorf("n=%d: sent %q", n, ctl.sent)
		}
	}
	// Exactly the maximum is sent.
	ctl := &fakeNode{}
	h := newTestHeadless(io.Discard)
	runInput(context.Background(), strings.NewReader(strings.Repeat("b", protocol.MaxTextSize)+"\r\n"), h, ctl, noDrain)
	h.Close()
	if len(ctl.sent) != 1 || len(ctl.sent[0]) != protocol.MaxTextSize {
		t.Errorf("max-size line not sent: %d", len(ctl.sent))
	}
}

func TestLongLineMemory(t *testing.T) {
	// Reading a 10 MB line must not buffer it: the reader's buffer is
	// MaxTextSize+2 and the rest is discarded chunk by chunk.
	if testing.Short() {
		t.Skip("short")
	}
	var before, after runtimeMem
	before.read()
	h := newTestHeadless(io.Discard)
	runInput(context.Background(), &endless{n: 100 << 20}, h, &fakeNode{}, noDrain)
	h.Close()
	after.read()
	if grow := int64(after.totalAlloc) - int64(before.totalAlloc); grow > 8<<20 {
		t.Errorf("allocated %d bytes reading a 100 MB line", grow)
	}
}

// TestEOFWaitsForDelivery: at the end of input, duet waits for the
// receipts of what it sent (and no longer once they are in), or gives up
// after the drain timeout. The drain is 30 s where the receipts must end
// the wait, so returning within 10 s can only be their doing; the bounds
// are that wide so that a loaded machine cannot fail them.
func TestEOFWaitsForDelivery(t *testing.T) {
	const drain, matched = 30 * time.Second, 10 * time.Second
	var buf syncBuffer
	h := newTestHeadless(&buf)
	ctl := &fakeNode{}
	ctl.onSend = func(id uint64) {
		go func() {
			time.Sleep(100 * time.Millisecond)
			h.Emit(protocol.DeliveredEvent{ID: id})
		}()
	}
	start := time.Now()
	if err := runInput(context.Background(), strings.NewReader("a\nb\n"), h, ctl, InputConfig{Drain: drain}); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d < 90*time.Millisecond || d > matched {
		t.Errorf("EOF returned after %v, want after the receipts (100ms) and well before the drain timeout", d)
	}
	// Never delivered: gives up after the drain timeout.
	ctl2 := &fakeNode{}
	h2 := newTestHeadless(io.Discard)
	start = time.Now()
	runInput(context.Background(), strings.NewReader("a\n"), h2, ctl2, InputConfig{Drain: 200 * time.Millisecond})
	if d := time.Since(start); d < 190*time.Millisecond || d > matched {
		t.Errorf("undelivered: returned after %v, want the drain timeout (200ms)", d)
	}
	// A receipt that arrives before Send returns still counts.
	ctl3 := &fakeNode{}
	h3 := newTestHeadless(io.Discard)
	ctl3.onSend = func(id uint64) { h3.Emit(protocol.DeliveredEvent{ID: id}) }
	start = time.Now()
	runInput(context.Background(), strings.NewReader("a\n/quit\n"), h3, ctl3, InputConfig{Drain: drain})
	if d := time.Since(start); d > matched {
		t.Errorf("early receipt not matched: %v", d)
	}
}

// blockingReader never returns.
type blockingReader struct{ ch chan struct{} }

func (b blockingReader) Read([]byte) (int, error) { <-b.ch; return 0, io.EOF }

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := newTestHeadless(io.Discard)
	done := make(chan error)
	br := blockingReader{make(chan struct{})}
	defer close(br.ch)
	go func() { done <- runInput(ctx, br, h, &fakeNode{}, InputConfig{}) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the input loop ignored the context")
	}
}

func TestConcurrentEmit(t *testing.T) {
	pr, pw := io.Pipe()
	h := newTestHeadless(pw)
	const G, N = 8, 2000
	var got []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		dec := json.NewDecoder(pr)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return
			}
			got = append(got, m["id"].(string))
		}
	}()
	var wg sync.WaitGroup
	for g := range G {
		wg.Go(func() {
			for i := range N {
				h.Emit(protocol.DeliveredEvent{ID: uint64(g*N + i)})
			}
		})
	}
	wg.Wait()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	<-readDone
	if len(got) != G*N {
		t.Fatalf("got %d lines, want %d", len(got), G*N)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}

// stuckWriter blocks until released.
type stuckWriter struct {
	release chan struct{}
	buf     syncBuffer
}

func (s *stuckWriter) Write(p []byte) (int, error) {
	<-s.release
	return s.buf.Write(p)
}

func TestSlowStdoutNeverBlocksAndReportsDrops(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	h := newTestHeadless(w)
	h.q.max = 1000 // small bound for the test
	done := make(chan struct{})
	go func() {
		for i := range 200 {
			h.Emit(protocol.DeliveredEvent{ID: uint64(i)})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Emit blocked on a stuck stdout")
	}
	close(w.release)
	h.Close()
	evs := events(t, w.buf.String())
	written, dropped, reports := 0, 0, 0
	for _, e := range evs {
		if e["event"] == "error" && strings.Contains(e["error"].(string), "output lines dropped") {
			var n int
			fmt.Sscanf(e["error"].(string), "%d", &n)
			dropped += n
			reports++
		} else {
			written++
		}
	}
	if reports == 0 || written+dropped != 200 {
		t.Errorf("%d written + %d dropped != 200 (%d reports)", written, dropped, reports)
	}
}

func TestServe(t *testing.T) {
	// Input ends: Run is cancelled, Serve returns nil.
	s := &fakeSession{fakeNode: &fakeNode{}, ret: make(chan error, 1)}
	var buf syncBuffer
	h := newTestHeadless(&buf)
	if err := Serve(context.Background(), strings.NewReader("hi\n"), h, s, InputConfig{Drain: -1}); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if !s.cancelled {
		t.Error("Run not cancelled")
	}
	if s.leaves != 1 || !s.leftBeforeStop {
		t.Errorf("end of input: Leave called %d times (before Run stopped: %v), want once, before", s.leaves, s.leftBeforeStop)
	}
	// Run fails: Serve returns its error even though input is still open.
	s2 := &fakeSession{fakeNode: &fakeNode{}, ret: make(chan error, 1)}
	s2.ret <- errors.New("transport failed")
	br := blockingReader{make(chan struct{})}
	defer close(br.ch)
	if err := Serve(context.Background(), br, NewHeadless(io.Discard), s2, InputConfig{}); err == nil || err.Error() != "transport failed" {
		t.Fatalf("Serve: %v", err)
	}
	// Outer context cancelled with a cause: the cause is returned.
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("key changed")
	s3 := &fakeSession{fakeNode: &fakeNode{}, ret: make(chan error, 1)}
	go func() { time.Sleep(50 * time.Millisecond); cancel(cause) }()
	if err := Serve(ctx, br, NewHeadless(io.Discard), s3, InputConfig{}); !errors.Is(err, cause) {
		t.Fatalf("Serve: %v", err)
	}
	// A signal (the outer context ending) and a failed Run do not Leave.
	if s2.leaves != 0 || s3.leaves != 0 {
		t.Errorf("Leave called without a clean quit: %d, %d", s2.leaves, s3.leaves)
	}
}

// TestServeQuitLeavesAfterReceipts: /quit waits for the receipts, then
// calls Leave (with a deadline of about a second), then stops Run; a Leave
// that fails (the peer is unreachable) does not make the quit fail.
func TestServeQuitLeavesAfterReceipts(t *testing.T) {
	h := newTestHeadless(io.Discard)
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	ctl := &fakeNode{}
	ctl.onSend = func(id uint64) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			note("delivered")
			h.Emit(protocol.DeliveredEvent{ID: id})
		}()
	}
	s := &fakeSession{fakeNode: ctl, ret: make(chan error, 1), onLeave: func(ctx context.Context) error {
		note("leave")
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > 2*time.Second {
			t.Errorf("Leave without a bounded deadline (%v, %v)", d, ok)
		}
		return errors.New("peer unreachable")
	}}
	if err := Serve(context.Background(), strings.NewReader("hi\n/quit\n"), h, s, InputConfig{}); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != "[delivered leave]" || !s.leftBeforeStop {
		t.Errorf("order %v (Leave before Run stopped: %v), want receipts, then Leave, then stop", order, s.leftBeforeStop)
	}
}

type fakeSession struct {
	*fakeNode
	ret            chan error
	cancelled      bool
	stopped        bool
	leaves         int
	leftBeforeStop bool
	onLeave        func(ctx context.Context) error
}

func (f *fakeSession) Run(ctx context.Context) error {
	defer func() { f.mu.Lock(); f.stopped = true; f.mu.Unlock() }()
	select {
	case err := <-f.ret:
		return err
	case <-ctx.Done():
		f.cancelled = true
		return ctx.Err()
	}
}

func (f *fakeSession) Leave(ctx context.Context) error {
	f.mu.Lock()
	f.leaves++
	f.leftBeforeStop = !f.stopped
	cb := f.onLeave
	f.mu.Unlock()
	if cb != nil {
		return cb(ctx)
	}
	return nil
}

func TestMessageWrittenBeforeShownReturns(t *testing.T) {
	var buf syncBuffer
	h := newTestHeadless(&buf)
	for i := range 50 {
		h.Emit(protocol.MessageEvent{ID: uint64(i), Text: "x"})
		h.Emit(protocol.ShownEvent{})
		out := withoutUnread(buf.String()) // each group is followed by its unread count
		last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
		if n := strings.Count(out, "\n"); n != i+1 || !strings.Contains(last, fmt.Sprintf(`"event":"message",`+T+`,"id":"%d",`, i)) {
			t.Fatalf("after message %d: %d lines on stdout, last not the message:\n%s", i, n, out)
		}
	}
	h.Close()
	// Once the output is closed a message is not waited for.
	emitReturns(t, func() {
		h.Emit(protocol.MessageEvent{ID: 99, Text: "after close"})
		h.Emit(protocol.ShownEvent{})
	}, "after Close")

	// A stuck stdout holds a message (and the driver) until it is written:
	// the message must not be acknowledged before it was shown.
	w := &stuckWriter{release: make(chan struct{})}
	h2 := newTestHeadless(w)
	emitted := stillBlocked(t, 200*time.Millisecond, "messages were emitted to a stuck stdout without waiting", func() {
		for i := range 100 {
			h2.Emit(protocol.MessageEvent{ID: uint64(i), Text: "x"})
			h2.Emit(protocol.ShownEvent{})
		}
	})
	close(w.release)
	<-emitted
	h2.Close()
	if n := strings.Count(withoutUnread(w.buf.String()), "\n"); n != 100 {
		t.Errorf("%d lines written, want 100", n)
	}

	// A stdout that fails (the reader went away) releases the waiting Emit.
	f := &failingWriter{release: make(chan struct{})}
	h3 := newTestHeadless(f)
	defer h3.Close()
	emitted = stillBlocked(t, 100*time.Millisecond, "a message was emitted to a stuck stdout without waiting", func() {
		h3.Emit(protocol.MessageEvent{ID: 1, Text: "x"})
		h3.Emit(protocol.ShownEvent{})
	})
	close(f.release)
	emitReturns(t, func() { <-emitted }, "after stdout failed")
}

// failingWriter blocks until released, then fails.
type failingWriter struct{ release chan struct{} }

func (f *failingWriter) Write(p []byte) (int, error) {
	<-f.release
	return 0, errors.New("broken pipe")
}

// stillBlocked runs emit in a goroutine and fails the test with msg if it
// returns within d (stdout is stuck, so it must wait); the channel returned
// is closed once it returns.
func stillBlocked(t *testing.T, d time.Duration, msg string, emit func()) chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		emit()
		close(done)
	}()
	select {
	case <-done:
		t.Fatal(msg)
	case <-time.After(d):
	}
	return done
}

// emitReturns fails the test if f does not return within 5 seconds.
func emitReturns(t *testing.T, f func(), when string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		f()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("Emit of a message still blocked %s", when)
	}
}

// TestMessagesQueuedPastTheBound: received messages are queued without
// waiting and never dropped, even past MaxQueuedBytes with stdout stuck; a
// ShownEvent waits for all of them and prints nothing itself.
func TestMessagesQueuedPastTheBound(t *testing.T) {
	w := &stuckWriter{release: make(chan struct{})}
	h := newTestHeadless(w)
	text := strings.Repeat("m", 64<<10)
	n := 2 * MaxQueuedBytes / len(text)
	emitReturns(t, func() {
		for i := range n {
			h.Emit(protocol.MessageEvent{ID: uint64(i + 1), Text: text})
		}
	}, "queueing messages to a stuck stdout")
	shown := stillBlocked(t, 100*time.Millisecond, "ShownEvent returned while stdout was stuck", func() {
		h.Emit(protocol.ShownEvent{})
	})
	close(w.release)
	emitReturns(t, func() { <-shown }, "after stdout was released")
	h.Close()
	out := w.buf.String()
	if got := strings.Count(out, `"event":"message"`); got != n {
		t.Fatalf("%d message lines written, want %d", got, n)
	}
	unread := fmt.Sprintf(`{"event":"unread",`+T+`,"count":%d}`, n)
	if strings.Contains(out, `"shown"`) || strings.Count(out, "\n") != n+1 || !strings.HasSuffix(out, unread+"\n") {
		t.Fatalf("ShownEvent printed more than the group's unread count: %d lines for %d messages, last %q", strings.Count(out, "\n"), n, out[max(0, len(out)-100):])
	}
}

// withoutUnread drops the unread lines from headless output.
func withoutUnread(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.Contains(l, `"event":"unread"`) {
			b.WriteString(l)
		}
	}
	return b.String()
}

// TestHeadlessClear: /clear in headless mode used to be an unknown
// command. It deletes the stored history through InputConfig.Clear (once)
// and writes a history_cleared event; without a history (nil Clear) and
// on failure an error event says why not.
func TestHeadlessClear(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clear *clearCounter
		want  string
	}{
		{"cleared", &clearCounter{}, `{"event":"history_cleared",` + T + `}`},
		{"no history", nil, `{"event":"error",` + T + `,"error":"/clear: no stored history to clear (--ephemeral keeps nothing on disk)"}`},
		{"failed", &clearCounter{err: errors.New("disk full")}, `{"event":"error",` + T + `,"error":"/clear: history not cleared: disk full"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			h := newTestHeadless(&buf)
			cfg := noDrain
			if tc.clear != nil {
				cfg.Clear = tc.clear.clear
			}
			ctl := &fakeNode{}
			// Headless keeps its contract: /clear deletes at once, and
			// /clear history (added) does the same, without a question.
			if err := runInput(context.Background(), strings.NewReader("/clear \n/clear history\n"), h, ctl, cfg); err != nil {
				t.Fatal(err)
			}
			h.Close()
			if got := buf.String(); got != tc.want+"\n"+tc.want+"\n" {
				t.Errorf("got  %s\nwant %s (twice)", got, tc.want)
			}
			if tc.clear != nil && tc.clear.count() != 2 {
				t.Errorf("Clear called %d times, want 2", tc.clear.count())
			}
			if len(ctl.sent) != 0 {
				t.Errorf("/clear sent %q", ctl.sent)
			}
		})
	}
}

// The node the front ends are given in production.
var _ Node = (*protocol.Node)(nil)
