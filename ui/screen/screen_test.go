package screen

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"duet/crypto"
	"duet/protocol"
)

// lineWith returns the first screen line containing every part, or "".
func lineWith(screen string, parts ...string) string {
	for _, l := range strings.Split(screen, "\n") {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return l
		}
	}
	return ""
}

func waitSent(t *testing.T, f *fakeNode, want string) {
	t.Helper()
	select {
	case got := <-f.sentCh:
		if got != want {
			t.Fatalf("SendMessage(%q), want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("SendMessage(%q) never called", want)
	}
}

func finalScreen(t *testing.T, tm *teatest.TestModel) *Screen {
	t.Helper()
	_ = tm.Quit()
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Screen)
}

func TestScreenSendQueuedSentDelivered(t *testing.T) {
	f := newFakeNode()
	tm, sink, term, _ := startScreen(t, testConfig(f), 80, 24)
	tm.Type("hello there")
	tm.Send(keyPress(tea.KeyEnter))
	waitSent(t, f, "hello there")
	term.waitFor("the message queued", func(s string) bool { return lineWith(s, "alice", "…", "hello there") != "" })
	_, ids, _, _, _ := f.snapshot()
	sink.Emit(protocol.SentEvent{ID: ids[0], Seq: 9})
	term.waitFor("the message sent", func(s string) bool { return lineWith(s, "alice", "✓", "hello there") != "" })
	sink.Emit(protocol.DeliveredEvent{ID: ids[0]})
	term.waitFor("the message delivered", func(s string) bool { return lineWith(s, "alice", "✓✓", "hello there") != "" })
	if s := finalScreen(t, tm); s.input.Value() != "" {
		t.Errorf("input after sending = %q, want empty", s.input.Value())
	}
}

func TestScreenDeliveredBeforeSendResult(t *testing.T) {
	// The node may report sent and delivered before the SendMessage Cmd's
	// result reaches the screen: the pane remembers the early state.
	f := newFakeNode()
	s := newTestScreen(testConfig(f))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	drive(t, s, eventMsg{ev: protocol.SentEvent{ID: 1001, Seq: 1}}, eventMsg{ev: protocol.DeliveredEvent{ID: 1001}})
	drive(t, s, typeText("early")...)
	drive(t, s, keyPress(tea.KeyEnter))
	if l := lineWith(screenText(t, s), "early"); !strings.Contains(l, "✓✓") {
		t.Fatalf("message line %q: want delivered ✓✓", l)
	}
}

func TestScreenMultilineAndPaste(t *testing.T) {
	f := newFakeNode()
	tm, _, _, _ := startScreen(t, testConfig(f), 80, 24)
	tm.Type("one")
	tm.Send(ctrlKey('j'))
	tm.Type("two")
	tm.Send(altKey(tea.KeyEnter))
	tm.Type("three")
	tm.Send(keyPress(tea.KeyEnter))
	waitSent(t, f, "one\ntwo\nthree")

	tm.Send(tea.PasteMsg{Content: "pasted\r\nlines\r\nhere"})
	time.Sleep(200 * time.Millisecond)
	if sent, _, _, _, _ := f.snapshot(); len(sent) != 1 {
		t.Fatalf("a paste sent something: %q", sent)
	}
	s := finalScreen(t, tm)
	if got := s.input.Value(); got != "pasted\nlines\nhere" {
		t.Fatalf("input after paste = %q, want the pasted lines with LF", got)
	}
	if s.input.Height() < 3 || s.lay.input.h != s.input.Height() {
		t.Fatalf("input height %d (layout %d): the input should grow with its lines", s.input.Height(), s.lay.input.h)
	}
}

func TestScreenHistoryRecall(t *testing.T) {
	f := newFakeNode()
	s := newTestScreen(testConfig(f))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, m := range []string{"first", "second\nline"} {
		for _, r := range strings.Split(m, "\n") {
			drive(t, s, typeText(r)...)
			drive(t, s, ctrlKey('j'))
		}
		drive(t, s, tea.KeyPressMsg{Code: tea.KeyBackspace})
		drive(t, s, keyPress(tea.KeyEnter))
	}
	drive(t, s, typeText("draft")...)
	up, down := keyPress(tea.KeyUp), keyPress(tea.KeyDown)
	steps := []struct {
		key  tea.Msg
		want string
	}{
		{up, "second\nline"}, // the cursor is put on the first line
		{up, "first"},
		{up, "first"},          // nothing older
		{down, "second\nline"}, // the cursor is put on the last line
		{up, "second\nline"},   // within the input: to its first line
		{down, "second\nline"}, // within the input: back to the last line
		{down, "draft"},        // past the newest: the draft is back
	}
	for i, st := range steps {
		drive(t, s, st.key)
		if got := s.input.Value(); got != st.want {
			t.Fatalf("step %d: input %q, want %q", i, got, st.want)
		}
	}
	if sent, _, _, _, _ := f.snapshot(); len(sent) != 2 {
		t.Fatalf("sent %q", sent)
	}
}

func TestScreenCommands(t *testing.T) {
	f := newFakeNode()
	tm, sink, term, _ := startScreen(t, testConfig(f), 100, 30)
	tm.Type("/bogus now")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitText("unknown command /bogus")
	tm.Type("/replay")
	tm.Send(keyPress(tea.KeyEnter))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, _, replays, _ := f.snapshot(); replays == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/replay did not call Replay")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sink.Emit(protocol.ReplayedEvent{Type: protocol.TypeChat, Seq: 41, HasSeq: true})
	term.waitText("re-sent our last record (CHAT seq 41)")
	tm.Type("/rekey")
	tm.Send(keyPress(tea.KeyEnter))
	tm.Type("//slash")
	tm.Send(keyPress(tea.KeyEnter))
	waitSent(t, f, "/slash")
	tm.Type("/fingerprint")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitText("bc25 117c")
	tm.Type("/verify")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitText("nothing to verify yet")
	tm.Type("/clear")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitFor("a cleared chat", func(s string) bool { return !strings.Contains(s, "nothing to verify") })
	s := finalScreen(t, tm)
	sent, _, rekeys, _, _ := f.snapshot()
	if len(sent) != 1 || rekeys != 1 {
		t.Fatalf("sent %q, rekeys %d: only //slash is a message, /rekey rekeys", sent, rekeys)
	}
	if s.chat.Len() != 1 {
		t.Fatalf("chat has %d items after /clear, want only the notice saying the history is kept", s.chat.Len())
	}
}

// TestScreenExtraCommand: a front end's extra command (duet demo's
// /attack) gets what follows its name, runs off the UI goroutine, and its
// notice or error is shown; it is in the help and in the unknown-command
// list; a posted NoticeMsg shows too. Nothing is sent.
func TestScreenExtraCommand(t *testing.T) {
	f := newFakeNode()
	cfg := testConfig(f)
	var mu sync.Mutex
	var got []string
	cfg.Extra = []ExtraCommand{{Name: "/attack", Help: "demo: attack", Run: func(args string) (string, error) {
		mu.Lock()
		got = append(got, args)
		mu.Unlock()
		if args == "nuke" {
			return "", errors.New("no such attack")
		}
		return "armed " + args + "\x1b[31m", nil
	}}}
	tm, sink, term, _ := startScreen(t, cfg, 100, 30)
	tm.Type("/attack  tamper ")
	tm.Send(keyPress(tea.KeyEnter))
	scr := term.waitText("armed tamper")
	if strings.Contains(scr, "\x1b[31m") {
		t.Error("an extra command's notice reached the screen unsanitized")
	}
	tm.Type("/attack nuke")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitText("/attack: no such attack")
	tm.Type("/bogus")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitText("/clear, /attack")
	sink.Post(NoticeMsg{Text: "man in the middle: TAMPERED", Warn: true})
	term.waitText("man in the middle: TAMPERED")
	tm.Type("?")
	term.waitText("demo: attack")
	finalScreen(t, tm)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "tamper" || got[1] != "nuke" {
		t.Errorf("Run got %q, want [tamper nuke]", got)
	}
	if sent, _, _, _, _ := f.snapshot(); len(sent) != 0 {
		t.Errorf("commands were sent as messages: %q", sent)
	}
}

func TestScreenRejectionInChatAndLog(t *testing.T) {
	f := newFakeNode()
	_, sink, term, _ := startScreen(t, testConfig(f), 120, 40)
	sink.Emit(protocol.RejectedEvent{Reason: protocol.ReasonTampered, Seq: 77, HasSeq: true, Detail: "protocol: message authentication failed"})
	scr := term.waitText("rejected tampered seq 77")
	var chatCols []string
	for _, l := range strings.Split(scr, "\n") {
		r := []rune(l)
		chatCols = append(chatCols, string(r[:min(len(r), 80)]))
	}
	if l := lineWith(strings.Join(chatCols, "\n"), "rejected tampered seq 77"); !strings.Contains(l, "failed authentication") {
		t.Errorf("chat line %q: want the plain reason", l)
	}
	// The sidebar's security log shows it too (right of column 80).
	term.waitFor("the security log entry", func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if r := []rune(l); len(r) > 82 && strings.Contains(string(r[80:]), "tampered") {
				return true
			}
		}
		return false
	})
}

