// Package screen is duet's full-screen terminal UI: one Bubble Tea model
// (Screen) with the chat pane, the input, the header and status bars, the
// panels (handshake, record inspector, security log) and the overlays, the
// Sink that carries the node's events into it, Run that runs it beside the
// node, and the port form asked for before it. It draws with ui/chat and
// ui/panel and says what ui/words says; all of its I/O runs in tea.Cmds.
package screen

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

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
	// AcceptKey records the peer's new key (the user typed "accept" on the
	// key-changed screen); nil if that is not possible.
	AcceptKey func() error
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
	// ClearStored empties the stored history for /clear when there is no
	// History to show (--no-history: what earlier runs stored); History's
	// Clear is used when there is one.
	ClearStored func() error
	// Extra are commands beyond duet's own (duet demo's /attack), listed in
	// the help after them.
	Extra []ExtraCommand
	Now   func() time.Time // time.Now if nil
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

// TrustMsg tells the screen how far the peer's key is trusted.
type TrustMsg struct {
	Trust  panel.Trust
	PeerFP string
}

// KeyChangedMsg shows the full-screen key-changed warning.
type KeyChangedMsg struct{ Info panel.KeyChangedInfo }

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
	// historyMax bounds the recalled inputs.
	historyMax = 500
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
	verifiedMsg    struct{ err error }
	acceptedMsg    struct{ err error }
)

type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayHelp
	overlayVerify
)

type panelKind int

const (
	panelNone panelKind = iota
	panelHandshake
	panelInspector
	panelSecurityLog
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

	w, h        int
	lay         layout
	widthMethod ansi.Method
	headerCache string

	selfName, peerName string
	trust              panel.Trust
	peerFP, safety     string
	encrypted          bool

	overlay     overlayKind
	panel       panelKind // narrow terminals: the floating panel
	hsDismissed bool      // esc closed the automatic handshake overlay
	sideHS      bool      // wide terminals: handshake panel pinned (F2)
	sideInsp    bool      // wide terminals: inspector shown (F3)
	sideLogOff  bool      // wide terminals: security log hidden (F4)

	keyChanged *panel.KeyChangedInfo
	keyTyped   string
	keyErr     string
	keyBusy    bool

	history   []string
	histIdx   int // -1: not browsing
	histDraft string

	sendQueue []string // waiting for the one SendMessage in flight
	sending   bool

	quitting bool

	rejWindow time.Time
	rejShown  int
	rejHidden int

	lastTotal uint64

	histPos     any  // position before the oldest entry loaded
	histMore    bool // older entries may exist
	histLoading bool // a load Cmd is in flight
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
		histIdx:  -1,
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
		s.chat.Prepend(cfg.Pending)
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

func newInput(st *style.Styles) textarea.Model {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.Prompt = "› "
	ta.Placeholder = "type a message · /help for commands"
	ta.CharLimit = 0
	ta.DynamicHeight = true
	ta.MinHeight = 1
	ta.MaxHeight = 6
	ta.MaxContentHeight = 5000 // visual rows; MaxHeight only bounds what is visible
	ta.EndOfBufferCharacter = ' '
	ta.SetVirtualCursor(false)
	state := textarea.StyleState{
		Base:             lipgloss.NewStyle(),
		Text:             lipgloss.NewStyle(),
		LineNumber:       st.Dim,
		CursorLineNumber: st.Dim,
		CursorLine:       lipgloss.NewStyle(),
		EndOfBuffer:      st.Dim,
		Placeholder:      st.Dim,
		Prompt:           st.InputPrompt,
		Selection:        lipgloss.NewStyle().Reverse(true),
	}
	ta.SetStyles(textarea.Styles{Focused: state, Blurred: state, Cursor: textarea.CursorStyle{Shape: tea.CursorBar}})
	km := textarea.DefaultKeyMap()
	km.InsertNewline = key.NewBinding(key.WithKeys("alt+enter", "ctrl+j", "shift+enter"))
	km.InputBegin = key.NewBinding(key.WithKeys("alt+<"))
	km.InputEnd = key.NewBinding(key.WithKeys("alt+>"))
	km.PageUp = key.NewBinding(key.WithDisabled())
	km.PageDown = key.NewBinding(key.WithDisabled())
	ta.KeyMap = km
	ta.Focus()
	return ta
}

// Init starts the status poll.
func (s *Screen) Init() tea.Cmd { return tea.Batch(statusTick(), s.loadHistory(true)) }

func statusTick() tea.Cmd {
	return tea.Tick(StatusPollInterval, func(time.Time) tea.Msg { return statusTickMsg{} })
}

// pollStatus reads the session's status and, when it changed, the newest
// records: one Cmd, one message.
func (s *Screen) pollStatus() tea.Cmd {
	sess, recs, last := s.cfg.Node, s.cfg.Records, s.lastTotal
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
	s.w, s.h = w, h
	s.relayout()
}

// relayout recomputes the rectangles and sizes every component.
func (s *Screen) relayout() {
	w, h := s.w, s.h
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
	})
}

