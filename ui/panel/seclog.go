package panel

import (
	"fmt"
	"strings"
	"time"

	"duet/protocol"
	"duet/ui/style"
	"duet/ui/words"
)

// SecurityLogSize is how many entries the security log keeps; older ones
// are forgotten (Count still counts them).
const SecurityLogSize = 1000

type logEntry struct {
	at      time.Time
	note    bool
	action  bool   // a note of what the user did (/replay), not a rejection
	text    string // note text, sanitized
	reason  string // sanitized
	seq     uint32
	hasSeq  bool
	detail  string // sanitized
	repeats int    // identical rejections in a row folded into this entry, >= 1
}

// SecurityLog lists every rejected record and notes from our own side,
// newest at the top (the latest is in view without scrolling, and a short
// log does not sit under empty rows). A rejection identical to the one
// just before it (reason, seq, detail) is folded into it with a count
// ("×3"), so a flood does not push everything else out; Count counts every
// rejection. What the user did (Action: /replay) is marked as theirs
// ("you:") and counted apart (Actions), never as a rejection. A detail is
// wrapped whole, never cut.
type SecurityLog struct {
	ring    []logEntry // at most SecurityLogSize, oldest at start
	start   int
	count   int
	actions int
}

// NewSecurityLog returns an empty log.
func NewSecurityLog() *SecurityLog { return &SecurityLog{} }

// Rejected adds a rejected record.
func (l *SecurityLog) Rejected(ev protocol.RejectedEvent, at time.Time) {
	l.count++
	e := logEntry{at: at, reason: clean(ev.Reason), seq: ev.Seq, hasSeq: ev.HasSeq, detail: clean(ev.Detail), repeats: 1}
	if n := len(l.ring); n > 0 {
		last := &l.ring[(l.start+n-1)%n]
		if !last.note && last.reason == e.reason && last.hasSeq == e.hasSeq && last.seq == e.seq && last.detail == e.detail {
			last.repeats++
			last.at = at
			return
		}
	}
	l.push(e)
}

// Note adds a notice from our own side, e.g. "/replay: re-sent CHAT seq 12;
// the peer should reject it".
func (l *SecurityLog) Note(text string, at time.Time) {
	l.push(logEntry{at: at, note: true, text: clean(text)})
}

// Action adds what the user did that the log should show beside the
// rejections it causes (a /replay), marked as theirs.
func (l *SecurityLog) Action(text string, at time.Time) {
	l.actions++
	l.push(logEntry{at: at, note: true, action: true, text: clean(text)})
}

// Actions is the number of Actions ever added.
func (l *SecurityLog) Actions() int { return l.actions }

func (l *SecurityLog) push(e logEntry) {
	if len(l.ring) < SecurityLogSize {
		l.ring = append(l.ring, e)
		return
	}
	l.ring[l.start] = e
	l.start = (l.start + 1) % SecurityLogSize
}

// Count is the number of rejections ever reported.
func (l *SecurityLog) Count() int { return l.count }

// Len is the number of entries kept (rejections folded, plus notes).
func (l *SecurityLog) Len() int { return len(l.ring) }

func (l *SecurityLog) entry(i int) *logEntry { return &l.ring[(l.start+i)%len(l.ring)] }

// View renders the newest entries in exactly height rows of exactly width
// cells, newest at the top; long entries and details wrap.
func (l *SecurityLog) View(st *style.Styles, width, height int) string {
	return l.ViewScrolled(st, width, height, 0)
}

// ViewScrolled is View with the newest skip entries left out (for
// scrolling back; skip is clamped).
func (l *SecurityLog) ViewScrolled(st *style.Styles, width, height, skip int) string {
	st = styles(st)
	if height <= 0 {
		return ""
	}
	if len(l.ring) == 0 {
		return block([]string{st.Dim.Render("no rejected records")}, width, height)
	}
	skip = max(0, min(skip, len(l.ring)-1))
	var rows []string
	for i := len(l.ring) - 1 - skip; i >= 0 && len(rows) < height; i-- {
		rows = append(rows, l.render(st, l.entry(i), width)...)
	}
	if len(rows) > height {
		rows = rows[:height]
	}
	return block(rows, width, height)
}

// EntryText returns the plain text of entry i (0 is the oldest kept), as
// View shows it, without styles.
func (l *SecurityLog) EntryText(i int) string {
	if i < 0 || i >= len(l.ring) {
		return ""
	}
	return entryText(l.entry(i))
}

func entryText(e *logEntry) string {
	if e.action {
		return "* you: " + e.text
	}
	if e.note {
		return "* " + e.text
	}
	s := "! rejected " + e.reason
	if e.hasSeq {
		s += fmt.Sprintf(" seq %d", e.seq)
	}
	if words := words.ReasonBare(e.reason); words != "" {
		s += ": " + words
	}
	if e.repeats > 1 {
		s += fmt.Sprintf(" ×%d", e.repeats)
	}
	return s
}

// render returns the rows of one entry: time, mark and text (wrapped, with
// a hanging indent), and for a rejection with a detail the dim detail,
// wrapped whole.
func (l *SecurityLog) render(st *style.Styles, e *logEntry, width int) []string {
	stamp := e.at.Format("15:04:05")
	textStyle := st.Rejected
	if e.note {
		textStyle = st.Notice
	}
	lines := wrap(stamp+" "+entryText(e), width, 2)
	out := make([]string, 0, len(lines)+1)
	for i, ln := range lines {
		if i == 0 && strings.HasPrefix(ln, stamp+" ") {
			out = append(out, st.Time.Render(stamp)+" "+textStyle.Render(ln[len(stamp)+1:]))
			continue
		}
		out = append(out, textStyle.Render(ln))
	}
	if !e.note && e.detail != "" {
		for _, ln := range wrap("detail: "+e.detail, width-2, 2) {
			out = append(out, st.Dim.Render("  "+ln))
		}
	}
	return out
}