func TestScreenKeyChanged(t *testing.T) {
	f := newFakeNode()
	cfg := testConfig(f)
	var accepted atomic.Int32
	var got atomic.Pointer[crypto.Fingerprint]
	cfg.AcceptKey = func(fp crypto.Fingerprint) error { accepted.Add(1); got.Store(&fp); return nil }
	tm, _, term, _ := startScreen(t, cfg, 100, 30)
	tm.Type("draft")
	tm.Send(keyChanged("/tmp/known_peers"))
	term.waitText("KEY HAS CHANGED")
	tm.Type("accep")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitText(`type the word "accept"`)
	tm.Type("t")
	tm.Send(keyPress(tea.KeyEnter))
	term.waitText("new key accepted")
	if accepted.Load() != 1 {
		t.Fatalf("AcceptKey called %d times", accepted.Load())
	}
	if fp := got.Load(); fp == nil || *fp != testFP(testSelfFP) {
		t.Fatalf("AcceptKey got %v, want the presented key %s", fp, testSelfFP)
	}
	if s := finalScreen(t, tm); s.input.Value() != "draft" {
		t.Fatalf("draft %q lost", s.input.Value())
	}
}

// TestScreenPeerKeyEvent: the node's verdict on the peer key sets the
// header's trust, warns once of our own key, and opens the key-changed
// dialog only while no session is up.
func TestScreenPeerKeyEvent(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 100, Height: 40})
	drive(t, s, eventMsg{ev: protocol.PeerKeyEvent{Fingerprint: testFP(testPeerFP), Trust: crypto.TrustNew}})
	if s.trust != crypto.TrustNew || s.peerFP != testPeerFP {
		t.Fatalf("trust %q, peer %q", s.trust, s.peerFP)
	}
	own := eventMsg{ev: protocol.PeerKeyEvent{Fingerprint: testFP(testSelfFP), Trust: crypto.TrustKnown, OwnKey: true}}
	drive(t, s, own, own)
	if n := strings.Count(screenText(t, s), "the peer uses your own"); n != 1 {
		t.Fatalf("own-key warning shown %d times, want 1", n)
	}
	up := keyChanged("/tmp/known_peers")
	pk := up.ev.(protocol.PeerKeyEvent)
	pk.Established, pk.SessionUp = true, true
	drive(t, s, eventMsg{ev: pk})
	if s.keyChange != nil {
		t.Fatal("key-changed dialog shown while a session is up")
	}
	pk.SessionUp = false
	drive(t, s, eventMsg{ev: pk})
	if s.keyChange == nil {
		t.Fatal("no key-changed dialog after the session went down")
	}
}

