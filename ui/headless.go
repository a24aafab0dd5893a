package ui

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"duet/protocol"
	"duet/ui/termsafe"
)

// TimeFormat is the format of every timestamp in headless output: RFC 3339,
// UTC, always nine fractional digits.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Output is where a running session reports to: the headless JSON lines
// (Headless) or the human-readable line mode (Lines). All methods are safe for
// concurrent use and never block for long.
//
// Output is sealed: only Headless and Lines implement it, because its
// unexported pending method (the messages Serve waits for on quit) must be
// kept by the same code that reports their receipts.
type Output interface {
	// Emit reports an event from the session driver.
	Emit(protocol.Event)
	// Ready reports that the transport is up: the ports and our fingerprint.
	Ready(main, sub int, fingerprint string)
	// Queued reports a chat message typed on stdin and accepted by the
	// driver under id; at is the time it was written (the CHAT sent_at,
	// which the peer shows too).
	Queued(id uint64, text string, at time.Time)
	// Close flushes what is queued (waiting at most a few seconds) and stops.
	Close() error

	// pending tracks our messages awaiting delivery (see Serve).
	pending() *pendingSet
}

// Headless writes one JSON object per line. See docs/HEADLESS.md.
type Headless struct {
	q      *lineQueue
	now    func() time.Time
	p      pendingSet
	unread unreadSet // the peer's messages not marked read (/read)
}

// NewHeadless returns a Headless writing to w.
func NewHeadless(w io.Writer) *Headless {
	h := &Headless{now: time.Now}
	h.q = newLineQueue(w, MaxQueuedBytes, func(n int) []byte {
		return h.encode(struct {
			Event string `json:"event"`
			Time  string `json:"time"`
			Error string `json:"error"`
		}{"error", h.stamp(), strconv.Itoa(n) + " output lines dropped: stdout is not being read"})
	})
	return h
}

func (h *Headless) stamp() string { return h.now().UTC().Format(TimeFormat) }

// encode marshals v as one JSON line, without HTML escaping, with every
// character termsafe escapes written as a \u escape.
func (h *Headless) encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only reachable for values that cannot be encoded; report it as
		// an event rather than writing a broken line.
		b.Reset()
		_ = enc.Encode(map[string]string{"event": "error", "time": h.stamp(), "error": "ui: encode: " + err.Error()})
	}
	// encoding/json leaves DEL, C1 controls, bidi and invisible format
	// characters raw: escape them too (the text round-trips unchanged).
	return termsafe.EscapeJSON(b.Bytes())
}

// Emit writes ev as one JSON line. It is safe for concurrent use. A
// received message's line is queued even past the bound (never dropped);
// a ShownEvent returns only once every line queued before it is written to
// stdout (or the output has failed or closed), since the node acknowledges
// the messages only after that (see lineQueue.sync). Other events are
// queued and never block (see MaxQueuedBytes).
func (h *Headless) Emit(ev protocol.Event) {
	switch e := ev.(type) {
	case protocol.ShownEvent:
		h.putUnread() // the group's count, flushed with it
		h.q.sync()
		return
	case protocol.DeliveredEvent:
		h.p.delivered(e.ID)
	case protocol.MessageEvent:
		h.q.putMust(h.line(ev))
		h.countUnread(ev)
		return
	case protocol.PeerKeyEvent:
		return // not printed (the JSON schema has no such event): main acts on it
	}
	h.q.put(h.line(ev))
}

// line is ev's JSON line: by hand for the per-message events (see
// fastLine), else through encoding/json.
func (h *Headless) line(ev protocol.Event) []byte {
	if b := h.fastLine(ev); b != nil {
		return b
	}
	return h.encode(h.marshalEvent(ev))
}

// Ready writes the "ready" line.
func (h *Headless) Ready(main, sub int, fingerprint string) {
	h.q.put(h.encode(struct {
		Event       string `json:"event"`
		Time        string `json:"time"`
		Main        int    `json:"main"`
		Sub         int    `json:"sub"`
		Fingerprint string `json:"fingerprint"`
	}{"ready", h.stamp(), main, sub, fingerprint}))
}

// Queued writes the "queued" line: the id the driver gave a line of stdin
// and the time it was written (the peer's "message" event carries the same
// sent_at).
func (h *Headless) Queued(id uint64, _ string, at time.Time) {
	h.q.put(h.queuedLine(id, at))
}

// queuedSlow is the "queued" line through encoding/json (the reference
// for queuedLine).
func (h *Headless) queuedSlow(id uint64, at time.Time) []byte {
	return h.encode(struct {
		Event  string `json:"event"`
		Time   string `json:"time"`
		ID     string `json:"id"`
		SentAt string `json:"sent_at"`
	}{"queued", h.stamp(), formatID(id), at.UTC().Format(TimeFormat)})
}

// Close flushes the queued lines (for up to 5 s).
func (h *Headless) Close() error { return h.q.close(5 * time.Second) }

func (h *Headless) pending() *pendingSet { return &h.p }

func formatID(id uint64) string { return strconv.FormatUint(id, 10) }

