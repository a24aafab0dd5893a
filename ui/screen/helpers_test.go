package screen

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"

	"duet/crypto"
	"duet/protocol"
)

// screenT0 is the fixed clock of the screen tests.
var screenT0 = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

const (
	testSelfFP = "bc25 117c 79d0 05ca 525e bb8a 2d37 a9c8 c08f 0f58 8326 4e8e 0e6e ee5b 5149 785d"
	testPeerFP = "68ff 3d42 f629 0e0e ad8f e34f c5f7 17fa 085e f8ab b404 3cca 3ee3 2f1f 1eee 6512"
	testSafety = "34723 68391 27345 72567 04545 97913 62708 74978 16373 71059 61628 96915"
)

// testFP parses a grouped fingerprint of these tests.
func testFP(s string) crypto.Fingerprint {
	fp, err := crypto.ParseFingerprint(s)
	if err != nil {
		panic(err)
	}
	return fp
}

// keyChanged is the node's report of a changed key (testSelfFP presented,
// testPeerFP recorded in path) while no session is up.
func keyChanged(path string) eventMsg {
	return eventMsg{ev: protocol.PeerKeyEvent{
		Fingerprint: testFP(testSelfFP),
		Changed:     &crypto.KeyChangedError{Peer: "bob", Known: testFP(testPeerFP), Got: testFP(testSelfFP), Path: path},
	}}
}

// fakeNode is a Node that records what the screen asks.
type fakeNode struct {
	mu      sync.Mutex
	sent    []string
	ids     []uint64
	nextID  uint64
	rekeys  int
	replays int
	leaves  int
	sendErr error
	status  protocol.Status
	sentCh  chan string
}

func newFakeNode() *fakeNode {
	return &fakeNode{nextID: 1000, sentCh: make(chan string, 100)}
}

func (f *fakeNode) SendMessage(text string) (protocol.Outgoing, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return protocol.Outgoing{}, f.sendErr
	}
	f.nextID++
	f.sent = append(f.sent, text)
	f.ids = append(f.ids, f.nextID)
	select {
	case f.sentCh <- text:
	default:
	}
	return protocol.Outgoing{ID: f.nextID, SentAt: screenT0}, nil
}

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
	return nil
}

func (f *fakeNode) Leave(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaves++
	return nil
}

func (f *fakeNode) Status() protocol.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeNode) snapshot() (sent []string, ids []uint64, rekeys, replays, leaves int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...), append([]uint64(nil), f.ids...), f.rekeys, f.replays, f.leaves
}

// testConfig is a deterministic configuration.
func testConfig(node Node) Config {
	return Config{
		SelfName:     "alice",
		PeerName:     "bob",
		SelfFP:       testSelfFP,
		MainPort:     5555,
		SubPort:      5556,
		PeerHost:     "127.0.0.1",
		PingInterval: time.Second,
		Node:         node,
		Now:          newTestClock().now,
	}
}

// testClock is a settable clock; drive moves it with an advance message.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: screenT0} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// advance is a test-only message for drive: move the screen's clock.
type advance struct{ d time.Duration }

// screenClocks maps a screen to its test clock.
var screenClocks sync.Map

// newTestScreen returns a screen with a fixed clock and time zone.
func newTestScreen(cfg Config) *Screen {
	clock := newTestClock()
	if cfg.Now == nil {
		cfg.Now = clock.now
	}
	s := New(cfg)
	s.now = func() time.Time { return clock.now() }
	screenClocks.Store(s, clock)
	s.chat.SetClock(time.UTC)
	return s
}

