package main

// Wiring of one chat run, shared by the three front ends (full screen, line
// mode, headless): identity, known_peers, delivery store, transport, node,
// and which front end reports the node's events. No protocol logic here.

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	stdnet "net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"duet/crypto"
	"duet/net"
	"duet/protocol"
	"duet/protocol/store"
	"duet/ui"
	"duet/ui/chat"
	"duet/ui/screen"
)

// frontEnd is how a run reports to its user.
type frontEnd int

const (
	modeScreen   frontEnd = iota // full screen (stdout and stdin are a terminal)
	modeLines                    // plain lines (--lines, or not a terminal)
	modeHeadless                 // JSON lines (--headless)
)

// chatOptions are the parsed flags of a chat run.
type chatOptions struct {
	mode              frontEnd
	mainPort, subPort int
	peerHost, bind    string
	name, peerName    string
	identityPath      string
	knownPath         string
	pinned            *crypto.Fingerprint
	ephemeral         bool
	window, ping      time.Duration
	noHistory         bool          // keep no history (the database is still opened, for its lock)
	historyDays       int           // prune history older than this many days at start (0: keep all)
	notify            screen.Notify // --notify: how an unseen message is announced (full screen)
	notifyText        bool          // --notify-text: desktop notifications carry the text
	noTyping          bool          // --no-typing: protocol.Config.NoTyping
	noReadReceipts    bool          // --no-read-receipts: protocol.Config.NoReadReceipts
}

func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(file.Fd())
}

// screenIO makes a Bubble Tea program use the run's stdin and stdout.
func screenIO(stdin io.Reader, stdout io.Writer) []tea.ProgramOption {
	return []tea.ProgramOption{tea.WithInput(stdin), tea.WithOutput(screen.KeepTitle(stdout))}
}

// linesHistory is how many stored messages the line mode prints at start.
const linesHistory = 20

// startNotes collects what duet tells the user while it starts: the
// screen shows it in its chat once it runs (it has no stderr), the other
// modes print it on stderr at once.
type startNotes struct {
	screen            bool
	stderr            io.Writer
	notices, warnings []string // for the screen
}

// note tells onScreen on the screen, inLines on stderr otherwise.
func (n *startNotes) note(onScreen, inLines string) {
	if n.screen {
		n.notices = append(n.notices, onScreen)
	} else {
		say(n.stderr, "%s", inLines)
	}
}

// warn tells text as a warning.
func (n *startNotes) warn(text string) {
	if n.screen {
		n.warnings = append(n.warnings, text)
	} else {
		say(n.stderr, "warning: %s", text)
	}
}

// runChat runs one chat until the user quits and returns the exit code.
// runChat runs one chat until the user quits and returns the exit code. Its
// steps: the identity, known_peers (or the pinned fingerprint), the
// signals, the front end, the database, the transport and the node, and
// serving the front end until the run ends.
func runChat(o chatOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	tell := &startNotes{screen: o.mode == modeScreen, stderr: stderr}
	id, err := openIdentity(o, tell)
	if err != nil {
		say(stderr, "%v", err)
		return exitIdentity
	}
	check, err := openKnownPeers(o)
	if err != nil {
		say(stderr, "%v", err)
		return exitIdentity
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	defer cancelOnSignal(ctx, cancel)()

	fe := newFrontEnd(o, stdout, stderr, cancel)
	st, err := openStore(o, id, check.peerName, tell)
	if err != nil {
		say(stderr, "%v", err)
		fe.close()
		return exitRuntime
	}
	defer st.close()
	fe.keepReadsIn(st)
	r, err := newNode(ctx, o, id, check, st, fe)
	if err != nil {
		say(stderr, "%v", err)
		fe.close()
		return exitRuntime
	}
	defer r.tr.Close()
	return exitCode(r.serve(ctx, stdin, stdout, tell), stderr)
}

// openIdentity loads (or creates) the identity key, or makes a fresh one
// for --ephemeral.
func openIdentity(o chatOptions, tell *startNotes) (*crypto.Identity, error) {
	if o.ephemeral {
		return crypto.GenerateIdentity(rand.Reader)
	}
	id, created, err := crypto.LoadOrCreateIdentity(o.identityPath, rand.Reader)
	if err == nil && created {
		tell.note("created a new identity in "+o.identityPath+": its fingerprint is yours to share (/fingerprint)",
			"created a new identity in "+o.identityPath)
	}
	return id, err
}

// openKnownPeers returns the node's key check: the pinned fingerprint, else
// known_peers.
func openKnownPeers(o chatOptions) (*peerCheck, error) {
	check := &peerCheck{peerName: stdnet.JoinHostPort(o.peerHost, strconv.Itoa(o.subPort)), pinned: o.pinned}
	if o.pinned != nil {
		return check, nil
	}
	var err error
	check.known, err = crypto.OpenKnownPeers(o.knownPath)
	return check, err
}

// cancelOnSignal cancels ctx with errInterrupted on an interrupt, SIGTERM
// or SIGHUP. It returns the func that stops watching.
func cancelOnSignal(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP) // SIGHUP: the terminal went away; still say goodbye
	go func() {
		select {
		case <-sigs:
			cancel(errInterrupted)
		case <-ctx.Done():
		}
	}()
	return func() { signal.Stop(sigs) }
}

