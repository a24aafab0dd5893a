package panel

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"duet/protocol"
	"duet/ui/style"
	"duet/ui/words"
)

// HandshakeLinger is how long Active stays true after an attempt finished
// (established or failed), so the outcome can be read.
const HandshakeLinger = 3 * time.Second

// handshakeIdle is how long a handshake running beside an established
// session counts as active after its last event: the node abandons such an
// attempt silently when it stalls.
const handshakeIdle = 5 * time.Second

// maxRekeyLines bounds the healing (rekey) entries kept for a session: the
// newest 32, oldest dropped first; the panel still counts every one.
const maxRekeyLines = 32

const numSteps = protocol.StepConfirm

type stepMark int

const (
	stepNone stepMark = iota
	stepDone
	stepFailed
)

type stepState struct {
	mark  stepMark
	took  time.Duration // since the attempt began
	timed bool          // false: done implicitly (a later step's event)
	err   error
}

// rekeyLine is one healing (a rekey of one direction) of the session.
type rekeyLine struct {
	at    time.Time
	epoch int    // the direction's epoch after it; without one, the count of this session's rekeys
	dir   string // protocol.DirectionSend or DirectionReceive; "" when not said
	both  bool   // the other direction's half of the same healing came next: one row
	kx    string // the exchange mixed in (protocol.KeyExchangeHealing); "" when not said
}

// otherHalf reports whether r and the rekey next to it are the two
// directions of one healing: both name the exchange and the same epoch,
// and opposite directions.
func (r rekeyLine) otherHalf(next rekeyLine) bool {
	return !r.both && r.kx != "" && next.kx != "" && r.epoch == next.epoch &&
		r.dir != "" && next.dir != "" && r.dir != next.dir
}

// Handshake is the handshake panel: the six steps of the current attempt
// with marks and times, why a step failed in plain words, what is being
// tried while waiting for the peer, the stalled diagnosis, the session's key
// exchange (the hybrid, and whether it is post-quantum), each healing
// (rekey) with its time, direction and epoch, and the peer leaving.
type Handshake struct {
	peerAddr string
	ping     time.Duration
	waitFrom time.Time // since when we wait (start, or the session's end)

	// Current attempt.
	inAttempt  bool
	attemptAt  time.Time
	lastEvent  time.Time
	steps      [numSteps]stepState
	lastStep   int
	failed     bool
	done       bool
	finishedAt time.Time
	attempts   int // attempts seen through events

	status    protocol.Status
	hasStatus bool

	// Session.
	session bool
	kx      string // the key exchange of the session's handshake; "" when not said
	pq      bool   // the session's keys depend on an ML-KEM exchange
	epoch   int    // rekey events of this session, both directions (the epoch of a rekey that names none)
	healed  int    // healings of this session: the two halves of one count once
	rekeys  []rekeyLine

	live protocol.LiveState
	rtt  time.Duration

	stalled   protocol.StalledEvent
	isStalled bool

	left   bool
	leftAt time.Time
	closed bool
}

// NewHandshake returns the panel for a node trying to reach peerAddr
// (host:port) since start, pinging every ping.
func NewHandshake(peerAddr string, start time.Time, ping time.Duration) *Handshake {
	return &Handshake{peerAddr: clean(peerAddr), waitFrom: start, ping: ping, live: protocol.LiveWaiting}
}

func (h *Handshake) resetAttempt() {
	h.inAttempt, h.failed, h.done = false, false, false
	h.steps = [numSteps]stepState{}
	h.lastStep = 0
	h.finishedAt = time.Time{}
}