func (s *Screen) headerChanged() {
	if !s.lay.tooSmall {
		old := lipgloss.Height(s.headerCache)
		s.headerCache = s.renderHeader(s.w)
		if lipgloss.Height(s.headerCache) != old {
			s.relayout()
		}
	}
}

// Update routes one message. It never blocks: I/O is in the Cmds it returns.
func (s *Screen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		s.resize(m.Width, m.Height)
		return s, nil
	case tea.ModeReportMsg:
		// Bubble Tea's renderer switches to grapheme widths when the
		// terminal reports mode 2027 (tea.go, eventLoop); the chat pane
		// must measure as the renderer does.
		if m.Mode == ansi.ModeUnicodeCore && (m.Value == ansi.ModeReset || m.Value == ansi.ModeSet || m.Value == ansi.ModePermanentlySet) {
			s.widthMethod = ansi.GraphemeWidth
			s.chat.SetWidthMethod(ansi.GraphemeWidth)
		}
		return s, nil
	case tea.KeyPressMsg:
		return s, s.handleKey(m)
	case tea.PasteMsg:
		return s, s.handlePaste(m)
	case tea.MouseWheelMsg:
		s.handleWheel(m)
		return s, s.maybeLoadOlder()
	case historyMsg:
		s.handleHistory(m)
		return s, s.maybeLoadOlder()
	case historyClearedMsg:
		s.handleHistoryCleared(m)
		return s, nil
	case eventMsg:
		return s, s.handleEvent(m)
	case droppedMsg:
		if m.Rejections > 0 {
			text := fmt.Sprintf("%d more rejections not shown: events came faster than the screen could take them", m.Rejections)
			s.seclog.Note(text, s.now())
			s.chat.AddNotice(chat.NoticeWarn, text, s.now())
		}
		return s, nil
	case statusTickMsg:
		return s, s.pollStatus()
	case statusMsg:
		s.status.SetStatus(m.st)
		if m.changed {
			s.insp.Set(m.recs)
			s.lastTotal = m.total
		}
		s.flushRejections(s.now(), false)
		return s, statusTick()
	case sendResultMsg:
		return s, s.handleSendResult(m)
	case actionResultMsg:
		if m.err != nil {
			s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("%s failed: %s", m.what, termsafe.Sanitize(m.err.Error())), s.now())
		}
		return s, nil
	case extraResultMsg:
		switch {
		case m.err != nil:
			s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("%s: %s", m.what, termsafe.Sanitize(m.err.Error())), s.now())
		case m.notice != "":
			s.chat.AddNotice(chat.NoticeInfo, termsafe.Sanitize(m.notice), s.now())
		}
		return s, nil
	case NoticeMsg:
		kind := chat.NoticeInfo
		if m.Warn {
			kind = chat.NoticeWarn
		}
		s.chat.AddNotice(kind, termsafe.Sanitize(m.Text), s.now())
		return s, nil
	case TrustMsg:
		if m.Trust == panel.TrustVerified && s.trust != panel.TrustVerified {
			s.chat.AddNotice(chat.NoticeInfo, "peer marked verified: you compared the safety number", s.now())
		}
		s.trust = m.Trust
		if m.PeerFP != "" {
			s.peerFP = termsafe.Sanitize(m.PeerFP)
		}
		s.headerChanged()
		return s, nil
	case verifiedMsg: // MarkVerified failed (success comes as a TrustMsg)
		s.chat.AddNotice(chat.NoticeWarn, "could not mark the peer verified: "+termsafe.Sanitize(errText(m.err)), s.now())
		return s, nil
	case KeyChangedMsg:
		info := m.Info
		if s.cfg.AcceptKey == nil {
			info.Path = "" // accepting is not offered
		}
		s.keyChanged = &info
		s.keyTyped, s.keyErr, s.keyBusy = "", "", false
		s.overlay = overlayNone
		return s, nil
	case acceptedMsg:
		s.keyBusy = false
		if m.err != nil {
			s.keyErr = "could not record the new key: " + termsafe.Sanitize(m.err.Error())
			s.keyTyped = ""
			return s, nil
		}
		s.keyChanged = nil
		s.chat.AddNotice(chat.NoticeWarn, "new key accepted: it replaces the recorded one; compare the safety number again (/verify)", s.now())
		return s, nil
	case quitRequestMsg:
		return s, s.quit()
	case leftMsg, forceQuitMsg:
		return s, tea.Quit
	}
	return s, nil
}