func TestScreenKeyChangedNotOffered(t *testing.T) {
	f := newFakeNode()
	s := newTestScreen(testConfig(f)) // AcceptKey nil
	drive(t, s, tea.WindowSizeMsg{Width: 100, Height: 30})
	drive(t, s, keyChanged("/tmp/known_peers"))
	drive(t, s, typeText("accept")...)
	drive(t, s, keyPress(tea.KeyEnter))
	if s.keyChange == nil || strings.Contains(screenText(t, s), "type accept") {
		t.Fatal("accepting offered without AcceptKey")
	}
	drive(t, s, typeText("q")...)
	if _, _, _, _, leaves := f.snapshot(); leaves != 1 || !s.quitting {
		t.Fatalf("q on the key-changed screen: leaves %d, quitting %v", leaves, s.quitting)
	}
}

func TestScreenHelpListsEverything(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			tm, _, term, _ := startScreen(t, testConfig(newFakeNode()), sz[0], sz[1])
			tm.Send(keyPress(tea.KeyF1))
			scr := term.waitText("keys and commands")
			km := DefaultKeyMap()
			for _, g := range km.FullHelp() {
				for _, b := range g {
					if lineWith(scr, b.Help().Key+" ", b.Help().Desc) == "" {
						t.Errorf("help lacks %q %q", b.Help().Key, b.Help().Desc)
					}
				}
			}
			for _, c := range commands {
				if !strings.Contains(scr, c.name) {
					t.Errorf("help lacks command %s", c.name)
				}
			}
			if !strings.Contains(scr, "shift+drag") || !strings.Contains(scr, "marks: ") {
				t.Error("help does not say how to select text, or does not explain the marks")
			}
			if sz[1] >= 40 && strings.Contains(scr, "lines 1–") {
				t.Error("help does not fit 120x40 whole")
			}
		})
	}
}