// Step records a handshake step finishing or failing at at. An event for a
// step not after the last one seen (the steps restart), or any event after
// the attempt failed or completed, begins a fresh attempt. The steps before
// the reported one count as done (the node reports them only in batches).
func (h *Handshake) Step(ev protocol.HandshakeEvent, at time.Time) {
	if ev.Step < 1 || ev.Step > numSteps {
		return
	}
	if !h.inAttempt || ev.Step <= h.lastStep || h.failed || h.done {
		h.resetAttempt()
		h.inAttempt = true
		h.attemptAt = at.Add(-ev.Duration)
		h.attempts++
	}
	h.lastEvent = at
	for i := 0; i < ev.Step-1; i++ {
		if h.steps[i].mark == stepNone {
			h.steps[i] = stepState{mark: stepDone}
		}
	}
	st := stepState{mark: stepDone, took: ev.Duration, timed: true}
	if !ev.Done {
		st.mark, st.err = stepFailed, ev.Err
		if st.err == nil {
			st.err = errors.New("failed")
		}
		h.failed, h.finishedAt = true, at
	}
	h.steps[ev.Step-1] = st
	h.lastStep = ev.Step
	if ev.Done && ev.Step == numSteps {
		h.done, h.finishedAt = true, at
	}
}

// Session records a session event: established (with its key exchange),
// rekeyed (a healing entry with its time, direction and the direction's
// epoch; without an epoch in the event, N counts the key changes of this
// session in either direction), closed, or peer-left (the panel waits for
// the peer again, and forgets the session's exchange and healings).
func (h *Handshake) Session(ev protocol.SessionEvent, at time.Time) {
	switch ev.State {
	case protocol.SessionEstablished:
		if !h.done {
			// Events missed: the session proves every step.
			if !h.inAttempt {
				h.resetAttempt()
				h.inAttempt, h.attemptAt = true, at
				h.attempts++
			}
			for i := range h.steps {
				if h.steps[i].mark != stepDone {
					h.steps[i] = stepState{mark: stepDone}
				}
			}
			h.failed, h.done, h.finishedAt, h.lastStep = false, true, at, numSteps
		}
		h.session = true
		h.kx, h.pq = clean(ev.KeyExchange), ev.PostQuantum
		h.epoch, h.healed, h.rekeys = 0, 0, nil
		h.left, h.closed, h.isStalled = false, false, false
	case protocol.SessionRekeyed:
		h.rekeyed(ev, at)
	case protocol.SessionClosed, protocol.SessionPeerLeft:
		h.session = false
		h.kx, h.pq, h.epoch, h.healed = "", false, 0, 0
		h.resetAttempt()
		h.waitFrom = at
		h.attempts = 0
		h.rekeys = nil
		h.isStalled = false // a diagnosis of the attempts before the session
		if ev.State == protocol.SessionPeerLeft {
			h.left, h.leftAt = true, at
		} else {
			h.closed = true
		}
	}
}

// rekeyed adds a healing row, or completes the newest one when this is
// the other direction's half of the same healing (the row then says
// "both directions", and the healing counts once). The rows kept are
// bounded by maxRekeyLines.
func (h *Handshake) rekeyed(ev protocol.SessionEvent, at time.Time) {
	h.epoch++
	r := rekeyLine{at: at, epoch: h.epoch, dir: ev.Direction, kx: clean(ev.KeyExchange)}
	if ev.Epoch > 0 {
		r.epoch = int(ev.Epoch)
	}
	if n := len(h.rekeys); n > 0 && h.rekeys[n-1].otherHalf(r) {
		h.rekeys[n-1].both, h.rekeys[n-1].at = true, at
		return
	}
	h.healed++
	h.rekeys = append(h.rekeys, r)
	if len(h.rekeys) > maxRekeyLines {
		h.rekeys = append(h.rekeys[:0], h.rekeys[len(h.rekeys)-maxRekeyLines:]...)
	}
}

// Live records a liveness event: whether the peer answers pings.
func (h *Handshake) Live(ev protocol.LiveEvent, at time.Time) {
	if ev.State != "" {
		h.live = ev.State
	}
	if ev.State == protocol.LiveLive && ev.RTT > 0 {
		h.rtt = ev.RTT
	}
}