// quit starts a clean quit: tell the peer (bounded), then end the program.
func (s *Screen) quit() tea.Cmd {
	if s.quitting || s.cfg.Node == nil {
		return tea.Quit
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

func (s *Screen) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if s.keyChanged != nil {
		return s.handleKeyChangedKey(k)
	}
	if key.Matches(k, s.keys.Quit) {
		return s.quit()
	}
	switch s.overlay {
	case overlayHelp:
		if key.Matches(k, s.keys.Close, s.keys.Help) || k.String() == "q" {
			s.overlay = overlayNone
		}
		return nil
	case overlayVerify:
		switch {
		case key.Matches(k, s.keys.Confirm):
			s.overlay = overlayNone
			return s.confirmVerify()
		case key.Matches(k, s.keys.Decline):
			s.overlay = overlayNone
		}
		return nil
	}
	empty := s.input.Value() == ""
	wide := s.lay.side.w > 0
	switch {
	case key.Matches(k, s.keys.Help) && (k.String() != "?" || empty):
		s.overlay = overlayHelp
		return nil
	case key.Matches(k, s.keys.Handshake):
		if wide {
			s.sideHS = !s.sideHS
		} else {
			s.togglePanel(panelHandshake)
		}
		return nil
	case key.Matches(k, s.keys.Inspector):
		if wide {
			s.sideInsp = !s.sideInsp
		} else {
			s.togglePanel(panelInspector)
		}
		return nil
	case key.Matches(k, s.keys.Pings):
		s.insp.SetShowLiveness(!s.insp.ShowLiveness())
		return nil
	case key.Matches(k, s.keys.SecurityLog):
		if wide {
			s.sideLogOff = !s.sideLogOff
		} else {
			s.togglePanel(panelSecurityLog)
		}
		return nil
	case key.Matches(k, s.keys.Close):
		if s.panel != panelNone {
			s.panel = panelNone
		} else if s.autoHandshake() {
			s.hsDismissed = true
		}
		return nil // never clears the draft
	case key.Matches(k, s.keys.PageUp):
		s.chat.PageUp()
		return s.maybeLoadOlder()
	case key.Matches(k, s.keys.PageDown):
		s.chat.PageDown()
		return nil
	case key.Matches(k, s.keys.TopAlways), key.Matches(k, s.keys.Top) && empty:
		s.chat.Top()
		return s.maybeLoadOlder()
	case key.Matches(k, s.keys.BottomAlways), key.Matches(k, s.keys.Bottom) && empty:
		s.chat.Bottom()
		return nil
	case key.Matches(k, s.keys.Send):
		return s.submit()
	case key.Matches(k, s.keys.PrevLine) && s.onFirstRow() && (len(s.history) > 0):
		s.recall(-1)
		return nil
	case key.Matches(k, s.keys.NextLine) && s.onLastRow() && s.histIdx >= 0:
		s.recall(+1)
		return nil
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(k)
	s.fitInput()
	return cmd
}

func (s *Screen) togglePanel(p panelKind) {
	if s.panel == p {
		s.panel = panelNone
		if p == panelHandshake {
			s.hsDismissed = true
		}
		return
	}
	s.panel = p
}

// autoHandshake reports whether the handshake panel floats by itself on a
// narrow terminal: while a handshake is under way, until esc.
func (s *Screen) autoHandshake() bool {
	return s.panel == panelNone && !s.hsDismissed && s.hs.Active(s.now())
}

func (s *Screen) onFirstRow() bool {
	return s.input.Line() == 0 && s.input.LineInfo().RowOffset == 0
}

func (s *Screen) onLastRow() bool {
	li := s.input.LineInfo()
	return s.input.Line() == s.input.LineCount()-1 && li.RowOffset >= li.Height-1
}

// recall walks the input history: dir -1 older, +1 newer (past the newest:
// back to the draft the walk started from).
func (s *Screen) recall(dir int) {
	if s.histIdx < 0 {
		if dir > 0 {
			return
		}
		s.histDraft = s.input.Value()
		s.histIdx = len(s.history)
	}
	next := s.histIdx + dir
	switch {
	case next < 0:
		return
	case next >= len(s.history):
		s.histIdx = -1
		s.input.SetValue(s.histDraft)
		s.histDraft = ""
	default:
		s.histIdx = next
		s.input.SetValue(s.history[next])
	}
	if dir < 0 {
		s.input.MoveToBegin()
	} else {
		s.input.MoveToEnd()
	}
	s.fitInput()
}

func (s *Screen) remember(text string) {
	if n := len(s.history); n == 0 || s.history[n-1] != text {
		s.history = append(s.history, text)
		if len(s.history) > historyMax {
			s.history = append([]string(nil), s.history[len(s.history)-historyMax:]...)
		}
	}
	s.histIdx, s.histDraft = -1, ""
}

func (s *Screen) clearInput() {
	s.input.Reset()
	s.fitInput()
}

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(t string) string {
	if !strings.Contains(t, "\r") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "\r\n", "\n"), "\r", "\n")
}