// millis is d in milliseconds, rounded to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func errString(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// marshalEvent returns the JSON object for ev, keys in schema order
// (docs/HEADLESS.md). It only dispatches, one case per event kind; a new
// kind needs a case here (see the package doc for every other place).
func (h *Headless) marshalEvent(ev protocol.Event) any {
	name, t := ev.EventName(), h.stamp()
	switch e := ev.(type) {
	case protocol.LiveEvent:
		return liveObject(name, t, e)
	case protocol.HandshakeEvent:
		return handshakeObject(name, t, e)
	case protocol.SessionEvent:
		return sessionObject(name, t, e)
	case protocol.MessageEvent:
		return messageObject(name, t, e)
	case protocol.SentEvent:
		return sentObject(name, t, e)
	case protocol.DeliveredEvent:
		return deliveredObject(name, t, e)
	case protocol.GapEvent:
		return gapObject(name, t, e)
	case protocol.RejectedEvent:
		return rejectedObject(name, t, e)
	case protocol.ErrorEvent:
		return errorObject(name, t, e)
	case protocol.ReplayedEvent:
		return replayedObject(name, t, e)
	case protocol.StalledEvent:
		return stalledObject(name, t, e)
	case HistoryClearedEvent:
		return bareObject(name, t)
	case protocol.DiskEvent:
		return diskObject(name, t, e)
	case protocol.SavedEvent:
		return idObject(name, t, e.ID)
	case NotSavedEvent:
		return idObject(name, t, e.ID)
	case protocol.TypingEvent:
		return typingObject(name, t, e)
	case protocol.ReadEvent:
		return readObject(name, t, e)
	}
	// An event type this version does not know: name and time only.
	return bareObject(name, t)
}

// Each xxxObject below is the JSON object of one event kind: name is its
// "event", t its "time"; the field order is the schema's.

func liveObject(name, t string, e protocol.LiveEvent) any {
	return struct {
		Event         string  `json:"event"`
		Time          string  `json:"time"`
		State         string  `json:"state"`
		RTTms         float64 `json:"rtt_ms"`
		Authenticated bool    `json:"authenticated"`
	}{name, t, string(e.State), millis(e.RTT), e.Authenticated}
}

func handshakeObject(name, t string, e protocol.HandshakeEvent) any {
	state, msg := "done", ""
	if !e.Done {
		state, msg = "failed", errString(e.Err)
	}
	stepName := e.Name
	if stepName == "" {
		stepName = protocol.StepName(e.Step)
	}
	return struct {
		Event string  `json:"event"`
		Time  string  `json:"time"`
		Step  int     `json:"step"`
		Name  string  `json:"name"`
		State string  `json:"state"`
		Ms    float64 `json:"ms"`
		Error string  `json:"error,omitempty"`
	}{name, t, e.Step, stepName, state, millis(e.Duration), msg}
}

func sessionObject(name, t string, e protocol.SessionEvent) any {
	return struct {
		Event           string `json:"event"`
		Time            string `json:"time"`
		State           string `json:"state"`
		PeerFingerprint string `json:"peer_fingerprint"`
		SafetyNumber    string `json:"safety_number"`
		// Only for rekeyed: "send" (ours) or "receive" (the peer's).
		Direction string `json:"direction,omitempty"`
		// Only for established and rekeyed: the exchanges the keys come
		// from, whether one is post-quantum, and (rekeyed) the epoch.
		KeyExchange string `json:"key_exchange,omitempty"`
		PostQuantum bool   `json:"post_quantum,omitempty"`
		Epoch       uint32 `json:"epoch,omitempty"`
	}{name, t, string(e.State), e.PeerFingerprint, e.SafetyNumber, e.Direction, e.KeyExchange, e.PostQuantum, e.Epoch}
}

// messageObject is the reference for fastLine's "message" line.
func messageObject(name, t string, e protocol.MessageEvent) any {
	return struct {
		Event  string `json:"event"`
		Time   string `json:"time"`
		ID     string `json:"id"`
		Seq    uint32 `json:"seq"`
		Text   string `json:"text"`
		SentAt string `json:"sent_at"`
		// Only present (true) when a crash interrupted this message's
		// display in an earlier run.
		PossibleDuplicate bool `json:"possible_duplicate,omitempty"`
		// Only present when sent_at is implausible: the local arrival
		// time the message is shown and stored at, and true.
		ShownAt          string `json:"shown_at,omitempty"`
		ClockImplausible bool   `json:"clock_implausible,omitempty"`
	}{name, t, formatID(e.ID), e.Seq, e.Text, e.SentAt.UTC().Format(TimeFormat), e.PossibleDuplicate, shownAt(e), e.ClockImplausible}
}

// shownAt is the "shown_at" field of a message: only for an implausible
// sent_at (the others are shown at sent_at).
func shownAt(e protocol.MessageEvent) string {
	if !e.ClockImplausible {
		return ""
	}
	return e.ShownAt.UTC().Format(TimeFormat)
}

// sentObject is the reference for fastLine's "sent" line.
func sentObject(name, t string, e protocol.SentEvent) any {
	return struct {
		Event string `json:"event"`
		Time  string `json:"time"`
		ID    string `json:"id"`
		Seq   uint32 `json:"seq"`
	}{name, t, formatID(e.ID), e.Seq}
}