// SetStatus takes the node's latest Status snapshot (liveness, attempts).
func (h *Handshake) SetStatus(st protocol.Status) {
	h.status, h.hasStatus = st, true
	if st.Live != "" {
		h.live = st.Live
	}
	if st.RTT > 0 {
		h.rtt = st.RTT
	}
}

// Stalled records the stall diagnosis: the peer answers but does not take
// our key. It is shown while no session is up, until a session is
// established or ends.
func (h *Handshake) Stalled(ev protocol.StalledEvent, at time.Time) {
	h.stalled, h.isStalled = ev, true
}

// Stalling reports whether the last Stalled diagnosis still holds: the
// peer answers but refuses our key, and no session has come up since.
func (h *Handshake) Stalling() bool { return h.isStalled && !h.session }

// Established reports whether a session is up.
func (h *Handshake) Established() bool { return h.session }

// PostQuantum reports whether a session is up and its keys depend on an
// ML-KEM exchange (false once it closes or the peer leaves).
func (h *Handshake) PostQuantum() bool { return h.session && h.pq }

// Healings is the number of healings of the session up, the two
// directions' halves of one healing counted once; 0 without one.
func (h *Handshake) Healings() int { return h.healed }

// Active reports whether the root should show the panel: always while no
// session is up (the node keeps trying then), while a second handshake runs
// beside a session, and for HandshakeLinger after an attempt finished.
func (h *Handshake) Active(now time.Time) bool {
	if !h.session {
		return true
	}
	if h.inAttempt && !h.done && !h.failed {
		return now.Sub(h.lastEvent) < handshakeIdle
	}
	return !h.finishedAt.IsZero() && now.Sub(h.finishedAt) < HandshakeLinger
}

// Attempts is the number of attempts since the last session: the node's
// count when a Status was given, else the attempts seen through events.
func (h *Handshake) Attempts() int {
	if h.hasStatus && h.status.Attempts > h.attempts {
		return h.status.Attempts
	}
	return h.attempts
}

// hsLayout says what a rendering of the panel includes; View reduces it
// step by step until the panel fits its height.
type hsLayout struct {
	allRekeys bool // every rekey line, not only the newest
	retries   bool // "duet retries by itself" under a failure
	sending   bool // "sending our public key and a ping every 1 s"
	answer    bool // whether the peer answers pings
	fullSteps bool // one row per step, else one compact row of marks
	longStall bool // the stall diagnosis in full, else in short
	waitAddr  bool // the address in the waiting line (the title has it too)
	fullKeys  bool // "keys: …, post-quantum", else the exchange's name alone (37 cells: one sidebar row)
}

// View renders the panel in exactly height rows of exactly width cells.
// When the height is short it condenses, in this order: the key exchange
// row (to the exchange's name alone: one row of the sidebar), older rekey lines,
// the "retries by itself" hint, the address in the waiting line (the title
// has it), then the step list (to one row of marks) and the "sending…"
// line (the step list first while no step happened yet, the line first
// otherwise), the stall diagnosis (to a short form), the peer-answers line.
// The title, the waiting line and the failure reason stay; what still does
// not fit is cut at the bottom. A session whose handshake completed and
// which has healed condenses its step list first, before anything else.
func (h *Handshake) View(st *style.Styles, width, height int, now time.Time) string {
	st = styles(st)
	if height <= 0 {
		return ""
	}
	l := hsLayout{allRekeys: true, retries: true, sending: true, answer: true, fullSteps: true, longStall: true, waitAddr: true, fullKeys: true}
	lines := h.render(st, width, now, l)
	reductions := []func(*hsLayout){
		func(l *hsLayout) { l.allRekeys = false },
		func(l *hsLayout) { l.retries = false },
		func(l *hsLayout) { l.waitAddr = false },
		func(l *hsLayout) { l.fullSteps = false },
		func(l *hsLayout) { l.sending = false },
		func(l *hsLayout) { l.longStall = false },
		func(l *hsLayout) { l.answer = false },
	}
	if h.inAttempt || h.session {
		reductions[3], reductions[4] = reductions[4], reductions[3]
	}
	reductions = append([]func(*hsLayout){func(l *hsLayout) { l.fullKeys = false }}, reductions...)
	if h.session && h.done && len(h.rekeys) > 0 {
		// The steps are history; the healings are the news.
		reductions = append([]func(*hsLayout){func(l *hsLayout) { l.fullSteps = false }}, reductions...)
	}
	for _, reduce := range reductions {
		if len(lines) <= height {
			break
		}
		reduce(&l)
		lines = h.render(st, width, now, l)
	}
	return block(lines, width, height)
}