// handlePaste inserts a paste into the input (also under an overlay: the
// draft is there). A paste never sends.
func (s *Screen) handlePaste(p tea.PasteMsg) tea.Cmd {
	if s.keyChanged != nil {
		return nil
	}
	p.Content = normalizeNewlines(p.Content)
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(p) // inserts; a paste never sends
	s.fitInput()
	return cmd
}

func (s *Screen) handleWheel(m tea.MouseWheelMsg) {
	switch m.Mouse().Button {
	case tea.MouseWheelUp:
		s.chat.ScrollUp(3)
	case tea.MouseWheelDown:
		s.chat.ScrollDown(3)
	}
}

// submit handles Enter: a command, or a message to send.
func (s *Screen) submit() tea.Cmd {
	raw := s.input.Value()
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		s.remember(raw)
		s.clearInput()
		return s.command(strings.TrimSpace(raw))
	}
	text := raw
	if strings.HasPrefix(text, "//") {
		text = text[1:]
	}
	now := s.now()
	if len(text) > protocol.MaxTextSize {
		s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("message of %d bytes not sent: at most %d bytes (your draft is kept)", len(text), protocol.MaxTextSize), now)
		return nil
	}
	if s.cfg.Node == nil {
		s.chat.AddNotice(chat.NoticeWarn, "not sent: no session driver (your draft is kept)", now)
		return nil
	}
	s.remember(raw)
	s.clearInput()
	s.chat.Bottom()
	s.sendQueue = append(s.sendQueue, text)
	return s.nextSend()
}

// nextSend starts the next SendMessage if none is in flight: one at a time,
// so messages keep the order they were typed in.
func (s *Screen) nextSend() tea.Cmd {
	if s.sending || len(s.sendQueue) == 0 {
		return nil
	}
	text := s.sendQueue[0]
	s.sendQueue = s.sendQueue[1:]
	s.sending = true
	sess := s.cfg.Node
	return func() tea.Msg {
		out, err := sess.SendMessage(text)
		return sendResultMsg{text: text, out: out, err: err}
	}
}

func (s *Screen) handleSendResult(m sendResultMsg) tea.Cmd {
	s.sending = false
	now := s.now()
	if m.err != nil {
		note := "not sent: " + termsafe.Sanitize(m.err.Error())
		if s.input.Value() == "" {
			s.input.SetValue(m.text) // the failed message becomes the draft again
			s.fitInput()
			note += " (back in the input)"
		} else {
			note += " (in the history: ↑)"
		}
		s.chat.AddNotice(chat.NoticeWarn, note, now)
		return s.nextSend()
	}
	at := m.out.SentAt
	if at.IsZero() {
		at = now
	}
	s.chat.AddOwn(m.out.ID, m.text, at)
	return s.nextSend()
}