// front is the run's front end: the full screen's sink, or a line output
// (line mode, headless) with what those do about the node's key reports.
type front struct {
	sink  *screen.Sink // full screen
	out   ui.Output    // line and headless modes
	watch *keyWatch    // line and headless modes
	marks *store.DB    // where the peer's read marks are kept (nil: nowhere); set before the node runs
}

// newFrontEnd makes the front end of o.mode. In the line and headless
// modes, a changed key before any session ends the run through cancel.
func newFrontEnd(o chatOptions, stdout, stderr io.Writer, cancel context.CancelCauseFunc) *front {
	watch := &keyWatch{stderr: stderr, cancel: cancel}
	switch o.mode {
	case modeHeadless:
		return &front{out: ui.NewHeadless(stdout), watch: watch}
	case modeLines:
		lines := ui.NewLines(stdout, o.name)
		lines.SetPeerName(o.peerName)
		return &front{out: lines, watch: watch}
	}
	return &front{sink: screen.NewSink()}
}

// emit is the node's emit callback.
func (f *front) emit(ev protocol.Event) {
	keepReadMarks(f.marks, ev)
	if f.sink != nil {
		f.sink.Emit(ev)
		return
	}
	f.watch.see(ev)
	f.out.Emit(ev)
}

// keepReadsIn has the peer's read marks kept in st's history (none
// without one: --ephemeral, --no-history). Called before the node runs.
func (f *front) keepReadsIn(st *chatStore) { f.marks = st.hist }

// close closes a line output (the screen's sink is closed by screen.Run).
func (f *front) close() {
	if f.out != nil {
		f.out.Close()
	}
}

// chatStore is the run's database (delivery state and history) and what
// the front end shows of it at start. Everything is nil with --ephemeral.
type chatStore struct {
	db           *store.DB    // the database (/clear empties its history)
	hist         *store.DB    // the history to show; nil: --ephemeral or --no-history
	shown        []chat.Entry // the line mode's last messages
	pending      []chat.Entry // --no-history: our undelivered messages from an earlier run
	pendingTotal int
}