// Keys.
func keyPress(code rune) tea.KeyPressMsg { return tea.KeyPressMsg{Code: code} }
func ctrlKey(r rune) tea.KeyPressMsg     { return tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl} }
func altKey(code rune) tea.KeyPressMsg   { return tea.KeyPressMsg{Code: code, Mod: tea.ModAlt} }
func typeText(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// drive feeds msgs to the model directly and runs the Cmds they return,
// feeding their results back, except the periodic ones (ticks) and quit.
func drive(t testing.TB, s *Screen, msgs ...tea.Msg) {
	t.Helper()
	for _, m := range msgs {
		if a, ok := m.(advance); ok {
			if c, ok := screenClocks.Load(s); ok {
				c := c.(*testClock)
				c.mu.Lock()
				c.t = c.t.Add(a.d)
				c.mu.Unlock()
			}
			continue
		}
		_, cmd := s.Update(m)
		runCmd(t, s, cmd)
	}
}

func runCmd(t testing.TB, s *Screen, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	res := make(chan tea.Msg, 1)
	go func() { res <- cmd() }()
	var msg tea.Msg
	// The screen's only commands that wait are its two ticks (the status
	// poll, 250 ms, and the forced quit, LeaveTimeout+500 ms), whose
	// messages are not driven here; every other command returns at once.
	// The limit is far above what a loaded machine takes to run one, so a
	// slow history load is never taken for a tick (100 ms was: a loaded
	// 2-core machine dropped one).
	select {
	case msg = <-res:
	case <-time.After(2 * time.Second):
		return // a tick: not driven here
	}
	switch m := msg.(type) {
	case nil, tea.QuitMsg, statusTickMsg, forceQuitMsg:
	case tea.BatchMsg:
		for _, c := range m {
			runCmd(t, s, c)
		}
	default:
		_, next := s.Update(m)
		runCmd(t, s, next)
	}
}

// screenText renders the model's frame through a terminal emulator and
// returns the plain text of the screen.
func screenText(t testing.TB, s *Screen) string {
	t.Helper()
	// A frame holds no queries, so the emulator has no replies to drain.
	// (Closing it while its replies are read races inside vt.)
	emu := vt.NewEmulator(s.lay.w, s.lay.h)
	content := s.View().Content
	_, _ = emu.WriteString(strings.ReplaceAll(content, "\n", "\r\n"))
	return trimRight(emu.String())
}

func trimRight(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// liveTerm follows a running teatest program's output in an emulator.
type liveTerm struct {
	t   testing.TB
	tm  *teatest.TestModel
	emu *vt.Emulator
	buf []byte
}

func newLiveTerm(t testing.TB, tm *teatest.TestModel, w, h int) *liveTerm {
	emu := vt.NewEmulator(w, h)
	// Drain the emulator's replies to the program's queries; the emulator
	// is left open (closing it while Read runs races inside vt).
	go func() { _, _ = io.Copy(io.Discard, emu) }()
	return &liveTerm{t: t, tm: tm, emu: emu, buf: make([]byte, 64<<10)}
}

func (l *liveTerm) pump() {
	for {
		n, err := l.tm.Output().Read(l.buf)
		if n > 0 {
			_, _ = l.emu.Write([]byte(strings.ReplaceAll(string(l.buf[:n]), "\n", "\r\n")))
		}
		if n == 0 || err != nil {
			return
		}
	}
}

// waitFor waits until the screen satisfies cond, failing after 5 s.
func (l *liveTerm) waitFor(what string, cond func(screen string) bool) string {
	l.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.pump()
		scr := l.emu.String()
		if cond(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("screen never showed %s; it shows:\n%s", what, trimRight(scr))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *liveTerm) waitText(sub string) string {
	l.t.Helper()
	return l.waitFor(strconvQuote(sub), func(s string) bool { return strings.Contains(s, sub) })
}

func strconvQuote(s string) string { return "\"" + s + "\"" }

// startScreen runs a screen under teatest with a sink attached.
func startScreen(t *testing.T, cfg Config, w, h int) (*teatest.TestModel, *Sink, *liveTerm, *Screen) {
	t.Helper()
	s := newTestScreen(cfg)
	tm := teatest.NewTestModel(t, s, teatest.WithInitialTermSize(w, h))
	sink := NewSink()
	sink.Attach(tm)
	t.Cleanup(func() {
		sink.Close()
		_ = tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	})
	return tm, sink, newLiveTerm(t, tm, w, h), s
}

var errTestSend = errors.New("queue full")

// The node the screen is given in production.
var _ Node = (*protocol.Node)(nil)
