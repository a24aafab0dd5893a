package ui

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"duet/crypto"
	"duet/protocol"
	"duet/ui/chat"
	"duet/ui/termsafe"
	"duet/ui/words"
)

// Lines is the plain human-readable line mode (docs/HEADLESS.md, "Line
// mode"):
//
//	[12:01:02] alice: hi (queued)
//	  ✓ delivered
//	[12:01:02] peer: hello
//	* session established with 1A2B ..., safety number 12345 ... (X25519 + ML-KEM-768 + RSA-OAEP-2048, post-quantum)
//	! rejected replay seq 7: a copy of a record already received
//
// Our own message is printed once, at once, when it is queued, with the
// time it was written (the time the peer shows too) and a "(queued)" mark;
// being sealed and sent prints nothing more, and the peer's receipt prints
// a short "  ✓ delivered" line: bare when it directly follows the message's
// own line, else naming the message by its first 40 characters.
// Rejections and handshake failures are one line in plain words, never an
// error chain; a changed peer key is reported once per key.
type Lines struct {
	name     string // our display name
	peerName string // the peer's display name
	q        *lineQueue
	now      func() time.Time
	loc      *time.Location
	p        pendingSet

	mu       sync.Mutex
	text     map[uint64]string   // our queued messages by id, until delivered
	live     protocol.LiveState  // last liveness shown: only changes are printed
	lastLine uint64              // id of our message whose line was printed last, 0 if another line was
	keysSeen map[string]struct{} // key-changed reports already printed
	early    map[uint64]struct{} // delivered before Queued was called for them
	// Waiting reminders: while no session is up, every WaitingReminder.
	waitAddr  string
	waitSince time.Time
	sessionUp bool
	stopWait  chan struct{}
	ids       ids // for /verify and /fingerprint (lines_cmds.go)
}

// WaitingReminder is how often the line mode repeats "still waiting for the
// peer" while no session is up.
const WaitingReminder = 10 * time.Second

// maxKeysSeen bounds the key-changed reports remembered for deduplication.
const maxKeysSeen = 256

// NewLines returns a Lines writing to w; name labels our own messages.
func NewLines(w io.Writer, name string) *Lines {
	if name == "" {
		name = "me"
	}
	l := &Lines{name: name, peerName: "peer", now: time.Now, stopWait: make(chan struct{}), loc: time.Local, text: make(map[uint64]string),
		keysSeen: make(map[string]struct{}), early: make(map[uint64]struct{})}
	l.q = newLineQueue(w, MaxQueuedBytes, func(n int) []byte {
		return []byte(fmt.Sprintf("! %d output lines dropped: the terminal is not keeping up\n", n))
	})
	return l
}

func (l *Lines) clock(t time.Time) string { return "[" + t.In(l.loc).Format("15:04:05") + "]" }

func (l *Lines) put(format string, args ...any) {
	l.mu.Lock()
	l.lastLine = 0
	l.q.put([]byte(fmt.Sprintf(format, args...) + "\n"))
	l.mu.Unlock()
}

// SetPeerName sets the name the peer's messages are labelled with ("peer"
// by default). Call it before Ready.
func (l *Lines) SetPeerName(name string) {
	if name != "" {
		l.peerName = name
	}
}

// Waiting says which peer address is being tried, and repeats it with the
// time waited every WaitingReminder while no session is up, so a peer that
// is not running (or a port typo) never leaves a silent screen. Call it
// once, after Ready.
func (l *Lines) Waiting(addr string, ping time.Duration) {
	l.mu.Lock()
	l.waitAddr, l.waitSince = addr, l.now()
	l.mu.Unlock()
	l.put("* waiting for the peer at %s: sending our public key and a ping every %v", termsafe.Sanitize(addr), ping)
	go func() {
		t := time.NewTicker(WaitingReminder)
		defer t.Stop()
		for {
			select {
			case <-l.stopWait:
				return
			case <-t.C:
				l.remindWaiting()
			}
		}
	}()
}

// remindWaiting prints one "still waiting" line unless a session is up.
func (l *Lines) remindWaiting() {
	l.mu.Lock()
	up, addr, since, live := l.sessionUp, l.waitAddr, l.waitSince, l.live
	l.mu.Unlock()
	if up {
		return
	}
	what := "no answer yet"
	if live == protocol.LiveLive {
		what = "the peer answers pings but no session yet"
	}
	l.put("* still waiting for the peer at %s (%s): %s", termsafe.Sanitize(addr), l.now().Sub(since).Round(time.Second), what)
}

