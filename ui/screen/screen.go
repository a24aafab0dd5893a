// Package screen is duet's full-screen terminal UI: one Bubble Tea model
// (Screen) with the chat pane, the input, the header and status bars, the
// panels (handshake, record inspector, security log) and the overlays, the
// Sink that carries the node's events into it, Run that runs it beside the
// node, and the port form asked for before it. It draws with ui/chat and
// ui/panel and says what ui/words says; all of its I/O runs in tea.Cmds.
package screen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/panel"
	"duet/ui/style"
	"duet/ui/termsafe"
	"duet/ui/words"
)

// Node is the session driver the screen drives and polls: *protocol.Node
// satisfies it. Every call runs in a tea.Cmd, never in Update.
type Node interface {
	SendMessage(text string) (protocol.Outgoing, error)
	Rekey() error
	Replay() error
	Leave(ctx context.Context) error
	Status() protocol.Status
}

// Config configures New.
type Config struct {
	SelfName, PeerName string // display names (--name, --peer-name)
	SelfFP             string // our fingerprint, grouped
	MainPort, SubPort  int
	PeerHost           string
	PingInterval       time.Duration
	Node               Node                // nil: nothing is sent
	Records            *protocol.RecordLog // may be nil
	// MarkVerified marks the peer verified in known_peers (/verify
	// confirmed); nil if that is not possible (pinned or ephemeral).
	MarkVerified func() error
	// AcceptKey records got, the peer's new key shown in the key-changed
	// dialog (the user typed "accept" there), and lets the node retry it;
	// nil if that is not possible.
	AcceptKey func(got crypto.Fingerprint) error
	// History is the stored conversation shown on start and paged in at
	// the top of the scrollback; nil: none (--no-history, --ephemeral).
	History HistorySource
	// Notices are shown first in the chat, e.g. that a new identity was
	// created (what the line mode prints on stderr).
	Notices []string
	// Warnings are shown first too, as warnings (e.g. the database was
	// opened at its previous commit).
	Warnings []string
	// Pending are our messages from an earlier run not delivered yet
	// (oldest first, marked Queued), PendingTotal how many there are in
	// all: shown at the start when there is no History to show them.
	Pending      []chat.Entry
	PendingTotal int
	// Input keeps the draft and the input history across restarts; nil:
	// nothing is kept (--no-history, --ephemeral, the demo).
	Input InputStore
	// ClearStored empties the stored history for /clear when there is no
	// History to show (--no-history: what earlier runs stored); History's
	// Clear is used when there is one.
	ClearStored func() error
	// Extra are commands beyond duet's own (duet demo's /attack), listed in
	// the help after them.
	Extra []ExtraCommand
	// Notify is how a peer message that arrives unseen is announced
	// (--notify; the zero value is the bell), NotifyText whether a desktop
	// notification carries its text (--notify-text), and Tmux that duet
	// runs inside tmux (desktop notifications then go through its
	// passthrough).
	Notify     Notify
	NotifyText bool
	Tmux       bool
	Now        func() time.Time // time.Now if nil
}

// ExtraCommand is a slash command a front end adds to the screen. Run gets
// what follows the name, runs off the UI goroutine, and returns a line to
// show as a notice (or an error, shown as a warning).
type ExtraCommand struct {
	Name string // "/attack"
	Help string // one short line for the help overlay
	Run  func(args string) (string, error)
}

// NoticeMsg shows a line in the chat as a notice (a warning if Warn): what
// a front end reports beside the node's events (duet demo's man in the
// middle). The text is sanitized.
type NoticeMsg struct {
	Text string
	Warn bool
}

// Sizes of the screen.
const (
	// MinWidth and MinHeight: below them the screen shows only
	// a "terminal too small" notice.
	MinWidth  = 40
	MinHeight = 12
	// WideWidth: from this width on, the panels sit in a right
	// sidebar of SidebarWidth columns instead of floating overlays.
	WideWidth    = 110
	SidebarWidth = 40
	// StatusPollInterval is how often the screen reads Node.Status and
	// the record log.
	StatusPollInterval = 250 * time.Millisecond
	// LeaveTimeout bounds telling the peer we leave on /quit.
	LeaveTimeout = time.Second
	// rejectNoticesPerSecond bounds the rejection notices in the chat
	// during a flood; the security log keeps them all.
	rejectNoticesPerSecond = 10
	// inspectorRecords is how many records the inspector is given.
	inspectorRecords = protocol.RecordLogSize
	// handshakePanelHeight is the height of the handshake panel.
	handshakePanelHeight = 11
)