func TestScreenQuestionMarkIsTextWhenTyping(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	drive(t, s, typeText("why?")...)
	if s.panels.overlay != overlayNone || s.input.Value() != "why?" {
		t.Fatalf("overlay %v, input %q", s.panels.overlay, s.input.Value())
	}
	drive(t, s, keyPress(tea.KeyF1))
	if s.panels.overlay != overlayHelp {
		t.Fatal("f1 did not open the help")
	}
	drive(t, s, keyPress(tea.KeyEscape))
	if s.panels.overlay != overlayNone || s.input.Value() != "why?" {
		t.Fatalf("esc: overlay %v, draft %q", s.panels.overlay, s.input.Value())
	}
}

func TestScreenResizeAndTooSmall(t *testing.T) {
	tm, sink, term, _ := startScreen(t, testConfig(newFakeNode()), 80, 24)
	sink.Emit(protocol.LiveEvent{State: protocol.LiveLive, RTT: time.Millisecond})
	term.waitText("live")
	term.pump()
	tm.Send(tea.WindowSizeMsg{Width: 120, Height: 40})
	term.emu.Resize(120, 40)
	term.waitText("Security log")
	tm.Send(tea.WindowSizeMsg{Width: 30, Height: 10})
	term.emu.Resize(30, 10)
	term.waitText("too small")
	tm.Send(tea.WindowSizeMsg{Width: 60, Height: 20})
	term.emu.Resize(60, 20)
	scr := term.waitText("› ")
	if strings.Contains(scr, "Security log") {
		t.Error("60 columns: the security log should be an overlay, not a sidebar")
	}
	s := finalScreen(t, tm)
	if s.lay.chat.w != 60 || s.lay.status.y != 19 {
		t.Errorf("layout after 60x20: %+v", s.lay)
	}
}

func TestScreenDraftSurvives(t *testing.T) {
	f := newFakeNode()
	s := newTestScreen(testConfig(f))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	drive(t, s, typeText("my draft")...)
	for _, m := range []tea.Msg{
		keyPress(tea.KeyF1), keyPress(tea.KeyEscape),
		keyPress(tea.KeyF2), keyPress(tea.KeyEscape),
		keyPress(tea.KeyF3), keyPress(tea.KeyF4), keyPress(tea.KeyEscape),
		tea.WindowSizeMsg{Width: 120, Height: 40}, tea.WindowSizeMsg{Width: 30, Height: 8}, tea.WindowSizeMsg{Width: 70, Height: 20},
		eventMsg{ev: protocol.ErrorEvent{Err: errors.New("transport hiccup")}},
		keyPress(tea.KeyPgUp), keyPress(tea.KeyPgDown),
	} {
		drive(t, s, m)
		if got := s.input.Value(); got != "my draft" {
			t.Fatalf("after %T %v: draft %q", m, m, got)
		}
	}
	// A failed send gives the text back.
	f.mu.Lock()
	f.sendErr = errTestSend
	f.mu.Unlock()
	drive(t, s, keyPress(tea.KeyEnter))
	if got := s.input.Value(); got != "my draft" {
		t.Fatalf("after a failed send: input %q", got)
	}
	if !strings.Contains(screenText(t, s), "not sent: queue full") {
		t.Fatal("the failed send is not reported")
	}
}

func TestScreenVerify(t *testing.T) {
	f := newFakeNode()
	cfg := testConfig(f)
	var marked atomic.Int32
	cfg.MarkVerified = func() error { marked.Add(1); return nil }
	s := newTestScreen(cfg)
	drive(t, s, tea.WindowSizeMsg{Width: 100, Height: 30})
	drive(t, s, established()...)
	drive(t, s, typeText("/verify")...)
	drive(t, s, keyPress(tea.KeyEnter))
	if s.panels.overlay != overlayVerify || !strings.Contains(screenText(t, s), "34723") {
		t.Fatal("/verify did not show the safety number")
	}
	drive(t, s, typeText("y")...)
	if marked.Load() != 1 || s.trust != crypto.TrustVerified {
		t.Fatalf("y: MarkVerified %d, trust %q", marked.Load(), s.trust)
	}
	if !strings.Contains(screenText(t, s), "verified") {
		t.Fatal("the header does not say verified")
	}
}

func TestScreenQuitLeaves(t *testing.T) {
	for _, how := range []string{"/quit", "ctrl+c"} {
		t.Run(how, func(t *testing.T) {
			f := newFakeNode()
			s := newTestScreen(testConfig(f))
			tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(80, 24))
			if how == "/quit" {
				tm.Type("/quit")
				tm.Send(keyPress(tea.KeyEnter))
			} else {
				tm.Send(ctrlKey('c'))
			}
			tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
			if _, _, _, _, leaves := f.snapshot(); leaves != 1 {
				t.Fatalf("Leave called %d times", leaves)
			}
		})
	}
}

