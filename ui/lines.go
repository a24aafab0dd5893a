package ui

import (
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"duet/protocol"
	"duet/ui/termsafe"
)

// Lines is the plain human-readable line mode, used without --headless until
// a full-screen UI exists:
//
//	[12:01:02] peer: hello
//	* session established with 1A2B ..., safety number 12345 ...
//	! rejected replay seq 7
type Lines struct {
	name string // our display name
	q    *lineQueue
	now  func() time.Time
	loc  *time.Location
	p    pendingSet

	mu   sync.Mutex
	text map[uint64]string  // our queued messages by id, until delivered
	live protocol.LiveState // last liveness shown: only changes are printed
}

// NewLines returns a Lines writing to w; name labels our own messages.
func NewLines(w io.Writer, name string) *Lines {
	if name == "" {
		name = "me"
	}
	l := &Lines{name: name, now: time.Now, loc: time.Local, text: make(map[uint64]string)}
	l.q = newLineQueue(w, MaxQueuedBytes, func(n int) []byte {
		return []byte(fmt.Sprintf("! %d output lines dropped: the terminal is not keeping up\n", n))
	})
	return l
}

func (l *Lines) clock(t time.Time) string { return "[" + t.In(l.loc).Format("15:04:05") + "]" }

func (l *Lines) put(format string, args ...any) {
	l.q.put([]byte(fmt.Sprintf(format, args...) + "\n"))
}

// Ready prints where we listen and our fingerprint.
func (l *Lines) Ready(main, sub int, fingerprint string) {
	l.put("* duet: listening on port %d, peer on port %d", main, sub)
	l.put("* your fingerprint: %s", fingerprint)
	l.put("* type a message and press Enter; /quit, /rekey, /replay")
}

// Queued remembers the text of a message until it is sent and delivered.
func (l *Lines) Queued(id uint64, text string) {
	l.mu.Lock()
	if len(l.text) < 1<<20 {
		l.text[id] = text
	}
	l.mu.Unlock()
}

func (l *Lines) lookup(id uint64, forget bool) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.text[id]
	if forget {
		delete(l.text, id)
	}
	return t, ok
}

// Emit prints ev for a human. Text from the peer is sanitized: control
// characters (terminal escape sequences) are shown escaped, never obeyed.
func (l *Lines) Emit(ev protocol.Event) {
	now := l.now()
	switch e := ev.(type) {
	case protocol.LiveEvent:
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
			l.put("* peer is %s", Sanitize(string(e.State)))
		}
	case protocol.HandshakeEvent:
		if !e.Done {
			l.put("! handshake step %d (%s) failed: %s", e.Step, protocol.StepName(e.Step), Sanitize(errString(e.Err)))
		}
	case protocol.SessionEvent:
		switch e.State {
		case protocol.SessionEstablished:
			l.put("* session established with %s, safety number %s", Sanitize(e.PeerFingerprint), Sanitize(e.SafetyNumber))
			l.put("* compare the safety number with your peer over another channel")
		default:
			l.put("* session %s", Sanitize(string(e.State)))
		}
	case protocol.MessageEvent:
		at := e.SentAt
		if at.IsZero() {
			at = now
		}
		again := ""
		if e.PossibleDuplicate {
			again = " (may repeat: shown before a crash)"
		}
		l.q.putSync([]byte(fmt.Sprintf("%s peer: %s%s\n", l.clock(at), Sanitize(e.Text), again)), e.Shown)
	case protocol.SentEvent:
		if t, ok := l.lookup(e.ID, false); ok {
			l.put("%s %s: %s", l.clock(now), Sanitize(l.name), Sanitize(t))
		}
	case protocol.DeliveredEvent:
		l.p.delivered(e.ID)
		if t, ok := l.lookup(e.ID, true); ok {
			l.put("  ✓ delivered: %s", Sanitize(snippet(t, 40)))
		}
	case protocol.GapEvent:
		l.put("! %d message(s) from the peer never arrived", e.Missing)
	case protocol.RejectedEvent:
		s := "! rejected " + Sanitize(e.Reason)
		if e.HasSeq {
			s += fmt.Sprintf(" seq %d", e.Seq)
		}
		if e.Detail != "" {
			s += ": " + Sanitize(e.Detail)
		}
		l.put("%s", s)
	case protocol.ErrorEvent:
		l.put("! error: %s", Sanitize(errString(e.Err)))
	default:
		l.put("* %s", Sanitize(ev.EventName()))
	}
}

// Close flushes the queued lines (for up to 5 s).
func (l *Lines) Close() error { return l.q.close(5 * time.Second) }

func (l *Lines) pending() *pendingSet { return &l.p }

func snippet(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// Sanitize makes s safe to print on a terminal; see termsafe.Sanitize.
func Sanitize(s string) string { return termsafe.Sanitize(s) }