// ShowHistory prints the end of the stored conversation (entries oldest
// first), between two marker lines, before anything of this run. Text is
// sanitized as any peer text is.
func (l *Lines) ShowHistory(entries []chat.Entry) {
	if len(entries) == 0 {
		return
	}
	l.put("* earlier conversation (the last %d messages):", len(entries))
	l.showEntries(entries)
	l.put("* end of the earlier conversation")
}

// ShowPending prints our messages from an earlier run not delivered yet
// (the newest of total, oldest first), when there is no history to show
// them: duet sends them when the peer is back.
func (l *Lines) ShowPending(entries []chat.Entry, total int) {
	if len(entries) == 0 {
		return
	}
	l.put("* %s", words.Pending(len(entries), total, "below"))
	l.showEntries(entries)
	l.put("* end of the messages not delivered yet")
}

func (l *Lines) showEntries(entries []chat.Entry) {
	for _, e := range entries {
		who := l.peerName
		if e.Own {
			who = l.name
		}
		again := ""
		if !e.ClaimedAt.IsZero() {
			again = " " + words.PeerClockSays(e.ClaimedAt.In(l.loc))
		}
		if e.PossibleDuplicate {
			again += " (may repeat: shown before a crash)"
		}
		switch {
		case e.Own && e.Delivery == chat.Queued:
			again += " (no receipt yet)"
		case e.Own && e.Delivery == chat.Read:
			again += " (read)" // a read mark kept from an earlier run
		}
		stamp := "[" + e.At.In(l.loc).Format("2006-01-02 15:04:05") + "]"
		l.put("%s %s: %s%s", stamp, termsafe.Sanitize(who), termsafe.Sanitize(e.Text), again)
	}
}

// Ready prints where we listen and our fingerprint.
func (l *Lines) Ready(main, sub int, fingerprint string) {
	l.put("* duet: listening on port %d, peer on port %d", main, sub)
	l.put("* your fingerprint: %s", fingerprint)
	l.put("* type a message and press Enter; /quit, /rekey, /replay, /clear, /help")
	l.mu.Lock()
	l.ids.self = fingerprint
	l.mu.Unlock()
}

// Queued prints our message at once, with the time it was written and a
// "(queued)" mark, and remembers its text until it is delivered.
func (l *Lines) Queued(id uint64, text string, at time.Time) {
	if at.IsZero() {
		at = l.now()
	}
	line := fmt.Sprintf("%s %s: %s (queued)\n", l.clock(at), termsafe.Sanitize(l.name), termsafe.Sanitize(text))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.q.put([]byte(line))
	if _, ok := l.early[id]; ok { // the receipt beat SendMessage's return
		delete(l.early, id)
		l.q.put([]byte("  ✓ delivered\n"))
		l.lastLine = 0
		return
	}
	if len(l.text) < 1<<20 {
		l.text[id] = text
	}
	l.lastLine = id
}

// firstReport reports whether key (a changed-key report) is new, and
// remembers it.
func (l *Lines) firstReport(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.keysSeen[key]; ok {
		return false
	}
	if len(l.keysSeen) < maxKeysSeen {
		l.keysSeen[key] = struct{}{}
	}
	return true
}

// Emit prints ev for a human. Text from the peer is sanitized: control
// characters (terminal escape sequences) are shown escaped, never obeyed.
// A received message's line is queued even past the bound (never
// dropped); a ShownEvent returns only once every line queued before it is
// written to stdout (or the output has failed or closed): the node
// acknowledges the messages only after that (see lineQueue.sync). Other
// events never block.
//
// Emit only dispatches, one case per event kind; a new kind needs a case
// here (see the package doc for every other place).
func (l *Lines) Emit(ev protocol.Event) {
	switch e := ev.(type) {
	case protocol.LiveEvent:
		l.printLive(e)
	case protocol.HandshakeEvent:
		l.printHandshake(e)
	case protocol.SessionEvent:
		l.printSession(e)
	case protocol.MessageEvent:
		l.printMessage(e)
	case protocol.ShownEvent:
		l.q.sync()
	case protocol.SentEvent:
		// Nothing: the message was printed when queued; its delivery mark follows.
	case protocol.PeerKeyEvent:
		// Nothing: main acts on it (a changed key ends the run; our own
		// key is warned about on stderr).
	case protocol.DeliveredEvent:
		l.printDelivered(e)
	case protocol.ReplayedEvent:
		l.printReplayed(e)
	case protocol.StalledEvent:
		l.put("! the peer answers but has not accepted our key after %d attempts: it may have recorded a different key for us"+
			" (e.g. we changed --identity); the peer must remove our old line from its known_peers"+
			" (or accept the new key in its full-screen warning)", e.Attempts)
	case protocol.GapEvent:
		l.put("! %d message(s) from the peer never arrived", e.Missing)
	case protocol.RejectedEvent:
		l.printRejected(e)
	case protocol.ErrorEvent:
		l.put("! error: %s", termsafe.Sanitize(errString(e.Err)))
	case protocol.DiskEvent:
		if e.Full {
			l.put("! %s", termsafe.Sanitize(words.DiskFull(errString(e.Err))))
		} else {
			l.put("* %s", words.DiskRoom)
		}
	case protocol.SavedEvent:
		l.put("  %s", words.Saved)
	case NotSavedEvent:
		l.put("  ! %s", words.NotSavedLine)
	case protocol.TypingEvent, protocol.ReadEvent:
		printCourtesy(e)
	case HistoryClearedEvent:
		// Lines already printed stay on the terminal: only the stored
		// history is gone.
		l.put("* history cleared here (the peer keeps theirs)")
	default:
		l.put("* %s", termsafe.Sanitize(ev.EventName()))
	}
}