// openStore opens the database and reads what the front end shows at
// start. The database comes first: its lock keeps a second duet with the
// same identity and peer from touching anything before it fails.
// --ephemeral keeps everything in memory.
func openStore(o chatOptions, id *crypto.Identity, peerName string, tell *startNotes) (*chatStore, error) {
	st := &chatStore{}
	if o.ephemeral {
		return st, nil
	}
	db, dbWarnings, err := openDB(o, id, peerName)
	if err != nil {
		return nil, err
	}
	st.db = db
	for _, w := range dbWarnings {
		tell.warn(w)
	}
	if err := st.load(o, id, peerName, tell); err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// load names an old delivery log left beside the database (it is not
// imported: oldDeliveryLogNotes) and reads the history or the pending
// messages the front end shows at start.
func (st *chatStore) load(o chatOptions, id *crypto.Identity, peerName string, tell *startNotes) error {
	db := st.db
	for _, w := range oldDeliveryLogNotes(deliveryLogPath(o.identityPath, id.Public().Fingerprint(), peerName)) {
		tell.warn(w)
	}
	if o.noHistory {
		n := linesHistory
		if o.mode == modeScreen {
			n = screen.HistoryPage
		}
		st.pending, st.pendingTotal = pendingEntries(db, n)
		return nil
	}
	st.hist = db
	if o.mode != modeLines {
		return nil
	}
	es, _, err := db.Last(linesHistory)
	if errors.Is(err, store.ErrHistorySkipped) {
		tell.warn(strings.TrimPrefix(err.Error(), "protocol: ")) // the rest is shown
	} else if err != nil {
		return err
	}
	st.shown = toChatEntries(db, es)
	return nil
}

// nodeStore is what the node persists to; nil: in memory only.
func (st *chatStore) nodeStore() protocol.Store {
	if st.db == nil {
		return nil
	}
	return st.db
}

func (st *chatStore) close() {
	if st.db != nil {
		st.db.Close()
	}
}

// chatRun is a run's parts once the node exists, for serve.
type chatRun struct {
	o       chatOptions
	self    crypto.Fingerprint
	check   *peerCheck
	st      *chatStore
	fe      *front
	tr      *net.Transport
	node    *protocol.Node
	records *protocol.RecordLog
}

// newNode opens the transport and makes the node over it.
func newNode(ctx context.Context, o chatOptions, id *crypto.Identity, check *peerCheck, st *chatStore, fe *front) (*chatRun, error) {
	// SendTimeout: a slow receiver pushes back on the sender (TCP flow
	// control) instead of having its connection reset, which would lose
	// records in flight.
	tr, err := net.Open(ctx, net.Config{Bind: o.bind, MainPort: o.mainPort, PeerHost: o.peerHost, SubPort: o.subPort, SendTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	records := &protocol.RecordLog{}
	node, err := protocol.NewNode(protocol.Config{
		Identity:     id,
		VerifyPeer:   check.verify,
		Window:       o.window,
		PingInterval: o.ping,
		Store:        st.nodeStore(),
		Records:      records,
		// Opting out also hides the peer's (the node ignores them).
		NoTyping:       o.noTyping,
		NoReadReceipts: o.noReadReceipts,
	}, tr, fe.emit)
	if err != nil {
		tr.Close()
		return nil, err
	}
	return &chatRun{o: o, self: id.Public().Fingerprint(), check: check, st: st, fe: fe, tr: tr, node: node, records: records}, nil
}

// serve runs the front end with the node until the run ends; the screen
// shows what tell collected.
func (r *chatRun) serve(ctx context.Context, stdin io.Reader, stdout io.Writer, tell *startNotes) error {
	o := r.o
	if o.mode == modeScreen {
		var source screen.HistorySource
		var input screen.InputStore // nothing kept with --no-history or --ephemeral
		if r.st.hist != nil {
			source, input = historyView{r.st.hist}, inputView{r.st.hist}
		}
		return screen.Run(ctx, screen.Config{
			SelfName: o.name, PeerName: o.peerName, SelfFP: r.self.String(),
			MainPort: r.tr.MainPort(), SubPort: o.subPort, PeerHost: o.peerHost,
			PingInterval: o.ping, Node: r.node, Records: r.records,
			MarkVerified: markVerified(r.check, r.node),
			AcceptKey:    acceptKey(r.check, r.node),
			History:      source,
			Input:        input,
			ClearStored:  historyClear(r.st.db),
			Notices:      tell.notices,
			Warnings:     tell.warnings,
			Pending:      r.st.pending,
			PendingTotal: r.st.pendingTotal,
			Notify:       o.notify,
			NotifyText:   o.notifyText,
			Tmux:         os.Getenv("TMUX") != "",
		}, r.fe.sink, r.node.Run, screenIO(stdin, stdout)...)
	}
	out := r.fe.out
	out.Ready(r.tr.MainPort(), o.subPort, r.self.String())
	if lines, ok := out.(*ui.Lines); ok {
		lines.ShowHistory(r.st.shown)
		lines.ShowPending(r.st.pending, r.st.pendingTotal)
		lines.Waiting(r.check.peerName, o.ping)
	}
	return ui.Serve(ctx, stdin, out, r.node, ui.InputConfig{Clear: historyClear(r.st.db)})
}

// exitCode says why the run ended, if it failed, and returns its exit code.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, errInterrupted):
		return exitOK
	case errors.Is(err, crypto.ErrKeyChanged):
		say(stderr, "%v", err)
		return exitPeerChanged
	}
	say(stderr, "%v", err)
	return exitRuntime
}
