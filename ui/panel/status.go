package panel

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"duet/protocol"
	"duet/ui/style"
	"duet/ui/words"
)

// Sparkline geometry: SparkCells cells of SparkBucket each cover SparkWindow.
const (
	SparkWindow = 60 * time.Second
	SparkCells  = 15
	SparkBucket = SparkWindow / SparkCells
)

// sparkMaxSamples bounds the samples kept (one a second is the default
// ping rate; this leaves room for faster pings).
const sparkMaxSamples = 1024

var sparkBars = []rune("▁▂▃▄▅▆▇█")

type rttSample struct {
	at  time.Time
	rtt time.Duration
}

// StatusBar is the bottom bar: ports, the peer's liveness, RTT and its
// sparkline, time since the last pong (while the peer is not live: when it
// was last seen), whether a session is up in words
// ("encrypted" or "no session") and the rekey countdown. Sequence numbers
// are not shown (random 32-bit numbers mean nothing at a glance): the
// record inspector (F3) has them. While the peer's key is refused (it
// changed and was not accepted) the liveness word is "key refused", never
// "live", until a session is established.
//
// When narrow it drops fields in this order (first dropped first):
//  1. the ports
//  2. the RTT sparkline
//  3. the time since the last pong
//  4. the rekey countdown
//  5. the RTT
//  6. the session word
//
// The liveness word is never dropped (only cut when the bar is narrower
// than the word itself).
type StatusBar struct {
	mainPort, subPort int

	live     protocol.LiveState
	rtt      time.Duration
	lastPong time.Time
	auth     bool
	heard    bool // a pong ever arrived

	status    protocol.Status
	hasStatus bool

	left   bool
	leftAt time.Time
	seen   time.Time // the last sign of the peer: a pong, its goodbye, a stored message

	session bool // a session is up: session events, or a Status that has one
	refused bool // the peer's key is refused: no session until accepted
	changed bool // the peer's key changed during this run

	samples []rttSample // oldest first
}

// NewStatusBar returns a status bar for a node bound to mainPort and
// sending to subPort.
func NewStatusBar(mainPort, subPort int) *StatusBar {
	return &StatusBar{mainPort: mainPort, subPort: subPort, live: protocol.LiveWaiting}
}

// Live records a liveness event received at at. A live event is one pong:
// its RTT becomes a sparkline sample. After PeerLeft, a live event means
// the peer is back.
func (s *StatusBar) Live(ev protocol.LiveEvent, at time.Time) {
	if ev.State != "" {
		s.live = ev.State
	}
	s.auth = ev.Authenticated
	if ev.State == protocol.LiveLive {
		s.left = false
		s.heard = true
		s.lastPong = at
		s.Seen(at)
		if ev.RTT > 0 {
			s.rtt = ev.RTT
			s.addSample(at, ev.RTT)
		}
	}
}

// SetStatus takes the node's latest Status snapshot. A pong the snapshot
// shows and no live event reported yet becomes a sample too (the same pong
// is not counted twice).
func (s *StatusBar) SetStatus(st protocol.Status) {
	s.status, s.hasStatus = st, true
	if st.HasSession {
		s.session = true // a poll may show a session; only events end one
	}
	if st.Live != "" {
		s.live = st.Live
	}
	if !st.LastPong.IsZero() {
		s.heard = true
		s.auth = st.Authenticated
		if st.LastPong.After(s.lastPong) {
			s.lastPong = st.LastPong
			s.Seen(st.LastPong)
			if st.RTT > 0 {
				s.rtt = st.RTT
				s.addSample(st.LastPong, st.RTT)
			}
		}
	}
}

// Session records a session event: established clears "left"; peer-left
// sets it (like PeerLeft).
func (s *StatusBar) Session(ev protocol.SessionEvent, at time.Time) {
	switch ev.State {
	case protocol.SessionEstablished:
		s.left, s.session, s.refused = false, true, false
	case protocol.SessionPeerLeft:
		s.PeerLeft(at)
	case protocol.SessionClosed:
		s.session = false
	}
}

// KeyRefused records that the peer presented a changed key while no
// session was up: the bar says "key refused" until a session is
// established, and KeyChanged reports it from then on.
func (s *StatusBar) KeyRefused() { s.refused, s.changed = true, true }

// Rejected takes a rejection: a key-changed one while no session is up
// (a pinned fingerprint that does not match) refuses the key as KeyRefused
// does; during a session it is only an attempt, and changes nothing.
func (s *StatusBar) Rejected(ev protocol.RejectedEvent) {
	if ev.Reason == protocol.ReasonKeyChanged && !s.session {
		s.refused = true
	}
}

// KeyChanged reports whether the peer's key changed during this run.
func (s *StatusBar) KeyChanged() bool { return s.changed }

// PeerLeft records the peer's goodbye: the liveness word reads "left" until
// the peer answers again or a new session is established.
func (s *StatusBar) PeerLeft(at time.Time) {
	s.left, s.leftAt, s.session = true, at, false
	s.Seen(at)
}

// Seen records a sign of the peer at at (a message read from the stored
// history, for a peer not heard in this run): while the peer is not live
// the bar shows "last seen" with the latest such time.
func (s *StatusBar) Seen(at time.Time) {
	if at.After(s.seen) {
		s.seen = at
	}
}