func (h *Handshake) render(st *style.Styles, width int, now time.Time, l hsLayout) []string {
	var lines []string
	add := func(s lipgloss.Style, text string, indent int) {
		for _, ln := range wrap(text, width, indent) {
			lines = append(lines, s.Render(ln))
		}
	}
	// addIn is add for text whose leading spaces indent every row of it.
	addIn := func(s lipgloss.Style, text string) {
		n := len(text) - len(strings.TrimLeft(text, " "))
		for _, ln := range wrap(text[n:], width-n, 2) {
			lines = append(lines, strings.Repeat(" ", n)+s.Render(ln))
		}
	}
	steps, running := h.shownSteps()
	addSteps := func() {
		if l.fullSteps {
			for i := range steps {
				lines = append(lines, h.stepLines(st, steps, running, i, width, l.retries)...)
			}
			return
		}
		lines = append(lines, h.compactSteps(st, steps, running, width, l.retries)...)
	}

	title := "Handshake with " + h.addr()
	if n := h.Attempts(); n > 1 && !h.session {
		title += fmt.Sprintf(" · attempt %d", n)
	}
	add(st.PanelTitle, title, 2)

	if h.session {
		if took, ok := h.took(); ok {
			add(st.Good, fmt.Sprintf("✓ session established in %d ms", took.Milliseconds()), 2)
		} else {
			add(st.Good, "✓ session established", 2)
		}
		if kx := h.keyExchange(l.fullKeys); kx != "" {
			addIn(st.Good, kx)
		}
		switch {
		case h.inAttempt && h.failed:
			add(st.Dim, "a new handshake beside the session failed; the session stays", 2)
		case h.inAttempt && !h.done:
			add(st.Dim, "a new handshake runs beside the session; the session stays until it completes", 2)
		}
	} else {
		if h.left {
			add(st.Warn, "peer left: it said goodbye at "+h.leftAt.Format("15:04:05"), 2)
		} else if h.closed {
			add(st.Warn, "session closed", 2)
		}
		wait := "waiting for the peer"
		if l.waitAddr {
			wait += " at " + h.addr()
		}
		add(st.Bold, fmt.Sprintf("%s — %d s", wait, secondsSince(h.waitFrom, now)), 2)
		if l.sending {
			add(st.Dim, "sending our public key and a ping every "+fmtInterval(h.ping), 2)
		}
		if l.answer {
			switch h.live {
			case protocol.LiveLive, protocol.LiveDegraded:
				s := "the peer answers pings"
				if h.rtt > 0 {
					s += " (rtt " + FormatRTT(h.rtt) + ")"
				}
				if h.live == protocol.LiveDegraded {
					s += ", with losses (degraded)"
				}
				add(st.Good, s, 2)
			case protocol.LiveDown:
				add(st.Bad, "the peer stopped answering pings (down)", 2)
			default:
				add(st.Warn, "no answer from the peer yet", 2)
			}
		}
		if h.isStalled {
			s := h.stalled
			if l.longStall {
				add(st.Warn, fmt.Sprintf("! the peer answers but has not accepted our key (%d attempts in %s)", s.Attempts, FormatAge(s.For)), 2)
				add(st.Dim, "It may have recorded a different key for us, for example because we changed --identity, or it pins another fingerprint.", 2)
				add(st.Dim, "What to do: the peer removes our old line from its known_peers file, or accepts our new key on its key-changed screen.", 2)
			} else {
				add(st.Warn, "! the peer answers but has not accepted our key: it may hold an old key for us (changed --identity?). It must remove our line from its known_peers or accept our new key.", 2)
			}
		}
	}
	addSteps()
	for _, r := range h.healingLines(l.allRekeys) {
		addIn(st.Notice, r)
	}
	return lines
}