func TestScreenEventsToChat(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 100, Height: 30})
	drive(t, s, established()...)
	drive(t, s,
		eventMsg{ev: protocol.GapEvent{Missing: 3}},
		eventMsg{ev: protocol.StalledEvent{Attempts: 4, LastStep: 3, For: 12 * time.Second}},
		eventMsg{ev: protocol.SessionEvent{State: protocol.SessionRekeyed}},
		eventMsg{ev: protocol.ErrorEvent{Err: errors.New("bad \x1b[31mthing")}},
		eventMsg{ev: protocol.MessageEvent{ID: 9, Text: "maybe again", SentAt: screenT0, PossibleDuplicate: true}},
		eventMsg{ev: protocol.SessionEvent{State: protocol.SessionPeerLeft}},
	)
	scr := screenText(t, s)
	for _, want := range []string{"3 messages missing, asking for them again", "handshake stalled", "keys renewed", `bad \x1b[31mthing`, "maybe again", "peer left", "compare it with your peer: /verify"} {
		if !strings.Contains(strings.ReplaceAll(scr, "\n", " "), want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
}

func TestScreenRejectionFloodIsSummarised(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 100, Height: 30})
	before := s.chat.Len()
	for i := range 500 {
		// Alternating reasons: repeats of one reason fold into one row.
		reason := []string{protocol.ReasonReplay, protocol.ReasonReorder}[i%2]
		drive(t, s, eventMsg{ev: protocol.RejectedEvent{Reason: reason, Seq: uint32(i), HasSeq: true}})
	}
	if n := s.chat.Len() - before; n != rejectNoticesPerSecond {
		t.Fatalf("%d rejection notices in one second, want %d", n, rejectNoticesPerSecond)
	}
	drive(t, s, advance{2 * time.Second}, statusMsg{})
	if !strings.Contains(screenText(t, s), "490 more rejections not shown") {
		t.Fatalf("no summary:\n%s", screenText(t, s))
	}
	if s.seclog.Count() != 500 {
		t.Fatalf("security log counted %d", s.seclog.Count())
	}
}

func TestScreenWidthMethodFromModeReport(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.ModeReportMsg{Mode: ansi.ModeUnicodeCore, Value: ansi.ModeReset})
	if s.chat.WidthMethod() != ansi.GraphemeWidth {
		t.Fatal("mode 2027 report not forwarded to the chat pane")
	}
}

func TestScreenViewFields(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	v := s.View()
	if !v.AltScreen || v.MouseMode != tea.MouseModeCellMotion || v.WindowTitle != "duet — bob" {
		t.Fatalf("view: alt %v mouse %v title %q", v.AltScreen, v.MouseMode, v.WindowTitle)
	}
	if v.Cursor == nil || v.Cursor.Y != s.lay.input.y {
		t.Fatalf("cursor %+v, input row %d", v.Cursor, s.lay.input.y)
	}
	lines := strings.Split(v.Content, "\n")
	if len(lines) != 24 {
		t.Fatalf("%d rows", len(lines))
	}
}

// syncSender runs the model synchronously: Send calls Update under a lock
// and runs the Cmd in a goroutine, as Bubble Tea does.
type syncSender struct {
	mu sync.Mutex
	s  *Screen
}

func (ss *syncSender) Send(msg tea.Msg) {
	ss.mu.Lock()
	_, cmd := ss.s.Update(msg)
	ss.mu.Unlock()
	if cmd != nil {
		go func() {
			if m := cmd(); m != nil {
				if _, ok := m.(statusTickMsg); !ok {
					ss.Send(m)
				}
			}
		}()
	}
}

func TestSinkMessageExactlyOnceOrdering(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	ss := &syncSender{s: s}
	sink := NewSink()
	defer sink.Close()
	inPane := func() int {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return s.chat.Len()
	}
	before := inPane()
	returned := make(chan struct{})
	go func() {
		sink.Emit(protocol.MessageEvent{ID: 5, Text: "exactly once", SentAt: screenT0})
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Emit of a message returned before the screen was attached")
	case <-time.After(100 * time.Millisecond):
	}
	// The screen is attached but stalled (Update cannot run): Emit still waits.
	ss.mu.Lock()
	sink.Attach(ss)
	select {
	case <-returned:
		ss.mu.Unlock()
		t.Fatal("Emit of a message returned while the screen was stalled")
	case <-time.After(100 * time.Millisecond):
	}
	if n := s.chat.Len(); n != before {
		ss.mu.Unlock()
		t.Fatalf("%d items in the pane before Update ran, want %d", n, before)
	}
	ss.mu.Unlock()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Emit never returned")
	}
	// Emit returned: the message is already in the pane, once.
	if n := inPane(); n != before+1 {
		t.Fatalf("Emit returned with %d items in the pane, want %d", n, before+1)
	}
	time.Sleep(50 * time.Millisecond)
	if n := inPane(); n != before+1 {
		t.Fatalf("%d items in the pane later, want %d (shown once)", n, before+1)
	}
}