// deliveredObject is the reference for fastLine's "delivered" line.
func deliveredObject(name, t string, e protocol.DeliveredEvent) any {
	return struct {
		Event string `json:"event"`
		Time  string `json:"time"`
		ID    string `json:"id"`
	}{name, t, formatID(e.ID)}
}

func gapObject(name, t string, e protocol.GapEvent) any {
	return struct {
		Event   string `json:"event"`
		Time    string `json:"time"`
		Missing uint64 `json:"missing"`
	}{name, t, e.Missing}
}

func rejectedObject(name, t string, e protocol.RejectedEvent) any {
	count := e.Count // only present when the event stands for several
	if count <= 1 {
		count = 0
	}
	return struct {
		Event  string  `json:"event"`
		Time   string  `json:"time"`
		Reason string  `json:"reason"`
		Seq    *uint32 `json:"seq,omitempty"`
		Detail string  `json:"detail"`
		Count  int     `json:"count,omitempty"`
	}{name, t, e.Reason, optionalSeq(e.HasSeq, e.Seq), e.Detail, count}
}

// diskObject: "state" is "full" (with "error": the database, the file
// system to free space on, the system's reason) or "room".
func diskObject(name, t string, e protocol.DiskEvent) any {
	state, detail := "room", ""
	if e.Full {
		state, detail = "full", errString(e.Err)
	}
	return struct {
		Event string `json:"event"`
		Time  string `json:"time"`
		State string `json:"state"`
		Error string `json:"error,omitempty"`
	}{name, t, state, detail}
}

// typingObject: "until" only while the indicator is on.
func typingObject(name, t string, e protocol.TypingEvent) any {
	until := ""
	if e.Active {
		until = e.Until.UTC().Format(TimeFormat)
	}
	return struct {
		Event  string `json:"event"`
		Time   string `json:"time"`
		Active bool   `json:"active"`
		Until  string `json:"until,omitempty"`
	}{name, t, e.Active, until}
}

// readObject: the ids as strings, as every id (JSON numbers lose
// precision past 2^53).
func readObject(name, t string, e protocol.ReadEvent) any {
	ids := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		ids[i] = formatID(id)
	}
	return struct {
		Event string   `json:"event"`
		Time  string   `json:"time"`
		IDs   []string `json:"ids"`
	}{name, t, ids}
}

func idObject(name, t string, id uint64) any {
	return struct {
		Event string `json:"event"`
		Time  string `json:"time"`
		ID    string `json:"id"`
	}{name, t, formatID(id)}
}

func errorObject(name, t string, e protocol.ErrorEvent) any {
	return struct {
		Event string `json:"event"`
		Time  string `json:"time"`
		Error string `json:"error"`
	}{name, t, errString(e.Err)}
}

func replayedObject(name, t string, e protocol.ReplayedEvent) any {
	return struct {
		Event string  `json:"event"`
		Time  string  `json:"time"`
		Type  string  `json:"type"`
		Seq   *uint32 `json:"seq,omitempty"`
		// Earlier: the record was sealed in an earlier session (added).
		Earlier bool `json:"earlier_session,omitempty"`
	}{name, t, protocol.TypeName(e.Type), optionalSeq(e.HasSeq, e.Seq), e.EarlierSession}
}

func stalledObject(name, t string, e protocol.StalledEvent) any {
	return struct {
		Event    string  `json:"event"`
		Time     string  `json:"time"`
		Attempts int     `json:"attempts"`
		LastStep int     `json:"last_step"`
		ForMs    float64 `json:"for_ms"`
	}{name, t, e.Attempts, e.LastStep, millis(e.For)}
}

// bareObject is an event with nothing but its name and time.
func bareObject(name, t string) any {
	return struct {
		Event string `json:"event"`
		Time  string `json:"time"`
	}{name, t}
}

// optionalSeq is seq for a field left out when the event has none
// (",omitempty" on a nil pointer; seq 0 is still written).
func optionalSeq(has bool, seq uint32) *uint32 {
	if !has {
		return nil
	}
	return &seq
}

// pendingSet tracks the ids of our messages not yet delivered, so that quitting
// can wait for them. A receipt may be reported before Send has returned the
// id, hence early.
type pendingSet struct {
	mu      sync.Mutex
	waiting map[uint64]struct{}
	early   map[uint64]struct{}
}

func (p *pendingSet) add(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.early[id]; ok {
		delete(p.early, id)
		return
	}
	if p.waiting == nil {
		p.waiting = make(map[uint64]struct{})
	}
	p.waiting[id] = struct{}{}
}

func (p *pendingSet) delivered(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.waiting[id]; ok {
		delete(p.waiting, id)
		return
	}
	if p.early == nil {
		p.early = make(map[uint64]struct{})
	}
	// Bounded: only ids of our own messages are ever delivered, and each of
	// those is added once; cap anyway against a misbehaving driver.
	if len(p.early) < 1<<20 {
		p.early[id] = struct{}{}
	}
}

func (p *pendingSet) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiting)
}