// printLive prints a change of the peer's liveness; a repeated state
// prints nothing.
func (l *Lines) printLive(e protocol.LiveEvent) {
	l.mu.Lock()
	same := l.live == e.State
	l.live = e.State
	l.mu.Unlock()
	if same {
		return // pings repeat the state every interval
	}
	switch e.State {
	case protocol.LiveLive:
		l.put("* peer is live (rtt %.1f ms)", millis(e.RTT))
	case protocol.LiveWaiting:
		l.put("* waiting for the peer")
	default:
		l.put("* peer is %s", termsafe.Sanitize(string(e.State)))
	}
}

// printHandshake prints a failed handshake step (a step done prints
// nothing), and a changed peer key only the first time it is seen.
func (l *Lines) printHandshake(e protocol.HandshakeEvent) {
	if e.Done {
		return
	}
	var kc *crypto.KeyChangedError
	if errors.As(e.Err, &kc) {
		if !l.firstReport("handshake " + kc.Known.String() + " " + kc.Got.String()) {
			return // the same changed key again
		}
	}
	l.put("! handshake step %d (%s) failed: %s", e.Step, protocol.StepName(e.Step), termsafe.Sanitize(words.HandshakeError(e.Step, e.Err)))
	if kc != nil {
		s := fmt.Sprintf("! recorded key %s, presented %s", kc.Known, kc.Got)
		if kc.Path != "" {
			s += "; if the peer changed its key on purpose, remove its line from " + kc.Path
		}
		l.put("%s", termsafe.Sanitize(s))
	}
}

// printSession prints a change of the session's state, and keeps
// sessionUp (for the waiting reminders) in step with it.
func (l *Lines) printSession(e protocol.SessionEvent) {
	switch e.State {
	case protocol.SessionEstablished:
		l.setSessionUp(true)
		l.mu.Lock()
		l.ids.peer, l.ids.safety = e.PeerFingerprint, e.SafetyNumber
		l.mu.Unlock()
		l.put("* session established with %s, safety number %s%s", termsafe.Sanitize(e.PeerFingerprint), termsafe.Sanitize(e.SafetyNumber), keyExchangeNote(e))
		l.put("* compare the safety number with your peer over another channel")
	case protocol.SessionPeerLeft:
		l.setSessionUp(false)
		l.put("* %s left (it quit)", termsafe.Sanitize(l.peerName))
	case protocol.SessionRekeyed:
		switch e.Direction {
		case protocol.DirectionReceive:
			l.put("* session rekeyed (the peer's direction)%s", healedNote(e))
		case protocol.DirectionSend:
			l.put("* session rekeyed (our direction)%s", healedNote(e))
		default:
			l.put("* session rekeyed%s", healedNote(e))
		}
	default:
		if e.State == protocol.SessionClosed {
			l.setSessionUp(false)
		}
		l.put("* session %s", termsafe.Sanitize(string(e.State)))
	}
}