// Internal messages.
type (
	statusTickMsg struct{}
	statusMsg     struct {
		st      protocol.Status
		recs    []protocol.RecordInfo
		total   uint64
		changed bool
	}
	sendResultMsg struct {
		text string
		out  protocol.Outgoing
		err  error
	}
	actionResultMsg struct {
		what string
		err  error
	}
	extraResultMsg struct {
		what, notice string
		err          error
	}
	leftMsg        struct{ err error }
	forceQuitMsg   struct{}
	quitRequestMsg struct{} // Run: ctx ended (SIGINT/SIGTERM)
	verifiedMsg    struct {
		err error  // nil: marked verified
		fp  string // the peer's fingerprint when /verify was confirmed
	}
)

type rect struct{ x, y, w, h int }

// layout holds the rectangles of one terminal size.
type layout struct {
	w, h     int
	tooSmall bool
	header   rect
	chat     rect
	sep      rect
	input    rect
	status   rect
	side     rect // w == 0: no sidebar (narrow terminal)
}

// Screen is the full-screen UI: the only tea.Model. It owns the routing of
// keys and events, the focus and the layout; the chat pane and the panels
// only render. All I/O runs in tea.Cmds.
type Screen struct {
	cfg  Config
	st   *style.Styles
	keys KeyMap
	help help.Model
	now  func() time.Time

	chat   *chat.Pane
	input  textarea.Model
	status *panel.StatusBar
	hs     *panel.Handshake
	seclog *panel.SecurityLog
	insp   *panel.Inspector

	lay         layout
	headerCache string

	selfName, peerName string
	trust              crypto.Trust
	peerFP, safety     string
	encrypted          bool

	panels       panels     // which panels and overlays are shown
	keyChange    *keyChange // the key-changed dialog; nil: not shown
	ownKeyWarned bool       // the peer's key is our own: said once

	sends    sendQueue // typed messages, handed to the node one at a time
	quitting bool

	rejects  rejectLimit // rejection notices in the chat, per second
	paging   paging      // stored history, paged in at the top of the scrollback
	once     onPane      // the message ids on the pane: each shown once
	receipts receipts    // receipts.go: focus, typing indicator, read receipts
	aids     aids        // search.go: /search, tab completion, the editor
}

// New returns the full-screen UI's model.
func New(cfg Config) *Screen {
	st := style.DefaultStyles()
	s := &Screen{
		cfg:      cfg,
		st:       &st,
		keys:     DefaultKeyMap(cfg.Extra...),
		help:     newHelp(&st),
		now:      cfg.Now,
		selfName: cfg.SelfName,
		peerName: cfg.PeerName,
		aids:     aids{recall: recall{idx: -1}},
		receipts: receipts{attn: attention{mode: cfg.Notify, withText: cfg.NotifyText, tmux: cfg.Tmux}},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.selfName == "" {
		s.selfName = "me"
	}
	if s.peerName == "" {
		s.peerName = "peer"
	}
	// Names reach the window title (an OSC sequence): never raw.
	s.selfName, s.peerName = termsafe.Sanitize(s.selfName), termsafe.Sanitize(s.peerName)
	now := s.now()
	s.chat = chat.New(s.st, chat.Person{Name: s.selfName, StableID: cfg.SelfFP}, chat.Person{Name: s.peerName, StableID: s.peerName})
	s.status = panel.NewStatusBar(cfg.MainPort, cfg.SubPort)
	host := cfg.PeerHost
	if host == "" {
		host = "127.0.0.1"
	}
	s.hs = panel.NewHandshake(fmt.Sprintf("%s:%d", host, cfg.SubPort), now, cfg.PingInterval)
	s.seclog = panel.NewSecurityLog()
	s.insp = panel.NewInspector()
	s.input = newInput(s.st)
	if cfg.History == nil && len(cfg.Pending) > 0 {
		s.showStored(cfg.Pending)
		s.chat.AddNotice(chat.NoticeInfo, words.Pending(len(cfg.Pending), cfg.PendingTotal, "above"), now)
	}
	for _, n := range cfg.Notices {
		s.chat.AddNotice(chat.NoticeInfo, termsafe.Sanitize(n), now)
	}
	for _, w := range cfg.Warnings {
		s.chat.AddNotice(chat.NoticeWarn, termsafe.Sanitize(w), now)
	}
	s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("duet: listening on port %d, peer %s:%d; waiting for the peer", cfg.MainPort, host, cfg.SubPort), now)
	s.resize(80, 24)
	return s
}