// lockedScreen runs a Screen under a mutex, so that a test can stall its
// Update and read its state while a Bubble Tea program runs it.
type lockedScreen struct {
	mu *sync.Mutex
	s  *Screen
}

func (l lockedScreen) Init() tea.Cmd {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Init()
}

func (l lockedScreen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, cmd := l.s.Update(msg)
	return l, cmd
}

func (l lockedScreen) View() tea.View {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.View()
}

func TestSinkMessageOnScreenUnderTeatest(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	var mu sync.Mutex
	tm := teatest.NewTestModel(t, lockedScreen{mu: &mu, s: s}, teatest.WithInitialTermSize(80, 24))
	sink := NewSink()
	sink.Attach(tm)
	t.Cleanup(func() {
		sink.Close()
		_ = tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	})
	term := newLiveTerm(t, tm, 80, 24)

	// Stall the program's Update: Emit must wait for it.
	mu.Lock()
	before := s.chat.Len()
	returned := make(chan struct{})
	go func() {
		sink.Emit(protocol.MessageEvent{ID: 6, Text: "on the screen", SentAt: screenT0})
		close(returned)
	}()
	select {
	case <-returned:
		mu.Unlock()
		t.Fatal("Emit of a message returned while the screen was stalled")
	case <-time.After(100 * time.Millisecond):
	}
	mu.Unlock()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Emit never returned")
	}
	mu.Lock()
	n := s.chat.Len()
	mu.Unlock()
	if n != before+1 {
		t.Fatalf("Emit returned with %d items in the pane, want %d", n, before+1)
	}
	term.waitText("on the screen")
}

func TestSinkReleasesEmitWhenStopped(t *testing.T) {
	sink := NewSink()
	ctx, cancel := context.WithCancel(context.Background())
	unwatch := sink.stopWith(ctx)
	defer unwatch()
	done := make(chan struct{})
	go func() {
		sink.Emit(protocol.MessageEvent{ID: 1, Text: "x"})
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("Emit of a message returned with no screen and the node running")
	case <-time.After(50 * time.Millisecond):
	}
	cancel() // the node is being stopped
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Emit still blocked after the node's ctx ended")
	}
	returned := make(chan struct{})
	go func() {
		sink.Emit(protocol.MessageEvent{ID: 2, Text: "after close"})
		close(returned)
	}()
	select {
	case <-returned: // at once: the sink is closed
	case <-time.After(5 * time.Second):
		t.Fatal("Emit blocked on a closed sink")
	}
}

type countingSender struct {
	mu         sync.Mutex
	rejections int
	dropped    int
	critical   int
	block      chan struct{}
}