// commandList is the list the unknown-command notice gives.
func (s *Screen) commandList() string {
	names := make([]string, 0, len(commands)+len(s.cfg.Extra))
	for _, c := range commands {
		if c.name != "//text" {
			names = append(names, c.name)
		}
	}
	for _, c := range s.cfg.Extra {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// command runs a slash command. Nothing typed as a command is ever sent.
func (s *Screen) command(line string) tea.Cmd {
	name := strings.Fields(line)[0]
	now := s.now()
	sess := s.cfg.Node
	switch name {
	case "/help":
		s.overlay = overlayHelp
	case "/quit":
		return s.quit()
	case "/verify":
		if s.safety == "" {
			s.chat.AddNotice(chat.NoticeInfo, "nothing to verify yet: no session has been established with the peer", now)
			return nil
		}
		s.overlay = overlayVerify
	case "/fingerprint":
		peer := s.peerFP
		if peer == "" {
			peer = "not known yet"
		}
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("your fingerprint: %s · %s's fingerprint: %s", termsafe.Sanitize(s.cfg.SelfFP), s.peerName, termsafe.Sanitize(peer)), now)
	case "/replay":
		if sess == nil {
			return nil
		}
		return func() tea.Msg { return actionResultMsg{what: "/replay", err: sess.Replay()} }
	case "/rekey":
		if sess == nil {
			return nil
		}
		return func() tea.Msg { return actionResultMsg{what: "/rekey", err: sess.Rekey()} }
	case "/clear":
		s.chat.Clear()
		return s.clearHistory()
	default:
		for _, c := range s.cfg.Extra {
			if c.Name == name {
				run, args := c.Run, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), name))
				return func() tea.Msg {
					notice, err := run(args)
					return extraResultMsg{what: name, notice: notice, err: err}
				}
			}
		}
		s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf("unknown command %s (not sent): commands are %s; start a message with // to send a leading /",
			termsafe.Sanitize(snippet(name, 40)), s.commandList()), now)
	}
	return nil
}

func (s *Screen) confirmVerify() tea.Cmd {
	mark := s.cfg.MarkVerified
	if mark == nil {
		s.chat.AddNotice(chat.NoticeInfo, "this peer cannot be marked verified here (its key is pinned, or the run keeps no known_peers)", s.now())
		return nil
	}
	fp := s.peerFP
	return func() tea.Msg {
		if err := mark(); err != nil {
			return verifiedMsg{err: err}
		}
		return TrustMsg{Trust: panel.TrustVerified, PeerFP: fp}
	}
}

func (s *Screen) handleKeyChangedKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, s.keys.Quit) || k.String() == "q" {
		return s.quit()
	}
	if s.keyBusy || s.keyChanged.Path == "" {
		return nil
	}
	switch k.String() {
	case "enter":
		if s.keyTyped != "accept" {
			s.keyErr = `type the word "accept" to record the new key, or q to quit`
			return nil
		}
		s.keyBusy = true
		accept := s.cfg.AcceptKey
		return func() tea.Msg { return acceptedMsg{err: accept()} }
	case "backspace":
		if s.keyTyped != "" {
			s.keyTyped = s.keyTyped[:len(s.keyTyped)-1]
		}
		return nil
	}
	if k.Text != "" && len(s.keyTyped) < 16 {
		s.keyTyped += termsafe.Sanitize(k.Text)
		s.keyErr = ""
	}
	return nil
}