// Init starts the status poll.
func (s *Screen) Init() tea.Cmd {
	return tea.Batch(statusTick(), s.loadHistory(true), s.loadInput())
}

func statusTick() tea.Cmd {
	return tea.Tick(StatusPollInterval, func(time.Time) tea.Msg { return statusTickMsg{} })
}

// pollStatus reads the session's status and, when it changed, the newest
// records: one Cmd, one message.
func (s *Screen) pollStatus() tea.Cmd {
	sess, recs, last := s.cfg.Node, s.cfg.Records, s.insp.Total()
	return func() tea.Msg {
		var m statusMsg
		if sess != nil {
			m.st = sess.Status()
		}
		if recs != nil {
			if total := recs.Total(); total != last {
				m.recs, m.total = recs.Last(nil, inspectorRecords)
				m.changed = true
			}
		}
		return m
	}
}

// resize lays the screen out for a w x h terminal.
func (s *Screen) resize(w, h int) {
	s.lay.w, s.lay.h = w, h
	s.relayout()
}

// relayout recomputes the rectangles and sizes every component.
func (s *Screen) relayout() {
	w, h := s.lay.w, s.lay.h
	l := layout{w: w, h: h}
	if w < MinWidth || h < MinHeight {
		l.tooSmall = true
		s.lay = l
		return
	}
	mainW := w
	if w >= WideWidth {
		mainW = w - SidebarWidth
	}
	s.headerCache = s.renderHeader(w)
	headerH := min(lipgloss.Height(s.headerCache), 3)
	s.input.MaxHeight = max(1, min(6, h/4))
	s.input.SetWidth(mainW)
	inH := max(1, s.input.Height())
	chatH := h - headerH - 1 - inH - 1
	l.header = rect{0, 0, w, headerH}
	l.chat = rect{0, headerH, mainW, chatH}
	l.sep = rect{0, headerH + chatH, mainW, 1}
	l.input = rect{0, headerH + chatH + 1, mainW, inH}
	l.status = rect{0, h - 1, w, 1}
	if mainW < w {
		l.side = rect{mainW, headerH, w - mainW, h - headerH - 1}
	}
	s.lay = l
	chatW := l.chat.w
	if l.side.w > 0 {
		chatW-- // a blank column between the text and the sidebar's border
	}
	s.chat.SetSize(chatW, l.chat.h)
}

// fitInput relays out when the input grew or shrank.
func (s *Screen) fitInput() {
	if !s.lay.tooSmall && s.input.Height() != s.lay.input.h {
		s.relayout()
	}
}

func (s *Screen) renderHeader(w int) string {
	return panel.Header(s.st, w, panel.HeaderInfo{
		SelfName:  s.selfName,
		PeerName:  s.peerName,
		SelfFP:    s.cfg.SelfFP,
		PeerFP:    s.peerFP,
		Trust:     s.trust,
		Encrypted: s.encrypted,
		Changed:   s.status.KeyChanged(),
		Ended:     !s.encrypted && s.safety != "",
		// The handshake panel keeps the session's key exchange (and
		// forgets it when the session ends): no field of its own here.
		PostQuantum: s.hs.PostQuantum(),
	})
}

func (s *Screen) headerChanged() {
	if !s.lay.tooSmall {
		old := lipgloss.Height(s.headerCache)
		s.headerCache = s.renderHeader(s.lay.w)
		if lipgloss.Height(s.headerCache) != old {
			s.relayout()
		}
	}
}