func (c *countingSender) Send(msg tea.Msg) {
	if c.block != nil {
		<-c.block
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, msg := range unbatch(msg) {
		switch m := msg.(type) {
		case eventMsg:
			switch m.ev.(type) {
			case protocol.RejectedEvent:
				c.rejections++
			case protocol.DeliveredEvent:
				c.critical++
			}
		case droppedMsg:
			c.dropped += m.Rejections
		}
	}
}

func TestSinkFloodNeverBlocks(t *testing.T) {
	sink := NewSink()
	defer sink.Close()
	c := &countingSender{block: make(chan struct{})}
	sink.Attach(c) // a screen that takes nothing until unblocked
	start := time.Now()
	const n = 100_000
	for i := range n {
		sink.Emit(protocol.RejectedEvent{Reason: protocol.ReasonReplay, Seq: uint32(i), HasSeq: true})
		sink.Emit(protocol.LiveEvent{State: protocol.LiveLive})
	}
	sink.Emit(protocol.DeliveredEvent{ID: 1}) // critical: never dropped
	took := time.Since(start)
	_, live := sink.Dropped()
	t.Logf("%d rejections + %d live events emitted in %v; %d live dropped", n, n, took, live)
	if took > 30*time.Second { // a blocked Emit would never return: only a real defect misses this
		t.Fatalf("Emit was slowed by the screen: %v", took)
	}
	if live == 0 {
		t.Fatal("no repeated live event dropped")
	}
	close(c.block)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		shown, dropped, critical := c.rejections, c.dropped, c.critical
		c.mu.Unlock()
		// Every rejection is either delivered or counted in a droppedMsg.
		if shown+dropped == n && critical == 1 {
			t.Logf("%d rejections forwarded, %d reported dropped", shown, dropped)
			if shown > SinkQueue+1 || dropped == 0 {
				t.Fatalf("queue bound not kept: %d forwarded", shown)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejections forwarded %d + dropped %d, want %d; critical %d", shown, dropped, n, critical)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunScreenEndings(t *testing.T) {
	opts := []tea.ProgramOption{tea.WithInput(nil), tea.WithOutput(&strings.Builder{}), tea.WithWindowSize(80, 24)}
	t.Run("ctx ends: clean quit", func(t *testing.T) {
		f := newFakeNode()
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("signal")
		var nodeStopped atomic.Bool
		go func() { time.Sleep(200 * time.Millisecond); cancel(stop) }()
		err := Run(ctx, testConfig(f), NewSink(), func(ctx context.Context) error {
			<-ctx.Done()
			nodeStopped.Store(true)
			return ctx.Err()
		}, opts...)
		if !errors.Is(err, stop) || !nodeStopped.Load() {
			t.Fatalf("err %v, node stopped %v", err, nodeStopped.Load())
		}
		if _, _, _, _, leaves := f.snapshot(); leaves != 1 {
			t.Fatalf("Leave called %d times on a signal", leaves)
		}
	})
	t.Run("node fails", func(t *testing.T) {
		boom := errors.New("port in use")
		err := Run(context.Background(), testConfig(newFakeNode()), NewSink(), func(ctx context.Context) error {
			time.Sleep(100 * time.Millisecond)
			return boom
		}, opts...)
		if !errors.Is(err, boom) {
			t.Fatalf("err %v, want %v", err, boom)
		}
	})
	t.Run("node panics", func(t *testing.T) {
		err := Run(context.Background(), testConfig(newFakeNode()), NewSink(), func(ctx context.Context) error {
			time.Sleep(100 * time.Millisecond)
			panic("driver bug")
		}, opts...)
		if err == nil || !strings.Contains(err.Error(), "panicked: driver bug") {
			t.Fatalf("err %v, want the node's panic as an error", err)
		}
	})
	t.Run("emit blocked at exit is released", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		sink := NewSink()
		emitted := make(chan struct{})
		go func() { time.Sleep(300 * time.Millisecond); cancel() }()
		_ = Run(ctx, testConfig(newFakeNode()), sink, func(ctx context.Context) error {
			go func() {
				sink.Emit(protocol.MessageEvent{ID: 1, Text: "hi"})
				close(emitted)
			}()
			<-ctx.Done()
			return nil
		}, opts...)
		select {
		case <-emitted:
		case <-time.After(5 * time.Second):
			t.Fatal("an Emit stayed blocked after Run returned")
		}
	})
}

func TestScreenScrolling(t *testing.T) {
	s := newTestScreen(testConfig(newFakeNode()))
	drive(t, s, tea.WindowSizeMsg{Width: 80, Height: 24})
	for i := range 100 {
		drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: uint64(i + 1), Text: fmt.Sprintf("line %d", i), SentAt: screenT0}})
	}
	wheelUp := tea.MouseWheelMsg{Button: tea.MouseWheelUp}
	drive(t, s, wheelUp, wheelUp)
	if s.chat.AtBottom() {
		t.Fatal("the wheel did not scroll up")
	}
	drive(t, s, eventMsg{ev: protocol.MessageEvent{ID: 500, Text: "while scrolled up", SentAt: screenT0}})
	if scr := screenText(t, s); !strings.Contains(scr, "↓ 1 new") || s.View().WindowTitle != "(1) duet — bob" {
		t.Fatalf("no unread hint (title %q):\n%s", s.View().WindowTitle, scr)
	}
	drive(t, s, ctrlEnd())
	if !s.chat.AtBottom() {
		t.Fatal("ctrl+end did not go to the bottom")
	}
	drive(t, s, keyPress(tea.KeyHome)) // input empty: scrolls
	if s.chat.AtBottom() {
		t.Fatal("home with an empty input did not scroll to the top")
	}
	drive(t, s, keyPress(tea.KeyEnd), typeText("x")[0], keyPress(tea.KeyHome))
	if !s.chat.AtBottom() {
		t.Fatal("home with text in the input scrolled the chat")
	}
	drive(t, s, keyPress(tea.KeyPgUp))
	if s.chat.AtBottom() {
		t.Fatal("pgup did not scroll")
	}
	drive(t, s, tea.MouseWheelMsg{Button: tea.MouseWheelDown}, keyPress(tea.KeyPgDown), keyPress(tea.KeyPgDown), keyPress(tea.KeyPgDown))
	if !s.chat.AtBottom() {
		t.Fatal("pgdn/wheel did not come back down")
	}
}