// keyExchange is the row naming the session's key exchange ("keys:
// X25519 + ML-KEM-768 + RSA-OAEP-2048, post-quantum"; not full: the
// exchange alone, the header saying post-quantum); "" when the session's
// event did not say it.
func (h *Handshake) keyExchange(full bool) string {
	switch {
	case h.kx != "" && !full:
		return "  " + h.kx
	case h.kx != "" && h.pq:
		return "  keys: " + h.kx + ", " + PostQuantumWord
	case h.kx != "":
		return "  keys: " + h.kx
	case h.pq:
		return "  keys: " + PostQuantumWord
	}
	return ""
}

// healingLines renders the session's healings, oldest first: a heading
// naming the exchange each one mixes in, then one row per healing ("  15:04:05
// our direction, epoch 2": 36 cells at most, a row in the sidebar). A rekey whose event named no exchange keeps its
// row of before ("rekeyed (epoch 2) at 15:04:05"). Not all: only the
// newest, with the count of the session's healings.
func (h *Handshake) healingLines(all bool) []string {
	if len(h.rekeys) == 0 {
		return nil
	}
	rekeys := h.rekeys
	if !all {
		rekeys = rekeys[len(rekeys)-1:]
	}
	var out []string
	heading := false
	for _, r := range rekeys {
		at := r.at.Format("15:04:05")
		if r.kx == "" {
			out = append(out, fmt.Sprintf("rekeyed (epoch %d) at %s", r.epoch, at))
			continue
		}
		if !all {
			out = append(out, fmt.Sprintf("healed %s (fresh %s), last %s %s", times(h.healed), r.kx, at, healedWhat(r)))
			continue
		}
		if !heading {
			heading = true
			out = append(out, h.healingHeading(r.kx))
		}
		out = append(out, "  "+at+" "+healedWhat(r))
	}
	return out
}

// healingHeading heads the healing rows: what each one mixes in, and how
// many of the session's healings the rows show when older ones were
// dropped (the newest maxRekeyLines are kept).
func (h *Handshake) healingHeading(kx string) string {
	if h.healed > len(h.rekeys) {
		return fmt.Sprintf("healings, newest %d of %d (fresh %s):", len(h.rekeys), h.healed, kx)
	}
	return "healings (fresh " + kx + "):"
}

// healedWhat says which direction a healing moved and to which epoch.
func healedWhat(r rekeyLine) string {
	if r.both {
		return fmt.Sprintf("both directions, epoch %d", r.epoch)
	}
	switch r.dir {
	case protocol.DirectionSend:
		return fmt.Sprintf("our direction, epoch %d", r.epoch)
	case protocol.DirectionReceive:
		return fmt.Sprintf("peer's direction, epoch %d", r.epoch)
	}
	return fmt.Sprintf("epoch %d", r.epoch)
}

// times says "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// shownSteps returns the steps to draw and whether an attempt is running
// (its next step is pending). Without step events, the node's Status tells
// how far the current attempt got (step 1: the peer's key is known).
func (h *Handshake) shownSteps() (steps [numSteps]stepState, running bool) {
	steps = h.steps
	switch {
	case h.inAttempt:
		return steps, !h.failed && !h.done
	case h.session:
		return steps, false
	}
	if h.hasStatus && !h.status.AttemptStarted.IsZero() {
		for i := 0; i < min(h.status.HandshakeStep, numSteps); i++ {
			steps[i] = stepState{mark: stepDone}
		}
	}
	return steps, true
}

func (h *Handshake) addr() string {
	if h.peerAddr == "" {
		return "the peer"
	}
	return h.peerAddr
}