// keyExchangeNote ends the "session established" line with the exchanges
// the keys come from, when the event says: " (X25519 + ML-KEM-768 +
// RSA-OAEP-2048, post-quantum)". The line's words before it stay as they
// were (scripts read them).
func keyExchangeNote(e protocol.SessionEvent) string {
	var parts []string
	if e.KeyExchange != "" {
		parts = append(parts, termsafe.Sanitize(e.KeyExchange))
	}
	if e.PostQuantum {
		parts = append(parts, "post-quantum")
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// healedNote ends a "session rekeyed" line with what healed it, when the
// event says: ": healed by a fresh X25519 + ML-KEM-768 exchange, epoch 2"
// (the direction's epoch after it).
func healedNote(e protocol.SessionEvent) string {
	var s string
	if e.KeyExchange != "" {
		s = ": healed by a fresh " + termsafe.Sanitize(e.KeyExchange) + " exchange"
	}
	if e.Epoch > 0 {
		if s == "" {
			s = ":"
		} else {
			s += ","
		}
		s += fmt.Sprintf(" epoch %d", e.Epoch)
	}
	return s
}

// printMessage prints the peer's message with the time it was written (or
// received, if it carries none). Its line is queued even past the bound:
// the node acknowledges it once shown, so it must never be dropped.
func (l *Lines) printMessage(e protocol.MessageEvent) {
	at := e.ShownAt
	if at.IsZero() { // an event made without it: as before
		at = e.SentAt
	}
	if at.IsZero() {
		at = l.now()
	}
	again := ""
	if e.ClockImplausible {
		again = " " + words.PeerClockSays(e.SentAt.In(l.loc))
	}
	if e.PossibleDuplicate {
		again += " (may repeat: shown before a crash)"
	}
	l.mu.Lock()
	l.lastLine = 0
	l.mu.Unlock()
	l.q.putMust([]byte(fmt.Sprintf("%s %s: %s%s\n", l.clock(at), termsafe.Sanitize(l.peerName), termsafe.Sanitize(e.Text), again)))
}

// printDelivered prints the receipt of our message: bare right under the
// message's own line, else naming it by its first 40 characters; a
// receipt that comes before Queued is remembered in early.
func (l *Lines) printDelivered(e protocol.DeliveredEvent) {
	l.p.delivered(e.ID)
	l.mu.Lock()
	t, ok := l.text[e.ID]
	delete(l.text, e.ID)
	right := ok && l.lastLine == e.ID
	if !ok && len(l.early) < 1<<16 {
		// Only our own ids are delivered, each once: either Queued has
		// not been called yet, or this is a repeat (never printed twice).
		l.early[e.ID] = struct{}{}
	}
	l.mu.Unlock()
	switch {
	case right:
		l.put("  ✓ delivered")
	case ok:
		l.put("  ✓ delivered: %s", termsafe.Sanitize(snippet(t, 40)))
	}
}

// notice prints a "*" line of the input loop's own (/clear's words).
func (l *Lines) notice(text string) { l.put("* %s", text) }

// printReplayed prints what /replay re-sent.
func (l *Lines) printReplayed(e protocol.ReplayedEvent) {
	l.put("* %s", words.Replayed(protocol.TypeName(e.Type), e.Seq, e.HasSeq, e.EarlierSession))
}

// printRejected prints a rejection in one line of plain words: its reason
// token, how many it stands for, the (last) sequence number and why. A
// changed peer key is printed only the first time it is seen.
func (l *Lines) printRejected(e protocol.RejectedEvent) {
	if e.Reason == protocol.ReasonKeyChanged && !l.firstReport("rejected "+e.Detail) {
		return // the same changed key again (its detail names both keys)
	}
	s := "! rejected " + termsafe.Sanitize(e.Reason)
	if e.Count > 1 {
		s += fmt.Sprintf(" x%d in the last second(s)", e.Count)
	}
	if e.HasSeq {
		if e.Count > 1 {
			s += " (last"
		}
		s += fmt.Sprintf(" seq %d", e.Seq)
		if e.Count > 1 {
			s += ")"
		}
	}
	if why := words.ReasonBare(e.Reason); why != "" { // every reason the protocol reports has words
		s += ": " + termsafe.Sanitize(why)
	}
	l.put("%s", s)
}

// Close flushes the queued lines (for up to 5 s).
func (l *Lines) Close() error {
	l.mu.Lock()
	select {
	case <-l.stopWait:
	default:
		close(l.stopWait)
	}
	l.mu.Unlock()
	return l.q.close(5 * time.Second)
}

func (l *Lines) setSessionUp(up bool) {
	l.mu.Lock()
	l.sessionUp = up
	if !up {
		l.waitSince = l.now()
	}
	l.mu.Unlock()
}

func (l *Lines) pending() *pendingSet { return &l.p }

func snippet(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// printCourtesy prints nothing for the peer's typing indicator and read
// receipts: the line mode is a log, where "typing" would be a line that is
// wrong six seconds later and "read" a second line under every delivered
// one. The line mode cannot tell that a message was read either (it knows
// no focus), so it sends no READ, and it sees no keystroke before Enter,
// so it sends no TYPING: it neither sends nor shows them.
func printCourtesy(protocol.Event) {}