func ctrlEnd() tea.KeyPressMsg { return tea.KeyPressMsg{Code: tea.KeyEnd, Mod: tea.ModCtrl} }

// postRecorder records the order of what a sink forwards.
type postRecorder struct {
	mu  sync.Mutex
	got []string
}

func (r *postRecorder) Send(msg tea.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, msg := range unbatch(msg) {
		switch m := msg.(type) {
		case eventMsg:
			r.got = append(r.got, m.ev.EventName())
		case NoticeMsg:
			r.got = append(r.got, "notice:"+m.Text)
		}
	}
}

func (r *postRecorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestSinkPostKeepsOrderAndIsNeverDropped(t *testing.T) {
	sink := NewSink()
	defer sink.Close()
	// Queue before Attach, past the queue bound, with a flood around the posts.
	for range SinkQueue {
		sink.Emit(protocol.RejectedEvent{Reason: protocol.ReasonMalformed})
	}
	sink.Post(NoticeMsg{Text: "AAAA"})
	sink.Emit(protocol.SessionEvent{State: protocol.SessionEstablished})
	sink.Post(NoticeMsg{Text: "BBBB"})
	sink.Post(nil) // ignored
	r := &postRecorder{}
	sink.Attach(r)
	want := []string{"notice:AAAA", "session", "notice:BBBB"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var tail []string
		for _, g := range r.snapshot() {
			if g != "rejected" {
				tail = append(tail, g)
			}
		}
		if len(tail) == len(want) {
			for i := range want {
				if tail[i] != want[i] {
					t.Fatalf("forwarded %v, want %v", tail, want)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("forwarded %v, want %v", tail, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestScreenHealingIsOneRow: a healing's two directions, reported one
// after the other, make one "both directions" row; halves of different
// epochs, a row in between, or a rekey without a key exchange keep their
// own rows.
func TestScreenHealingIsOneRow(t *testing.T) {
	healed := func(dir string, epoch uint32) tea.Msg {
		return eventMsg{ev: protocol.SessionEvent{State: protocol.SessionRekeyed, Direction: dir, KeyExchange: protocol.KeyExchangeHealing, PostQuantum: true, Epoch: epoch}}
	}
	cases := []struct {
		name     string
		msgs     []tea.Msg
		rows     int
		both     int // rows saying "both directions"
		oneSided int // rows naming one direction
	}{
		{"send then receive", []tea.Msg{healed(protocol.DirectionSend, 1), healed(protocol.DirectionReceive, 1)}, 1, 1, 0},
		{"receive then send", []tea.Msg{healed(protocol.DirectionReceive, 1), healed(protocol.DirectionSend, 1)}, 1, 1, 0},
		{"two healings", []tea.Msg{healed(protocol.DirectionSend, 1), healed(protocol.DirectionReceive, 1), healed(protocol.DirectionReceive, 2), healed(protocol.DirectionSend, 2)}, 2, 2, 0},
		{"different epochs", []tea.Msg{healed(protocol.DirectionSend, 1), healed(protocol.DirectionReceive, 2)}, 2, 0, 2},
		{"same direction twice", []tea.Msg{healed(protocol.DirectionSend, 1), healed(protocol.DirectionSend, 1)}, 2, 0, 2},
		{"a message in between", []tea.Msg{healed(protocol.DirectionSend, 1), eventMsg{ev: protocol.MessageEvent{ID: 7, Text: "hi", SentAt: screenT0}}, healed(protocol.DirectionReceive, 1)}, 3, 0, 2},
		{"no key exchange", []tea.Msg{eventMsg{ev: protocol.SessionEvent{State: protocol.SessionRekeyed}}, eventMsg{ev: protocol.SessionEvent{State: protocol.SessionRekeyed}}}, 2, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestScreen(testConfig(newFakeNode()))
			drive(t, s, tea.WindowSizeMsg{Width: 120, Height: 40})
			before := s.chat.Len()
			drive(t, s, c.msgs...)
			if got := s.chat.Len() - before; got != c.rows {
				t.Errorf("%d rows added, want %d", got, c.rows)
			}
			scr := strings.ReplaceAll(screenText(t, s), "\n", " ")
			scr = strings.Join(strings.Fields(scr), " ")
			if got := strings.Count(scr, "both directions"); got != c.both {
				t.Errorf("%d rows say both directions, want %d:\n%s", got, c.both, scr)
			}
			if got := strings.Count(scr, "our direction") + strings.Count(scr, "the peer's direction"); got != c.oneSided {
				t.Errorf("%d rows name one direction, want %d:\n%s", got, c.oneSided, scr)
			}
		})
	}
}