// LastSeen is what the bar says of the peer while it is gone (left, down,
// or not heard in this run): "last seen 14:02" today, "last seen 3 Dec
// 14:02" another day of this year, "last seen 3 Dec 2025" before; "" when
// the peer is live or degraded (the pong's age says more) or was never
// seen. Times are in now's location.
func (s *StatusBar) LastSeen(now time.Time) string {
	gone := s.left || s.live == protocol.LiveDown || s.live == protocol.LiveWaiting
	if s.seen.IsZero() || !gone {
		return ""
	}
	at := s.seen.In(now.Location())
	y, m, d := at.Date()
	ny, nm, nd := now.Date()
	switch {
	case y == ny && m == nm && d == nd:
		return "last seen " + at.Format("15:04")
	case y == ny:
		return "last seen " + at.Format("2 Jan 15:04")
	}
	return "last seen " + at.Format("2 Jan 2006")
}

func (s *StatusBar) addSample(at time.Time, rtt time.Duration) {
	if n := len(s.samples); n > 0 {
		last := s.samples[n-1]
		d := at.Sub(last.at)
		if last.rtt == rtt && d < time.Second && d > -time.Second {
			return // the same pong seen through both Live and SetStatus
		}
	}
	// Forget what is older than the window (samples arrive in time order).
	cut := 0
	for cut < len(s.samples) && at.Sub(s.samples[cut].at) > SparkWindow {
		cut++
	}
	if len(s.samples)-cut >= sparkMaxSamples {
		cut = len(s.samples) - sparkMaxSamples + 1
	}
	if cut > 0 {
		s.samples = append(s.samples[:0], s.samples[cut:]...)
	}
	s.samples = append(s.samples, rttSample{at, rtt})
}

// Liveness returns the liveness word shown: waiting, live, degraded, down,
// left after the peer's goodbye, or key refused.
func (s *StatusBar) Liveness() string {
	if s.refused {
		return words.StatusKeyRefused
	}
	if s.left {
		return "left"
	}
	if s.live == "" {
		return string(protocol.LiveWaiting)
	}
	return clean(string(s.live))
}

// Sparkline returns the RTT over the last SparkWindow before now as
// SparkCells cells, oldest on the left; each cell is the highest RTT of its
// SparkBucket, scaled between the lowest and highest cell, and a blank cell
// had no pong. It is "" when no pong arrived in the window.
func (s *StatusBar) Sparkline(now time.Time) string {
	var cells [SparkCells]time.Duration
	seen := false
	from := now.Add(-SparkWindow)
	for _, smp := range s.samples {
		if !smp.at.After(from) {
			continue
		}
		i := int(smp.at.Sub(from) / SparkBucket)
		if i >= SparkCells {
			i = SparkCells - 1 // at now, or a clock step
		}
		if smp.rtt > cells[i] {
			cells[i] = smp.rtt
		}
		seen = true
	}
	if !seen {
		return ""
	}
	lo, hi := time.Duration(-1), time.Duration(0)
	for _, c := range cells {
		if c == 0 {
			continue
		}
		if lo < 0 || c < lo {
			lo = c
		}
		if c > hi {
			hi = c
		}
	}
	var b strings.Builder
	for _, c := range cells {
		switch {
		case c == 0:
			b.WriteByte(' ')
		case hi == lo:
			b.WriteRune(sparkBars[3])
		default:
			lvl := int(int64(c-lo) * int64(len(sparkBars)-1) / int64(hi-lo))
			b.WriteRune(sparkBars[lvl])
		}
	}
	return b.String()
}

// View renders the bar as one row of exactly width cells.
func (s *StatusBar) View(st *style.Styles, width int, now time.Time) string {
	st = styles(st)
	word := s.Liveness()
	var liveStyle lipgloss.Style
	switch {
	case s.refused:
		liveStyle = st.Bad
	case s.left:
		liveStyle = st.Warn
	case s.live == protocol.LiveLive:
		liveStyle = st.Good
	case s.live == protocol.LiveDown:
		liveStyle = st.Bad
	default:
		liveStyle = st.Warn
	}
	rtt := "rtt –"
	if s.rtt > 0 {
		rtt = "rtt " + FormatRTT(s.rtt)
	}
	pong := s.LastSeen(now) // the peer is not live: when it was
	if pong == "" && !s.lastPong.IsZero() {
		pong = "pong " + FormatAge(now.Sub(s.lastPong)) + " ago"
	}
	sess, sessStyle := words.StatusNoSession, st.Warn
	if s.session {
		sess, sessStyle = words.StatusEncrypted, st.Good
	}
	rekey := ""
	if s.session && s.hasStatus && !s.status.NextRekey.IsZero() {
		if d := s.status.NextRekey.Sub(now); d > 0 {
			rekey = "rekey " + FormatAge(d)
		} else {
			rekey = "rekey due"
		}
	}
	sep := " │ "
	// drop: higher is dropped first (the order in the type's comment).
	segs := []seg{
		{text: word, style: liveStyle},
		{text: rtt, drop: 2, sep: sep},
		{text: s.Sparkline(now), drop: 5, sep: " "},
		{text: pong, drop: 4, sep: sep},
		{text: sess, style: sessStyle, drop: 1, sep: sep},
		{text: rekey, drop: 3, sep: sep},
		{text: fmt.Sprintf("ports %d→%d", s.mainPort, s.subPort), drop: 6, sep: sep},
	}
	return bar(st.StatusBar, segs, width)
}

// FormatRTT formats a round-trip time: "0.42 ms", "12.3 ms", "250 ms",
// "1.25 s".
func FormatRTT(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", ms)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", ms)
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// FormatAge formats a coarse duration: "<1s", "12s", "4m05s", "2h03m".
func FormatAge(d time.Duration) string {
	switch {
	case d < time.Second:
		return "<1s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