// Update routes one message. It never blocks: I/O is in the Cmds it returns.
func (s *Screen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	s.courtesies(msg) // receipts.go
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		s.resize(m.Width, m.Height)
	case tea.ModeReportMsg:
		s.handleModeReport(m)
	case tea.ColorProfileMsg:
		s.handleColorProfile(m) // copy.go
	case tea.KeyPressMsg:
		return s, s.handleKey(m)
	case tea.PasteMsg:
		return s, s.handlePaste(m)
	case tea.MouseWheelMsg:
		s.handleWheel(m)
		return s, s.maybeLoadOlder()
	case historyMsg:
		s.handleHistory(m)
		return s, tea.Batch(s.searchPaged(), s.maybeLoadOlder())
	case searchResultMsg, editorReadyMsg, editorDoneMsg, editedMsg:
		return s, s.handleAid(msg)
	case inputLoadedMsg:
		s.handleInputLoaded(m)
		return s, nil
	case historyClearedMsg:
		s.handleHistoryCleared(m)
	case eventMsg:
		return s, s.handleEvent(m)
	case batchMsg:
		return s, s.handleBatch(m) // batch.go
	case droppedMsg:
		s.handleDropped(m)
	case statusTickMsg:
		return s, s.pollStatus()
	case statusMsg:
		return s, s.handleStatus(m)
	case NoticeMsg:
		s.handleNotice(m)
	case sendResultMsg, actionResultMsg, extraResultMsg, verifiedMsg, acceptedMsg:
		return s, s.handleResult(msg)
	case quitRequestMsg:
		return s, s.quit()
	case leftMsg, forceQuitMsg:
		return s, tea.Quit
	}
	return s, nil
}

// handleModeReport follows the terminal's width method: Bubble Tea's
// renderer switches to grapheme widths when the terminal reports mode 2027
// (tea.go, eventLoop); the chat pane must measure as the renderer does.
func (s *Screen) handleModeReport(m tea.ModeReportMsg) {
	if m.Mode == ansi.ModeUnicodeCore && (m.Value == ansi.ModeReset || m.Value == ansi.ModeSet || m.Value == ansi.ModePermanentlySet) {
		s.chat.SetWidthMethod(ansi.GraphemeWidth) // the one owner: view.go asks the pane
	}
}

// handleStatus shows a status poll's result and schedules the next poll.
func (s *Screen) handleStatus(m statusMsg) tea.Cmd {
	s.status.SetStatus(m.st)
	if m.changed {
		s.insp.SetAt(m.recs, m.total)
	}
	s.flushRejections(s.now(), false)
	return statusTick()
}

// handleNotice shows a notice a front end posts beside the node's events
// (Sink.Post).
func (s *Screen) handleNotice(m NoticeMsg) {
	kind := chat.NoticeInfo
	if m.Warn {
		kind = chat.NoticeWarn
	}
	s.chat.AddNotice(kind, termsafe.Sanitize(m.Text), s.now())
}

// setTrust shows how far the peer's key (fp, grouped; "": unchanged) is
// trusted.
func (s *Screen) setTrust(t crypto.Trust, fp string) {
	if t == crypto.TrustVerified && s.trust != crypto.TrustVerified {
		s.chat.AddNotice(chat.NoticeInfo, "peer marked verified: you compared the safety number", s.now())
	}
	s.trust = t
	if fp != "" {
		s.peerFP = termsafe.Sanitize(fp)
	}
	s.headerChanged()
}

// handleResult takes the result of a Cmd that called the node or the
// front end: a message sent, /rekey or /replay, an extra command, /verify's
// mark, the new key's acceptance.
func (s *Screen) handleResult(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case sendResultMsg:
		return s.handleSendResult(m)
	case actionResultMsg:
		if errors.Is(m.err, protocol.ErrNothingToReplay) {
			s.chat.AddNotice(chat.NoticeInfo, words.NothingToReplay, s.now())
			return nil
		}
		if m.err != nil {
			s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("%s failed: %s", m.what, termsafe.Sanitize(m.err.Error())), s.now())
		}
	case extraResultMsg:
		switch {
		case m.err != nil:
			s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("%s: %s", m.what, termsafe.Sanitize(m.err.Error())), s.now())
		case m.notice != "":
			s.chat.AddNotice(chat.NoticeInfo, termsafe.Sanitize(m.notice), s.now())
		}
	case verifiedMsg:
		if m.err == nil {
			s.setTrust(crypto.TrustVerified, m.fp)
			return nil
		}
		s.chat.AddNotice(chat.NoticeWarn, "could not mark the peer verified: "+termsafe.Sanitize(errText(m.err)), s.now())
	case acceptedMsg:
		if m.err != nil {
			if s.keyChange != nil {
				s.keyChange.failed(m.err)
			}
			return nil
		}
		s.keyChange = nil
		s.chat.AddNotice(chat.NoticeWarn, "new key accepted: it replaces the recorded one; compare the safety number again (/verify)", s.now())
	}
	return nil
}