// handleEvent applies one protocol event to the components.
func (s *Screen) handleEvent(m eventMsg) tea.Cmd {
	now := s.now()
	switch e := m.ev.(type) {
	case protocol.MessageEvent:
		at := e.SentAt
		if at.IsZero() {
			at = now
		}
		s.chat.AddPeer(e.ID, e.Text, at, e.PossibleDuplicate)
		// The message is in the pane: release Emit (the node then records
		// it seen and acknowledges it), from a Cmd run after this Update.
		done := m.shown
		if done == nil {
			return nil
		}
		return func() tea.Msg {
			close(done)
			return nil
		}
	case protocol.LiveEvent:
		s.status.Live(e, now)
		s.hs.Live(e, now)
	case protocol.HandshakeEvent:
		if !s.hs.Active(now) {
			s.hsDismissed = false // a new attempt shows the panel again
		}
		s.hs.Step(e, now)
	case protocol.SessionEvent:
		s.hs.Session(e, now)
		if e.State == protocol.SessionRekeyed {
			s.hsDismissed = false // a rekey shows the panel again
		}
		s.handleSession(e, now)
	case protocol.SentEvent:
		s.chat.SetDelivery(e.ID, chat.Sent)
	case protocol.DeliveredEvent:
		s.chat.SetDelivery(e.ID, chat.Delivered)
	case protocol.GapEvent:
		word := "messages"
		if e.Missing == 1 {
			word = "message"
		}
		s.chat.AddNotice(chat.NoticeGap, fmt.Sprintf("%d %s never arrived", e.Missing, word), now)
	case protocol.RejectedEvent:
		s.seclog.Rejected(e, now)
		s.rejectNotice(e, now)
	case protocol.ReplayedEvent:
		what := protocol.TypeName(e.Type)
		if e.HasSeq {
			what = fmt.Sprintf("%s seq %d", what, e.Seq)
		}
		text := fmt.Sprintf("/replay: re-sent our last record (%s); the peer should reject it", what)
		s.seclog.Note(text, now)
		s.chat.AddNotice(chat.NoticeInfo, text, now)
	case protocol.StalledEvent:
		s.hs.Stalled(e, now)
		s.hsDismissed = false
		s.chat.AddNotice(chat.NoticeWarn, fmt.Sprintf(
			"handshake stalled: %d attempts in %s, furthest step %d (%s); the peer answers but may refuse our key (it recorded another key for us, or pins another fingerprint)",
			e.Attempts, e.For.Round(time.Second), e.LastStep, protocol.StepName(e.LastStep)), now)
	case protocol.ErrorEvent:
		s.chat.AddNotice(chat.NoticeWarn, "error: "+termsafe.Sanitize(errText(e.Err)), now)
	}
	return nil
}

func (s *Screen) handleSession(e protocol.SessionEvent, now time.Time) {
	switch e.State {
	case protocol.SessionEstablished:
		s.encrypted = true
		s.safety = termsafe.Sanitize(e.SafetyNumber)
		if e.PeerFingerprint != "" {
			s.peerFP = termsafe.Sanitize(e.PeerFingerprint)
			s.chat.SetPeer(chat.Person{Name: s.peerName, StableID: s.peerFP})
		}
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("session established: end-to-end encrypted · safety number %s · compare it with your peer: /verify", s.safety), now)
	case protocol.SessionRekeyed:
		s.chat.AddNotice(chat.NoticeInfo, "keys renewed (rekey): later messages use fresh keys", now)
	case protocol.SessionPeerLeft:
		s.encrypted = false
		s.status.PeerLeft(now)
		s.chat.AddNotice(chat.NoticeInfo, fmt.Sprintf("peer left: %s quit; a new session starts if they come back", s.peerName), now)
	case protocol.SessionClosed:
		s.encrypted = false
		s.chat.AddNotice(chat.NoticeWarn, "session closed: messages wait until a new session is established", now)
	}
	s.headerChanged()
}

// rejectNotice puts a rejection in the chat, at most
// rejectNoticesPerSecond a second; the rest are counted and summed up.
func (s *Screen) rejectNotice(e protocol.RejectedEvent, now time.Time) {
	s.flushRejections(now, false)
	if s.rejShown >= rejectNoticesPerSecond {
		s.rejHidden++
		return
	}
	s.rejShown++
	text := "rejected " + termsafe.Sanitize(e.Reason)
	if e.HasSeq {
		text += fmt.Sprintf(" seq %d", e.Seq)
	}
	text += ": " + termsafe.Sanitize(words.Reason(e.Reason))
	s.chat.AddNotice(chat.NoticeWarn, text, now)
}

// flushRejections starts a new one-second window of rejection notices,
// first reporting how many the last one held back.
func (s *Screen) flushRejections(now time.Time, force bool) {
	if !force && now.Sub(s.rejWindow) < time.Second {
		return
	}
	if s.rejHidden > 0 {
		text := fmt.Sprintf("%d more rejections not shown (all are in the security log)", s.rejHidden)
		s.chat.AddNotice(chat.NoticeWarn, text, now)
	}
	s.rejWindow, s.rejShown, s.rejHidden = now, 0, 0
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
