package main

// Wiring of one chat run, shared by the three front ends (full screen, line
// mode, headless): identity, known_peers, delivery store, transport, node,
// and which front end reports the node's events. No protocol logic here.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
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
	"duet/ui/panel"
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
	noHistory         bool // keep no history (the database is still opened, for its lock)
	historyDays       int  // prune history older than this many days at start (0: keep all)
}

func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(file.Fd())
}

// screenIO makes a Bubble Tea program use the run's stdin and stdout.
func screenIO(stdin io.Reader, stdout io.Writer) []tea.ProgramOption {
	return []tea.ProgramOption{tea.WithInput(stdin), tea.WithOutput(stdout)}
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
func runChat(o chatOptions, stdin io.Reader, stdout, stderr io.Writer) int {
	// Identity.
	tell := &startNotes{screen: o.mode == modeScreen, stderr: stderr}
	var id *crypto.Identity
	var err error
	if o.ephemeral {
		id, err = crypto.GenerateIdentity(rand.Reader)
	} else {
		var created bool
		id, created, err = crypto.LoadOrCreateIdentity(o.identityPath, rand.Reader)
		if err == nil && created {
			tell.note("created a new identity in "+o.identityPath+": its fingerprint is yours to share (/fingerprint)",
				"created a new identity in "+o.identityPath)
		}
	}
	if err != nil {
		say(stderr, "%v", err)
		return exitIdentity
	}
	self := id.Public().Fingerprint()

	check := &peerCheck{peerName: stdnet.JoinHostPort(o.peerHost, strconv.Itoa(o.subPort)), pinned: o.pinned, self: self}
	if o.pinned == nil {
		if check.known, err = crypto.OpenKnownPeers(o.knownPath); err != nil {
			say(stderr, "%v", err)
			return exitIdentity
		}
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP) // SIGHUP: the terminal went away; still say goodbye
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel(errInterrupted)
		case <-ctx.Done():
		}
	}()

	// The front end.
	var out ui.Output
	var sink *screen.Sink
	switch o.mode {
	case modeHeadless:
		out = ui.NewHeadless(stdout)
	case modeLines:
		lines := ui.NewLines(stdout, o.name)
		lines.SetPeerName(o.peerName)
		out = lines
	case modeScreen:
		sink = screen.NewSink()
	}
	closeOut := func() {
		if out != nil {
			out.Close()
		}
	}
	emit := func(ev protocol.Event) {
		if s, ok := ev.(protocol.SessionEvent); ok {
			switch s.State {
			case protocol.SessionEstablished:
				check.established.Store(true)
				check.sessionUp.Store(true)
			case protocol.SessionClosed, protocol.SessionPeerLeft:
				check.sessionUp.Store(false)
			}
		}
		if sink != nil {
			sink.Emit(ev)
		} else {
			out.Emit(ev)
		}
	}
	check.onOwnKey = func() {
		if sink != nil {
			sink.Post(screen.NoticeMsg{Text: ownKeyNote, Warn: true})
		} else {
			say(stderr, "warning: %s", ownKeyNote)
		}
	}
	if sink != nil {
		check.changedWhileDown = true
		check.onTrust = func(t crypto.Trust, fp crypto.Fingerprint) {
			sink.Post(screen.TrustMsg{Trust: t, PeerFP: fp.String()})
		}
		check.onChanged = func(e *crypto.KeyChangedError) {
			sink.Post(screen.KeyChangedMsg{Info: panel.KeyChangedInfo{Peer: e.Peer, Known: e.Known.String(), Got: e.Got.String(), Path: e.Path}})
		}
	} else {
		// Line and headless modes: a changed key ends the run with exit 4
		// once the node has reported it (the timer covers a node that
		// reports nothing).
		var once sync.Once
		check.onChanged = func(e *crypto.KeyChangedError) {
			err := fmt.Errorf("handshake aborted: %w", e)
			time.AfterFunc(500*time.Millisecond, func() { once.Do(func() { cancel(err) }) })
		}
	}

	// The database (delivery state and history) comes first: its lock
	// keeps a second duet with the same identity and peer from touching
	// anything before it fails. --ephemeral keeps everything in memory.
	var nodeStore protocol.Store
	var hist *store.DB   // the history to show; nil: --ephemeral or --no-history
	var stored *store.DB // the database (/clear empties its history); nil: --ephemeral
	var shownHistory []chat.Entry
	var pending []chat.Entry // --no-history: our undelivered messages from an earlier run
	var pendingTotal int
	if !o.ephemeral {
		db, dbWarnings, err := openDB(o, id, check.peerName)
		if err != nil {
			say(stderr, "%v", err)
			closeOut()
			return exitRuntime
		}
		defer db.Close()
		for _, w := range dbWarnings {
			tell.warn(w)
		}
		note, err := importDeliveryLog(db, deliveryLogPath(o.identityPath, self, check.peerName))
		if err != nil {
			say(stderr, "%v", err)
			closeOut()
			return exitRuntime
		}
		if note != "" {
			tell.note(note, note)
		}
		nodeStore, stored = db, db
		if !o.noHistory {
			hist = db
			if o.mode == modeLines {
				es, _, err := db.Last(linesHistory)
				if errors.Is(err, store.ErrHistorySkipped) {
					tell.warn(strings.TrimPrefix(err.Error(), "protocol: ")) // the rest is shown
				} else if err != nil {
					say(stderr, "%v", err)
					closeOut()
					return exitRuntime
				}
				shownHistory = toChatEntries(db, es)
			}
		} else {
			n := linesHistory
			if o.mode == modeScreen {
				n = screen.HistoryPage
			}
			pending, pendingTotal = pendingEntries(db, n)
		}
	}

	// SendTimeout: a slow receiver pushes back on the sender (TCP flow
	// control) instead of having its connection reset, which would lose
	// records in flight.
	tr, err := net.Open(ctx, net.Config{Bind: o.bind, MainPort: o.mainPort, PeerHost: o.peerHost, SubPort: o.subPort, SendTimeout: 30 * time.Second})
	if err != nil {
		say(stderr, "%v", err)
		closeOut()
		return exitRuntime
	}
	defer tr.Close()
	records := &protocol.RecordLog{}
	node, err := protocol.NewNode(protocol.Config{
		Identity:     id,
		VerifyPeer:   check.verify,
		Window:       o.window,
		PingInterval: o.ping,
		Store:        nodeStore,
		Records:      records,
	}, tr, emit)
	if err != nil {
		say(stderr, "%v", err)
		closeOut()
		return exitRuntime
	}

	var source screen.HistorySource
	if hist != nil {
		source = historyView{hist}
	}
	if o.mode == modeScreen {
		err = screen.Run(ctx, screen.Config{
			SelfName: o.name, PeerName: o.peerName, SelfFP: self.String(),
			MainPort: tr.MainPort(), SubPort: o.subPort, PeerHost: o.peerHost,
			PingInterval: o.ping, Node: node, Records: records,
			MarkVerified: markVerified(check, node),
			AcceptKey:    acceptKey(check, node),
			History:      source,
			ClearStored:  historyClear(stored),
			Notices:      tell.notices,
			Warnings:     tell.warnings,
			Pending:      pending,
			PendingTotal: pendingTotal,
		}, sink, node.Run, screenIO(stdin, stdout)...)
	} else {
		out.Ready(tr.MainPort(), o.subPort, self.String())
		if lines, ok := out.(*ui.Lines); ok {
			lines.ShowHistory(shownHistory)
			lines.ShowPending(pending, pendingTotal)
			lines.Waiting(check.peerName, o.ping)
		}
		err = ui.Serve(ctx, stdin, out, node, ui.InputConfig{Clear: historyClear(stored)})
	}
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