// quit starts a clean quit: tell the peer (bounded), then end the program.
func (s *Screen) quit() tea.Cmd {
	if s.quitting || s.cfg.Node == nil {
		return tea.Quit
	}
	if u, ok := s.cfg.Node.(interface{ Unsaved() int }); ok && u.Unsaved() > 0 && !s.sends.quitWarned {
		s.sends.quitWarned = true
		s.chat.AddNotice(chat.NoticeWarn, words.QuitUnsaved(u.Unsaved(), "/quit or ctrl+c again"), s.now())
		return nil
	}
	s.quitting = true
	sess := s.cfg.Node
	leave := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), LeaveTimeout)
		defer cancel()
		return leftMsg{err: sess.Leave(ctx)}
	}
	// A Leave that ignores its deadline cannot hold the screen.
	force := tea.Tick(LeaveTimeout+500*time.Millisecond, func(time.Time) tea.Msg { return forceQuitMsg{} })
	return tea.Batch(leave, force)
}

// handleKey routes a key: redraw in every state, then to the key-changed
// dialog while it is shown, else quit, then an overlay's keys, the
// panels', scrolling, and last the input.
func (s *Screen) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, s.keys.Redraw) {
		return tea.ClearScreen
	}
	if s.keyChange != nil {
		if key.Matches(k, s.keys.Quit) || k.String() == "q" {
			return s.quit()
		}
		return s.keyChange.handleKey(k, s.cfg.AcceptKey)
	}
	if s.paging.asking && !key.Matches(k, s.keys.Quit) {
		return s.clearKey(k)
	}
	if key.Matches(k, s.keys.Quit) {
		s.paging.asking = false
		if s.input.Value() != "" && !s.quitting {
			s.dropDraft() // as crush: the first ctrl+c clears the draft
			return nil
		}
		return s.quit()
	}
	if s.panels.overlay != overlayNone {
		return s.overlayKey(k)
	}
	if cmd, ok := s.aidKey(k); ok {
		return cmd
	}
	if s.panelKey(k) {
		return nil
	}
	if cmd, ok := s.scrollKey(k); ok {
		return cmd
	}
	return s.inputKey(k)
}

// scrollKey takes the keys that scroll the chat (home and end only while
// the input is empty: else they move within the input line). It reports
// whether k was one, with the Cmd loading older history at the top.
func (s *Screen) scrollKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	empty := s.input.Value() == ""
	switch {
	case key.Matches(k, s.keys.PageUp):
		s.chat.PageUp()
		return s.maybeLoadOlder(), true
	case key.Matches(k, s.keys.PageDown):
		s.chat.PageDown()
		return nil, true
	case key.Matches(k, s.keys.TopAlways), key.Matches(k, s.keys.Top) && empty:
		s.chat.Top()
		return s.maybeLoadOlder(), true
	case key.Matches(k, s.keys.BottomAlways), key.Matches(k, s.keys.Bottom) && empty:
		s.chat.Bottom()
		return nil, true
	}
	return nil, false
}

func (s *Screen) handleWheel(m tea.MouseWheelMsg) {
	switch m.Mouse().Button {
	case tea.MouseWheelUp:
		s.chat.ScrollUp(3)
	case tea.MouseWheelDown:
		s.chat.ScrollDown(3)
	}
}

// errText is err's text, "unknown error" for nil.
func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// snippet cuts s to n runes, marking the cut with "…".
func snippet(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