// took returns how long the last completed attempt took, if known.
func (h *Handshake) took() (time.Duration, bool) {
	c := h.steps[numSteps-1]
	if h.done && c.timed {
		return c.took, true
	}
	return 0, false
}

// pendingStep returns the index of the step being waited for, or -1.
func pendingStep(steps [numSteps]stepState, running bool) int {
	if !running {
		return -1
	}
	for i := range steps {
		if steps[i].mark == stepNone {
			return i
		}
	}
	return -1
}

func stepMarkOf(st *style.Styles, s stepState, pending bool) (string, lipgloss.Style) {
	switch {
	case s.mark == stepDone:
		return "✓", st.Good
	case s.mark == stepFailed:
		return "✗", st.Bad
	case pending:
		return "…", st.Warn
	}
	return "·", st.Dim
}

// stepLines renders step i: its mark, number, name and time, and below a
// failed step the reason in plain words.
func (h *Handshake) stepLines(st *style.Styles, steps [numSteps]stepState, running bool, i, width int, retries bool) []string {
	s := steps[i]
	pending := pendingStep(steps, running) == i
	mark, markStyle := stepMarkOf(st, s, pending)
	row := markStyle.Render(mark) + " " + fmt.Sprintf("%d %-13s", i+1, protocol.StepName(i+1))
	if s.mark != stepNone && s.timed {
		row += " " + st.Time.Render(fmt.Sprintf("%7s", fmt.Sprintf("%d ms", s.took.Milliseconds())))
	}
	switch {
	case s.mark == stepFailed:
		row += " " + st.Bad.Render("failed")
	case pending:
		row += " " + st.Dim.Render("pending")
	}
	out := []string{row}
	if s.mark == stepFailed {
		out = append(out, failureLines(st, i, s.err, width, retries)...)
	}
	return out
}

// compactSteps renders the steps as one row of marks ("✓1 ✓2 ✗3 ·4 ·5
// ·6"), then the failed step, if any, with its reason.
func (h *Handshake) compactSteps(st *style.Styles, steps [numSteps]stepState, running bool, width int, retries bool) []string {
	pending := pendingStep(steps, running)
	var b strings.Builder
	failed := -1
	for i, s := range steps {
		if i > 0 {
			b.WriteByte(' ')
		}
		mark, ms := stepMarkOf(st, s, pending == i)
		b.WriteString(ms.Render(mark + fmt.Sprint(i+1)))
		if s.mark == stepFailed {
			failed = i
		}
	}
	if pending >= 0 {
		b.WriteString(st.Dim.Render(" next: " + protocol.StepName(pending+1)))
	}
	out := []string{b.String()}
	if failed >= 0 {
		s := steps[failed]
		head := fmt.Sprintf("✗ %d %s failed", failed+1, protocol.StepName(failed+1))
		if s.timed {
			head += fmt.Sprintf(" (%d ms)", s.took.Milliseconds())
		}
		out = append(out, st.Bad.Render(head))
		out = append(out, failureLines(st, failed, s.err, width, retries)...)
	}
	return out
}

// failureLines is the reason a step failed, in plain words, indented.
func failureLines(st *style.Styles, i int, err error, width int, retries bool) []string {
	var out []string
	for _, l := range wrap(words.HandshakeError(i+1, err), width-2, 0) {
		out = append(out, "  "+st.Bad.Render(l))
	}
	if retries && !errors.Is(err, protocol.ErrKeyChanged) {
		out = append(out, "  "+st.Dim.Render("duet retries by itself"))
	}
	return out
}

func secondsSince(t, now time.Time) int {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return int(now.Sub(t) / time.Second)
}

// fmtInterval formats a ping interval: "1 s", "500 ms", "1.5 s".
func fmtInterval(d time.Duration) string {
	switch {
	case d <= 0:
		return "second"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d%time.Second == 0:
		return fmt.Sprintf("%d s", int(d/time.Second))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
